"""Tests of :mod:`pcg_verify.stats`: the tester, tested.

Layers: scipy as an oracle on Hypothesis inputs; hand-checked cases (full
support, pooling, Monte Carlo, Holm); calibration of the false-positive rate
under the null; power at the discrepancy the sizing helpers promise; the sizing
helpers against brute force; one table of invalid arguments.

Statistical design: every simulated rate below (null calibration, power, TV
coverage) is judged by an exact binomial test at level ALPHA = 1e-6. Seeds are
fixed (``numpy.random.default_rng(SEED + k)``), so the outcome is deterministic;
were the seeds drawn afresh, the false-positive rate of this file would be at
most N_STATISTICAL_TESTS x 1e-6 = 1.6e-5, plus the Monte Carlo tolerances
stated where they are used (each below 1e-6).
"""

from __future__ import annotations

import dataclasses
import doctest
import itertools
import json
import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_core.validation import SUM_TOLERANCE
from pcg_verify import stats
from pcg_verify.stats import (
    BinomialTestResult,
    FamilyDecision,
    GoodnessOfFitResult,
    StatisticalAssertionError,
    TVBoundResult,
    UniformityResult,
    _binomial,
    _categorical,
    _common,
    _family,
    _results,
    _tv,
    _uniformity,
    adjust_family,
    assert_binomial,
    assert_categorical,
    assert_uniformity,
    check_binomial,
    check_categorical,
    check_uniformity,
    min_detectable_discrepancy_for_binomial,
    min_detectable_discrepancy_for_categorical,
    min_detectable_discrepancy_for_uniformity,
    min_samples_for_binomial,
    min_samples_for_categorical,
    min_samples_for_uniformity,
    pooled_cell_count,
    randomized_pit,
    tv_upper_bound,
)

ALPHA = 1e-6
#: Simulated rates judged at level ALPHA in this file (calibration 7, power 6, coverage 3).
N_STATISTICAL_TESTS = 16
SEED = 20_251_117
ORACLE = settings(deadline=None, derandomize=True, database=None, max_examples=60)


def assert_rate_consistent(events: int, trials: int, rate: float) -> None:
    """The observed event count is consistent with ``rate`` (two-sided exact test at ALPHA)."""
    pvalue = sps.binomtest(events, trials, rate).pvalue
    assert pvalue > ALPHA, f"{events}/{trials} events, expected rate {rate}: pvalue {pvalue:.3g}"


def assert_rate_at_least(events: int, trials: int, rate: float) -> None:
    """The observed event count is not significantly below ``rate`` (one-sided exact test at ALPHA)."""
    pvalue = sps.binomtest(events, trials, rate, alternative="less").pvalue
    assert pvalue > ALPHA, f"{events}/{trials} events, expected at least {rate}: pvalue {pvalue:.3g}"


def assert_rate_at_most(events: int, trials: int, rate: float) -> None:
    """The observed event count is not significantly above ``rate`` (one-sided exact test at ALPHA)."""
    pvalue = sps.binomtest(events, trials, rate, alternative="greater").pvalue
    assert pvalue > ALPHA, f"{events}/{trials} events, expected at most {rate}: pvalue {pvalue:.3g}"


# --------------------------------------------------------------------------- strategies
@st.composite
def laws_and_counts(draw: st.DrawFn, *, min_weight: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """A law with positive probabilities over K in [2, 8] cells, and counts for it."""
    size = draw(st.integers(2, 8))
    weights = np.array(draw(st.lists(st.floats(min_weight, 1.0), min_size=size, max_size=size)))
    counts = np.array(draw(st.lists(st.integers(0, 300), min_size=size, max_size=size)), dtype=np.int64)
    if counts.sum() == 0:
        counts[0] = 1
    return counts, weights / weights.sum()


def reference_pooling(
    observed: np.ndarray, expected: np.ndarray, threshold: float
) -> tuple[list[float], list[float]]:
    """The pooling rule written as a plain loop: smallest cells first into one pooled cell."""
    order = sorted(range(len(expected)), key=lambda index: (expected[index], index))
    pooled = [index for index in order if expected[index] < threshold]
    rest = [index for index in order if expected[index] >= threshold]
    while pooled and rest and sum(expected[i] for i in pooled) < threshold:
        pooled.append(rest.pop(0))
    cells_observed = [observed[i] for i in rest]
    cells_expected = [expected[i] for i in rest]
    if pooled:
        cells_observed.append(sum(observed[i] for i in pooled))
        cells_expected.append(sum(expected[i] for i in pooled))
    return cells_observed, cells_expected


# --------------------------------------------------------------------------- scipy as oracle
@ORACLE
@given(laws_and_counts(), st.sampled_from(["g", "chi2"]))
def test_categorical_matches_power_divergence_without_pooling(case: tuple[np.ndarray, np.ndarray], method: str) -> None:
    counts, law = case
    result = check_categorical(counts, law, method=method, min_expected=0.0)
    n = int(counts.sum())
    expected = sps.power_divergence(counts, n * law, lambda_="log-likelihood" if method == "g" else "pearson")
    assert result.n_pooled_cells == 0 and result.dof == law.size - 1
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-9, abs=1e-12)
    assert result.pvalue == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-15)


@ORACLE
@given(laws_and_counts(min_weight=0.001), st.sampled_from(["g", "chi2"]), st.sampled_from([2.0, 5.0, 20.0]))
def test_categorical_pooling_matches_power_divergence_on_pooled_cells(
    case: tuple[np.ndarray, np.ndarray], method: str, threshold: float
) -> None:
    counts, law = case
    n = int(counts.sum())
    cells_observed, cells_expected = reference_pooling(counts, n * law, threshold)
    if len(cells_observed) < 2:  # the Monte Carlo branch; tested separately
        return
    result = check_categorical(counts, law, method=method, min_expected=threshold)
    expected = sps.power_divergence(
        cells_observed, cells_expected, lambda_="log-likelihood" if method == "g" else "pearson"
    )
    assert result.n_cells == len(cells_observed) and result.monte_carlo_samples is None
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-9, abs=1e-12)
    assert result.pvalue == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-15)


