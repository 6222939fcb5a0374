"""Categorical sampling primitives that never make an impossible outcome possible.

All sampling in pcg_core goes through :class:`CategoricalTable` (inverse CDF
over float64 cumulative masses), directly, through :func:`sample_categorical`,
or at both levels of a :class:`RowTable` (vocabulary rows: block masses, then
one block), so the edge cases (zero masses, rounding at the top of the CDF)
are handled once.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from pcg_core._groups import Groups

__all__ = ["BLOCK", "ROW_BY_ROW", "CategoricalTable", "RowTable", "pick_groups", "sample_categorical", "uniforms"]


def uniforms(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """U[0, 1) float64 draws of ``shape`` from ``generator``."""
    return torch.rand(shape, generator=generator, dtype=torch.float64, device=device)


class CategoricalTable(NamedTuple):
    """Cumulative masses of [n, L] rows, built once and sampled many times."""

    cum: torch.Tensor  # float64 [n, L], non-decreasing, flat across zero masses
    last_positive: torch.Tensor  # int64 [n, 1], first index where cum reaches its total (a positive mass)

    @classmethod
    def from_masses(cls, masses: torch.Tensor) -> CategoricalTable:
        """``masses`` float [n, L], non-negative, each row with positive total.

        One pass over the masses (a float64 cumsum into one new buffer); the
        clamp index is found by binary search, O(n log L).
        """
        return cls.from_cum(masses.to(torch.float64, copy=True).cumsum_(-1))

    @classmethod
    def from_cum(cls, cum: torch.Tensor) -> CategoricalTable:
        """The table of float64 cumulative masses ``cum`` [n, L] (taken as they are)."""
        # cum[j] reaches the total first at j: cum[j] > cum[j − 1] (or j = 0 and cum[0] > 0), so masses[j] > 0.
        return cls(cum, torch.searchsorted(cum, cum[:, -1:].contiguous(), right=False))

    def rows(self, index: torch.Tensor) -> CategoricalTable:
        """The table of rows ``index`` [n'] (a copy of those rows' cumulative masses)."""
        return CategoricalTable(self.cum[index], self.last_positive[index])

    def sample(self, u: torch.Tensor) -> torch.Tensor:
        """``u`` float64 [n, T] in [0, 1) → indices int64 [n, T].

        Index j comes with probability ``masses[r, j] / Σ masses[r]``, and an
        index with zero mass is never returned: the float64 cumsum of
        non-negative terms is non-decreasing and flat across zero masses, so
        the first index whose cumulative mass exceeds ``u·total`` has positive
        mass; ``u·total`` rounding up to the total is clamped to the first
        index where the cumulative mass reaches the total, which has positive
        mass too. O(n·T·log L).
        """
        idx = torch.searchsorted(self.cum, u * self.cum[:, -1:], right=True)
        return torch.minimum(idx, self.last_positive)


#: Ids per block of a :class:`RowTable`.
BLOCK = 64
#: Up to this many rows, :meth:`RowTable.from_rows` reads the rows one by one (no gathered copy).
ROW_BY_ROW = 256
#: Float64 entries per temporary buffer when many rows are read at once (32 MB).
_BUFFER_ELEMENTS = 1 << 22


class RowTable(NamedTuple):
    """Two-level inverse-CDF table of probability rows read in place (no [n, L] float64 copy is kept).

    Row r is ``probs[rows[0][r], rows[1][r], ...]`` (float [..., L]). Its ids
    are cut into blocks of :data:`BLOCK`; the table holds the float64 block
    masses' cumulative sums, and a draw picks a block by inverse CDF, then an
    id inside it by inverse CDF over that block's float64 cumulative masses.
    The law is ``probs[r, t] / Σ probs[r]`` up to float64 rounding, and a
    zero-mass block or id is never returned (see :meth:`CategoricalTable.sample`,
    applied at both levels). Building reads each row once, O(n·L); a draw
    costs O(log(L / BLOCK) + BLOCK).
    """

    probs: torch.Tensor  # float [..., L], the source, not copied
    rows: tuple[torch.Tensor, ...]  # int64 [n] per leading dimension of probs
    blocks: CategoricalTable  # cumulative float64 block masses [n, ⌈L / BLOCK⌉]

    @classmethod
    def from_rows(cls, probs: torch.Tensor, rows: tuple[torch.Tensor, ...]) -> RowTable:
        """The table of rows ``rows`` of ``probs`` (see the class docstring)."""
        n, length = rows[0].numel(), probs.shape[-1]
        full = length // BLOCK
        masses = torch.empty(n, -(-length // BLOCK), dtype=torch.float64, device=probs.device)
        if n <= ROW_BY_ROW:
            for r, at in enumerate(zip(*(index.tolist() for index in rows), strict=True)):
                _block_masses(probs[at][None], full, masses[r : r + 1])
        else:
            step = max(1, _BUFFER_ELEMENTS // length)
            for lo in range(0, n, step):
                at = tuple(index[lo : lo + step] for index in rows)
                _block_masses(probs[at], full, masses[lo : lo + step])
        return cls(probs, rows, CategoricalTable.from_cum(masses.cumsum_(-1)))

    def take(self, index: torch.Tensor) -> RowTable:
        """The table of its rows ``index`` [n'] (copies the block table's rows only)."""
        return RowTable(self.probs, tuple(at[index] for at in self.rows), self.blocks.rows(index))

    def sample(self, u_block: torch.Tensor, u_id: torch.Tensor) -> torch.Tensor:
        """``u_block``, ``u_id`` float64 [n, T] in [0, 1) → ids int64 [n, T] (two uniforms per draw)."""
        length = self.probs.shape[-1]
        block = self.blocks.sample(u_block)  # [n, T]
        ids = block[..., None] * BLOCK + torch.arange(BLOCK, device=block.device)  # [n, T, BLOCK]
        inside = ids < length
        ids = torch.where(inside, ids, length - 1)
        values = self.probs[(*(at[:, None, None] for at in self.rows), ids)].to(torch.float64)
        within = CategoricalTable.from_cum(torch.where(inside, values, 0.0).reshape(-1, BLOCK).cumsum_(-1))
        offset = within.sample(u_id.reshape(-1, 1)).reshape(block.shape)
        return block * BLOCK + offset


def _block_masses(chunk: torch.Tensor, full: int, out: torch.Tensor) -> None:
    """Float64 masses of the ⌈L / BLOCK⌉ blocks of ``chunk`` [n, L] into ``out`` [n, ⌈L / BLOCK⌉]."""
    head = chunk[:, : full * BLOCK].to(torch.float64).reshape(chunk.shape[0], full, BLOCK)
    out[:, :full] = head.sum(-1)
    if out.shape[1] > full:
        out[:, full] = chunk[:, full * BLOCK :].to(torch.float64).sum(-1)


def sample_categorical(masses: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Inverse-CDF draws: ``masses`` float [n, L] (non-negative, positive row totals),
    ``u`` float64 [n, T] in [0, 1) → int64 [n, T]. See :meth:`CategoricalTable.sample`."""
    return CategoricalTable.from_masses(masses).sample(u)


