"""Laws of the token-level baselines: standard SD, the SSD tolerance rule, draft only.

Math follows the paper: q is the target, p the draft; code says ``target`` and
``draft``. Laws are computed here with exact fractions, independently of pcg_core.

Statistical design: each sampled-law assertion is a test at level ALPHA = 1e-6
(chi-square with cells of expected count < 5 pooled, or an exact binomial test)
on samples from a fixed seed (``torch.Generator().manual_seed(...)``), so runs
are deterministic; with fresh seeds the file's false-positive rate would be
≤ 9 × 1e-6 (4 for SSD with β = 0, 2 for β > 0, 2 for draft only, 1 for labels).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
from scipy import stats

from pcg_core import Groups, draft_only_verify, ssd_verify, standard_verify, verify

ALPHA = 1e-6
N_ROWS = 100_000

# p and q for two drafted positions and the bonus position, as integer masses over V = 5.
DRAFTS = [(5, 2, 1, 1, 1), (0, 4, 4, 1, 1)]
TARGETS = [(1, 3, 1, 4, 1), (2, 0, 3, 3, 2), (1, 0, 0, 2, 1)]
VOCAB = 5


def law(masses: tuple[int, ...]) -> list[Fraction]:
    return [Fraction(m, sum(masses)) for m in masses]


def as_tensor(masses: tuple[int, ...]) -> torch.Tensor:
    return torch.tensor([float(x) for x in law(masses)], dtype=torch.float64)


def ssd_law(
    draft: list[Fraction], target: list[Fraction], beta: Fraction
) -> tuple[list[Fraction], list[Fraction]]:
    """(Pr(accept, x), Pr(reject, t)) of the rule u < min(1, q(x)/p(x)) + β, residual ∝ [q − p]_+."""
    accepted = [p * min(Fraction(1), (min(Fraction(1), q / p) if p else Fraction(0)) + beta)
                for p, q in zip(draft, target, strict=True)]
    positive = [max(Fraction(0), q - p) for p, q in zip(draft, target, strict=True)]
    if not sum(positive):
        return accepted, [Fraction(0)] * len(draft)
    rejected = [(1 - sum(accepted)) * r / sum(positive) for r in positive]
    return accepted, rejected


def assert_counts_follow(observed: np.ndarray, probs, what: str) -> None:
    """Chi-square at ALPHA, cells of expected count < 5 pooled; cells of probability 0 never observed."""
    observed, probs = np.asarray(observed, float).ravel(), np.asarray(probs, float).ravel()
    assert observed[probs == 0].sum() == 0, f"{what}: impossible outcome observed"
    expected = probs * (observed.sum() / probs.sum())
    large, small = expected >= 5, (expected > 0) & (expected < 5)
    obs, exp = list(observed[large]), list(expected[large])
    if small.any():
        obs.append(observed[small].sum())
        exp.append(expected[small].sum())
    result = stats.chisquare(obs, exp)
    assert result.pvalue > ALPHA, f"{what}: chi-square={result.statistic:.2f}, p={result.pvalue:.3g}"


def assert_binomial(successes: int, trials: int, prob: float, what: str) -> None:
    pvalue = stats.binomtest(successes, trials, prob).pvalue
    assert pvalue > ALPHA, f"{what}: {successes}/{trials} vs {prob:.6f}, p={pvalue:.3g}"


def run(verifier, n: int, seed: int, groups: Groups | None = None, gamma: int = 2, **kwargs):
    generator = torch.Generator().manual_seed(seed)
    draft_probs = torch.stack([as_tensor(m) for m in DRAFTS[:gamma]])[None].expand(n, -1, -1)
    targets = [*TARGETS[:gamma], TARGETS[-1]]
    target_probs = torch.stack([as_tensor(m) for m in targets])[None].expand(n, -1, -1)
    flat = draft_probs.reshape(-1, VOCAB)
    draft_tokens = torch.multinomial(flat, 1, replacement=True, generator=generator).reshape(n, gamma)
    result = verifier(draft_tokens, draft_probs, target_probs, groups, generator=generator, **kwargs)
    return result, draft_tokens


def overlapping_groups() -> Groups:
    # {0,1,2}, {2,3}, {3,4}, {0,4} with uneven weights.
    return Groups.from_memberships(5, np.array([0, 3, 5, 7, 9]), np.array([0, 1, 2, 2, 3, 3, 4, 0, 4]),
                                   np.array([1.0, 1, 2, 1, 3, 1, 1, 2, 1]))


# --------------------------------------------------------------------------- SSD with β = 0
def test_ssd_with_zero_tolerance_is_standard_sd() -> None:
    result, _ = run(ssd_verify, N_ROWS, seed=11, tolerance=0.0)
    num_accepted = result.num_accepted.numpy()
    assert result.group_ids is None
    for i, target in enumerate([TARGETS[0], TARGETS[1], TARGETS[-1]]):
        emitted = result.tokens[num_accepted >= i, i].numpy()
        assert_counts_follow(np.bincount(emitted, minlength=VOCAB), [float(x) for x in law(target)],
                             f"ssd β=0 token law at {i}, seed=11")
    rate = float(sum(map(min, law(DRAFTS[0]), law(TARGETS[0]))))  # 1 − TV(p, q)
    assert_binomial(int((num_accepted >= 1).sum()), num_accepted.size, rate, "ssd β=0 acceptance, seed=11")
    # Same code path as standard_verify: identical outputs from the same seed.
    standard, _ = run(standard_verify, N_ROWS, seed=11)
    assert torch.equal(standard.tokens, result.tokens)
    assert torch.equal(standard.num_accepted, result.num_accepted)


def test_standard_verify_labels_follow_the_coarse_target() -> None:
    """With groups, each token is labelled k ~ w[·, t]: (k, t) at a reached position has law q(t) w[k, t]."""
    groups = overlapping_groups()
    result, _ = run(standard_verify, N_ROWS, seed=12, groups=groups)
    reached = result.num_accepted.numpy() >= 1
    counts = np.zeros((groups.num_groups, VOCAB))
    np.add.at(counts, (result.group_ids[reached, 1].numpy(), result.tokens[reached, 1].numpy()), 1)
    w = groups.dense_weights().numpy()
    assert_counts_follow(counts, w * as_tensor(TARGETS[1]).numpy()[None], "labels at 1, seed=12")


# --------------------------------------------------------------------------- SSD with β > 0
def test_ssd_tolerance_law_is_not_target() -> None:
    beta = Fraction(3, 10)
    accepted, rejected = ssd_law(law(DRAFTS[0]), law(TARGETS[0]), beta)
    tokens = [a + r for a, r in zip(accepted, rejected, strict=True)]
    assert sum(tokens) == 1
    # The analytic law moves away from q: not exact at the token level (nor at any level).
    assert sum(abs(t - q) for t, q in zip(tokens, law(TARGETS[0]), strict=True)) / 2 > Fraction(1, 10)
    # Acceptance E_x[min(1, min(1, q/p) + β)] = 3/4 here, above standard SD's 1 − TV(p, q) = 3/5.
    assert sum(accepted) == Fraction(3, 4)
    assert sum(map(min, law(DRAFTS[0]), law(TARGETS[0]))) == Fraction(3, 5)

    result, _ = run(ssd_verify, N_ROWS, seed=13, gamma=1, tolerance=float(beta))
    num_accepted = result.num_accepted.numpy()
    assert_binomial(int(num_accepted.sum()), num_accepted.size, float(sum(accepted)), "ssd β=0.3 acceptance")
    counts = np.zeros((2, VOCAB))
    np.add.at(counts, (num_accepted, result.tokens[:, 0].numpy()), 1)
    expected = [[float(x) for x in rejected], [float(x) for x in accepted]]
    assert_counts_follow(counts, expected, "ssd β=0.3 joint (accepted, token), seed=13")


def test_ssd_full_tolerance_accepts_everything() -> None:
    result, draft_tokens = run(ssd_verify, 5000, seed=14, tolerance=1.0)
    assert bool((result.num_accepted == 2).all())
    assert torch.equal(result.tokens[:, :2], draft_tokens)


# --------------------------------------------------------------------------- draft only
def test_draft_only_equals_pcg_with_one_covering_group() -> None:
    one_group = Groups.from_memberships(VOCAB, np.array([0, VOCAB]), np.arange(VOCAB))
    bonus = [float(x) for x in law(TARGETS[-1])]
    for verifier, seed in ((draft_only_verify, 15), (verify, 16)):
        result, draft_tokens = run(verifier, N_ROWS, seed=seed, groups=one_group)
        assert bool((result.num_accepted == 2).all())
        assert torch.equal(result.tokens[:, :2], draft_tokens)
        assert bool((result.group_ids == 0).all())
        assert_counts_follow(np.bincount(result.tokens[:, 2].numpy(), minlength=VOCAB), bonus,
                             f"{verifier.__name__} bonus law, seed={seed}")


@pytest.mark.parametrize("verifier", [standard_verify, draft_only_verify])
def test_without_groups_labels_are_none_and_structure_holds(verifier) -> None:
    result, draft_tokens = run(verifier, 2000, seed=17)
    tokens, labels, num_accepted = result
    assert labels is None and tokens.shape == (2000, 3) and tokens.dtype == torch.int64
    for b in range(0, 2000, 7):
        a = int(num_accepted[b])
        assert torch.equal(tokens[b, :a], draft_tokens[b, :a])
        assert bool((tokens[b, a + 1 :] == -1).all()) and int(tokens[b, a]) >= 0
    again, _ = run(verifier, 2000, seed=17)
    assert torch.equal(again.tokens, tokens)
