"""Laws of :func:`pcg_core.verify` on small vocabularies (docs/algorithm.md, docs/laws.md).

Math follows the paper: q is the target, p the draft; code says ``target`` and
``draft``.

Two layers:

1. :func:`walk_one_position` is an analytic law written independently of
   pcg_core: plain Python loops over exact fractions that follow the
   algorithm's branches (x ~ p; K ~ w[·, x]; accept with min(1, Q_c/P_c); on
   reject the thinning loop, capped or not). It is compared with docs/laws.md's
   closed forms to 1e-12.
2. Sampled frequencies of ``verify`` are compared with that law.

Statistical design: every sampled-law assertion below is a test at level
ALPHA = 1e-6 (chi-square with cells of expected count < 5 pooled, exact
binomial or exact negative binomial). Seeds are fixed
(``torch.Generator().manual_seed(...)``) so each run draws the same samples and
the outcome is deterministic; were the seeds drawn afresh, the false-positive
rate of this file would be ≤ N_STATISTICAL_TESTS × 1e-6 = 4.7e-5 (6 one-position
joint laws, 8 in the γ = 3 block, 8 for singleton groups, 10 for residual modes
and caps, 3 zero-probability binomials, 3 dtypes, 3 batch rows, 2 rows of the
two-level table, 4 laws over a vocabulary of several blocks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import pcg_core
from pcg_core import DEFAULT_MAX_THINNING_TRIALS, Groups, coarse_probs, group_masses, singleton_groups, verify
from pcg_core._sampling import RowTable, sample_categorical
from pcg_core._verify import _exact_residual, _thinning_residual

ALPHA = 1e-6
#: Sampled-law tests in this file (each at level ALPHA); see the module docstring.
N_STATISTICAL_TESTS = 47
N_ROWS = 100_000


# --------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class Case:
    """One position: groups (with unnormalised integer weights) and integer masses for p and q."""

    name: str
    vocab_size: int
    groups: tuple[tuple[int, ...], ...]
    raw_weights: tuple[tuple[int, ...], ...] | None  # per membership; None = equal split 1/N(t)
    draft: tuple[int, ...]
    target: tuple[int, ...]

    def draft_law(self) -> list[Fraction]:
        return normalise(self.draft)

    def target_law(self) -> list[Fraction]:
        return normalise(self.target)

    def weights(self) -> list[list[Fraction]]:
        """w[k][t] as exact fractions, renormalised per token."""
        raw = [[Fraction(0)] * self.vocab_size for _ in self.groups]
        for k, members in enumerate(self.groups):
            for j, t in enumerate(members):
                raw[k][t] = Fraction(1 if self.raw_weights is None else self.raw_weights[k][j])
        totals = [sum(raw[k][t] for k in range(len(self.groups))) for t in range(self.vocab_size)]
        return [[raw[k][t] / totals[t] for t in range(self.vocab_size)] for k in range(len(self.groups))]

    def build_groups(self) -> Groups:
        ptr = np.cumsum([0] + [len(m) for m in self.groups])
        members = np.array([t for m in self.groups for t in m], dtype=np.int64)
        raw = None
        if self.raw_weights is not None:
            raw = np.array([x for ws in self.raw_weights for x in ws], dtype=np.float64)
        return Groups.from_memberships(self.vocab_size, ptr, members, raw)

    def probs(self, which: str, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        law = self.draft_law() if which == "draft" else self.target_law()
        return torch.tensor([float(x) for x in law], dtype=torch.float64).to(dtype)


def normalise(masses: tuple[int, ...]) -> list[Fraction]:
    total = sum(masses)
    return [Fraction(m, total) for m in masses]


OVERLAP = Case(
    "overlapping_uneven_weights", 6,
    groups=((0, 1, 2), (2, 3), (3, 4), (4, 5), (0, 5)),
    raw_weights=((1, 2, 1), (3, 1), (1, 1), (2, 1), (1, 3)),
    draft=(6, 4, 2, 0, 5, 3),  # p(3) = 0
    target=(2, 2, 6, 4, 6, 0),  # q(5) = 0
)
P_EQUALS_Q = replace(OVERLAP, name="p_equals_q", target=OVERLAP.draft)
DISJOINT = Case(
    "disjoint_supports", 6,
    groups=((0, 1, 2, 3), (2, 3, 4, 5), (1, 4)),
    raw_weights=((1, 1, 2, 1), (1, 3, 1, 1), (4, 1)),
    draft=(3, 2, 1, 0, 0, 0),
    target=(0, 0, 0, 2, 3, 1),
)
# P_c == Q_c although p != q: tokens 0 and 2 swap their masses inside group 0.
SWAP = Case(
    "swap_inside_group", 5,
    groups=((0, 2), (1, 3), (3, 4), (1, 4)),
    raw_weights=((1, 1), (2, 1), (1, 3), (1, 1)),
    draft=(5, 2, 1, 3, 2),
    target=(1, 2, 5, 3, 2),
)
# Groups 2 and 3 have Q_c = 0 but positive P_c; token 0 has q = 0 inside group 0, whose Q_c > 0.
ZERO_TARGET = Case(
    "zero_target_groups", 5,
    groups=((0, 1), (1, 2), (3,), (3, 4)),
    raw_weights=None,
    draft=(3, 2, 1, 2, 2),
    target=(0, 4, 3, 0, 0),
)
NESTED = Case(
    "nested_all_covering", 5,
    groups=((0, 1, 2, 3, 4), (0,), (2,), (4,)),
    raw_weights=((1, 1, 1, 1, 1), (2,), (3,), (1,)),
    draft=(5, 1, 1, 1, 2),
    target=(1, 2, 3, 2, 2),
)
LAW_CASES = [OVERLAP, P_EQUALS_Q, DISJOINT, SWAP, ZERO_TARGET, NESTED]
# Masses in sixteenths: exact in float32, float16 and bfloat16.
DYADIC = Case(
    "dyadic", 8,
    groups=((0, 1, 2), (2, 3, 4), (4, 5), (5, 6, 7), (0, 7)),
    raw_weights=((1, 1, 3), (1, 1, 1), (2, 1), (1, 1, 1), (3, 1)),
    draft=(4, 2, 2, 1, 0, 3, 3, 1),
    target=(1, 1, 4, 2, 2, 0, 4, 2),
)


# --------------------------------------------------------------------------- analytic law
@dataclass(frozen=True)
class ExactLaw:
    """Pr(accepted?, k, t) as exact fractions, with the coarse masses."""

    accepted: list[list[Fraction]]  # [M][V]
    rejected: list[list[Fraction]]  # [M][V]
    coarse_draft: list[Fraction]
    coarse_target: list[Fraction]

    def array(self) -> np.ndarray:
        """float64 [2, M, V]; index 0 = rejected, 1 = accepted (the value of ``A > i``)."""
        return np.array([[[float(x) for x in row] for row in self.rejected],
                         [[float(x) for x in row] for row in self.accepted]])

    def acceptance(self) -> Fraction:
        return sum((sum(row) for row in self.accepted), Fraction(0))


def walk_one_position(case: Case, max_trials: int | None = None) -> ExactLaw:
    """The algorithm's output law for one position, branch by branch.

    ``max_trials=None`` runs the thinning loop forever; an int caps it, after
    which the exact residual (k ~ R_c, t ~ q(t | k)) is drawn.
    """
    draft, target, w = case.draft_law(), case.target_law(), case.weights()
    n_groups, vocab = len(w), case.vocab_size
    zero = Fraction(0)
    coarse_draft = [sum((w[k][t] * draft[t] for t in range(vocab)), zero) for k in range(n_groups)]
    coarse_target = [sum((w[k][t] * target[t] for t in range(vocab)), zero) for k in range(n_groups)]

    # Proposal and acceptance: x ~ p, K ~ w[·, x], accept with min(1, Q_c(K)/P_c(K)).
    accepted = [[zero] * vocab for _ in range(n_groups)]
    reject_mass = zero
    for x in range(vocab):
        for k in range(n_groups):
            proposal = draft[x] * w[k][x]
            if proposal == 0:
                continue
            ratio = min(Fraction(1), coarse_target[k] / coarse_draft[k])
            accepted[k][x] += proposal * ratio
            reject_mass += proposal * (1 - ratio)

    # One thinning trial: y ~ q, k ~ w[·, y], keep with probability max(0, 1 − P_c(k)/Q_c(k)).
    keep = [[zero] * vocab for _ in range(n_groups)]
    for y in range(vocab):
        for k in range(n_groups):
            if target[y] * w[k][y] > 0:
                keep[k][y] = target[y] * w[k][y] * max(zero, 1 - coarse_draft[k] / coarse_target[k])
    keep_rate = sum((sum(row) for row in keep), zero)
    # The exact residual branch: k ~ R_c ∝ [Q_c − P_c]_+, then t ~ q(t | k) = w[k,t] q(t) / Q_c(k).
    positive = [max(zero, coarse_target[k] - coarse_draft[k]) for k in range(n_groups)]
    total_positive = sum(positive, zero)
    exact = [[positive[k] / total_positive * w[k][t] * target[t] / coarse_target[k] if positive[k] else zero
              for t in range(vocab)] for k in range(n_groups)]

    rejected = [[zero] * vocab for _ in range(n_groups)]
    if reject_mass:
        # Trial j is the first kept one with probability (1 − s)^{j−1} · keep; summed over j.
        if max_trials is None:
            first_kept, fallback = 1 / keep_rate, zero  # Σ_{j≥1} (1 − s)^{j−1} = 1/s
        else:
            first_kept = sum(((1 - keep_rate) ** (j - 1) for j in range(1, max_trials + 1)), zero)
            fallback = (1 - keep_rate) ** max_trials
        for k in range(n_groups):
            for t in range(vocab):
                rejected[k][t] = reject_mass * (first_kept * keep[k][t] + fallback * exact[k][t])
    return ExactLaw(accepted, rejected, coarse_draft, coarse_target)


def spec_law(draft: np.ndarray, target: np.ndarray, w: np.ndarray) -> np.ndarray:
    """docs/laws.md's closed forms in float64, [2, M, V] (0 = rejected, 1 = accepted)."""
    coarse_draft, coarse_target = w @ draft, w @ target
    ratio = np.minimum(1.0, np.divide(coarse_target, coarse_draft, out=np.ones_like(coarse_draft),
                                      where=coarse_draft > 0))
    accepted = draft[None, :] * w * ratio[:, None]
    within = np.divide(w * target[None, :], coarse_target[:, None], out=np.zeros_like(w),
                       where=coarse_target[:, None] > 0)
    rejected = np.maximum(coarse_target - coarse_draft, 0.0)[:, None] * within
    return np.stack([rejected, accepted])