def pick_groups(groups: Groups, tokens: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Proposal coupling (docs/algorithm.md): K ∈ S(x) with Pr(K = k | x) = w[k, x].

    ``tokens`` int64 [n], ``u`` float64 [n] → group ids int64 [n].
    Equal weights (``weights_kind == "equal"``, w[k, x] = 1/N(x)): the j-th
    group of x with j = ⌊u·N(x)⌋, O(n). Stored weights: inverse CDF over
    each token's groups padded to ``max_groups_per_token``, O(n · max N(t)).
    """
    start = groups.token_ptr[tokens]
    degree = groups.token_ptr[tokens + 1] - start
    if groups.weights_kind == "equal":
        # u ∈ [0, 1) gives j ∈ [0, N − 1], each with probability 1/N; the clamp only catches u·N rounding up to N.
        j = torch.minimum((u * degree).long(), degree - 1)
        return groups.token_groups[start + j].long()
    offsets = torch.arange(groups.max_groups_per_token, device=tokens.device)
    valid = offsets < degree[:, None]
    pos = torch.where(valid, start[:, None] + offsets, start[:, None])
    w = torch.where(valid, groups.token_weights[pos], 0.0)
    j = sample_categorical(w, u[:, None])[:, 0]
    return groups.token_groups[start + j].long()
