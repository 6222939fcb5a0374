"""PCG verification of drafted blocks (docs/algorithm.md), batched over B and γ.

Math follows the paper: q is the target, p the draft. For each drafted
position i of row b, with x = draft_tokens[b, i]:

1. K ~ w[·, x]                                  (so Pr(K = k) = P_c(k))
2. accept  iff  u · P_c(K) < Q_c(K)             (Pr = min(1, Q_c(K)/P_c(K)))
3. A = number of leading accepts; positions < A emit the drafts with label K.
4. A < γ: position A emits (k, t) from the residual
       R_c(k) ∝ [Q_c(k) − P_c(k)]_+ ,  t ~ q(t | k) = w[k,t] q(t) / Q_c(k)
   by thinning (y ~ q, k ~ w[·, y], keep with prob [1 − P_c(k)/Q_c(k)]_+),
   falling back to the exact residual after ``max_thinning_trials``.
   A = γ: position γ emits the bonus token t ~ q_{γ+1}, label k ~ w[·, t].

No Python loop runs over the vocabulary or the groups; Python loops run over
thinning rounds (geometrically growing, a handful in expectation), over chunks
of rows that bound the float64 buffers, and over the rows themselves when
there are few (so a row is read in place instead of gathered into a copy).
Vocabulary rows are sampled through a two-level table (:class:`RowTable`:
float64 block masses, then one block), so no [rows, V] float64 copy is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from pcg_core._coarse import chunk_rows, coarse_rows, paired_group_masses, sample_in_groups
from pcg_core._groups import Groups
from pcg_core._inputs import check_groups, check_verify_inputs
from pcg_core._rules import check_bool, check_choice, check_int
from pcg_core._sampling import RowTable, pick_groups, uniforms

__all__ = ["DEFAULT_MAX_THINNING_TRIALS", "VerifyResult", "assemble_block", "verify"]

#: Thinning proposals per rejected row before the exact residual takes over.
DEFAULT_MAX_THINNING_TRIALS = 1024
#: The two ways to draw a rejected position's replacement; both have the law R_c(k) q(t | k).
RESIDUALS = ("thinning", "exact")
_FIRST_ROUND = 8
#: Most proposals per thinning round over all pending rows: bounds a round's buffers (each proposal
#: gathers the members of its group, 140 at the paper's scale) to a few tens of MB.
_ROUND_PROPOSALS = 4096
#: Rows of the residual helpers, as leading coordinates: row r is probs[rows[0][r], rows[1][r], ...]
#: (one int64 tensor [n] per leading dimension), so rows are read in place instead of copied.
Rows = tuple[torch.Tensor, ...]


@dataclass(frozen=True, eq=False)
class VerifyResult:
    """Output of one verification call (docs/port-contract.md), unpackable as a 3-tuple.

    Attributes
    ----------
    tokens : int64 [B, γ+1]
        Emitted tokens, -1 after the block ends.
    group_ids : int64 [B, γ+1] or None
        Group label of each emitted token, -1 where none.
    num_accepted : int64 [B]
        Accepted drafts A (0..γ); A + 1 tokens are emitted.
    thinning_trials : int64 [B]
        Thinning proposals drawn for the row's residual (0 without a rejection).
    exact_residual : bool [B]
        The row's residual came from the exact sparse computation.
    """

    tokens: torch.Tensor
    group_ids: torch.Tensor | None
    num_accepted: torch.Tensor
    thinning_trials: torch.Tensor
    exact_residual: torch.Tensor

    def __iter__(self) -> Iterator[Any]:
        return iter((self.tokens, self.group_ids, self.num_accepted))


def assemble_block(
    draft_tokens: torch.Tensor,
    draft_labels: torch.Tensor | None,
    num_accepted: torch.Tensor,
    final_tokens: torch.Tensor,
    final_labels: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Padded [B, γ+1] outputs: drafts before A, the final token at A, -1 after."""
    batch, gamma = draft_tokens.shape
    rows = torch.arange(batch, device=draft_tokens.device)
    keep = torch.arange(gamma, device=draft_tokens.device)[None, :] < num_accepted[:, None]

    def pad(drafted: torch.Tensor, final: torch.Tensor) -> torch.Tensor:
        out = torch.full((batch, gamma + 1), -1, dtype=torch.int64, device=draft_tokens.device)
        out[:, :gamma] = torch.where(keep, drafted, -1)
        out[rows, num_accepted] = final
        return out

    tokens = pad(draft_tokens, final_tokens)
    if draft_labels is None or final_labels is None:
        return tokens, None
    return tokens, pad(draft_labels, final_labels)


