"""Similarity tiles of the group builders: cosine or euclidean, never the whole matrix.

``E`` is the embedding [n, D] of the speech tokens; ``b`` the block size. A
tile is the similarity (cosine, clamped to [−1, 1]) or the distance of one
block of rows against one block of columns, ``[b, b]``, computed in float32
(float64 for float64 input) on the embedding's device; only the pairs that a
rule keeps travel to the CPU.

- :func:`threshold_pairs`: every pair ``t < t'`` with ``cos ≥ θ`` (or
  distance ``≤ θ``), from tiles ``J ≥ I`` only, so the relation is symmetric
  by construction.
- :func:`topk_relation`: each row's k best columns, merged tile by tile into
  a running top-k, O(b·(b + k)) memory.
- :func:`threshold_topk_relation`: the threshold rule cut to each row's
  ``limit`` best members while the tiles stream (``max_group_size``),
  O(n·limit) memory however many pairs pass θ.

Memory guard. A threshold build through the pair list holds every kept pair:
:func:`estimate_pairs` predicts their number before any is stored, and
:func:`threshold_pairs` counts them exactly as the tiles stream, stopping at a
limit, so a wrong estimate still stops before memory runs out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from pcg_core.errors import InvalidArgumentError

__all__ = [
    "ESTIMATE_ROWS",
    "F64",
    "I64",
    "PAIR_BYTES",
    "SLOT_BYTES",
    "PairLimitExceeded",
    "Points",
    "estimate_pairs",
    "prepare_points",
    "self_value",
    "threshold_pairs",
    "threshold_topk_relation",
    "topk_relation",
    "topk_select",
]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

#: Peak bytes per kept pair t < t' of a threshold build through the pair list: the pair
#: lists (24 B), their mirrored CSR and its sort, then the group assembly. Measured (peak
#: RSS growth over the build, one process): 192 B per pair for the 18.9 M pairs of 6,144
#: random ids at θ = 0 (every G(t) distinct), 106 B at θ = −1 (one group); 200 is the rule.
PAIR_BYTES = 200
#: Peak bytes per (token, kept member) slot of :func:`threshold_topk_relation` and
#: :func:`topk_relation`: the running best (value and id), the relation they become and
#: the group assembly. Measured: 102-129 B per slot (6,144 ids, 512 or 1,500 slots per row).
SLOT_BYTES = 128
#: Rows whose exact counts estimate the number of kept pairs: n/32 within these bounds
#: (:func:`estimate_pairs`), so the estimate costs at most 1/16 of the build's tiles for n ≥ 8,192.
ESTIMATE_ROWS = (256, 1024)
ESTIMATE_SEED = 20251114


class PairLimitExceeded(Exception):  # an internal signal: the builders raise the user-facing error
    """:func:`threshold_pairs` kept more than ``max_pairs`` pairs; ``fraction`` of the tiles were done."""

    def __init__(self, pairs: int, fraction: float) -> None:
        super().__init__(f"{pairs} pairs after {fraction:.0%} of the tiles")
        self.pairs = pairs
        self.fraction = fraction


@dataclass(frozen=True)
class Points:
    """The speech rows, read one block at a time in the compute dtype.

    No whole normalised (or converted) copy of the embedding is ever made:
    a block ``[b, D]`` is converted and, under cosine, divided by its norms
    when a tile needs it.
    """

    rows: torch.Tensor  # [n, D] as given: any floating dtype, any device
    dtype: torch.dtype  # float64 for float64 input, else float32
    metric: str
    norms: torch.Tensor  # [n]: ‖E[t]‖ under cosine, ‖E[t]‖² under euclidean

    @property
    def count(self) -> int:
        return int(self.rows.shape[0])

    def block(self, lo: int, hi: int) -> torch.Tensor:
        chunk = self.rows[lo:hi].to(self.dtype)
        return chunk / self.norms[lo:hi].unsqueeze(1) if self.metric == "cosine" else chunk

    def gather(self, ids: torch.Tensor) -> torch.Tensor:
        """The rows ``ids`` [s] as a block [s, D], like :meth:`block`."""
        chunk = self.rows[ids].to(self.dtype)
        return chunk / self.norms[ids].unsqueeze(1) if self.metric == "cosine" else chunk

    def tile(self, left: torch.Tensor, i0: int, right: torch.Tensor, j0: int) -> torch.Tensor:
        """Cosine similarities [b_i, b_j] (clamped to [−1, 1]) or euclidean distances."""
        return self.finish(left @ right.T, self.norms[i0 : i0 + left.shape[0]], self.norms[j0 : j0 + right.shape[0]])

    def finish(self, dots: torch.Tensor, row_norms: torch.Tensor, col_norms: torch.Tensor) -> torch.Tensor:
        """A tile from its dot products [b_i, b_j] (in place)."""
        if self.metric == "cosine":
            return dots.clamp_(-1.0, 1.0)
        # ‖a − b‖² = ‖a‖² + ‖b‖² − 2 a·b, clamped at 0 against cancellation
        return dots.mul_(-2.0).add_(row_norms.unsqueeze(1)).add_(col_norms.unsqueeze(0)).clamp_(min=0.0).sqrt_()

    def passes(self, scores: torch.Tensor, theta: float) -> torch.Tensor:
        """The threshold rule on a tile: cosine ≥ θ, or distance ≤ θ."""
        return scores >= theta if self.metric == "cosine" else scores <= theta


def prepare_points(emb: torch.Tensor, metric: str, block_size: int) -> Points:
    """Check every row for NaN/inf (and zero norm under cosine) and compute the norms, in row chunks."""
    dtype = torch.float64 if emb.dtype == torch.float64 else torch.float32
    norms = torch.empty(emb.shape[0], dtype=dtype, device=emb.device)
    for lo in range(0, int(emb.shape[0]), block_size):
        chunk = emb[lo : lo + block_size].to(dtype)
        finite = torch.isfinite(chunk).all(dim=1)
        if not bool(finite.all()):
            row = lo + int(torch.nonzero(~finite)[0, 0])
            raise InvalidArgumentError("embeddings", emb, f"row {row} is not finite (NaN or inf)")
        squared = (chunk * chunk).sum(dim=1)
        if metric == "cosine":
            zero = squared == 0
            if bool(zero.any()):
                row = lo + int(torch.nonzero(zero)[0, 0])
                raise InvalidArgumentError(
                    "embeddings", emb, f"row {row} has norm 0, so its cosine similarity is undefined",
                    "use metric='euclidean' or drop that token from token_range",
                )
            squared = squared.sqrt()
        norms[lo : lo + block_size] = squared
    return Points(emb, dtype, metric, norms)


def estimate_pairs(points: Points, theta: float, block_size: int) -> int:
    """The number of pairs t < t' that the threshold rule keeps, estimated without storing any.

    The exact counts of ``rows = n/32`` rows, kept within :data:`ESTIMATE_ROWS`
    (256 to 1,024; every row when n ≤ 256), drawn by a seeded sample without
    replacement, against all n columns, scaled by ``n / rows`` and halved
    (each pair is seen from both ends). The sample makes the estimate
    unbiased whatever the order of the ids, with relative error about
    ``cv / √rows`` (3 to 6 % when the per-row counts vary by their mean).
    It costs ``rows/(n/2)`` of the build's tile work, at most 1/16 for
    n ≥ 8,192 and 3 % at n = 65,536, where a counting pass over every tile
    would double it.
    """
    n, device = points.count, points.rows.device
    low, high = ESTIMATE_ROWS
    rows = min(n, max(low, min(high, n // 32)))
    if rows == n:
        sample = torch.arange(n)
    else:
        generator = torch.Generator().manual_seed(ESTIMATE_SEED)
        sample = torch.randperm(n, generator=generator)[:rows].sort().values
    sample = sample.to(device)
    kept = 0
    for lo in range(0, int(sample.numel()), block_size):
        ids = sample[lo : lo + block_size]
        left = points.gather(ids)
        for j0 in range(0, n, block_size):
            j1 = min(j0 + block_size, n)
            mask = points.passes(points.finish(left @ points.block(j0, j1).T, points.norms[ids], points.norms[j0:j1]),
                                 theta)
            own = torch.nonzero((ids >= j0) & (ids < j1)).squeeze(1)  # a token with itself is no pair
            mask[own, ids[own] - j0] = False
            kept += int(mask.sum())
    return math.ceil(kept * n / int(sample.numel()) / 2)


def threshold_pairs(
    points: Points, theta: float, block_size: int, max_pairs: int | None = None
) -> tuple[I64, I64, F64]:
    """Every pair t < t' with sim(t, t') ≥ θ (or distance ≤ θ), from tiles J ≥ I only.

    Returns rows, cols (int64) and the metric values (float64: cosine or distance).
    The pairs are counted as each tile is thresholded, before it is stored:
    past ``max_pairs`` it raises :class:`PairLimitExceeded`.
    """
    n = points.count
    rows: list[I64] = []
    cols: list[I64] = []
    vals: list[F64] = []
    kept, blocks = 0, -(-n // block_size)
    for bi, i0 in enumerate(range(0, n, block_size)):
        left = points.block(i0, min(i0 + block_size, n))
        for j0 in range(i0, n, block_size):
            right = left if j0 == i0 else points.block(j0, min(j0 + block_size, n))
            scores = points.tile(left, i0, right, j0)
            r, c = torch.nonzero(points.passes(scores, theta), as_tuple=True)
            if j0 == i0:  # diagonal tile: the strict upper triangle only; the mirror gives the rest
                upper = c > r
                r, c = r[upper], c[upper]
            kept += int(r.numel())
            if max_pairs is not None and kept > max_pairs:
                done = bi * blocks - bi * (bi - 1) // 2 + (j0 - i0) // block_size + 1  # tiles J ≥ I so far
                raise PairLimitExceeded(kept, done / (blocks * (blocks + 1) // 2))
            v = scores[r, c]
            rows.append(r.cpu().numpy().astype(np.int64) + i0)
            cols.append(c.cpu().numpy().astype(np.int64) + j0)
            vals.append(v.cpu().numpy().astype(np.float64))
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)


def threshold_topk_relation(points: Points, theta: float, limit: int, block_size: int) -> tuple[I64, I64, F64]:
    """CSR (row_ptr, cols, values) of t ↦ t and its ``limit − 1`` most similar members passing θ.

    Ties go to the smaller id, as in :func:`pcg_core._relation.truncate`, and
    the tiles and their mirroring are those of :func:`threshold_pairs`, so
    the result equals ``truncate(symmetric_relation(threshold_pairs(…)), limit)``
    exactly. But only a running best ``[n, limit − 1]`` is held: tile
    ``(I, J)`` updates the rows of I and, transposed, those of J, each row
    seeing its column blocks in ascending order (what :func:`topk_select`
    needs); members that fail θ score −inf and are dropped at the end.
    Memory O(n·limit + b²), whatever the number of pairs passing θ.
    """
    n, metric = points.count, points.metric
    width = min(limit - 1, n - 1)  # the row itself is added at the end
    state: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def merge(r0: int, scores: torch.Tensor, first_col: int) -> None:
        best, ids = state.get(r0, (scores[:, :0], torch.empty(scores.shape[0], 0, dtype=torch.int64,
                                                               device=scores.device)))
        state[r0] = topk_select(torch.cat([best, scores], dim=1), width, int(ids.shape[1]), ids, first_col)

    for i0 in range(0, n if width else 0, block_size):
        left = points.block(i0, min(i0 + block_size, n))
        for j0 in range(i0, n, block_size):
            right = left if j0 == i0 else points.block(j0, min(j0 + block_size, n))
            tile = points.tile(left, i0, right, j0)
            fails = ~points.passes(tile, theta)
            scores = (tile if metric == "cosine" else tile.neg_()).masked_fill_(fails, -math.inf)  # larger is better
            if j0 == i0:  # mirror the strict upper triangle, as threshold_pairs does; the row itself comes last
                scores = torch.where(torch.ones_like(fails).triu_(1), scores, scores.T)
                merge(i0, scores.fill_diagonal_(-math.inf), i0)
            else:
                merge(i0, scores, j0)
                merge(j0, scores.T, i0)
    own = np.arange(n, dtype=np.int64)
    rows, cols, vals = [own], [own], [np.full(n, self_value(metric))]
    for r0, (best, ids) in state.items():
        r, c = torch.nonzero(best > -math.inf, as_tuple=True)
        rows.append(r.cpu().numpy().astype(np.int64) + r0)
        cols.append(ids[r, c].cpu().numpy())
        values = best[r, c].cpu().numpy().astype(np.float64)
        vals.append(values if metric == "cosine" else -values)
    all_rows, all_cols = np.concatenate(rows), np.concatenate(cols)
    order = np.argsort(all_rows * n + all_cols)
    row_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(all_rows, minlength=n), out=row_ptr[1:])
    return row_ptr, all_cols[order], np.concatenate(vals)[order]


def topk_select(
    scores: torch.Tensor, k: int, num_running: int, running_ids: torch.Tensor, first_col: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The k best of each row of ``scores`` [b, m], ties by smaller id; result [b, k] sorted by id.

    Columns ``< num_running`` are the running best (ids ``running_ids``), the
    rest are ids ``first_col, first_col + 1, …``; ids ascend along each row.
    """
    b, m = scores.shape
    if m <= k:
        take = torch.ones_like(scores, dtype=torch.bool)
    else:
        kth = torch.topk(scores, k, dim=1, sorted=False).values.amin(dim=1, keepdim=True)
        take = scores > kth
        tie = scores == kth
        need = k - take.sum(dim=1)
        crowded = tie.sum(dim=1) > need  # rows whose ties must be cut: keep the smallest ids
        if bool(crowded.any()):
            idx = torch.nonzero(crowded).squeeze(1)
            sub = tie[idx]
            tie[idx] = sub & (torch.cumsum(sub, dim=1) <= need[idx].unsqueeze(1))
        take |= tie
    r, c = torch.nonzero(take, as_tuple=True)  # row-major: exactly min(k, m) per row, ids ascending
    width = min(k, m)
    best = scores[r, c].view(b, width)
    from_running = c < num_running
    ids = torch.where(
        from_running,
        running_ids[r, c.clamp(max=max(num_running - 1, 0))] if num_running else c,
        c - num_running + first_col,
    )
    return best, ids.view(b, width)