def float_weights(case: Case) -> np.ndarray:
    return np.array([[float(x) for x in row] for row in case.weights()])


# --------------------------------------------------------------------------- statistics
def assert_counts_follow(observed: np.ndarray, probs: np.ndarray, what: str) -> None:
    """Chi-square goodness of fit at ALPHA; cells of probability 0 must never be observed.

    Cells with expected count < 5 are pooled into one cell (merged into the
    smallest other cell if the pool itself stays under 5).
    """
    observed, probs = np.asarray(observed, float).ravel(), np.asarray(probs, float).ravel()
    impossible = probs == 0
    seen = np.flatnonzero(impossible & (observed > 0)).tolist()
    assert not seen, f"{what}: cells of probability 0 observed at flat indices {seen}"
    n = observed.sum()
    assert n > 0, f"{what}: no samples"
    expected = probs * (n / probs.sum())
    large = ~impossible & (expected >= 5)
    small = ~impossible & (expected < 5)
    obs, exp = list(observed[large]), list(expected[large])
    if small.any():
        pooled_obs, pooled_exp = observed[small].sum(), expected[small].sum()
        if pooled_exp >= 5 or not obs:
            obs.append(pooled_obs)
            exp.append(pooled_exp)
        else:
            j = int(np.argmin(exp))
            obs[j] += pooled_obs
            exp[j] += pooled_exp
    if len(obs) < 2:
        return  # one possible cell: the zero-cell check above is the whole test
    result = stats.chisquare(obs, exp)
    worst = np.argsort(-np.abs(np.array(obs) - np.array(exp)))[:3]
    assert result.pvalue > ALPHA, (
        f"{what}: chi-square={result.statistic:.2f}, dof={len(obs) - 1}, p={result.pvalue:.3g} < {ALPHA}, "
        f"n={int(n)}; largest deviations (observed, expected): "
        f"{[(obs[j], round(exp[j], 1)) for j in worst]}"
    )


