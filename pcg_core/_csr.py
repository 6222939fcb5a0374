"""The invariants of a group structure's two CSR directions, checked in O(nnz).

Used by :meth:`pcg_core.Groups.validate` and when a file is read
(:mod:`pcg_core._groups_file`). Math as in :mod:`pcg_core._groups`: ``G_k`` is
group k, ``S(t)`` the groups of token t, ``w[k, t]`` the weight of t in k, with
``Σ_{k∈S(t)} w[k, t] = 1`` for every token.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from pcg_core._rows import sum_tolerance
from pcg_core.errors import InvalidArgumentError

__all__ = ["check_indices", "check_weights", "index_dtype"]


def index_dtype(max_index: int) -> np.dtype[Any]:
    """The compact dtype that holds ids 0..max_index: uint16 if it fits, else int32."""
    return np.dtype(np.uint16) if max_index < 2**16 else np.dtype(np.int32)


def check_indices(
    vocab_size: int, num_groups: int, group_ptr: npt.NDArray[Any], group_members: npt.NDArray[Any],
    token_ptr: npt.NDArray[Any], token_groups: npt.NDArray[Any],
) -> npt.NDArray[np.intp]:
    """Check both CSR directions; return ``order`` with ``group_members[order]`` in token order.

    Shapes, offsets, coverage, id ranges, members strictly ascending in each
    group, and the reverse direction equal to the forward one read by token.
    O(nnz + M + V).
    """
    nnz = int(group_members.shape[0])
    for name, array, shape in (("group_ptr", group_ptr, (num_groups + 1,)), ("token_ptr", token_ptr, (vocab_size + 1,)),
                               ("token_groups", token_groups, (nnz,))):
        if array.shape != shape:
            raise InvalidArgumentError(name, array, f"must have shape {list(shape)}")
    for name, ptr in (("group_ptr", group_ptr), ("token_ptr", token_ptr)):
        if ptr[0] != 0 or ptr[-1] != nnz or np.any(ptr[1:] < ptr[:-1]):
            raise InvalidArgumentError(name, ptr, f"must be non-decreasing offsets from 0 to nnz={nnz}")
    sizes, degrees = np.diff(group_ptr), np.diff(token_ptr)
    if np.any(sizes == 0):
        raise InvalidArgumentError("group_ptr", group_ptr, "every group must have at least one member")
    if np.any(degrees == 0):
        t = int(np.flatnonzero(degrees == 0)[0])
        raise InvalidArgumentError("token_ptr", token_ptr, f"every token must belong to a group; token {t} does not")
    for name, ids, bound in (("group_members", group_members, vocab_size), ("token_groups", token_groups, num_groups)):
        if ids.size and (ids.min() < 0 or ids.max() >= bound):
            raise InvalidArgumentError(name, ids, f"ids must lie in [0, {bound})")
    ascending = group_members[1:] > group_members[:-1]
    ascending[group_ptr[1:-1] - 1] = True  # group boundaries
    if not ascending.all():
        k = int(np.searchsorted(group_ptr, np.flatnonzero(~ascending)[0] + 1, side="right")) - 1
        raise InvalidArgumentError("group_members", group_members,
                                   f"members of group {k} must be distinct and ascending")
    # Forward memberships are in (group, token) order; a stable sort by token puts them in
    # (token, group) order, which must be the reverse direction exactly: the sorted tokens
    # are token t repeated N(t) times (sorted, so the first and last of each run suffice),
    # and the groups agree one by one.
    order = _stable_order(group_members)
    tokens = np.arange(vocab_size)
    group_of = np.repeat(np.arange(num_groups, dtype=index_dtype(num_groups - 1)), sizes)
    if not (np.array_equal(group_members[order[token_ptr[:-1]]], tokens)
            and np.array_equal(group_members[order[token_ptr[1:] - 1]], tokens)
            and np.array_equal(group_of[order], token_groups)):
        raise InvalidArgumentError("groups", f"M={num_groups}, V={vocab_size}",
                                   "forward and reverse CSR directions disagree")
    return order


def check_weights(
    group_weights: npt.NDArray[Any], token_weights: npt.NDArray[Any], token_ptr: npt.NDArray[Any],
    order: npt.NDArray[np.intp],
) -> None:
    """Weights > 0 and finite, equal in both directions, ``Σ_{k∈S(t)} w[k,t] = 1`` per token. O(nnz)."""
    for name, weights in (("group_weights", group_weights), ("token_weights", token_weights)):
        if weights.shape != order.shape:
            raise InvalidArgumentError(name, weights, f"must have shape [nnz] = [{order.size}]")
    if not (np.all(np.isfinite(group_weights)) and np.all(group_weights > 0)):
        raise InvalidArgumentError("group_weights", group_weights, "weights must be finite and > 0")
    forward = group_weights[order]
    if not (np.array_equal(forward, token_weights) or np.all(np.abs(forward - token_weights) <= 1e-15)):
        raise InvalidArgumentError("groups", "weights", "forward and reverse CSR directions disagree")
    sums = np.add.reduceat(token_weights, token_ptr[:-1])  # every token has ≥ 1 membership
    worst = int(np.argmax(np.abs(sums - 1.0)))
    tolerance = sum_tolerance("float64")
    if abs(sums[worst] - 1.0) > tolerance:
        raise InvalidArgumentError(
            "token_weights", token_weights,
            f"weights of each token must sum to 1 within {tolerance:g}; token {worst} sums to {float(sums[worst])!r}",
        )


def _stable_order(ids: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
    """The stable sorting permutation of non-negative ids < 2³², O(n).

    numpy sorts 16-bit keys stably by radix sort; 32-bit ids take two such
    passes (low half, then high half: least significant digit first).
    """
    if ids.dtype.itemsize <= 2:
        return np.argsort(ids, kind="stable")
    wide = ids.astype(np.int64)
    order = np.argsort((wide & 0xFFFF).astype(np.uint16), kind="stable")
    return order[np.argsort((wide[order] >> 16).astype(np.uint16), kind="stable")]