@ORACLE
# Probabilities in (0, 1e-300) are left out: scipy's binomtest overflows on them (ours does not;
# test_binomial_extreme_probabilities covers them).
@given(st.integers(1, 3000), st.one_of(st.just(0.0), st.floats(1e-300, 1.0)), st.data())
def test_binomial_matches_binomtest(trials: int, probability: float, data: st.DataObject) -> None:
    successes = data.draw(st.integers(0, trials))
    confidence = data.draw(st.sampled_from([0.9, 0.99, 0.999]))
    result = check_binomial(successes, trials, probability, confidence=confidence)
    oracle = sps.binomtest(successes, trials, probability)
    interval = oracle.proportion_ci(confidence_level=confidence, method="exact")
    # Our own evaluation of the same p-value: equal up to the rounding of the binomial CDF.
    assert result.pvalue == pytest.approx(oracle.pvalue, rel=1e-9, abs=1e-300)
    # scipy finds the interval by root finding to about 1e-12; ours inverts the incomplete beta.
    assert result.ci_low == pytest.approx(interval.low, rel=1e-9, abs=1e-11)
    assert result.ci_high == pytest.approx(interval.high, rel=1e-9, abs=1e-11)
    assert result.statistic == result.rate == successes / trials
    assert result.expected == pytest.approx(trials * probability)


@pytest.mark.parametrize("probability", [5e-324, 2.2250738585072014e-308, 1e-300])
def test_binomial_extreme_probabilities(probability: float) -> None:
    """Where scipy's binomtest overflows: no event is what the law predicts, one event is all but impossible."""
    none = check_binomial(0, 4, probability)
    assert none.pvalue == pytest.approx(1.0) and none.ci_low == 0.0
    one = check_binomial(1, 4, probability)
    assert 0.0 <= one.pvalue <= 1e-290 and one.ci_low > 0.0


@ORACLE
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=80))
def test_ks_matches_kstest_exact(values: list[float]) -> None:
    result = check_uniformity(values, method="ks")
    oracle = sps.kstest(values, "uniform", method="exact")
    assert result.statistic == pytest.approx(oracle.statistic, rel=1e-12, abs=1e-15)
    assert result.pvalue == pytest.approx(oracle.pvalue, rel=1e-9, abs=1e-15)
    assert result.max_cdf_deviation == result.statistic


@pytest.mark.parametrize("seed", range(4))
def test_anderson_darling_matches_scipy_monte_carlo(seed: int) -> None:
    # Samples from Beta(1.25, 1) give p-values across (0.02, 0.7). scipy's p-value has
    # Monte Carlo standard error <= 0.0036 at 20000 draws; the tolerance 0.02 is > 5 of
    # those plus the few 1e-3 of the approximations (failure chance < 1e-6 per seed).
    values = np.random.default_rng(SEED + seed).beta(1.25, 1.0, size=60)
    oracle = sps.goodness_of_fit(
        sps.uniform,
        values,
        known_params={"loc": 0.0, "scale": 1.0},
        statistic="ad",
        n_mc_samples=20_000,
        rng=np.random.default_rng(SEED + 100 + seed),
    )
    result = check_uniformity(values, method="ad")
    assert result.statistic == pytest.approx(oracle.statistic, rel=1e-10)
    assert result.pvalue == pytest.approx(oracle.pvalue, abs=0.02)


def test_anderson_darling_pvalue_anchors() -> None:
    # Classical asymptotic critical values of A² for a fully specified law (tables give
    # three digits; simulation puts the 1% point nearer 3.88, hence the looser tolerance).
    for critical, level, tolerance in ((1.933, 0.10, 0.01), (2.492, 0.05, 0.01), (3.857, 0.01, 0.03)):
        assert _uniformity.anderson_darling_pvalue(critical, 10_000) == pytest.approx(
            level, rel=tolerance
        )
    # n = 1 is exact in closed form: P(A² >= z) = 1 - sqrt(1 - 4 exp(-(1 + z))).
    for z in (1.0, 2.0):
        exact = 1.0 - math.sqrt(1.0 - 4.0 * math.exp(-(1.0 + z)))
        assert _uniformity.anderson_darling_pvalue(z, 1) == pytest.approx(exact, rel=0.02)
    # The far-tail floor of the finite-n correction, ~0.0006 / n (documented).
    assert _uniformity.anderson_darling_pvalue(1e6, 100) == pytest.approx(6e-6, rel=1e-3)
    assert _uniformity.anderson_darling_pvalue(math.inf, 100) == 0.0


# --------------------------------------------------------------------------- full support
def test_never_emitting_a_likely_category_fails() -> None:
    law = np.array([0.3, 0.35, 0.35])
    counts = np.array([0, 500, 500])
    for method in ("g", "chi2"):
        result = check_categorical(counts, law, method=method)
        assert result.pvalue < 1e-50
        category, observed, expected = result.largest_deviations[0]
        assert (category, observed) == (0, 0) and expected == pytest.approx(300.0)


def test_a_count_on_a_zero_probability_category_is_impossible() -> None:
    law = np.array([0.5, 0.0, 0.5, 0.0])
    result = check_categorical(np.array([40, 0, 59, 1]), law)
    assert result.statistic == math.inf and result.pvalue == 0.0
    assert result.impossible_categories == (3,)
    assert result.largest_deviations[0] == (3, 1, 0.0)
    assert result.to_dict()["statistic"] is None  # inf is written as JSON null
    assert json.loads(json.dumps(result.to_dict(), allow_nan=False))["statistic"] is None
    # Zero-probability categories without counts are simply outside the support.
    clean = check_categorical(np.array([50, 0, 50, 0]), law)
    assert clean.pvalue == 1.0 and clean.n_cells == 2 and clean.impossible_categories == ()


def test_largest_deviations_are_sorted_and_capped_at_five() -> None:
    law = np.full(8, 1 / 8)
    counts = np.array([100, 140, 60, 100, 125, 100, 90, 85])
    deviations = check_categorical(counts, law).largest_deviations
    assert [category for category, _, _ in deviations] == [1, 2, 4, 7, 6]
    assert all(expected == pytest.approx(100.0) for _, _, expected in deviations)


