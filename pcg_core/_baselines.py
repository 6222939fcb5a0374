"""Token-level baselines with the signature of :func:`pcg_core.verify`.

Math follows the paper: q is the target, p the draft.

- standard speculative decoding: accept x iff u·p(x) < q(x); residual
  [q − p]_+; token-exact (PCG with singleton groups has the same law).
- SSD tolerance rule (Lin et al. 2025): accept iff u < min(1, q(x)/p(x)) + β;
  residual [q − p]_+. Not exact at any level for β > 0.
- draft only: every draft accepted, bonus from q (PCG with one group holding
  every token has the same law).

When ``groups`` is given, each emitted token is labelled with k ~ w[·, t],
so a token-exact sampler also has the group law Q_c; with ``groups=None``
``group_ids`` is None.
"""

from __future__ import annotations

import torch

from pcg_core._groups import Groups
from pcg_core._inputs import check_groups, check_verify_inputs
from pcg_core._rules import check_bool, check_ssd_tolerance
from pcg_core._sampling import ROW_BY_ROW, RowTable, pick_groups, uniforms
from pcg_core._verify import VerifyResult, assemble_block

__all__ = ["draft_only_verify", "ssd_verify", "standard_verify"]


def _residual_rows(
    target_probs: torch.Tensor, draft_probs: torch.Tensor, rows: tuple[torch.Tensor, ...]
) -> torch.Tensor:
    """[q − p]_+ in float64 for the rows at leading coordinates ``rows`` (int64 [n] each) → [n, V].

    Few rows are written one by one into the float64 buffer (no gathered copies).
    """
    n = rows[0].numel()
    if n > ROW_BY_ROW:
        return (target_probs[rows].to(torch.float64) - draft_probs[rows].to(torch.float64)).clamp_min_(0.0)
    out = torch.empty(n, target_probs.shape[-1], dtype=torch.float64, device=target_probs.device)
    for r, at in enumerate(zip(*(index.tolist() for index in rows), strict=True)):
        out[r].copy_(target_probs[at]).sub_(draft_probs[at])
    return out.clamp_min_(0.0)


def _token_level(
    draft_tokens: torch.Tensor,
    draft_probs: torch.Tensor,
    target_probs: torch.Tensor,
    groups: Groups | None,
    generator: torch.Generator,
    tolerance: float | None,
    check_inputs: bool,
    sum_tolerance: float | None,
) -> VerifyResult:
    """Shared body: ``tolerance=None`` accepts everything (draft only)."""
    full = check_bool("check_inputs", check_inputs)
    batch, gamma, vocab = check_verify_inputs(
        draft_tokens, draft_probs, target_probs, generator, full=full, sum_tolerance=sum_tolerance
    )
    device = draft_probs.device
    if groups is not None:
        check_groups(groups, vocab_size=vocab, device=device)
    u = uniforms((batch, gamma), generator, device)
    if tolerance is None:
        accepted = torch.ones(batch, gamma, dtype=torch.bool, device=device)
    else:
        draft_own = draft_probs.gather(-1, draft_tokens[..., None])[..., 0].to(torch.float64)
        target_own = target_probs[:, :gamma].gather(-1, draft_tokens[..., None])[..., 0].to(torch.float64)
        # u < min(1, q/p) + β  ⇔  u − β < min(1, q/p); β = 0 is u·p < q.
        accepted = (u - tolerance) * draft_own < torch.minimum(draft_own, target_own)
    num_accepted = accepted.to(torch.int64).cumprod(1).sum(1)

    uf = uniforms((batch, 3), generator, device)
    final_tokens = torch.empty(batch, dtype=torch.int64, device=device)
    bonus = (num_accepted == gamma).nonzero().squeeze(1)
    if bonus.numel():
        table = RowTable.from_rows(target_probs, (bonus, torch.full_like(bonus, gamma)))  # q_{γ+1}
        final_tokens[bonus] = table.sample(uf[bonus, :1], uf[bonus, 1:2])[:, 0]
    rejected = num_accepted < gamma
    stopped = rejected.nonzero().squeeze(1)
    if stopped.numel():
        at = (stopped, num_accepted[stopped])  # q and p at position A
        residual = _residual_rows(target_probs, draft_probs, at)  # [q − p]_+   [n, V]
        table = RowTable.from_rows(residual, (torch.arange(stopped.numel(), device=device),))
        flat = (table.blocks.cum[:, -1] <= 0).nonzero().squeeze(1)
        if flat.numel():  # R ≡ 0 only when q = p up to rounding: draw from q then.
            residual[flat] = target_probs[at][flat].to(torch.float64)
            table = RowTable.from_rows(residual, table.rows)
        final_tokens[stopped] = table.sample(uf[stopped, :1], uf[stopped, 1:2])[:, 0]
    if groups is None:
        tokens, _ = assemble_block(draft_tokens, None, num_accepted, final_tokens, None)
        return VerifyResult(tokens, None, num_accepted, torch.zeros_like(num_accepted), torch.zeros_like(rejected))
    # Label every emitted token with k ~ w[·, t] (drafts with fresh uniforms).
    draft_labels = pick_groups(
        groups, draft_tokens.reshape(-1), uniforms((batch * gamma,), generator, device)
    ).reshape(batch, gamma)
    final_labels = pick_groups(groups, final_tokens, uf[:, 2])
    tokens, labels = assemble_block(draft_tokens, draft_labels, num_accepted, final_tokens, final_labels)
    return VerifyResult(tokens, labels, num_accepted, torch.zeros_like(num_accepted), torch.zeros_like(rejected))


