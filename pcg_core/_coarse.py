"""Coarse (group) masses: P_c(k) = Σ_{t∈G_k} w[k,t] p(t), Q_c(k) likewise for q.

Math follows the paper: q is the target, p the draft. Both functions accept
any of the two and return float64.
"""

from __future__ import annotations

import weakref

import torch

from pcg_core._groups import Groups
from pcg_core._sampling import sample_categorical
from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_core.validation import check_groups

__all__ = ["coarse_probs", "group_masses", "paired_group_masses", "sample_in_groups"]

# Per-membership (group id, token id) as int64 [nnz], built on first use per Groups.
_MEMBERSHIPS: weakref.WeakKeyDictionary[Groups, tuple[torch.Tensor, torch.Tensor]] = weakref.WeakKeyDictionary()
# Rows per chunk in coarse_probs: keeps the [rows, nnz] gather under ~128 MB of float64.
_CHUNK_ELEMENTS = 1 << 24


def _memberships(groups: Groups) -> tuple[torch.Tensor, torch.Tensor]:
    cached = _MEMBERSHIPS.get(groups)
    if cached is None:
        group_of = torch.repeat_interleave(torch.arange(groups.num_groups, device=groups.device), groups.sizes())
        cached = (group_of, groups.group_members.long())
        _MEMBERSHIPS[groups] = cached
    return cached


def _check(probs: torch.Tensor, groups: Groups) -> None:
    """``probs`` is a floating tensor [..., V] for the V ids of ``groups``; its values are not checked."""
    check_groups(groups)
    if not isinstance(probs, torch.Tensor) or not probs.is_floating_point():
        raise InvalidTypeError("probs", probs, "must be a floating torch.Tensor [..., V]")
    if probs.dim() < 1 or probs.shape[-1] != groups.vocab_size:
        raise InvalidArgumentError("probs", probs, f"last dimension must be V={groups.vocab_size}")


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

    Complexity O(nnz) per row (a gather and a segment sum over the memberships).

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
    group_of, members = _memberships(groups)
    out = torch.zeros(rows.shape[0], groups.num_groups, dtype=torch.float64, device=probs.device)
    step = max(1, _CHUNK_ELEMENTS // max(1, groups.nnz))
    for lo in range(0, rows.shape[0], step):
        values = rows[lo : lo + step, members].to(torch.float64) * groups.group_weights
        out[lo : lo + step].index_add_(1, group_of, values)
    return out.reshape(*probs.shape[:-1], groups.num_groups)


def _segments(groups: Groups, group_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Flatten the members of ``group_ids`` [n]: (segment index [L], CSR position [L])."""
    start = groups.group_ptr[group_ids]
    sizes = groups.group_ptr[group_ids + 1] - start
    seg = torch.repeat_interleave(torch.arange(group_ids.numel(), device=group_ids.device), sizes)
    first = torch.cumsum(sizes, 0) - sizes
    pos = start[seg] + torch.arange(seg.numel(), device=seg.device) - first[seg]
    return seg, pos


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
    probs: tuple[torch.Tensor, ...], groups: Groups, group_ids: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    """:func:`group_masses` of several tensors (e.g. p and q) at the same groups.

    ``probs`` tensors of shape [*L, V] (views are fine: nothing is reshaped or
    copied), ``group_ids`` int64 [*L, S] → float64 [*L, S] each. The members
    of the selected groups are gathered once and read from every tensor. No
    argument checks: callers have validated them.
    """
    flat = group_ids.reshape(-1)
    seg, pos = _segments(groups, flat)
    # Row-major coordinates of each member's row in the leading shape L.
    flat_row = torch.div(seg, group_ids.shape[-1], rounding_mode="floor")
    coords: list[torch.Tensor] = []
    for size in reversed(group_ids.shape[:-1]):
        coords.insert(0, flat_row % size)
        flat_row = torch.div(flat_row, size, rounding_mode="floor")
    members = groups.group_members[pos].long()
    weights = groups.group_weights[pos]
    out = []
    for rows in probs:
        values = rows[(*coords, members)].to(torch.float64) * weights
        masses = torch.zeros(flat.numel(), dtype=torch.float64, device=rows.device).index_add_(0, seg, values)
        out.append(masses.reshape(group_ids.shape))
    return tuple(out)


def sample_in_groups(
    probs: torch.Tensor, groups: Groups, group_ids: torch.Tensor, u: torch.Tensor
) -> torch.Tensor:
    """Draw t from ``w[k,t] probs[r,t] / Σ`` over the members of ``k = group_ids[r]``.

    ``probs`` float [R, V], ``group_ids`` int64 [R], ``u`` float64 [R] → tokens int64 [R].
    Rows must give their group positive mass. Pads to ``max_group_size``.
    """
    start = groups.group_ptr[group_ids]
    size = groups.group_ptr[group_ids + 1] - start
    offsets = torch.arange(groups.max_group_size, device=probs.device)
    valid = offsets < size[:, None]
    pos = torch.where(valid, start[:, None] + offsets, start[:, None])
    members = groups.group_members[pos.reshape(-1)].long().reshape(pos.shape)
    masses = probs.gather(1, members).to(torch.float64) * groups.group_weights[pos]
    j = sample_categorical(torch.where(valid, masses, 0.0), u[:, None])[:, 0]
    return members.gather(1, j[:, None])[:, 0]