# --------------------------------------------------------------------------- pooling and Monte Carlo
def test_pooling_by_hand() -> None:
    law = np.array([0.5, 0.001, 0.494, 0.003, 0.002])  # expected 500, 1, 494, 3, 2 at n = 1000
    counts = np.array([495, 2, 497, 4, 2])
    result = check_categorical(counts, law, method="chi2")
    assert (result.n_cells, result.n_pooled_cells, result.dof) == (3, 3, 2)
    by_hand = (495 - 500) ** 2 / 500 + (497 - 494) ** 2 / 494 + (8 - 6) ** 2 / 6
    assert result.statistic == pytest.approx(by_hand, rel=1e-12)
    # The pooled cell (1 + 1 = 2 < 5) absorbs the next smallest cell (6), giving 8.
    chained = check_categorical(np.array([1, 1, 6, 92]), np.array([0.01, 0.01, 0.06, 0.92]))
    assert (chained.n_cells, chained.n_pooled_cells) == (2, 3)


def test_monte_carlo_is_selected_when_pooling_leaves_one_cell() -> None:
    law = np.full(3, 1 / 3)  # n = 6: every expected count is 2 < 5
    counts = np.array([4, 1, 1])
    with pytest.raises(InvalidArgumentError, match="seed=None: is required"):
        check_categorical(counts, law)
    result = check_categorical(counts, law, seed=7)
    assert result.monte_carlo_samples == _categorical.DEFAULT_MONTE_CARLO_SAMPLES
    assert result.seed == 7 and result.n_cells == 3 and result.dof == 2
    assert check_categorical(counts, law, seed=7) == result  # reproducible by seed
    assert check_categorical(counts, law, seed=8).pvalue != result.pvalue


def exact_pvalue(counts: np.ndarray, law: np.ndarray, method: str) -> float:
    """P(statistic >= observed) by enumerating every count vector of the same total."""
    n, size = int(counts.sum()), counts.size
    expected = n * law
    observed_statistic = float(_categorical._divergence(counts.astype(float), expected, method))
    total = 0.0
    for cut in itertools.combinations(range(n + size - 1), size - 1):  # stars and bars
        bounds = (-1, *cut, n + size - 1)
        vector = np.array([bounds[i + 1] - bounds[i] - 1 for i in range(size)], dtype=float)
        statistic = float(_categorical._divergence(vector, expected, method))
        if statistic >= observed_statistic - 1e-9 * max(1.0, observed_statistic):
            total += float(sps.multinomial.pmf(vector, n, law))
    return total


@pytest.mark.parametrize("method", ["g", "chi2"])
def test_monte_carlo_pvalue_matches_exact_enumeration(method: str) -> None:
    # The Monte Carlo p-value has standard error <= 0.0036 at 20000 draws; 0.02 is 5.6 of them.
    law = np.array([0.5, 0.3, 0.2])
    counts = np.array([1, 1, 5])
    result = check_categorical(counts, law, method=method, monte_carlo_samples=20_000, seed=SEED)
    assert result.pvalue == pytest.approx(exact_pvalue(counts, law, method), abs=0.02)


def test_monte_carlo_agrees_with_asymptotics_for_large_n() -> None:
    law = np.array([0.1, 0.2, 0.3, 0.4])
    counts = np.random.default_rng(SEED).multinomial(5000, [0.11, 0.2, 0.29, 0.4])
    asymptotic = check_categorical(counts, law)
    simulated = check_categorical(counts, law, monte_carlo_samples=5000, seed=SEED)
    assert simulated.pvalue == pytest.approx(asymptotic.pvalue, abs=0.03)
    assert simulated.statistic == asymptotic.statistic


def test_assert_categorical_refuses_a_monte_carlo_test_that_cannot_reject() -> None:
    with pytest.raises(InvalidArgumentError, match="cannot fall to false_positive_rate"):
        assert_categorical([4, 1, 1], [1 / 3] * 3, false_positive_rate=1e-6, seed=1)


# --------------------------------------------------------------------------- null calibration
N_NULL = 2000
LEVEL = 0.05


@pytest.mark.parametrize("method", ["g", "chi2"])
@pytest.mark.parametrize("n_samples", [60, 400])  # 60: pooling active; 400: none
def test_categorical_null_rejection_rate_matches_level(method: str, n_samples: int) -> None:
    # Four calibration tests at ALPHA; the asymptotic size stays within the band that the
    # exact binomial test does not reject around 0.05 (about 0.03..0.075 at 2000 experiments).
    law = np.array([0.02, 0.08, 0.1, 0.2, 0.25, 0.35])
    rng = np.random.default_rng(SEED + n_samples)
    samples = rng.multinomial(n_samples, law, size=N_NULL)
    rejections = sum(not check_categorical(c, law, method=method).passed(LEVEL) for c in samples)
    assert_rate_consistent(rejections, N_NULL, LEVEL)


def pit_values(rng: np.random.Generator, n_samples: int, laws: np.ndarray) -> np.ndarray:
    """Randomized PIT of discrete draws whose law changes at every position. Shapes: [n]."""
    rows = laws[rng.integers(0, laws.shape[0], size=n_samples)]  # [n, K]
    cdf = np.cumsum(rows, axis=1)  # [n, K]
    draws = (rng.random(n_samples)[:, None] >= cdf).sum(axis=1)  # inverse CDF, [n]
    draws = np.minimum(draws, laws.shape[1] - 1)
    prob_at = rows[np.arange(n_samples), draws]
    return randomized_pit(cdf[np.arange(n_samples), draws] - prob_at, prob_at, rng.random(n_samples))


@pytest.mark.parametrize("method", ["ks", "ad"])
def test_pit_uniformity_null_rejection_rate_matches_level(method: str) -> None:
    # Two calibration tests at ALPHA. The PIT of exact draws is exactly uniform, so the
    # exact KS test has size exactly 0.05; AD's approximation is within 1e-3 of it.
    rng = np.random.default_rng(SEED + 1)
    laws = rng.dirichlet(np.full(8, 0.7), size=50)
    rejections = sum(
        not check_uniformity(pit_values(rng, 100, laws), method=method).passed(LEVEL) for _ in range(N_NULL)
    )
    assert_rate_consistent(rejections, N_NULL, LEVEL)


def test_binomial_exact_size_never_exceeds_level() -> None:
    # Deterministic: the null mass of the rejection region, computed exactly.
    for n_samples, probability, level in ((50, 0.3, 0.05), (400, 0.02, 1e-3), (1000, 0.5, 1e-6)):
        low, high = _binomial.nonrejection_interval(n_samples, probability, level)
        size = sps.binom.cdf(low - 1, n_samples, probability) + sps.binom.sf(high, n_samples, probability)
        assert size <= level


