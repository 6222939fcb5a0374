"""Coarse (group) masses: P_c(k) = Σ_{t∈G_k} w[k,t] p(t), Q_c(k) likewise for q.

Math follows the paper: q is the target, p the draft. Both functions accept
any of the two and return float64.
"""

from __future__ import annotations

import warnings
import weakref

import torch

from pcg_core._groups import Groups
from pcg_core._inputs import check_groups
from pcg_core._rows import check_has_values
from pcg_core._sampling import sample_categorical
from pcg_core.errors import InvalidArgumentError, InvalidTypeError

__all__ = [
    "CHUNK_ELEMENTS",
    "chunk_rows",
    "coarse_probs",
    "coarse_rows",
    "group_masses",
    "paired_group_masses",
    "sample_in_groups",
    "weight_matrix",
]

# The [M, V] weight matrix w[k, t] as a CSR tensor with int32 indices, built on first use per Groups.
# It shares group_weights (and group_members when they are int32): only group_ptr is converted.
_MATRICES: weakref.WeakKeyDictionary[Groups, torch.Tensor] = weakref.WeakKeyDictionary()
#: Float64 entries per [rows, V] or [rows, M] buffer of a chunked pass (32 MB): about 20 rows at
#: V = M ≈ 200k, where torch's CSR × dense product is about as fast per row as it gets, and every
#: row at once for small vocabularies.
CHUNK_ELEMENTS = 1 << 22


