"""Planted bugs: wrong ports the gate must catch, and a second, independent port.

:func:`dense_port` is a matrix-form implementation of PCG (docs/algorithm.md)
written independently of pcg_core's sampler: it holds the weight matrix
W [M, V] (sparse, so it runs at engine scale), computes every coarse mass with
one matrix product, reads the rows of W and Wᵀ it needs as dense rows, and
draws the residual exactly (never by thinning). With ``bug=None`` it is correct, and the gate must
pass it; each entry of :data:`PLANTED_BUGS` switches on one realistic mistake,
and the gate must fail it in the stated category.

Math follows the paper: q is the target, p the draft.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from types import SimpleNamespace
from typing import Any

import torch

from pcg_core import Groups
from pcg_core.errors import InvalidArgumentError
from pcg_verify.report import Category

__all__ = ["PLANTED_BUGS", "PlantedBug", "dense", "dense_port", "planted_port"]


@dataclass(frozen=True)
class PlantedBug:
    """One wrong port: its name, what it does wrong, and the verdict that must catch it."""

    name: str
    description: str
    caught_by: Category


PLANTED_BUGS: dict[str, PlantedBug] = {
    bug.name: bug
    for bug in (
        PlantedBug("wrong_ratio_direction", "accepts with min(1, P_c(K)/Q_c(K)) instead of Q_c/P_c",
                   Category.GUARANTEE),
        PlantedBug("token_mass_ratio", "accepts with the token masses min(1, q(x)/p(x)) in the ratio",
                   Category.GUARANTEE),
        PlantedBug("uniform_group_pick", "draws K uniformly from S(x), ignoring the weights w[k, x]",
                   Category.GUARANTEE),
        PlantedBug("residual_from_draft", "draws the residual from [P_c − Q_c]_+ instead of [Q_c − P_c]_+",
                   Category.GUARANTEE),
        PlantedBug("unclamped_residual", "samples the residual from Q_c − P_c without clamping at 0",
                   Category.GUARANTEE),
        PlantedBug("bonus_from_wrong_row", "draws the bonus token from q_γ instead of q_{γ+1}",
                   Category.GUARANTEE),
        PlantedBug("shared_uniform", "reuses the acceptance uniform to draw the residual group",
                   Category.GUARANTEE),
        PlantedBug("batch_rows_mixed", "reads the target row of the next batch row",
                   Category.GUARANTEE),
        PlantedBug("within_group_token_choice",
                   "on rejection emits the group's most likely target token instead of t ~ q(t | k)",
                   Category.CONFORMANCE),
        PlantedBug("global_rng", "draws its uniforms from the global RNG instead of the generator",
                   Category.DETERMINISM),
        PlantedBug("padding_zero", "pads after the block with 0 instead of -1",
                   Category.STRUCTURE),
    )
}


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
    """Dense PCG with the exact residual; ``bug`` plants one mistake from :data:`PLANTED_BUGS`.

    Shapes as in the port contract: draft_tokens [B, γ], draft_probs [B, γ, V],
    target_probs [B, γ+1, V] → (tokens [B, γ+1], group_ids [B, γ+1], num_accepted [B]).
    O(B·γ·(nnz + M + V)) work and memory: nothing [M, V] is dense.
    """
    if bug is not None and bug not in PLANTED_BUGS:
        raise InvalidArgumentError("bug", bug, f"must be None or one of {sorted(PLANTED_BUGS)}")
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


def planted_port(bug: str | None) -> Callable[..., Any]:
    """The dense port with ``bug`` planted (``None``: the correct dense port)."""
    if bug is not None and bug not in PLANTED_BUGS:
        raise InvalidArgumentError("bug", bug, f"must be None or one of {sorted(PLANTED_BUGS)}")
    return partial(dense_port, bug=bug)


#: The dense port in every variant, by name, for the command line:
#: ``pcg-verify check pcg_verify.planted:dense.correct`` passes,
#: ``pcg-verify check pcg_verify.planted:dense.shared_uniform`` fails.
dense = SimpleNamespace(correct=planted_port(None), **{name: planted_port(name) for name in PLANTED_BUGS})