def test_binomial_null_rejection_rate_is_at_most_level() -> None:
    # One calibration test at ALPHA (the exact test is conservative: size <= 0.05).
    rng = np.random.default_rng(SEED + 2)
    successes = rng.binomial(300, 0.37, size=N_NULL)
    passed = {int(k): check_binomial(int(k), 300, 0.37).passed(LEVEL) for k in np.unique(successes)}
    rejections = sum(not passed[int(k)] for k in successes)
    assert_rate_at_most(rejections, N_NULL, LEVEL)


# --------------------------------------------------------------------------- power
POWER_SLACK = 0.05  # allowance for the asymptotic approximation behind the categorical sizing


def worst_case_alternative(law: np.ndarray, discrepancy: float, first_half: list[int]) -> np.ndarray:
    """p1 = p0 (1 ± 2ε) on two halves of p0-mass ½: TV = ε and Σ(p1 - p0)²/p0 = 4ε² exactly."""
    signs = np.full(law.size, -1.0)
    signs[first_half] = 1.0
    return law * (1.0 + 2.0 * discrepancy * signs)


@pytest.mark.parametrize("method", ["g", "chi2"])
def test_categorical_power_at_the_detectable_discrepancy(method: str) -> None:
    # Two power tests at ALPHA: rejection rate >= 1 - fnr - POWER_SLACK = 0.75.
    law = np.array([0.1, 0.15, 0.25, 0.2, 0.3])
    n_samples, fpr, fnr = 500, 0.01, 0.2
    epsilon = min_detectable_discrepancy_for_categorical(n_samples, fpr, fnr, n_cells=law.size)
    alternative = worst_case_alternative(law, epsilon, [3, 4])
    assert 0.5 * np.abs(alternative - law).sum() == pytest.approx(epsilon)
    rng = np.random.default_rng(SEED + 3)
    samples = rng.multinomial(n_samples, alternative, size=1000)
    rejections = sum(not check_categorical(c, law, method=method).passed(fpr) for c in samples)
    assert_rate_at_least(rejections, 1000, 1.0 - fnr - POWER_SLACK)


def test_categorical_power_against_a_two_cell_shift() -> None:
    # One power test at ALPHA. Moving mass ε between two cells has λ > 4 n ε²: more power.
    law = np.full(10, 0.1)
    n_samples, fpr, fnr = 2000, 1e-3, 0.1
    epsilon = min_detectable_discrepancy_for_categorical(n_samples, fpr, fnr, n_cells=10)
    alternative = law.copy()
    alternative[0] += epsilon
    alternative[1] -= epsilon
    samples = np.random.default_rng(SEED + 4).multinomial(n_samples, alternative, size=500)
    rejections = sum(not check_categorical(c, law).passed(fpr) for c in samples)
    assert_rate_at_least(rejections, 500, 1.0 - fnr)


def test_binomial_power_at_the_sized_n() -> None:
    # One power test at ALPHA (simulated) on top of the exact power computed by brute force.
    probability, epsilon, fpr, fnr = 0.3, 0.1, 0.01, 0.1
    n_samples = min_samples_for_binomial(epsilon, fpr, fnr, probability=probability)
    for alternative in (probability - epsilon, probability + epsilon):
        assert brute_force_power(n_samples, probability, fpr, alternative) >= 1.0 - fnr
    rng = np.random.default_rng(SEED + 5)
    successes = rng.binomial(n_samples, probability + epsilon, size=1000)
    passed = {
        int(k): check_binomial(int(k), n_samples, probability).passed(fpr) for k in np.unique(successes)
    }
    rejections = sum(not passed[int(k)] for k in successes)
    assert_rate_at_least(rejections, 1000, 1.0 - fnr)


def sample_tilted(rng: np.random.Generator, discrepancy: float, size: int) -> np.ndarray:
    """Density 1 + 2ε on [0, ½) and 1 - 2ε on [½, 1]: sup |G(u) - u| = ε at u = ½."""
    uniforms = rng.random(size)
    split = 0.5 * (1.0 + 2.0 * discrepancy)  # G(½)
    return np.where(
        uniforms < split,
        uniforms / (1.0 + 2.0 * discrepancy),
        0.5 + (uniforms - split) / (1.0 - 2.0 * discrepancy),
    )


@pytest.mark.parametrize("method", ["ks", "ad"])
def test_uniformity_power_at_the_sized_n(method: str) -> None:
    # Two power tests at ALPHA. DKW-Massart guarantees KS; AD is checked in the same spirit.
    epsilon, fpr, fnr = 0.1, 0.01, 0.2
    n_samples = min_samples_for_uniformity(epsilon, fpr, fnr)
    rng = np.random.default_rng(SEED + 6)
    rejections = sum(
        not check_uniformity(sample_tilted(rng, epsilon, n_samples), method=method).passed(fpr)
        for _ in range(300)
    )
    assert_rate_at_least(rejections, 300, 1.0 - fnr)


def test_pit_detects_a_wrong_law() -> None:
    # Draws from one law, PIT computed with another at TV 0.1: both tests reject.
    rng = np.random.default_rng(SEED + 7)
    true_law = np.array([0.3, 0.3, 0.4])
    claimed = np.array([0.4, 0.3, 0.3])
    draws = rng.choice(3, size=3000, p=true_law)
    cdf_below = np.concatenate(([0.0], np.cumsum(claimed)[:-1]))[draws]
    u = randomized_pit(cdf_below, claimed[draws], rng.random(draws.size))
    assert not check_uniformity(u).passed(1e-6)
    assert not check_uniformity(u, method="ad").passed(1e-6)


# --------------------------------------------------------------------------- sizing helpers
def brute_force_power(n_samples: int, probability: float, fpr: float, alternative: float) -> float:
    """Rejection probability under ``alternative`` with the region taken from binomtest itself."""
    pvalues = np.array([sps.binomtest(k, n_samples, probability).pvalue for k in range(n_samples + 1)])
    rejected = pvalues <= fpr
    return float(sps.binom.pmf(np.arange(n_samples + 1), n_samples, alternative)[rejected].sum())


