"""The dense port: an independent matrix-form PCG, correct or with one planted bug.

Math follows the paper: q is the target, p the draft. :func:`dense_port` is a
matrix-form implementation of PCG (docs/algorithm.md) written independently of
pcg_core's sampler and of the sparse reference (``_reference``): it holds the
weight matrix W [M, V] (sparse, so it runs at engine scale), computes every
coarse mass with one matrix product, reads the rows of W and Wᵀ it needs as
dense rows, and draws the residual exactly (never by thinning). With
``bug=None`` it is correct (the catalogue's equivalent ``dense_port``, which
the gate must pass); each name of :data:`DENSE_BUGS` switches on one
realistic mistake (the catalogue's mutant ``dense_<bug>``, which the gate must
fail: ``pcg_verify.bugs.CATALOGUE`` says what each stands for).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from pcg_core import Groups
from pcg_core.errors import InvalidArgumentError

__all__ = ["DENSE_BUGS", "DenseSwitches", "dense_port"]

#: Every bug the dense port can plant (the catalogue's mutant of each is named ``dense_<bug>``).
DENSE_BUGS: tuple[str, ...] = (
    "wrong_ratio_direction", "token_mass_ratio", "uniform_group_pick", "residual_from_draft",
    "unclamped_residual", "bonus_from_wrong_row", "shared_uniform", "batch_rows_mixed",
    "within_group_token_choice", "global_rng", "padding_zero",
)


@dataclass(frozen=True)
class DenseSwitches:
    """One configuration of the dense port: ``bug`` is one of :data:`DENSE_BUGS`, or None (correct)."""

    bug: str | None = None

    def __post_init__(self) -> None:
        if self.bug is not None and self.bug not in DENSE_BUGS:
            raise InvalidArgumentError("bug", self.bug, f"must be None or one of {sorted(DENSE_BUGS)}")


def _inverse_cdf(masses: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """masses float64 [n, L] (non-negative in a correct port), u [n] → indices [n]."""
    cum = masses.cumsum(-1)
    idx = torch.searchsorted(cum, (u * cum[:, -1])[:, None], right=True)[:, 0]
    return idx.clamp(max=masses.shape[-1] - 1)


def _csr(ptr: torch.Tensor, columns: torch.Tensor, values: torch.Tensor, width: int) -> torch.Tensor:
    """The sparse CSR float64 matrix [len(ptr) − 1, width] of these arrays."""
    with warnings.catch_warnings():  # torch marks sparse CSR as beta; only its matrix product is used
        warnings.simplefilter("ignore")
        return torch.sparse_csr_tensor(ptr.long(), columns.long(), values.to(torch.float64),
                                       size=(ptr.numel() - 1, width), check_invariants=False)


def _dense_rows(ptr: torch.Tensor, columns: torch.Tensor, values: torch.Tensor, rows: torch.Tensor,
                width: int) -> torch.Tensor:
    """Rows ``rows`` [n] of the CSR matrix (ptr, columns, values) as a dense float64 [n, width]."""
    ptr, rows = ptr.long(), rows.long()
    start, count = ptr[rows], ptr[rows + 1] - ptr[rows]
    owner = torch.repeat_interleave(torch.arange(rows.numel()), count)  # which output row each entry fills
    first = torch.cumsum(count, 0) - count
    entry = torch.arange(int(count.sum())) - first[owner] + start[owner]  # its index in columns / values
    out = torch.zeros(rows.numel(), width, dtype=torch.float64)
    out[owner, columns[entry].long()] = values[entry].to(torch.float64)
    return out


def dense_port(
    draft_tokens: torch.Tensor,
    draft_probs: torch.Tensor,
    target_probs: torch.Tensor,
    groups: Groups,
    *,
    generator: torch.Generator,
    bug: str | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Dense PCG with the exact residual; ``bug`` plants one mistake from :data:`DENSE_BUGS`.

    Shapes as in the port contract: draft_tokens [B, γ], draft_probs [B, γ, V],
    target_probs [B, γ+1, V] → (tokens [B, γ+1], group_ids [B, γ+1], num_accepted [B]).
    O(B·γ·(nnz + M + V)) work and memory: nothing [M, V] is dense.
    """
    DenseSwitches(bug)  # refuses an unknown bug
    batch, gamma = draft_tokens.shape
    vocab, num_groups = groups.vocab_size, groups.num_groups
    weights = _csr(groups.group_ptr, groups.group_members, groups.group_weights, vocab)  # W [M, V]

    def group_rows(labels: torch.Tensor) -> torch.Tensor:  # W[labels] → [n, V]
        return _dense_rows(groups.group_ptr, groups.group_members, groups.group_weights, labels, vocab)

    def token_columns(tokens: torch.Tensor) -> torch.Tensor:  # W[:, tokens]ᵀ → [n, M]
        return _dense_rows(groups.token_ptr, groups.token_groups, groups.token_weights, tokens, num_groups)

    draft = draft_probs.to(torch.float64)
    target = target_probs.to(torch.float64)
    if bug == "batch_rows_mixed":
        target = target.roll(1, dims=0)

    def coarse(probs: torch.Tensor) -> torch.Tensor:  # probs [B, P, V] → (W probsᵀ)ᵀ = coarse masses [B, P, M]
        return (weights @ probs.reshape(-1, vocab).T.contiguous()).T.reshape(*probs.shape[:2], num_groups)

    coarse_draft = coarse(draft)  # P_c [B, γ, M]
    coarse_target = coarse(target)  # Q_c [B, γ+1, M]

    def rand(*shape: int) -> torch.Tensor:
        if bug == "global_rng":
            return torch.rand(shape, dtype=torch.float64)
        return torch.rand(shape, generator=generator, dtype=torch.float64)

    u = rand(batch, gamma, 2)
    # K ~ w[·, x]: column x of W for every drafted position.   [B·γ, M]
    proposal = token_columns(draft_tokens.reshape(-1))
    if bug == "uniform_group_pick":
        proposal = (proposal > 0).to(torch.float64)
    labels = _inverse_cdf(proposal, u[..., 0].reshape(-1)).reshape(batch, gamma)
    mass_draft = coarse_draft.gather(-1, labels[..., None])[..., 0]
    mass_target = coarse_target[:, :gamma].gather(-1, labels[..., None])[..., 0]
    if bug == "wrong_ratio_direction":
        accepted = u[..., 1] * mass_target < mass_draft
    elif bug == "token_mass_ratio":
        own_draft = draft.gather(-1, draft_tokens[..., None])[..., 0]
        own_target = target[:, :gamma].gather(-1, draft_tokens[..., None])[..., 0]
        accepted = u[..., 1] * own_draft < own_target
    else:
        accepted = u[..., 1] * mass_draft < mass_target
    num_accepted = accepted.to(torch.int64).cumprod(1).sum(1)

    rows = torch.arange(batch)
    stop = num_accepted.clamp(max=gamma - 1)
    residual = coarse_target[rows, stop] - coarse_draft[rows, stop]  # Q_c − P_c   [B, M]
    if bug == "residual_from_draft":
        residual = -residual
    if bug != "unclamped_residual":
        residual = residual.clamp_min(0.0)
        residual = torch.where(residual.sum(-1, keepdim=True) > 0, residual, coarse_target[rows, stop])
    uf = rand(batch, 3)
    u_residual = u[rows, stop, 1] if bug == "shared_uniform" else uf[:, 0]
    residual_label = _inverse_cdf(residual, u_residual)
    within = group_rows(residual_label) * target[rows, stop]  # w[k, t] q(t)   [B, V]
    if bug == "within_group_token_choice":
        residual_token = within.argmax(-1)
    else:
        residual_token = _inverse_cdf(within, uf[:, 1])

    bonus_row = target[:, gamma - 1] if bug == "bonus_from_wrong_row" else target[:, gamma]
    bonus_token = _inverse_cdf(bonus_row, uf[:, 1])
    bonus_label = _inverse_cdf(token_columns(bonus_token), uf[:, 2])

    rejected = num_accepted < gamma
    final_token = torch.where(rejected, residual_token, bonus_token)
    final_label = torch.where(rejected, residual_label, bonus_label)
    pad = 0 if bug == "padding_zero" else -1
    keep = torch.arange(gamma)[None, :] < num_accepted[:, None]
    tokens = torch.full((batch, gamma + 1), pad, dtype=torch.int64)
    group_ids = torch.full((batch, gamma + 1), pad, dtype=torch.int64)
    tokens[:, :gamma] = torch.where(keep, draft_tokens, pad)
    group_ids[:, :gamma] = torch.where(keep, labels, pad)
    tokens[rows, num_accepted] = final_token
    group_ids[rows, num_accepted] = final_label
    return tokens, group_ids, num_accepted