def assert_binomial(successes: int, trials: int, prob: float, what: str) -> None:
    """Exact two-sided binomial test at ALPHA."""
    pvalue = stats.binomtest(successes, trials, prob).pvalue
    assert pvalue > ALPHA, f"{what}: {successes}/{trials} vs {prob:.6f}, p={pvalue:.3g} < {ALPHA}"


# --------------------------------------------------------------------------- sampling harness
def draw_drafts(draft_probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """x ~ p at every position: [B, γ, V] → int64 [B, γ] (the harness's job, docs/algorithm.md)."""
    batch, gamma, vocab = draft_probs.shape
    flat = draft_probs.reshape(-1, vocab).to(torch.float64)
    return torch.multinomial(flat, 1, replacement=True, generator=generator).reshape(batch, gamma)


def run_block(
    groups: Groups,
    drafts: list[Case],
    bonus: Case,
    n: int,
    seed: int,
    *,
    dtype: torch.dtype = torch.float64,
    verifier=verify,
    **kwargs,
):
    """n rows of the same block: position i uses ``drafts[i]``'s p and q, the bonus ``bonus``'s q."""
    generator = torch.Generator().manual_seed(seed)
    draft_probs = torch.stack([c.probs("draft", dtype) for c in drafts])[None].expand(n, -1, -1)
    target_probs = torch.stack([c.probs("target", dtype) for c in [*drafts, bonus]])[None].expand(n, -1, -1)
    draft_tokens = draw_drafts(draft_probs, generator)
    result = verifier(draft_tokens, draft_probs, target_probs, groups, generator=generator, **kwargs)
    return result, draft_tokens


def position_counts(result, position: int, shape: tuple[int, int], rows=None) -> np.ndarray:
    """Counts of (accepted at ``position``?, group, token) over rows that reached it, [2, M, V]."""
    num_accepted = result.num_accepted.numpy()
    reached = num_accepted >= position if rows is None else (num_accepted >= position) & rows
    accepted = (num_accepted[reached] > position).astype(int)
    labels = result.group_ids[:, position].numpy()[reached]
    tokens = result.tokens[:, position].numpy()[reached]
    counts = np.zeros((2, *shape))
    np.add.at(counts, (accepted, labels, tokens), 1)
    return counts


def bonus_law(case: Case) -> np.ndarray:
    """Bonus (k, t) law: t ~ q, k ~ w[·, t]; [M, V]."""
    return float_weights(case) * np.array([float(x) for x in case.target_law()])[None, :]


# --------------------------------------------------------------------------- hypothesis strategies
@st.composite
def cases(draw: st.DrawFn, max_vocab: int = 6, max_groups: int = 5) -> Case:
    """Random overlapping groups (uncovered tokens get singletons) with integer weights and masses."""
    vocab = draw(st.integers(1, max_vocab))
    groups = [tuple(sorted(draw(st.sets(st.integers(0, vocab - 1), min_size=1))))
              for _ in range(draw(st.integers(1, max_groups)))]
    covered = set().union(*groups)
    groups += [(t,) for t in range(vocab) if t not in covered]
    raw = None
    if draw(st.booleans()):
        raw = tuple(tuple(draw(st.integers(1, 4)) for _ in g) for g in groups)
    masses = st.lists(st.integers(0, 4), min_size=vocab, max_size=vocab).map(
        lambda m: tuple(m) if sum(m) else (1, *m[1:])
    )
    return Case("hypothesis", vocab, tuple(groups), raw, draw(masses), draw(masses))


# =========================================================================== 1. exact enumeration
@pytest.mark.parametrize("case", LAW_CASES, ids=lambda c: c.name)
def test_walked_law_equals_spec_formulas(case: Case) -> None:
    law = walk_one_position(case)
    w = float_weights(case)
    draft = np.array([float(x) for x in case.draft_law()])
    target = np.array([float(x) for x in case.target_law()])
    np.testing.assert_allclose(law.array(), spec_law(draft, target, w), rtol=0, atol=1e-12)
    # Guarantee: the label law is Q_c, exactly.
    labels = [sum(a) + sum(r) for a, r in zip(law.accepted, law.rejected, strict=True)]
    assert labels == law.coarse_target
    np.testing.assert_allclose(law.array().sum(axis=(0, 2)), w @ target, rtol=0, atol=1e-12)
    # Acceptance law: Σ_k min(P_c, Q_c) = 1 − TV(P_c, Q_c) ≥ 1 − TV(p, q).
    assert law.acceptance() == sum(map(min, law.coarse_draft, law.coarse_target))
    assert law.acceptance() >= sum(map(min, case.draft_law(), case.target_law()))


@given(cases())
def test_walked_law_equals_spec_formulas_on_random_structures(case: Case) -> None:
    law = walk_one_position(case)
    w = float_weights(case)
    draft = np.array([float(x) for x in case.draft_law()])
    target = np.array([float(x) for x in case.target_law()])
    np.testing.assert_allclose(law.array(), spec_law(draft, target, w), rtol=0, atol=1e-12)
    assert [sum(a) + sum(r) for a, r in zip(law.accepted, law.rejected, strict=True)] == law.coarse_target
    assert law.acceptance() == 1 - sum(abs(a - b) for a, b in zip(law.coarse_draft, law.coarse_target,
                                                                  strict=True)) / 2
    assert law.acceptance() >= sum(map(min, case.draft_law(), case.target_law()))
    # A capped thinning loop with the exact fallback has exactly the same law.
    for cap in (0, 1, 3):
        assert walk_one_position(case, max_trials=cap) == law


@given(cases())
def test_coarse_masses_match_exact_sums(case: Case) -> None:
    groups = case.build_groups().validate()
    law = walk_one_position(case)
    target = case.probs("target")
    np.testing.assert_allclose(groups.dense_weights().numpy(), float_weights(case), rtol=0, atol=1e-15)
    np.testing.assert_allclose(coarse_probs(target, groups).numpy(), [float(x) for x in law.coarse_target],
                               rtol=0, atol=1e-12)
    ids = torch.arange(groups.num_groups).flip(0)[None]
    np.testing.assert_allclose(group_masses(case.probs("draft")[None], groups, ids).numpy()[0],
                               [float(x) for x in law.coarse_draft[::-1]], rtol=0, atol=1e-12)


# Uniforms at the edges of [0, 1): zero, the smallest positive double, the largest double below 1.
EDGE_UNIFORMS = [0.0, 5e-324, 2.0**-53, 0.5, float(np.nextafter(1.0, 0.0))]


@given(st.lists(st.sampled_from([0.0, 0.0, 1e-300, 0.1, 0.25, 1.0, 3.0]), min_size=1, max_size=8)
       .filter(lambda m: sum(m) > 0),
       st.lists(st.one_of(st.sampled_from(EDGE_UNIFORMS), st.floats(0.0, 1.0, exclude_max=True)), min_size=1))
def test_categorical_draws_never_hit_zero_masses(masses: list[float], us: list[float]) -> None:
    """Inverse-CDF draws: the index j with cum[j−1] ≤ u·total < cum[j]; zero masses never come out."""
    m = torch.tensor([masses], dtype=torch.float64)
    idx = sample_categorical(m, torch.tensor([us], dtype=torch.float64))[0].tolist()
    cum = np.cumsum(masses)
    for u, j in zip(us, idx, strict=True):
        assert masses[j] > 0, (masses, u, j)
        # u·total rounding up to the total is clamped to the first index where cum reaches the total.
        first_full = int(np.flatnonzero(cum == cum[-1])[0])
        assert (cum[j - 1] if j else 0.0) <= u * cum[-1] < cum[j] or j == first_full


# Masses over L = 200 ids (3 blocks of 64 and a partial block of 8): a zero block, zero ids, a 1e-300 id
# alone in its block, and positive mass in the partial block.
ROW_MASSES = np.zeros(200)
ROW_MASSES[:64] = np.arange(64) % 3  # zero ids inside a positive block
ROW_MASSES[130] = 1e-300  # block 2 holds only this id
ROW_MASSES[[150, 193, 199]] = [2.0, 1.0, 0.5]


@given(st.lists(st.sampled_from(EDGE_UNIFORMS), min_size=2, max_size=2), st.integers(0, 2))
def test_row_table_never_draws_zero_masses(us: list[float], shift: int) -> None:
    """Both levels of the two-level table clamp like sample_categorical: no zero-mass block or id comes out."""
    probs = torch.tensor(np.roll(ROW_MASSES, shift), dtype=torch.float64)[None, None].expand(2, 3, -1)
    table = RowTable.from_rows(probs, (torch.tensor([1, 0]), torch.tensor([2, 1])))
    ids = table.sample(torch.full((2, 1), us[0], dtype=torch.float64), torch.full((2, 1), us[1], dtype=torch.float64))
    assert bool((probs[0, 0, ids.ravel()] > 0).all()), (us, ids)


# 2 tests (one per row, each at ALPHA).
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_row_table_law_across_blocks(dtype: torch.dtype) -> None:
    """Draws from rows picked out of a [B, P, L] tensor follow probs[row] / Σ (chi-square, seed=111)."""
    law = np.stack([ROW_MASSES, np.roll(ROW_MASSES, 70)])
    probs = torch.zeros(3, 2, 200, dtype=torch.float64)
    probs[2, 1], probs[0, 0] = torch.tensor(law[0]), torch.tensor(law[1])
    table = RowTable.from_rows(probs.to(dtype), (torch.tensor([2, 0]), torch.tensor([1, 0])))
    generator = torch.Generator().manual_seed(111)
    u = torch.rand(2, 200_000, 2, generator=generator, dtype=torch.float64)
    ids = table.sample(u[..., 0], u[..., 1])
    for r in range(2):
        expected = probs.to(dtype)[(2, 0)[r], (1, 0)[r]].double().numpy()
        assert_counts_follow(np.bincount(ids[r].numpy(), minlength=200), expected, f"{dtype} row {r}, seed=111")


# =========================================================================== 2. sampled joint law
# 6 tests.
@pytest.mark.parametrize("case", LAW_CASES, ids=lambda c: c.name)
def test_sampled_joint_law_one_position(case: Case) -> None:
    groups = case.build_groups()
    result, _ = run_block(groups, [case], case, 200_000, seed=101)
    assert_counts_follow(position_counts(result, 0, (groups.num_groups, case.vocab_size)),
                         walk_one_position(case).array(), f"{case.name}, seed=101")


def test_chi_square_detects_a_collapsed_within_group_choice() -> None:
    """Power check: the same samples reject a port that, on accept, half the time swaps the draft
    for a draw from q(t | k) (same acceptance, same label law; only the within-group choice moves)."""
    groups = OVERLAP.build_groups()
    result, _ = run_block(groups, [OVERLAP], OVERLAP, 200_000, seed=101)
    law = walk_one_position(OVERLAP).array()
    w, target = float_weights(OVERLAP), np.array([float(x) for x in OVERLAP.target_law()])
    wrong = law.copy()
    wrong[1] = (law[1] + law[1].sum(1, keepdims=True) * (w * target) / (w @ target)[:, None]) / 2
    np.testing.assert_allclose(wrong.sum(axis=(0, 2)), law.sum(axis=(0, 2)), rtol=0, atol=1e-12)
    assert abs(wrong - law).sum() > 0.05
    with pytest.raises(AssertionError, match="chi-square"):
        assert_counts_follow(position_counts(result, 0, law.shape[1:]), wrong, "collapsed")


# γ = 3 block: Pr(A ≥ j) = Π_{i≤j} a_i, per-position joint and label laws given reached, bonus ~ q_4. 8 tests.
BLOCK = [
    OVERLAP,
    replace(OVERLAP, name="block_1", draft=(1, 1, 1, 1, 1, 1), target=(5, 1, 1, 1, 1, 1)),
    replace(OVERLAP, name="block_2", draft=(0, 0, 3, 1, 0, 5), target=(1, 2, 3, 4, 5, 6)),
]
BLOCK_BONUS = replace(OVERLAP, name="block_bonus", target=(0, 1, 0, 2, 0, 3))


def test_sampled_block_laws_gamma_3() -> None:
    groups = OVERLAP.build_groups()
    result, _ = run_block(groups, BLOCK, BLOCK_BONUS, 200_000, seed=202)
    laws = [walk_one_position(c) for c in BLOCK]
    rates = [float(law.acceptance()) for law in laws]
    # Pr(A = j) = Π_{i<j} a_i · (1 − a_j), Pr(A = γ) = Π a_i.
    length_law = [math.prod(rates[:j]) * (1 - rates[j]) for j in range(3)] + [math.prod(rates)]
    assert_counts_follow(np.bincount(result.num_accepted.numpy(), minlength=4), length_law, "A, seed=202")
    shape = (groups.num_groups, OVERLAP.vocab_size)
    for i, law in enumerate(laws):
        counts = position_counts(result, i, shape)
        assert_counts_follow(counts, law.array(), f"position {i}, seed=202")
        # The label law given reached is Q_c^i (implied by the joint law; checked on its own for clarity).
        assert_counts_follow(counts.sum(axis=(0, 2)), [float(x) for x in law.coarse_target], f"label {i}")
    full = result.num_accepted.numpy() == 3
    counts = np.zeros(shape)
    np.add.at(counts, (result.group_ids[full, 3].numpy(), result.tokens[full, 3].numpy()), 1)
    assert_counts_follow(counts, bonus_law(BLOCK_BONUS), "bonus, seed=202")


# =========================================================================== 3. singleton groups
# 2 verifiers × (3 token laws + 1 binomial) = 8 tests.
SINGLE = [
    Case("single_0", 5, tuple((t,) for t in range(5)), None, (4, 3, 2, 1, 0), (1, 1, 2, 6, 0)),
    Case("single_1", 5, tuple((t,) for t in range(5)), None, (1, 0, 1, 0, 2), (0, 3, 1, 1, 3)),
]
SINGLE_BONUS = Case("single_bonus", 5, tuple((t,) for t in range(5)), None, (1,) * 5, (2, 0, 1, 0, 1))


@pytest.mark.parametrize("verifier", [verify, pcg_core.standard_verify], ids=["verify", "standard_verify"])
def test_singleton_groups_are_token_exact(verifier) -> None:
    groups = singleton_groups(5)
    result, draft_tokens = run_block(groups, SINGLE, SINGLE_BONUS, N_ROWS, seed=303, verifier=verifier)
    num_accepted = result.num_accepted.numpy()
    assert torch.equal(result.group_ids, result.tokens)  # G_t = {t}
    for i, case in enumerate([*SINGLE, SINGLE_BONUS]):
        emitted = result.tokens[num_accepted >= i, i].numpy()
        assert_counts_follow(np.bincount(emitted, minlength=5), [float(x) for x in case.target_law()],
                             f"{verifier.__name__} token law at {i}, seed=303")
    # Acceptance at position 0 is standard SD's 1 − TV(p, q).
    rate = float(sum(map(min, SINGLE[0].draft_law(), SINGLE[0].target_law())))
    what = f"{verifier.__name__} acceptance, seed=303"
    assert_binomial(int((num_accepted >= 1).sum()), num_accepted.size, rate, what)
    accepted = num_accepted >= 1
    assert torch.equal(result.tokens[accepted, 0], draft_tokens[accepted, 0])


# =========================================================================== 4. residual modes
# 2 (residual modes) + 4 (caps) laws + 3 binomial + 1 negative binomial = 10 tests.
# A round draws min(8·2^r, 4096 / pending rows) proposals per pending row (here, with 100,000 rows, one per
# round until few rows are left); the caps of 1, 2 and 10 stop the thinning while rows are still pending.
@pytest.mark.parametrize("options", [{"residual": "exact"}, {"residual": "thinning"},
                                     {"max_thinning_trials": 0}, {"max_thinning_trials": 1},
                                     {"max_thinning_trials": 2}, {"max_thinning_trials": 10}], ids=str)
def test_residual_modes_and_caps_keep_the_law(options: dict) -> None:
    groups = DISJOINT.build_groups()
    result, _ = run_block(groups, [DISJOINT], DISJOINT, N_ROWS, seed=404, **options)
    law = walk_one_position(DISJOINT)
    assert_counts_follow(position_counts(result, 0, (groups.num_groups, DISJOINT.vocab_size)), law.array(),
                         f"{options}, seed=404")
    rejected = result.num_accepted == 0
    trials, exact = result.thinning_trials, result.exact_residual
    assert not bool(exact[~rejected].any()) and not bool(trials[~rejected].any())
    cap = options.get("max_thinning_trials", DEFAULT_MAX_THINNING_TRIALS)
    if options.get("residual") == "exact" or cap == 0:
        assert torch.equal(exact, rejected) and not bool(trials.any())
    elif cap < DEFAULT_MAX_THINNING_TRIALS:
        # The fallback fires exactly when all `cap` trials failed: Pr = (1 − s)^cap, s = TV(P_c, Q_c).
        assert bool((trials[rejected] >= 1).all()) and bool((trials[exact] == cap).all())
        keep_rate = 1 - float(law.acceptance())
        what = f"fallback rate, cap={cap}, seed=404"
        assert_binomial(int(exact.sum()), int(rejected.sum()), (1 - keep_rate) ** cap, what)


def test_thinning_trials_are_geometric_with_mean_one_over_tv() -> None:
    groups = OVERLAP.build_groups()
    result, _ = run_block(groups, [OVERLAP], OVERLAP, N_ROWS, seed=505)
    rejected = result.num_accepted == 0
    trials = result.thinning_trials[rejected].numpy()
    keep_rate = 1 - float(walk_one_position(OVERLAP).acceptance())  # s = TV(P_c, Q_c)
    assert not bool(result.exact_residual.any()) and (trials >= 1).all()
    # Σ (T − 1) over n i.i.d. Geometric(s) trial counts is NegativeBinomial(n, s): exact test.
    failures = int((trials - 1).sum())
    pvalue = min(1.0, 2 * min(stats.nbinom.cdf(failures, trials.size, keep_rate),
                              stats.nbinom.sf(failures - 1, trials.size, keep_rate)))
    assert pvalue > ALPHA, f"mean trials {trials.mean():.4f} vs 1/TV = {1 / keep_rate:.4f}, p={pvalue:.3g}"


# =========================================================================== 5. degenerate residual
@pytest.mark.parametrize("case", [SWAP, P_EQUALS_Q], ids=lambda c: c.name)
@pytest.mark.parametrize("options", [{}, {"residual": "exact"}, {"max_thinning_trials": 0}], ids=str)
def test_equal_coarse_masses_accept_everything(case: Case, options: dict) -> None:
    groups = case.build_groups()
    result, draft_tokens = run_block(groups, [case, case], case, 20_000, seed=606, **options)
    assert bool((result.num_accepted == 2).all())
    assert torch.equal(result.tokens[:, :2], draft_tokens)
    assert not bool(result.exact_residual.any()) and not bool(result.thinning_trials.any())


def test_degenerate_residual_fallback_draws_from_target_groups() -> None:
    """R_c ≡ 0 (reachable only through rounding): the residual helpers still return valid draws."""
    groups = SWAP.build_groups()
    target = SWAP.probs("target")[None].expand(4000, -1)
    draft = SWAP.probs("draft")[None].expand(4000, -1)
    coarse_target = coarse_probs(SWAP.probs("target"), groups)
    generator = torch.Generator().manual_seed(607)
    rows = (torch.arange(4000),)
    tokens, labels, trials, exact = _thinning_residual(target, draft, rows, groups, generator, 5)
    assert bool(exact.all()) and bool((trials == 5).all())
    for tok, lab in ((tokens, labels), _exact_residual(target, draft, rows, groups, generator)):
        assert bool((coarse_target[lab] > 0).all()) and bool((SWAP.probs("target")[tok] > 0).all())
        pairs = zip(tok[:200].tolist(), lab[:200].tolist(), strict=True)
        assert all(t in groups.members_of(k).tolist() for t, k in pairs)


# =========================================================================== 6. zero probabilities
@pytest.mark.parametrize("options", [{}, {"residual": "exact"}, {"max_thinning_trials": 1}], ids=str)
def test_zero_probability_tokens_and_groups(options: dict) -> None:
    case = ZERO_TARGET
    groups = case.build_groups()
    result, draft_tokens = run_block(groups, [case, case], case, 200_000, seed=707, **options)
    tokens, labels, num_accepted = result.tokens, result.group_ids, result.num_accepted
    # Groups 2 = {3} and 3 = {3, 4} have Q_c = 0: never emitted, so tokens 3 and 4 (q = 0, in no
    # group with Q_c > 0) never are either, although the draft proposes them 40% of the time.
    assert not bool(((labels == 2) | (labels == 3)).any())
    assert not bool(((tokens == 3) | (tokens == 4)).any())
    assert bool(((draft_tokens == 3) | (draft_tokens == 4)).any(1).float().mean() > 0.5)
    # A draft x with q(x) = 0 whose groups all have Q_c = 0 is never accepted.
    for i in range(2):
        proposed_dead = (draft_tokens[:, i] == 3) | (draft_tokens[:, i] == 4)
        assert not bool((proposed_dead & (num_accepted > i)).any())
    # Target-side draws (residual at A, bonus at γ) never produce a token with q(t) = 0.
    final = tokens.gather(1, num_accepted[:, None])[:, 0]
    assert not bool((case.probs("target")[final] == 0).any())
    # Token 0 has q = 0 but its group {0, 1} has Q_c > 0: PCG may emit it on accept (group-exact, not
    # token-exact), at the reference law's rate p(0)·w[0,0]·min(1, Q_c(0)/P_c(0)) = 3/10 · 1 · 5/7.
    rate = walk_one_position(case).accepted[0][0]
    assert rate == Fraction(3, 14)
    what = f"token 0 on accept, {options}, seed=707"
    assert_binomial(int((tokens[:, 0] == 0).sum()), tokens.shape[0], float(rate), what)



# =========================================================================== 7. dtypes, batches
# 3 tests.
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=str)
def test_low_precision_inputs(dtype: torch.dtype) -> None:
    groups = DYADIC.build_groups()
    result, _ = run_block(groups, [DYADIC, DYADIC], DYADIC, N_ROWS, seed=808, dtype=dtype)
    tokens, labels, num_accepted = result.tokens, result.group_ids, result.num_accepted
    assert tokens.shape == labels.shape == (N_ROWS, 3) and num_accepted.shape == (N_ROWS,)
    assert tokens.dtype == labels.dtype == num_accepted.dtype == torch.int64
    emitted = torch.arange(3)[None] <= num_accepted[:, None]
    assert torch.equal(tokens >= 0, emitted) and torch.equal(labels >= 0, emitted)
    assert int(tokens.max()) < DYADIC.vocab_size and int(labels.max()) < groups.num_groups
    assert_counts_follow(position_counts(result, 0, (groups.num_groups, DYADIC.vocab_size)),
                         walk_one_position(DYADIC).array(), f"{dtype}, seed=808")