def brute_force_min_samples(epsilon: float, fpr: float, fnr: float, probability: float) -> int:
    """Scan n = 1, 2, ... for the first n whose power holds on [n, n + max(16, n // 100)]."""
    alternatives = [p for p in (probability - epsilon, probability + epsilon) if 0.0 <= p <= 1.0]
    power: dict[int, float] = {}
    n = 1
    while True:
        window = range(n, n + max(16, n // 100) + 1)
        for m in window:
            if m not in power:
                power[m] = min(brute_force_power(m, probability, fpr, alt) for alt in alternatives)
        if all(power[m] >= 1.0 - fnr for m in window):
            return n
        n += 1


@pytest.mark.parametrize(
    ("epsilon", "fpr", "fnr", "probability"),
    [(0.3, 0.05, 0.2, 0.5), (0.35, 0.1, 0.1, 0.25), (0.25, 0.05, 0.2, 0.0), (0.4, 0.01, 0.3, 0.9)],
)
def test_min_samples_for_binomial_matches_brute_force(
    epsilon: float, fpr: float, fnr: float, probability: float
) -> None:
    expected = brute_force_min_samples(epsilon, fpr, fnr, probability)
    assert min_samples_for_binomial(epsilon, fpr, fnr, probability=probability) == expected


@settings(deadline=None, derandomize=True, database=None, max_examples=40)
# Subnormal probabilities are left out: scipy's binomtest overflows on them (ours does not).
@given(st.integers(1, 60), st.floats(0.0, 1.0, allow_subnormal=False), st.floats(1e-6, 0.5))
def test_nonrejection_interval_matches_binomtest(n_samples: int, probability: float, level: float) -> None:
    pvalues = np.array([sps.binomtest(k, n_samples, probability).pvalue for k in range(n_samples + 1)])
    accepted = np.flatnonzero(pvalues > level)
    assert accepted.size == accepted[-1] - accepted[0] + 1  # an interval
    expected = (int(accepted[0]), int(accepted[-1]))
    assert _binomial.nonrejection_interval(n_samples, probability, level) == expected


def test_nonrejection_interval_is_exact_for_large_n() -> None:
    for n_samples, probability, level in ((200_000, 0.3, 1e-6), (50_000, 0.001, 1e-3)):
        low, high = _binomial.nonrejection_interval(n_samples, probability, level)
        for k, accept in ((low - 1, False), (low, True), (high, True), (high + 1, False)):
            assert bool(sps.binomtest(k, n_samples, probability).pvalue > level) is accept


@pytest.mark.parametrize(
    ("sizer", "detector", "extra"),
    [
        (min_samples_for_categorical, min_detectable_discrepancy_for_categorical, {"n_cells": 7}),
        (min_samples_for_binomial, min_detectable_discrepancy_for_binomial, {"probability": 0.2}),
        (min_samples_for_uniformity, min_detectable_discrepancy_for_uniformity, {}),
    ],
    ids=["categorical", "binomial", "uniformity"],
)
def test_sizing_is_monotone_and_round_trips(
    sizer: Callable[..., Any], detector: Callable[..., Any], extra: dict[str, Any]
) -> None:
    sizes = [sizer(epsilon, 1e-3, 0.05, **extra) for epsilon in (0.2, 0.1, 0.05, 0.03)]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
    assert sizer(0.1, 1e-6, 0.05, **extra) > sizer(0.1, 1e-3, 0.05, **extra)
    assert sizer(0.1, 1e-3, 1e-4, **extra) > sizer(0.1, 1e-3, 0.05, **extra)
    for epsilon in (0.2, 0.1, 0.05, 0.03, 0.0123):
        n = sizer(epsilon, 1e-3, 0.05, **extra)
        assert detector(n, 1e-3, 0.05, **extra) <= epsilon
    detectable = [detector(n, 1e-3, 0.05, **extra) for n in (100, 400, 1600, 6400)]
    assert detectable == sorted(detectable, reverse=True)


@pytest.mark.parametrize("n_cells", [2, 5, 50])
def test_min_samples_for_categorical_is_minimal_against_ncx2(n_cells: int) -> None:
    epsilon, fpr, fnr = 0.04, 1e-4, 0.01
    n = min_samples_for_categorical(epsilon, fpr, fnr, n_cells=n_cells)
    critical = sps.chi2.isf(fpr, n_cells - 1)

    def power(m: int) -> float:
        return float(sps.ncx2.sf(critical, n_cells - 1, 4.0 * m * epsilon**2))

    assert power(n) >= 1.0 - fnr > power(n - 1)


def test_min_samples_for_uniformity_closed_form() -> None:
    def c(x: float) -> float:
        return math.sqrt(math.log(2.0 / x) / 2.0)

    n = min_samples_for_uniformity(0.05, 1e-3, 1e-2)
    assert n == math.ceil(((c(1e-3) + c(1e-2)) / 0.05) ** 2)
    assert min_detectable_discrepancy_for_uniformity(n - 1, 1e-3, 1e-2) > 0.05


def test_detectable_is_inf_when_nothing_is_detectable() -> None:
    assert min_detectable_discrepancy_for_categorical(1, 1e-6, 1e-6, n_cells=100) == math.inf
    assert min_detectable_discrepancy_for_binomial(3, 1e-6, 1e-6, probability=0.5) == math.inf
    assert min_detectable_discrepancy_for_uniformity(2, 1e-6, 1e-6) == math.inf


def test_min_samples_for_binomial_refuses_an_infeasible_scan() -> None:
    with pytest.raises(InvalidArgumentError, match="beyond exact sizing"):
        min_samples_for_binomial(1e-4, 1e-6, 1e-6, probability=0.5)


# --------------------------------------------------------------------------- TV bound
def test_tv_bound_by_hand() -> None:
    result = tv_upper_bound(np.array([30, 70]), np.array([0.5, 0.5]), confidence=0.99)
    by_hand = 0.2 + 0.5 * math.sqrt(1 / 100) + math.sqrt(math.log(100) / 200)
    assert result.bound == pytest.approx(by_hand) and result.empirical_tv == pytest.approx(0.2)
    assert tv_upper_bound(np.array([1, 0]), np.array([0.0, 1.0])).bound == 1.0


@pytest.mark.parametrize(("confidence", "true_tv"), [(0.9, 0.0), (0.9, 0.08), (0.999, 0.08)])
def test_tv_bound_coverage(confidence: float, true_tv: float) -> None:
    # Three coverage tests at ALPHA: misses occur at rate <= 1 - confidence.
    law = np.array([0.1, 0.2, 0.3, 0.4])
    true_law = law + true_tv * np.array([1.0, 0.0, 0.0, -1.0])
    rng = np.random.default_rng(SEED + 8)
    samples = rng.multinomial(200, true_law, size=2000)
    misses = sum(tv_upper_bound(c, law, confidence=confidence).bound < true_tv for c in samples)
    assert_rate_at_most(misses, 2000, 1.0 - confidence)


# --------------------------------------------------------------------------- multiple testing
def test_holm_and_bonferroni_by_hand() -> None:
    pvalues = [0.01, 0.04, 0.03, 0.005]
    # Sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, max(0.06, 0.04·1) = 0.06.
    holm = adjust_family(pvalues, family_false_positive_rate=0.035)
    assert holm.adjusted_pvalues == pytest.approx((0.03, 0.06, 0.06, 0.02))
    assert holm.rejected == (True, False, False, True)
    bonferroni = adjust_family(pvalues, family_false_positive_rate=0.035, method="bonferroni")
    assert bonferroni.adjusted_pvalues == pytest.approx((0.04, 0.16, 0.12, 0.02))
    assert bonferroni.rejected == (False, False, False, True)
    assert adjust_family([0.9, 0.8], family_false_positive_rate=0.05).adjusted_pvalues == (1.0, 1.0)


@settings(deadline=None, derandomize=True, database=None, max_examples=60)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20), st.floats(0.001, 0.2))
def test_holm_is_monotone_capped_and_never_weaker(pvalues: list[float], rate: float) -> None:
    holm = adjust_family(pvalues, family_false_positive_rate=rate)
    bonferroni = adjust_family(pvalues, family_false_positive_rate=rate, method="bonferroni")
    order = np.argsort(pvalues, kind="stable")
    adjusted = np.array(holm.adjusted_pvalues)
    assert np.all(np.diff(adjusted[order]) >= 0.0)
    assert np.all(adjusted >= np.array(pvalues)) and np.all(adjusted <= 1.0)
    assert np.all(adjusted <= np.array(bonferroni.adjusted_pvalues))
    assert all(h or not b for h, b in zip(holm.rejected, bonferroni.rejected, strict=True))


