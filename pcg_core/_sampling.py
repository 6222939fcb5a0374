"""Categorical sampling primitives that never make an impossible outcome possible.

All sampling in pcg_core goes through :func:`sample_categorical`, so the edge
cases (zero masses, rounding at the top of the CDF) are handled once.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from pcg_core._groups import Groups

__all__ = ["CategoricalTable", "pick_groups", "sample_categorical", "uniforms"]


def uniforms(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """U[0, 1) float64 draws of ``shape`` from ``generator``."""
    return torch.rand(shape, generator=generator, dtype=torch.float64, device=device)


class CategoricalTable(NamedTuple):
    """Cumulative masses of [n, L] rows, built once and sampled many times."""

    cum: torch.Tensor  # float64 [n, L], non-decreasing, flat across zero masses
    last_positive: torch.Tensor  # int64 [n, 1], largest index with positive mass

    @classmethod
    def from_masses(cls, masses: torch.Tensor) -> CategoricalTable:
        """``masses`` float [n, L], non-negative, each row with positive total."""
        m = masses.to(torch.float64)
        last = (m.shape[-1] - 1) - (m > 0).flip(-1).to(torch.int8).argmax(-1, keepdim=True)
        return cls(m.cumsum(-1), last)

    def sample(self, u: torch.Tensor) -> torch.Tensor:
        """``u`` float64 [n, T] in [0, 1) → indices int64 [n, T].

        Index j comes with probability ``masses[r, j] / Σ masses[r]``, and an
        index with zero mass is never returned: the float64 cumsum of
        non-negative terms is non-decreasing and flat across zero masses, so
        the first index whose cumulative mass exceeds ``u·total`` has positive
        mass; ``u·total`` rounding up to the total is clamped to the last
        positive index. O(n·T·log L).
        """
        idx = torch.searchsorted(self.cum, u * self.cum[:, -1:], right=True)
        return torch.minimum(idx, self.last_positive)


def sample_categorical(masses: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Inverse-CDF draws: ``masses`` float [n, L] (non-negative, positive row totals),
    ``u`` float64 [n, T] in [0, 1) → int64 [n, T]. See :meth:`CategoricalTable.sample`."""
    return CategoricalTable.from_masses(masses).sample(u)


def pick_groups(groups: Groups, tokens: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Proposal coupling (docs/algorithm.md): K ∈ S(x) with Pr(K = k | x) = w[k, x].

    ``tokens`` int64 [n], ``u`` float64 [n] → group ids int64 [n].
    Pads each token's groups to ``max_groups_per_token``: O(n · max N(t)).
    """
    start = groups.token_ptr[tokens]
    degree = groups.token_ptr[tokens + 1] - start
    offsets = torch.arange(groups.max_groups_per_token, device=tokens.device)
    valid = offsets < degree[:, None]
    pos = torch.where(valid, start[:, None] + offsets, start[:, None])
    w = torch.where(valid, groups.token_weights[pos], 0.0)
    j = sample_categorical(w, u[:, None])[:, 0]
    return groups.token_groups[start + j].long()