def topk_relation(points: Points, k: int, block_size: int) -> tuple[I64, I64, F64]:
    """CSR (row_ptr, cols, values) of t ↦ its k best neighbours (itself first by score +inf)."""
    n, metric, device = points.count, points.metric, points.rows.device
    all_ids: list[I64] = []
    all_vals: list[F64] = []
    for i0 in range(0, n, block_size):
        i1 = min(i0 + block_size, n)
        left = points.block(i0, i1)
        running = torch.empty(i1 - i0, 0, dtype=points.dtype, device=device)
        running_ids = torch.empty(i1 - i0, 0, dtype=torch.int64, device=device)
        for j0 in range(0, n, block_size):
            j1 = min(j0 + block_size, n)
            tile = points.tile(left, i0, left if j0 == i0 else points.block(j0, j1), j0)
            scores = tile if metric == "cosine" else tile.neg_()  # larger is better
            lo, hi = max(i0, j0), min(i1, j1)
            if lo < hi:  # the token itself always belongs to its group
                diag = torch.arange(lo, hi, device=device)
                scores[diag - i0, diag - j0] = float("inf")
            merged = torch.cat([running, scores], dim=1)
            running, running_ids = topk_select(merged, k, int(running_ids.shape[1]), running_ids, j0)
        all_ids.append(running_ids.cpu().numpy().astype(np.int64).reshape(-1))
        all_vals.append(running.cpu().numpy().astype(np.float64).reshape(-1))
    cols = np.concatenate(all_ids)
    vals = np.concatenate(all_vals)
    width = cols.size // n
    is_self = cols == np.repeat(np.arange(n, dtype=np.int64), width)
    vals = vals if metric == "cosine" else -vals
    vals[is_self] = self_value(metric)
    return np.arange(n + 1, dtype=np.int64) * width, cols, vals


def self_value(metric: str) -> float:
    """The metric value of a token to itself: cosine 1, distance 0."""
    return 1.0 if metric == "cosine" else 0.0