# --------------------------------------------------------------------------- assertions and results
def test_assertion_error_carries_the_evidence_and_the_reproduce_line() -> None:
    law = np.array([0.2, 0.3, 0.5])
    with pytest.raises(StatisticalAssertionError) as caught:
        assert_categorical(
            np.array([400, 300, 300]),
            law,
            false_positive_rate=1e-6,
            reproduce="pytest tests/verify/test_stats.py -k demo",
            what="group labels",
        )
    message = str(caught.value)
    assert isinstance(caught.value, AssertionError)
    assert message.startswith("group labels failed: G test rejects (pvalue=")
    for fragment in (
        "<= false_positive_rate=1e-06",
        "statistic=",
        "dof=2",
        "n_samples=1000",
        "0: 400 vs 200",
    ):
        assert fragment in message
    assert message.splitlines()[-1] == "Reproduce: pytest tests/verify/test_stats.py -k demo"
    assert isinstance(caught.value.result, GoodnessOfFitResult) and caught.value.result.pvalue < 1e-6


def test_every_assert_raises_and_passes() -> None:
    with pytest.raises(StatisticalAssertionError, match="exact binomial test") as caught:
        assert_binomial(70, 100, 0.5, false_positive_rate=1e-3)
    assert "Reproduce" not in str(caught.value)
    assert assert_binomial(50, 100, 0.5, false_positive_rate=1e-3).passed(1e-3)
    with pytest.raises(StatisticalAssertionError, match="Kolmogorov-Smirnov"):
        assert_uniformity(np.linspace(0.0, 0.5, 200), false_positive_rate=1e-3)
    with pytest.raises(StatisticalAssertionError, match="Anderson-Darling"):
        assert_uniformity(np.linspace(0.01, 0.5, 200), false_positive_rate=1e-3, method="ad")
    assert assert_uniformity(np.linspace(0.001, 0.999, 200), false_positive_rate=1e-3).passed(1e-3)
    decision = adjust_family([1e-9, 0.5], family_false_positive_rate=0.01)
    error = StatisticalAssertionError.from_result(decision, what="gate", reproduce="pcg-verify --seed 3")
    assert "holm rejects hypotheses [0] of 2" in str(error)


def test_anderson_darling_refuses_a_level_below_its_floor() -> None:
    u = np.random.default_rng(SEED + 9).random(20)  # floor ~ 0.0006 / 20 = 3e-5
    with pytest.raises(InvalidArgumentError, match="never falls below"):
        assert_uniformity(u, false_positive_rate=1e-6, method="ad")
    assert assert_uniformity(u, false_positive_rate=1e-3, method="ad").n_samples == 20


def test_results_are_frozen_and_serialise_to_strict_json() -> None:
    results: list[Any] = [
        check_categorical([5, 5], [0.5, 0.5]),
        check_binomial(3, 10, 0.5),
        check_uniformity([0.1, 0.5, 0.9]),
        tv_upper_bound([5, 5], [0.5, 0.5]),
        adjust_family([0.01, 0.5], family_false_positive_rate=0.05),
    ]
    kinds = (GoodnessOfFitResult, BinomialTestResult, UniformityResult, TVBoundResult, FamilyDecision)
    for result, kind in zip(results, kinds, strict=True):
        payload = result.to_dict()
        assert json.loads(json.dumps(payload, allow_nan=False)) == payload
        field = dataclasses.fields(result)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(result, field, 0)
        assert isinstance(result, kind)


def test_randomized_pit_by_hand() -> None:
    u = randomized_pit(np.array([0.0, 0.5, 0.7]), np.array([0.5, 0.2, 0.3]), np.array([0.5, 0.0, 1.0]))
    assert u.tolist() == [0.25, 0.5, 1.0]
    assert randomized_pit([[0.2]], [[0.4]], [[0.5]]).shape == (1, 1)


@pytest.mark.parametrize(
    "module",
    [_binomial, _categorical, _family, _results, _tv, _uniformity],
    ids=lambda module: module.__name__.rsplit(".", 1)[-1],
)
def test_docstring_examples_run(module: ModuleType) -> None:
    failures, attempted = doctest.testmod(module)
    assert failures == 0 and attempted > 0


