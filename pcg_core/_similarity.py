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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from pcg_core.errors import InvalidArgumentError

__all__ = ["F64", "I64", "Points", "prepare_points", "self_value", "threshold_pairs", "topk_relation", "topk_select"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


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

    def tile(self, left: torch.Tensor, i0: int, right: torch.Tensor, j0: int) -> torch.Tensor:
        """Cosine similarities [b_i, b_j] (clamped to [−1, 1]) or euclidean distances."""
        dots = left @ right.T
        if self.metric == "cosine":
            return dots.clamp_(-1.0, 1.0)
        # ‖a − b‖² = ‖a‖² + ‖b‖² − 2 a·b, clamped at 0 against cancellation
        rows = self.norms[i0 : i0 + left.shape[0]].unsqueeze(1)
        cols = self.norms[j0 : j0 + right.shape[0]].unsqueeze(0)
        return dots.mul_(-2.0).add_(rows).add_(cols).clamp_(min=0.0).sqrt_()


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


def threshold_pairs(points: Points, theta: float, block_size: int) -> tuple[I64, I64, F64]:
    """Every pair t < t' with sim(t, t') ≥ θ (or distance ≤ θ), from tiles J ≥ I only.

    Returns rows, cols (int64) and the metric values (float64: cosine or distance).
    """
    n = points.count
    rows: list[I64] = []
    cols: list[I64] = []
    vals: list[F64] = []
    for i0 in range(0, n, block_size):
        left = points.block(i0, min(i0 + block_size, n))
        for j0 in range(i0, n, block_size):
            right = left if j0 == i0 else points.block(j0, min(j0 + block_size, n))
            scores = points.tile(left, i0, right, j0)
            mask = scores >= theta if points.metric == "cosine" else scores <= theta
            r, c = torch.nonzero(mask, as_tuple=True)
            if j0 == i0:  # diagonal tile: the strict upper triangle only; the mirror gives the rest
                upper = c > r
                r, c = r[upper], c[upper]
            v = scores[r, c]
            rows.append(r.cpu().numpy().astype(np.int64) + i0)
            cols.append(c.cpu().numpy().astype(np.int64) + j0)
            vals.append(v.cpu().numpy().astype(np.float64))
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)


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