# 3 tests.
def test_rows_of_one_batch_follow_their_own_laws() -> None:
    groups = OVERLAP.build_groups()
    batch_cases = [OVERLAP, BLOCK[1], BLOCK[2]]
    n = 3 * 60_000
    generator = torch.Generator().manual_seed(909)
    which = torch.arange(n) % 3
    draft_probs = torch.stack([c.probs("draft") for c in batch_cases])[which][:, None]
    target_probs = torch.stack([c.probs("target") for c in batch_cases])[which][:, None].expand(-1, 2, -1)
    draft_tokens = draw_drafts(draft_probs, generator)
    result = verify(draft_tokens, draft_probs, target_probs, groups, generator=generator)
    for j, case in enumerate(batch_cases):
        shape = (groups.num_groups, OVERLAP.vocab_size)
        counts = position_counts(result, 0, shape, rows=(which == j).numpy())
        assert_counts_follow(counts, walk_one_position(case).array(), f"rows {j} ({case.name}), seed=909")


# =========================================================================== 7b. a vocabulary of several blocks
# 2 residual modes × (label law at position 0 + bonus token law) = 4 tests.
@pytest.mark.parametrize("options", [{}, {"residual": "exact"}], ids=str)
def test_laws_over_a_vocabulary_of_several_blocks(options: dict) -> None:
    """V = 200 (blocks of 64 and a partial one) with groups {0}, {1, 2}, ..., {63, 64}, ... crossing block
    edges: the label at position 0 follows Q_c and the bonus token follows q (seed=818)."""
    vocab, n = 200, 100_000
    groups = pcg_core.groups_from_labels(torch.arange(1, vocab + 1) // 2)
    draft = torch.tensor(np.roll(ROW_MASSES, 3) + 0.01, dtype=torch.float64)
    target = torch.tensor(ROW_MASSES + np.roll(ROW_MASSES, 101), dtype=torch.float64)
    bonus = torch.tensor(np.roll(ROW_MASSES, 57), dtype=torch.float64)
    draft, target, bonus = (x / x.sum() for x in (draft, target, bonus))
    generator = torch.Generator().manual_seed(818)
    draft_probs = draft[None, None].expand(n, 1, -1)
    target_probs = torch.stack([target, bonus])[None].expand(n, -1, -1)
    tokens = draw_drafts(draft_probs, generator)
    result = verify(tokens, draft_probs, target_probs, groups, generator=generator, **options)
    assert bool((result.num_accepted == 0).any()) and bool((result.num_accepted == 1).any())
    assert_counts_follow(np.bincount(result.group_ids[:, 0].numpy(), minlength=groups.num_groups),
                         coarse_probs(target, groups).numpy(), f"label at 0, {options}, seed=818")
    full = result.num_accepted.numpy() == 1
    assert_counts_follow(np.bincount(result.tokens[full, 1].numpy(), minlength=vocab), bonus.numpy(),
                         f"bonus token, {options}, seed=818")


# =========================================================================== 8. structure
@given(cases(), st.integers(1, 4), st.integers(0, 2**32 - 1),
       st.sampled_from([{}, {"residual": "exact"}, {"max_thinning_trials": 0}, {"max_thinning_trials": 1}]))
def test_output_structure(case: Case, gamma: int, seed: int, options: dict) -> None:
    groups = case.build_groups()
    n = 32
    result, draft_tokens = run_block(groups, [case] * gamma, case, n, seed=seed, **options)
    tokens, labels, num_accepted = result
    assert tokens.shape == labels.shape == (n, gamma + 1) and num_accepted.shape == (n,)
    assert bool(((num_accepted >= 0) & (num_accepted <= gamma)).all())
    coarse_target = coarse_probs(case.probs("target"), groups)
    target = case.probs("target")
    for b in range(n):
        a = int(num_accepted[b])
        assert torch.equal(tokens[b, :a], draft_tokens[b, :a])
        assert bool((tokens[b, a + 1 :] == -1).all()) and bool((labels[b, a + 1 :] == -1).all())
        assert bool((tokens[b, : a + 1] >= 0).all()) and bool((labels[b, : a + 1] >= 0).all())
        for i in range(a + 1):
            k, t = int(labels[b, i]), int(tokens[b, i])
            assert t in groups.members_of(k).tolist()
            assert coarse_target[k] > 0  # a group with Q_c = 0 is never emitted
        assert target[int(tokens[b, a])] > 0  # residual and bonus draws come from q
    again = run_block(groups, [case] * gamma, case, n, seed=seed, **options)[0]
    for name in ("tokens", "group_ids", "num_accepted", "thinning_trials", "exact_residual"):
        assert torch.equal(getattr(result, name), getattr(again, name))