def chunk_rows(groups: Groups) -> int:
    """Rows per chunk of a pass that holds [rows, V] and [rows, M] float64 buffers."""
    return max(1, CHUNK_ELEMENTS // max(groups.vocab_size, groups.num_groups))


def weight_matrix(groups: Groups) -> torch.Tensor:
    """w as a float64 sparse CSR tensor [M, V], cached per ``groups``.

    Indices are int32 (the fast path of torch's CSR × dense product) unless
    nnz or V reach 2**31.
    """
    matrix = _MATRICES.get(groups)
    if matrix is None:
        index = torch.int32 if max(groups.nnz, groups.vocab_size) < 2**31 else torch.int64
        with warnings.catch_warnings():  # torch announces its CSR layout as beta once per process
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta", category=UserWarning)
            matrix = torch.sparse_csr_tensor(
                groups.group_ptr.to(index), groups.group_members.to(index), groups.group_weights,
                (groups.num_groups, groups.vocab_size), check_invariants=False,
            )
        _MATRICES[groups] = matrix
    return matrix


def coarse_rows(rows: torch.Tensor, groups: Groups) -> torch.Tensor:
    """``rows`` float [n, V] (any sign) → float64 [n, M], ``out[r, k] = Σ_{t∈G_k} w[k,t] rows[r, t]``.

    A CSR × dense product per chunk of rows: O(nnz) per row, each group's sum
    accumulated in float64 over its own members only (so a group whose members
    are all 0 gets exactly 0, and one whose terms are all ≤ 0 gets ≤ 0). No
    argument checks.
    """
    matrix, step = weight_matrix(groups), chunk_rows(groups)
    out = torch.empty(rows.shape[0], groups.num_groups, dtype=torch.float64, device=rows.device)
    for lo in range(0, rows.shape[0], step):
        chunk = rows[lo : lo + step].to(torch.float64)  # [n', V]
        out[lo : lo + step] = (matrix @ chunk.T).T  # [M, n'] → [n', M]
    return out


def _check(probs: torch.Tensor, groups: Groups) -> None:
    """``probs`` is a floating tensor [..., V] for the V ids of ``groups``; its values are not checked."""
    check_groups(groups)
    if not isinstance(probs, torch.Tensor) or not probs.is_floating_point():
        raise InvalidTypeError("probs", probs, "must be a floating torch.Tensor [..., V]")
    if probs.dim() < 1 or probs.shape[-1] != groups.vocab_size:
        raise InvalidArgumentError("probs", probs, f"last dimension must be V={groups.vocab_size}")
    check_has_values("probs", probs)
    check_groups(groups, device=probs.device)


def coarse_probs(probs: torch.Tensor, groups: Groups) -> torch.Tensor:
    """Coarse distribution over every group.

    Parameters
    ----------
    probs : float [..., V]
        Token distributions (target or draft).
    groups : Groups

    Returns
    -------
    float64 [..., M]
        ``out[..., k] = Σ_{t∈G_k} w[k,t] probs[..., t]``; sums to 1 when the
        rows do, with no renormalisation (each token's weights sum to 1).

    Complexity O(nnz) per row (a sparse CSR × dense product; w is cached per
    ``groups`` as a CSR tensor sharing its arrays).

    Examples
    --------
    >>> import torch
    >>> from pcg_core import coarse_probs, groups_from_labels
    >>> g = groups_from_labels(torch.tensor([0, 0, 1]))
    >>> coarse_probs(torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64), g)
    tensor([0.5000, 0.5000], dtype=torch.float64)
    """
    _check(probs, groups)
    rows = probs.reshape(-1, groups.vocab_size)
    return coarse_rows(rows, groups).reshape(*probs.shape[:-1], groups.num_groups)


def _segments(groups: Groups, group_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Flatten the members of ``group_ids`` [n]: (segment index [L], CSR position [L])."""
    start = groups.group_ptr[group_ids]
    sizes = groups.group_ptr[group_ids + 1] - start
    seg = torch.repeat_interleave(sizes)  # [L]: i repeated sizes[i] times
    # Member j of segment i sits at start[i] + j, and j = (its flat index) − (first flat index of segment i).
    shift = start - (torch.cumsum(sizes, 0) - sizes)
    return seg, shift[seg] + torch.arange(seg.numel(), device=seg.device)


def group_masses(probs: torch.Tensor, groups: Groups, group_ids: torch.Tensor) -> torch.Tensor:
    """Coarse masses of selected groups only.

    Parameters
    ----------
    probs : float [R, V]
        Token distributions, one per row.
    groups : Groups
    group_ids : int64 [R, S]
        S group ids per row.

    Returns
    -------
    float64 [R, S]
        ``out[r, s] = Σ_{t∈G_k} w[k,t] probs[r, t]`` with ``k = group_ids[r, s]``.

    Complexity O(Σ |G_k|) over the selected groups: only their members are read.
    """
    _check(probs, groups)
    if probs.dim() != 2:
        raise InvalidArgumentError("probs", probs, "must have shape [R, V]")
    if not isinstance(group_ids, torch.Tensor) or group_ids.dtype != torch.int64:
        raise InvalidTypeError("group_ids", group_ids, "must be an int64 torch.Tensor [R, S]")
    if group_ids.dim() != 2 or group_ids.shape[0] != probs.shape[0]:
        raise InvalidArgumentError("group_ids", group_ids, "must have shape [R, S] for probs of shape [R, V]")
    flat = group_ids.reshape(-1)
    if flat.numel() and (int(flat.min()) < 0 or int(flat.max()) >= groups.num_groups):
        raise InvalidArgumentError("group_ids", group_ids, f"ids must lie in [0, M={groups.num_groups})")
    return paired_group_masses((probs,), groups, group_ids)[0]


def paired_group_masses(
    probs: tuple[torch.Tensor, ...],
    groups: Groups,
    group_ids: torch.Tensor,
    rows: tuple[torch.Tensor, ...] | None = None,
) -> tuple[torch.Tensor, ...]:
    """:func:`group_masses` of several tensors (e.g. p and q) at the same groups.

    ``group_ids`` int64 [*L, S] → float64 [*L, S] for each tensor of ``probs``.
    By default the probability tensors have shape [*L, V] and entry ``l`` of L
    reads row ``probs[l]``; with ``rows``, a tuple of int64 index tensors
    broadcastable to L, it reads ``probs[rows[0][l], rows[1][l], ...]``
    instead, so rows are picked without copying them. Views are fine: nothing
    is reshaped or copied but the members of the selected groups, which are
    gathered once and read from every tensor. No argument checks: callers
    have validated them.
    """
    flat = group_ids.reshape(-1)
    seg, pos = _segments(groups, flat)
    # Index of each member's entry of L (row-major), then its coordinates into the probability tensors.
    flat_row = torch.div(seg, group_ids.shape[-1], rounding_mode="floor")
    leading = group_ids.shape[:-1]
    coords: list[torch.Tensor] = []
    if rows is not None:
        coords = [index.expand(leading).reshape(-1)[flat_row] for index in rows]
    else:
        for size in reversed(leading):
            coords.insert(0, flat_row % size)
            flat_row = torch.div(flat_row, size, rounding_mode="floor")
    members = groups.group_members[pos].long()
    weights = groups.group_weights[pos]
    out = []
    for tensor in probs:
        values = tensor[(*coords, members)].to(torch.float64) * weights
        masses = torch.zeros(flat.numel(), dtype=torch.float64, device=tensor.device).index_add_(0, seg, values)
        out.append(masses.reshape(group_ids.shape))
    return tuple(out)


def sample_in_groups(
    probs: torch.Tensor,
    groups: Groups,
    group_ids: torch.Tensor,
    u: torch.Tensor,
    rows: tuple[torch.Tensor, ...] | None = None,
) -> torch.Tensor:
    """Draw t from ``w[k,t] probs[r,t] / Σ`` over the members of ``k = group_ids[r]``.

    ``probs`` float [R, V], ``group_ids`` int64 [R], ``u`` float64 [R] → tokens int64 [R];
    with ``rows`` (int64 index tensors [R]), row r is ``probs[rows[0][r], rows[1][r], ...]``
    instead (no row is copied). Rows must give their group positive mass.
    Pads to ``max_group_size``: O(R · max |G_k|).
    """
    start = groups.group_ptr[group_ids]
    size = groups.group_ptr[group_ids + 1] - start
    offsets = torch.arange(groups.max_group_size, device=probs.device)
    valid = offsets < size[:, None]
    pos = torch.where(valid, start[:, None] + offsets, start[:, None])
    members = groups.group_members[pos.reshape(-1)].long().reshape(pos.shape)  # [R, max |G|]
    if rows is None:
        values = probs.gather(1, members)
    else:
        values = probs[(*(index[:, None] for index in rows), members)]
    masses = values.to(torch.float64) * groups.group_weights[pos]
    j = sample_categorical(torch.where(valid, masses, 0.0), u[:, None])[:, 0]
    return members.gather(1, j[:, None])[:, 0]
