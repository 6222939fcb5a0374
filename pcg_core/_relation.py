"""The relation ``t ↦ G(t)`` in CSR form, its de-duplication and the group structure it becomes.

A relation is ``(row_ptr [n+1], cols [nnz], vals [nnz])``: row t lists the
members of ``G(t)`` (ids ascending, t itself included) and the metric value of
each to t (cosine, or distance under euclidean). Identical rows are one group:
:func:`dedupe` finds them with a 64-bit multiset hash, confirmed member by
member, and :func:`assemble` numbers the distinct groups by (smallest member,
center) and adds the singletons of the ids outside the speech range.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from pcg_core._groups import Groups
from pcg_core._similarity import F64, I64, self_value
from pcg_core.errors import InvalidArgumentError

__all__ = [
    "DEDUPE_SEED",
    "Relation",
    "WeightFn",
    "assemble",
    "dedupe",
    "filter_members",
    "membership_weights",
    "segments",
    "symmetric_relation",
    "truncate",
]

#: CSR of t ↦ G(t): (row_ptr [n+1] int64, cols [nnz] int64, vals [nnz] float64).
Relation = tuple[I64, I64, F64]
#: A vectorised weight function: metric values [nnz] float64 -> weights [nnz] > 0.
WeightFn = Callable[[torch.Tensor], torch.Tensor]
#: Fixed seed of the random 64-bit keys of the multiset hash used to find duplicate sets.
DEDUPE_SEED = 20251113


# ---------------------------------------------------------------------------- relation ops
def symmetric_relation(n: int, rows: I64, cols: I64, vals: F64, diagonal_value: float) -> Relation:
    """CSR of the reflexive, symmetric relation from its strict upper pairs; columns ascending.

    ``rows[i] < cols[i]`` with metric value ``vals[i]``; each pair is mirrored and
    every t gets itself with ``diagonal_value`` (see :func:`self_value`).
    """
    diag = np.arange(n, dtype=np.int64)
    all_rows = np.concatenate([rows, cols, diag])
    all_cols = np.concatenate([cols, rows, diag])
    order = np.argsort(all_rows * n + all_cols)
    all_vals = np.concatenate([vals, vals, np.full(n, diagonal_value)])[order]
    row_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(all_rows, minlength=n), out=row_ptr[1:])
    return row_ptr, all_cols[order], all_vals


def truncate(relation: Relation, limit: int, metric: str) -> Relation:
    """Keep, per row, the row itself and its ``limit − 1`` most similar columns (ties: smaller id)."""
    row_ptr, cols, vals = relation
    n = row_ptr.size - 1
    row_of = np.repeat(np.arange(n, dtype=np.int64), np.diff(row_ptr))
    closeness = vals if metric == "cosine" else -vals
    order = np.lexsort((cols, -closeness, cols != row_of, row_of))
    rank = np.arange(cols.size) - row_ptr[row_of[order]]
    keep = np.sort(order[rank < limit])  # back to (row, col) order
    counts = np.bincount(row_of[keep], minlength=n)
    new_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=new_ptr[1:])
    return new_ptr, cols[keep], vals[keep]


def filter_members(relation: Relation, limit: float, metric: str) -> Relation:
    """Drop members below ``limit`` (cosine) or above it (distance); the row itself stays."""
    row_ptr, cols, vals = relation
    n = row_ptr.size - 1
    row_of = np.repeat(np.arange(n, dtype=np.int64), np.diff(row_ptr))
    keep = (cols == row_of) | (vals >= limit if metric == "cosine" else vals <= limit)
    new_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(row_of[keep], minlength=n), out=new_ptr[1:])
    return new_ptr, cols[keep], vals[keep]


def segments(ptr: I64, rows: I64) -> I64:
    """Positions of the concatenated segments ``ptr[r]:ptr[r+1]`` for r in ``rows``."""
    lengths = ptr[rows + 1] - ptr[rows]
    ends = np.cumsum(lengths)
    return np.repeat(ptr[rows] - (ends - lengths), lengths) + np.arange(int(ends[-1]) if ends.size else 0)


def dedupe(row_ptr: I64, cols: I64, keys: npt.NDArray[np.uint64] | None = None) -> I64:
    """Centers of the distinct rows (the smallest row of each set), numbered by (smallest member, center).

    Candidates share a 64-bit multiset hash ``Σ_{t'∈G(t)} key[t'] mod 2⁶⁴`` and a size;
    each is then confirmed by comparing its sorted members, so a collision
    never merges two different sets.
    """
    n = row_ptr.size - 1
    if keys is None:
        keys = np.random.Generator(np.random.PCG64(DEDUPE_SEED)).integers(
            0, np.iinfo(np.uint64).max, size=n, dtype=np.uint64, endpoint=True
        )
    sizes = np.diff(row_ptr)
    hashes = np.add.reduceat(keys[cols], row_ptr[:-1])  # uint64 sums wrap modulo 2⁶⁴; rows are non-empty
    order = np.lexsort((np.arange(n), sizes, hashes))
    same_key = np.zeros(n, dtype=bool)
    same_key[1:] = (hashes[order[1:]] == hashes[order[:-1]]) & (sizes[order[1:]] == sizes[order[:-1]])
    # Confirm each candidate against its predecessor in the sorted order.
    later, earlier = order[1:][same_key[1:]], order[:-1][same_key[1:]]
    equal = np.ones(later.size, dtype=bool)
    if later.size:
        differs = cols[segments(row_ptr, later)] != cols[segments(row_ptr, earlier)]
        owner = np.repeat(np.arange(later.size), sizes[later])
        equal = np.bincount(owner[differs], minlength=later.size) == 0
    run_start = np.flatnonzero(~same_key)
    run_of = np.cumsum(~same_key) - 1
    center = order[run_start][run_of]  # rows sorted by id within a run: the first is the smallest
    colliding = np.unique(run_of[1:][same_key[1:]][~equal])
    for run in colliding:  # a true hash collision: partition the run exactly (never seen in practice)
        seen: dict[bytes, int] = {}
        for position in np.flatnonzero(run_of == run):  # rows ascending, so the first seen is the center
            row = int(order[position])
            center[position] = seen.setdefault(cols[row_ptr[row] : row_ptr[row + 1]].tobytes(), row)
    centers = np.unique(center)
    first_member = cols[row_ptr[centers]]
    return centers[np.lexsort((centers, first_member))]


# ---------------------------------------------------------------------------- assembly
def assemble(
    relation: Relation,
    start: int,
    vocab_size: int,
    weights: str | WeightFn,
    metric: str,
    params: dict[str, Any],
    digest: str,
) -> Groups:
    """Distinct speech groups (ids offset by ``start``) between the singletons of the other ids."""
    row_ptr, cols, vals = relation
    n = row_ptr.size - 1
    centers = dedupe(row_ptr, cols)
    positions = segments(row_ptr, centers)
    sizes = row_ptr[centers + 1] - row_ptr[centers]
    before = np.arange(start, dtype=np.int64)
    after = np.arange(start + n, vocab_size, dtype=np.int64)
    members = np.concatenate([before, cols[positions] + start, after])
    group_sizes = np.concatenate([np.ones(before.size, np.int64), sizes, np.ones(after.size, np.int64)])
    ptr = np.zeros(group_sizes.size + 1, np.int64)
    np.cumsum(group_sizes, out=ptr[1:])
    group_weights: F64 | None = None
    if weights != "equal":
        own = np.full(before.size, self_value(metric))
        tail = np.full(after.size, self_value(metric))
        values = np.concatenate([own, vals[positions], tail])
        group_weights = membership_weights(values, weights, metric, centers, ptr, members, start)
    return Groups.from_memberships(
        vocab_size, ptr, members, group_weights, embedding_digest=digest, params=params
    )


def membership_weights(
    values: F64, weights: str | WeightFn, metric: str, centers: I64, ptr: I64, members: I64, start: int
) -> F64:
    """Unnormalised w[k, t] from the metric value of t to the center of k."""
    if callable(weights):
        out = weights(torch.from_numpy(values.copy()))
        result = np.asarray(out.detach().cpu().numpy() if isinstance(out, torch.Tensor) else out, np.float64)
        if result.shape != values.shape:
            raise InvalidArgumentError(
                "weights", weights,
                f"the callable must return one weight per membership, shape ({values.size},)",
            )
        if not (np.all(np.isfinite(result)) and np.all(result > 0)):
            raise InvalidArgumentError("weights", weights, "the callable must return finite weights > 0")
        return result
    if metric == "euclidean":
        return 1.0 / (1.0 + values)
    bad = np.flatnonzero(values <= 0)
    if bad.size:
        group = int(np.searchsorted(ptr, bad[0], side="right") - 1)
        center = int(centers[group - start]) + start
        raise InvalidArgumentError(
            "weights", "similarity",
            f"needs cos(E[t], E[center]) > 0 for every member; token {int(members[bad[0]])} has "
            f"{values[bad[0]]:.4g} to center {center} ({bad.size} such memberships)",
            "use a positive theta (or min_similarity), or weights='equal'",
        )
    return values