def standard_verify(
    draft_tokens: torch.Tensor,
    draft_probs: torch.Tensor,
    target_probs: torch.Tensor,
    groups: Groups | None = None,
    *,
    generator: torch.Generator,
    check_inputs: bool = True,
    sum_tolerance: float | None = None,
) -> VerifyResult:
    """Standard speculative decoding (Leviathan et al.; letters swapped as in the paper).

    Same arguments and shapes as :func:`pcg_core.verify` (``check_inputs`` and
    ``sum_tolerance`` included). Emitted tokens have
    law exactly q at every reached position. O(V) per row.

    Examples
    --------
    >>> import torch
    >>> from pcg_core import standard_verify
    >>> draft = torch.tensor([[[0.5, 0.5, 0.0]]], dtype=torch.float64)
    >>> target = torch.tensor([[[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]]], dtype=torch.float64)
    >>> out = standard_verify(torch.tensor([[0]]), draft, target, generator=torch.Generator().manual_seed(0))
    >>> out.tokens.tolist()  # q(0) = 0: the draft is rejected and replaced from [q − p]_+ = δ_2
    [[2, -1]]
    """
    return _token_level(draft_tokens, draft_probs, target_probs, groups, generator, 0.0, check_inputs, sum_tolerance)


def ssd_verify(
    draft_tokens: torch.Tensor,
    draft_probs: torch.Tensor,
    target_probs: torch.Tensor,
    groups: Groups | None = None,
    *,
    generator: torch.Generator,
    tolerance: float,
    check_inputs: bool = True,
    sum_tolerance: float | None = None,
) -> VerifyResult:
    """The SSD tolerance rule: accept iff u < min(1, q(x)/p(x)) + β, β = ``tolerance`` ∈ [0, 1].

    β = 0 is standard speculative decoding; β > 0 is inexact at every level.
    """
    beta = check_ssd_tolerance(tolerance)
    return _token_level(draft_tokens, draft_probs, target_probs, groups, generator, beta, check_inputs, sum_tolerance)


def draft_only_verify(
    draft_tokens: torch.Tensor,
    draft_probs: torch.Tensor,
    target_probs: torch.Tensor,
    groups: Groups | None = None,
    *,
    generator: torch.Generator,
    check_inputs: bool = True,
    sum_tolerance: float | None = None,
) -> VerifyResult:
    """Accept every draft and emit the bonus token from q_{γ+1} (draft-only decoding)."""
    return _token_level(draft_tokens, draft_probs, target_probs, groups, generator, None, check_inputs, sum_tolerance)