def _exact_residual(
    target_probs: torch.Tensor,
    draft_probs: torch.Tensor,
    rows: Rows,
    groups: Groups,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(token, group) from R_c and q(t | k) for n rows; O(nnz) per row.

    Row r reads ``target_probs[rows[0][r], ...]`` and ``draft_probs[...]``
    (float [..., V]; see :data:`Rows`). Q_c − P_c is one sparse product of
    the float64 difference q − p (``Σ_t w[k,t] (q(t) − p(t))``), so a row
    costs one pass over the memberships; rows go in chunks to bound the
    [chunk, V] and [chunk, M] float64 buffers. A group with Q_c(k) = 0 has
    only terms −w·p(t) ≤ 0, so it never gets residual mass. Where R_c ≡ 0
    (Q_c = P_c, reachable only through rounding since a rejection needs
    Q_c(K) < P_c(K)), the group is drawn from Q_c instead. The token is then
    drawn inside the chosen group, O(|G_k|).
    """
    n, device = rows[0].shape[0], target_probs.device
    u = uniforms((n, 3), generator, device)
    labels = torch.empty(n, dtype=torch.int64, device=device)
    step = chunk_rows(groups)
    for lo in range(0, n, step):
        at = tuple(index[lo : lo + step] for index in rows)
        target_chunk = target_probs[at]  # [n', V]
        difference = target_chunk.to(torch.float64) - draft_probs[at].to(torch.float64)
        masses = coarse_rows(difference, groups).clamp_min_(0.0)  # [Q_c − P_c]_+   [n', M]
        degenerate = (masses.sum(-1) <= 0).nonzero().squeeze(1)
        if degenerate.numel():
            masses[degenerate] = coarse_rows(target_chunk[degenerate], groups)
        table = RowTable.from_rows(masses, (torch.arange(masses.shape[0], device=device),))
        labels[lo : lo + step] = table.sample(u[lo : lo + step, :1], u[lo : lo + step, 1:2])[:, 0]
    return sample_in_groups(target_probs, groups, labels, u[:, 2], rows=rows), labels


def _thinning_residual(
    target_probs: torch.Tensor,
    draft_probs: torch.Tensor,
    rows: Rows,
    groups: Groups,
    generator: torch.Generator,
    max_trials: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The paper's residual by thinning for n rows (see :data:`Rows`).

    Each trial: y ~ q, k ~ w[·, y], keep iff u · Q_c(k) < Q_c(k) − P_c(k).
    A kept trial has law R_c(k) q(t | k); trials are i.i.d., so the first kept
    one has that law, and rows with no kept trial after ``max_trials`` take an
    independent exact draw, which has it too: the mixture is never biased.
    One read of the n target rows (a :class:`RowTable`); each round then
    touches only the proposed ids' blocks and the members of the proposed
    groups.

    Returns (tokens [n], labels [n], trials [n], exact [n] bool).
    """
    n, device = rows[0].shape[0], target_probs.device
    tokens = torch.full((n,), -1, dtype=torch.int64, device=device)
    labels = torch.full((n,), -1, dtype=torch.int64, device=device)
    trials = torch.zeros(n, dtype=torch.int64, device=device)
    pending = torch.arange(n, device=device)
    table = RowTable.from_rows(target_probs, rows)  # q; its rows follow `pending`
    used, chunk = 0, _FIRST_ROUND
    while pending.numel() and used < max_trials:
        chunk = min(chunk, max_trials - used, max(1, _ROUND_PROPOSALS // pending.numel()))
        u = uniforms((pending.numel(), chunk, 4), generator, device)
        proposals = table.sample(u[..., 0], u[..., 1])  # y ~ q           [n_p, chunk]
        proposal_groups = pick_groups(groups, proposals.reshape(-1), u[..., 2].reshape(-1)).reshape(proposals.shape)
        coarse_t, coarse_d = paired_group_masses((target_probs, draft_probs), groups, proposal_groups, rows=table.rows)
        kept = u[..., 3] * coarse_t < coarse_t - coarse_d  # [n_p, chunk]
        done = kept.any(1)
        first = kept.to(torch.int8).argmax(1)
        trials[pending] += torch.where(done, first + 1, chunk)
        hit = pending[done]
        tokens[hit] = proposals[done, first[done]]
        labels[hit] = proposal_groups[done, first[done]]
        left = (~done).nonzero().squeeze(1)
        if left.numel() < pending.numel():
            pending, table = pending[left], table.take(left)
        used += chunk
        chunk *= 2
    exact = torch.zeros(n, dtype=torch.bool, device=device)
    if pending.numel():
        exact[pending] = True
        at = tuple(index[pending] for index in rows)
        tokens[pending], labels[pending] = _exact_residual(target_probs, draft_probs, at, groups, generator)
    return tokens, labels, trials, exact


def verify(
    draft_tokens: torch.Tensor,
    draft_probs: torch.Tensor,
    target_probs: torch.Tensor,
    groups: Groups,
    *,
    generator: torch.Generator,
    residual: str = "thinning",
    max_thinning_trials: int = DEFAULT_MAX_THINNING_TRIALS,
    check_inputs: bool = True,
    sum_tolerance: float | None = None,
) -> VerifyResult:
    """Verify drafted blocks with PCG (group-exact acceptance).

    Parameters
    ----------
    draft_tokens : int64 [B, γ]
        ``draft_tokens[b, i] ~ draft_probs[b, i]``.
    draft_probs : float [B, γ, V]
        p for each drafted position (float64, float32, float16 or bfloat16).
    target_probs : float [B, γ+1, V]
        q for each drafted position and the bonus position.
    groups : Groups
        Built for V ids, on the probabilities' device.
    generator : torch.Generator
        The only source of randomness.
    residual : {"thinning", "exact"}
        How a rejected position draws its replacement; both have the same law.
    max_thinning_trials : int
        Proposals per rejected row before falling back to the exact residual.
    check_inputs : bool
        ``False`` skips the O(B·γ·V) value checks (finite, ≥ 0, rows sum to 1);
        shapes, devices, ranges and draft-token probabilities are always
        checked. The checks cost about two reads of the probabilities.
    sum_tolerance : float or None
        Allowed ``|Σ_t probs[..., t] − 1|`` per row, in [0, 1). ``None`` takes
        the dtype's entry of :data:`pcg_core.SUM_TOLERANCE` (1e-6 for float64,
        1e-4 for float32). The tolerance cannot tell where rows came from: pass
        one for, e.g., float32 softmax rows cast to float64 (they drift by a
        few 1e-5 over 2e5 ids). Rows are never renormalised.

    Returns
    -------
    VerifyResult
        ``tokens``, ``group_ids``, ``num_accepted`` (+ thinning diagnostics).

    Guarantee: conditional on reaching position i, the emitted group label has
    law exactly Q_c (docs/laws.md); the joint law of (accepted, group, token) is
    the reference law of docs/laws.md. Complexity per row O(γ·(max N(t) + |G_K|))
    for acceptance plus one O(V) table of q at the final position.

    Examples
    --------
    >>> import torch
    >>> from pcg_core import groups_from_labels, verify
    >>> groups = groups_from_labels(torch.tensor([0, 0, 1, 1]))
    >>> draft = torch.tensor([[[0.4, 0.1, 0.25, 0.25]]], dtype=torch.float64)
    >>> target = torch.tensor([[0.1, 0.4, 0.25, 0.25]] * 2, dtype=torch.float64)[None]
    >>> out = verify(torch.tensor([[0]]), draft, target, groups, generator=torch.Generator().manual_seed(0))
    >>> int(out.num_accepted[0])  # the group {0, 1} has the same mass under p and q
    1
    """
    residual = check_choice("residual", residual, RESIDUALS)
    max_thinning_trials = check_int("max_thinning_trials", max_thinning_trials, minimum=0)
    batch, gamma, vocab = check_verify_inputs(
        draft_tokens, draft_probs, target_probs, generator, full=check_bool("check_inputs", check_inputs),
        sum_tolerance=sum_tolerance,
    )
    device = draft_probs.device
    check_groups(groups, vocab_size=vocab, device=device)

    u = uniforms((batch, gamma, 2), generator, device)
    # K ~ w[·, x] and the two coarse masses of K at every drafted position.   [B, γ]
    labels = pick_groups(groups, draft_tokens.reshape(-1), u[..., 0].reshape(-1)).reshape(batch, gamma)
    coarse_draft, coarse_target = (m[..., 0] for m in paired_group_masses(
        (draft_probs, target_probs[:, :gamma]), groups, labels[..., None]))
    # u < Q/P without dividing: Q_c(K) = 0 can never be accepted.
    accepted = u[..., 1] * coarse_draft < coarse_target
    num_accepted = accepted.to(torch.int64).cumprod(1).sum(1)  # [B]

    final_tokens = torch.empty(batch, dtype=torch.int64, device=device)
    final_labels = torch.empty(batch, dtype=torch.int64, device=device)
    trials = torch.zeros(batch, dtype=torch.int64, device=device)
    exact = torch.zeros(batch, dtype=torch.bool, device=device)

    bonus = (num_accepted == gamma).nonzero().squeeze(1)
    if bonus.numel():
        ub = uniforms((bonus.numel(), 3), generator, device)
        bonus_table = RowTable.from_rows(target_probs, (bonus, torch.full_like(bonus, gamma)))  # q_{γ+1}
        final_tokens[bonus] = bonus_table.sample(ub[:, :1], ub[:, 1:2])[:, 0]
        final_labels[bonus] = pick_groups(groups, final_tokens[bonus], ub[:, 2])

    rejected = (num_accepted < gamma).nonzero().squeeze(1)
    if rejected.numel():
        at = (rejected, num_accepted[rejected])  # q and p at position A of each rejected row
        if residual == "exact":
            final_tokens[rejected], final_labels[rejected] = _exact_residual(
                target_probs, draft_probs, at, groups, generator
            )
            exact[rejected] = True
        else:
            tok, lab, used, ex = _thinning_residual(target_probs, draft_probs, at, groups, generator,
                                                    max_thinning_trials)
            final_tokens[rejected], final_labels[rejected], trials[rejected], exact[rejected] = tok, lab, used, ex

    tokens, group_ids = assemble_block(draft_tokens, labels, num_accepted, final_tokens, final_labels)
    return VerifyResult(tokens, group_ids, num_accepted, trials, exact)