def isort_order(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 gives ``__all__``: CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def test_facade_all_is_the_sorted_public_names() -> None:
    public = [
        name for name, value in vars(stats).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    ]
    assert stats.__all__ == sorted(public, key=isort_order)
    assert _common.PROBS_SUM_TOLERANCE == SUM_TOLERANCE["float64"] == 1e-6


GATE_NAMES = (
    "FamilyDecision",
    "GoodnessOfFitResult",
    "adjust_family",
    "check_categorical",
    "min_detectable_discrepancy_for_categorical",
    "min_samples_for_categorical",
    "pooled_cell_count",
)


def test_provisional_names_say_so_and_the_gate_uses_none_of_them() -> None:
    assert stats.PROVISIONAL == tuple(sorted(stats.PROVISIONAL))
    assert set(stats.PROVISIONAL) < set(stats.__all__)
    assert not set(stats.PROVISIONAL) & set(GATE_NAMES)
    for name in stats.PROVISIONAL:
        assert ".. note:: Provisional:" in (getattr(stats, name).__doc__ or ""), name
    for name in GATE_NAMES:
        assert "Provisional" not in (getattr(stats, name).__doc__ or ""), name


def test_non_finite_floats_are_written_as_json_null() -> None:
    assert _common.jsonable({"a": (math.nan, -math.inf, math.inf, 1.5, np.float64(2.0), np.int64(3))}) == {
        "a": [None, None, None, 1.5, 2.0, 3]
    }
    payload = check_categorical([1, 2, 3, 1], [0.2, 0.3, 0.5, 0.0]).to_dict()
    assert payload["statistic"] is None and payload["pvalue"] == 0.0
    assert payload["impossible_categories"] == [3]


# --------------------------------------------------------------------------- invalid arguments
GOOD = {"counts": [5, 5], "probs": [0.5, 0.5]}
RESULT = check_binomial(5, 10, 0.5)

INVALID: list[tuple[Callable[..., Any], dict[str, Any], type[Exception], str]] = [
    # check_categorical
    (check_categorical, {"counts": [1.0, 2.0], "probs": [0.5, 0.5]}, InvalidTypeError, "must hold integers"),
    (check_categorical, {"counts": [[1, 2]], "probs": [0.5, 0.5]}, InvalidArgumentError, "must be 1-D"),
    (check_categorical, {"counts": [], "probs": []}, InvalidArgumentError, "at least one entry"),
    (check_categorical, {"counts": [-1, 2], "probs": [0.5, 0.5]}, InvalidArgumentError, "nonnegative"),
    (check_categorical, {"counts": [0, 0], "probs": [0.5, 0.5]}, InvalidArgumentError, "sum to at least 1"),
    (check_categorical, {"counts": [1, 2], "probs": [1.0]}, InvalidArgumentError, "must have 2 entries"),
    (check_categorical, {"counts": [1, 2], "probs": [0.6, 0.6]}, InvalidArgumentError, "must sum to 1"),
    (check_categorical, {"counts": [1, 2], "probs": [1.5, -0.5]}, InvalidArgumentError, "must be >= 0"),
    (check_categorical, {"counts": [1, 2], "probs": [np.nan, 0.5]}, InvalidArgumentError, "finite"),
    (check_categorical, {"counts": [1, 2], "probs": "ab"}, InvalidTypeError, "array of numbers"),
    (check_categorical, {**GOOD, "method": "kl"}, InvalidArgumentError, "one of 'g', 'chi2'"),
    (check_categorical, {**GOOD, "min_expected": -1.0}, InvalidArgumentError, "must lie >= 0"),
    (check_categorical, {**GOOD, "min_expected": math.inf}, InvalidArgumentError, "must be finite"),
    (check_categorical, {**GOOD, "min_expected": True}, InvalidTypeError, "real number"),
    (check_categorical, {**GOOD, "monte_carlo_samples": 0, "seed": 1}, InvalidArgumentError, ">= 1"),
    (check_categorical, {**GOOD, "monte_carlo_samples": 100}, InvalidArgumentError, "seed=None"),
    (check_categorical, {**GOOD, "seed": -3}, InvalidArgumentError, "seed=-3: must be an integer >= 0"),
    (check_categorical, {**GOOD, "seed": 1.5}, InvalidTypeError, "must be an integer"),
    # assert_categorical
    (assert_categorical, {**GOOD, "false_positive_rate": 0.0}, InvalidArgumentError, "strictly between"),
    (assert_categorical, {**GOOD, "false_positive_rate": 0.1, "what": ""}, InvalidArgumentError, "non-empty"),
    (assert_categorical, {**GOOD, "false_positive_rate": 0.1, "reproduce": 3}, InvalidTypeError, "string"),
    # categorical sizing
    (
        min_samples_for_categorical,
        {"min_discrepancy": 0.0, "false_positive_rate": 0.1, "false_negative_rate": 0.1, "n_cells": 3},
        InvalidArgumentError,
        "(0, 1]",
    ),
    (
        min_samples_for_categorical,
        {"min_discrepancy": 0.1, "false_positive_rate": 0.6, "false_negative_rate": 0.5, "n_cells": 3},
        InvalidArgumentError,
        "ignores",
    ),
    (
        min_samples_for_categorical,
        {"min_discrepancy": 0.1, "false_positive_rate": 0.1, "false_negative_rate": 1.0, "n_cells": 3},
        InvalidArgumentError,
        "strictly",
    ),
    (
        min_samples_for_categorical,
        {"min_discrepancy": 0.1, "false_positive_rate": 0.1, "false_negative_rate": 0.1, "n_cells": 1},
        InvalidArgumentError,
        ">= 2",
    ),
    (
        min_detectable_discrepancy_for_categorical,
        {"n_samples": 0, "false_positive_rate": 0.1, "false_negative_rate": 0.1, "n_cells": 3},
        InvalidArgumentError,
        "n_samples=0",
    ),
    (
        min_detectable_discrepancy_for_categorical,
        {"n_samples": 10, "false_positive_rate": "0.1", "false_negative_rate": 0.1, "n_cells": 3},
        InvalidTypeError,
        "real number",
    ),
    (pooled_cell_count, {"n_samples": 0, "probs": [0.5, 0.5]}, InvalidArgumentError, "n_samples=0"),
    (pooled_cell_count, {"n_samples": 10, "probs": [0.6, 0.6]}, InvalidArgumentError, "must sum to 1"),
    (pooled_cell_count, {"n_samples": 10, "probs": [0.5, 0.5], "min_expected": -1}, InvalidArgumentError, ">= 0"),
    # binomial
    (_binomial.nonrejection_interval, {"n_samples": 0, "probability": 0.5, "false_positive_rate": 0.1},
     InvalidArgumentError, ">= 1"),
    (_binomial.nonrejection_interval, {"n_samples": 5, "probability": 0.5, "false_positive_rate": 1.0},
     InvalidArgumentError, "strictly between"),
    (check_binomial, {"successes": 11, "trials": 10, "probability": 0.5}, InvalidArgumentError, "<= trials"),
    (check_binomial, {"successes": 1, "trials": 0, "probability": 0.5}, InvalidArgumentError, ">= 1"),
    (check_binomial, {"successes": -1, "trials": 5, "probability": 0.5}, InvalidArgumentError, ">= 0"),
    (check_binomial, {"successes": 1, "trials": 5, "probability": 1.5}, InvalidArgumentError, "[0, 1]"),
    (
        check_binomial,
        {"successes": 1, "trials": 5, "probability": 0.5, "confidence": 1.0},
        InvalidArgumentError,
        "confidence=1.0",
    ),
    (check_binomial, {"successes": True, "trials": 5, "probability": 0.5}, InvalidTypeError, "integer"),
    (
        assert_binomial,
        {"successes": 1, "trials": 5, "probability": 0.5, "false_positive_rate": 2.0},
        InvalidArgumentError,
        "strictly between",
    ),
    (
        min_samples_for_binomial,
        {"min_discrepancy": 0.6, "false_positive_rate": 0.1, "false_negative_rate": 0.1, "probability": 0.5},
        InvalidArgumentError,
        "max(probability, 1 - probability)",
    ),
    (
        min_samples_for_binomial,
        {"min_discrepancy": 0.1, "false_positive_rate": 0.1, "false_negative_rate": 0.1, "probability": -0.1},
        InvalidArgumentError,
        "[0, 1]",
    ),
    (
        min_detectable_discrepancy_for_binomial,
        {"n_samples": 2.5, "false_positive_rate": 0.1, "false_negative_rate": 0.1, "probability": 0.5},
        InvalidTypeError,
        "integer",
    ),
    # uniformity
    (randomized_pit, {"cdf_below": [0.5], "prob_at": [0.6], "xi": [0.5]}, InvalidArgumentError, "exceed 1"),
    (randomized_pit, {"cdf_below": [0.5], "prob_at": [0.1, 0.1], "xi": [0.5]}, InvalidArgumentError, "shape"),
    (randomized_pit, {"cdf_below": [0.5], "prob_at": [0.1], "xi": [1.5]}, InvalidArgumentError, "[0, 1]"),
    (randomized_pit, {"cdf_below": [np.inf], "prob_at": [0.1], "xi": [0.5]}, InvalidArgumentError, "finite"),
    (check_uniformity, {"u": [0.5, 1.2]}, InvalidArgumentError, "[0, 1]"),
    (check_uniformity, {"u": [[0.5]]}, InvalidArgumentError, "1-D"),
    (check_uniformity, {"u": [0.1, 0.2], "method": "ad"}, InvalidArgumentError, "at least 5 values"),
    (check_uniformity, {"u": [0.1], "method": "cvm"}, InvalidArgumentError, "one of 'ks', 'ad'"),
    (assert_uniformity, {"u": [0.1], "false_positive_rate": -0.1}, InvalidArgumentError, "strictly"),
    (
        min_samples_for_uniformity,
        {"min_discrepancy": 1.5, "false_positive_rate": 0.1, "false_negative_rate": 0.1},
        InvalidArgumentError,
        "(0, 1]",
    ),
    (
        min_detectable_discrepancy_for_uniformity,
        {"n_samples": -1, "false_positive_rate": 0.1, "false_negative_rate": 0.1},
        InvalidArgumentError,
        ">= 1",
    ),
    # TV bound, family, results
    (tv_upper_bound, {**GOOD, "confidence": 0.0}, InvalidArgumentError, "strictly between"),
    (tv_upper_bound, {"counts": [1, 2], "probs": [0.2, 0.3, 0.5]}, InvalidArgumentError, "2 entries"),
    (
        adjust_family,
        {"pvalues": [0.1, 1.1], "family_false_positive_rate": 0.05},
        InvalidArgumentError,
        "[0, 1]",
    ),
    (adjust_family, {"pvalues": [], "family_false_positive_rate": 0.05}, InvalidArgumentError, "at least 1"),
    (adjust_family, {"pvalues": [0.1], "family_false_positive_rate": 1.0}, InvalidArgumentError, "strictly"),
    (
        adjust_family,
        {"pvalues": [0.1], "family_false_positive_rate": 0.05, "method": "bh"},
        InvalidArgumentError,
        "one of 'holm', 'bonferroni'",
    ),
    (
        StatisticalAssertionError.from_result,
        {"result": "oops", "what": "x", "reproduce": None},
        InvalidTypeError,
        "must be a GoodnessOfFitResult",
    ),
    (
        StatisticalAssertionError.from_result,
        {"result": RESULT, "what": None, "reproduce": None},
        InvalidTypeError,
        "what=None",
    ),
    (
        StatisticalAssertionError.from_result,
        {"result": RESULT, "what": "x", "reproduce": None, "false_positive_rate": 1.5},
        InvalidArgumentError,
        "strictly",
    ),
    (RESULT.passed, {"false_positive_rate": 0.0}, InvalidArgumentError, "strictly between"),
]


@pytest.mark.parametrize(
    ("function", "kwargs", "error", "fragment"),
    INVALID,
    ids=[f"{getattr(row[0], '__name__', 'call')}-{i}" for i, row in enumerate(INVALID)],
)
def test_invalid_arguments(
    function: Callable[..., Any], kwargs: dict[str, Any], error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error) as caught:
        function(**kwargs)
    assert fragment in str(caught.value)


@settings(deadline=None, derandomize=True, max_examples=60)
@given(n=st.integers(1, 300), seed=st.integers(0, 2**16))
def test_pooled_cell_count_matches_check_categorical(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    law = rng.dirichlet(np.full(int(rng.integers(2, 12)), 0.5))
    law[rng.random(law.size) < 0.2] = 0.0
    if law.sum() == 0:
        law[0] = 1.0
    law = law / law.sum()
    counts = rng.multinomial(n, law)
    cells = pooled_cell_count(n, law)
    if cells >= 2:
        assert check_categorical(counts, law).n_cells == cells
    elif np.count_nonzero(law) >= 2:
        assert check_categorical(counts, law, seed=0).monte_carlo_samples is not None
