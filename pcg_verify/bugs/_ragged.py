"""Sparse building blocks of the mutable reference: CSR segments, segment sums, inverse-CDF draws.

Math follows the paper: q is the target, p the draft. Nothing here builds a
dense ``[M, V]`` matrix. A group's members, or a token's groups, are a
*segment* ``ptr[k]:ptr[k+1]`` of a CSR array of ``pcg_core.Groups``; a batch
of n requests is one flat ragged array of L = Σ lengths entries, with
``owner`` [L] naming the request each entry serves. Sums and draws over the
segments are O(L).

Every draw here is an inverse CDF searched to the right: it returns the first
entry whose cumulative mass exceeds ``u · total`` with u ∈ [0, 1), so an entry
of mass 0 is never returned (a zero mass adds exactly 0.0 to a cumulative sum,
so it never exceeds a threshold its predecessor did not).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["Segments", "dense_draw", "group_sums", "segment_draw", "segment_sum", "segments"]

#: Most float entries one call of :func:`group_sums` holds at once (rows · nnz): 2^24 float64 = 128 MB.
MAX_ENTRIES = 1 << 24


@dataclass(frozen=True)
class Segments:
    """The CSR slices ``ptr[key] : ptr[key] + length`` of n requests, flattened.

    owner [L] int64, ascending: the request of each entry; position [L] int64:
    its index into the CSR arrays; start [n], length [n] int64: where each
    request's entries lie in the flat arrays (every length ≥ 1).
    """

    owner: torch.Tensor
    position: torch.Tensor
    start: torch.Tensor
    length: torch.Tensor

    @property
    def count(self) -> int:
        """n, the number of requests."""
        return int(self.start.shape[0])


def segments(ptr: torch.Tensor, keys: torch.Tensor, *, cap: int | None = None) -> Segments:
    """The segments of ``keys`` [n] (group or token ids) in the CSR offsets ``ptr`` [K+1].

    ``cap`` keeps only the first ``cap`` entries of each segment (a mistake the
    catalogue plants; the reference never caps).
    """
    begin = ptr[keys]
    length = ptr[keys + 1] - begin
    if cap is not None:
        length = length.clamp(max=cap)
    n = int(keys.shape[0])
    owner = torch.repeat_interleave(torch.arange(n), length)
    start = torch.cumsum(length, 0) - length
    position = begin[owner] + torch.arange(int(owner.shape[0])) - start[owner]
    return Segments(owner, position, start, length)


def segment_sum(seg: Segments, values: torch.Tensor) -> torch.Tensor:
    """Σ of ``values`` [L] over each segment → [n] (same dtype)."""
    return torch.zeros(seg.count, dtype=values.dtype).index_add_(0, seg.owner, values)


def segment_draw(seg: Segments, masses: torch.Tensor, u: torch.Tensor, *, unnormalised: bool = False) -> torch.Tensor:
    """One draw per segment from ``masses`` [L] (≥ 0, positive total) with uniforms ``u`` [n] → flat entries [n].

    Returns the index into the flat arrays of the first entry whose cumulative
    mass within its segment exceeds u · (segment total), clamped to the
    segment's last positive entry (u · total can round up to the total).
    ``unnormalised`` compares with u itself, as if the masses summed to one
    (a mistake the catalogue plants).
    """
    cum = masses.cumsum(0)
    # base[j] = cumulative mass before segment j: the exact value cum[start − 1], so zeros stay exact.
    before = torch.where(seg.start > 0, cum[(seg.start - 1).clamp(min=0)], torch.zeros((), dtype=cum.dtype))
    local = cum - before[seg.owner]  # cumulative mass within the segment   [L]
    total = local[seg.start + seg.length - 1]  # [n]
    threshold = u.to(cum.dtype) if unnormalised else u.to(cum.dtype) * total
    index = segment_sum(seg, (local <= threshold[seg.owner]).to(torch.int64))
    rank = torch.arange(int(seg.owner.shape[0])) - seg.start[seg.owner]  # position within the segment   [L]
    last_positive = torch.full((seg.count,), -1, dtype=torch.int64).scatter_reduce(
        0, seg.owner, torch.where(masses > 0, rank, -1), reduce="amax")
    return seg.start + torch.minimum(index, last_positive.clamp(min=0))


def dense_draw(probs: torch.Tensor, u: torch.Tensor, *, cumulative: torch.Tensor | None = None,
               left_closed: bool = False, unnormalised: bool = False) -> torch.Tensor:
    """One index per row of ``probs`` [n, L] (≥ 0, positive rows) with uniforms ``u`` [n] → int64 [n].

    ``cumulative`` [n, L] is ``probs.cumsum(-1)`` when the caller already has
    it (possibly computed another way). ``left_closed`` searches to the left,
    returning the first entry whose cumulative mass reaches u · total: at u = 0
    that is entry 0 even if its mass is 0; ``unnormalised`` compares with u
    itself, as if every row summed to one (mistakes the catalogue plants).
    """
    cum = probs.cumsum(-1) if cumulative is None else cumulative
    scale = torch.ones_like(cum[:, -1]) if unnormalised else cum[:, -1]
    threshold = (u.to(cum.dtype) * scale)[:, None]
    index = torch.searchsorted(cum.contiguous(), threshold.contiguous(), right=not left_closed)[:, 0]
    width = probs.shape[-1]
    last_positive = width - 1 - (probs > 0).flip(-1).to(torch.int8).argmax(-1)
    if left_closed:
        return index.clamp(max=width - 1)
    return torch.minimum(index, last_positive)


def group_sums(group_ptr: torch.Tensor, members: torch.Tensor, weights: torch.Tensor,
               probs: torch.Tensor) -> torch.Tensor:
    """Coarse masses of every group, ``Σ_{t∈G_k} w[k, t] probs[r, t]``, for rows ``probs`` [n, V] → [n, M].

    A sparse matrix-vector product over the forward CSR (``members`` and
    ``weights`` [nnz]): O(n · nnz) work, rows taken in chunks so that one
    chunk holds at most :data:`MAX_ENTRIES` products.
    """
    num_groups = int(group_ptr.shape[0]) - 1
    group_of_entry = torch.repeat_interleave(torch.arange(num_groups), group_ptr[1:] - group_ptr[:-1])  # [nnz]
    rows = max(1, MAX_ENTRIES // max(1, int(members.shape[0])))
    out = torch.zeros(probs.shape[0], num_groups, dtype=probs.dtype)
    for begin in range(0, int(probs.shape[0]), rows):
        chunk = probs[begin:begin + rows]
        out[begin:begin + rows].index_add_(1, group_of_entry, chunk[:, members] * weights.to(probs.dtype))
    return out
