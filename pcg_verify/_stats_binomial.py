"""Exact test of a Bernoulli rate (e.g. an acceptance probability) and its exact sizing."""

from __future__ import annotations

import math
from collections.abc import Callable

from scipy import special, stats

from pcg_core._errors import InvalidArgumentError
from pcg_verify import _stats_common as common
from pcg_verify._stats_results import BinomialTestResult, StatisticalAssertionError

__all__ = [
    "acceptance_interval",
    "assert_binomial",
    "check_binomial",
    "min_detectable_discrepancy_for_binomial",
    "min_samples_for_binomial",
    "sizing_window",
]

# scipy's binomtest counts outcomes whose pmf is within this factor of the observed one.
_LOG_TIE_FACTOR = math.log1p(1e-7)
# Sizing is exact but linear in n; beyond this many samples the scan would take minutes.
MAX_EXACT_SAMPLES = 2_000_000


def check_binomial(
    successes: int, trials: int, probability: float, *, confidence: float = 0.999
) -> BinomialTestResult:
    """Exact two-sided binomial test of ``successes`` out of ``trials`` against ``probability``.

    Parameters
    ----------
    successes : int
        Observed successes, ``0 <= successes <= trials``.
    trials : int
        Number of independent trials, ``>= 1``.
    probability : float
        Success probability under the null, in [0, 1].
    confidence : float
        Level of the Clopper–Pearson interval reported as evidence.

    Returns
    -------
    BinomialTestResult
        ``pvalue`` is that of :func:`scipy.stats.binomtest` (two-sided: the
        total probability of outcomes no more likely than the observed one).

    Examples
    --------
    >>> import numpy as np
    >>> from pcg_verify.stats import check_binomial
    >>> successes = int(np.random.default_rng(3).binomial(1000, 0.3))
    >>> check_binomial(successes, 1000, 0.3).passed(1e-3)
    True
    >>> check_binomial(10, 10, 0.5).pvalue
    0.001953125
    """
    n = common.integer("trials", trials, minimum=1)
    k = common.integer("successes", successes, minimum=0)
    if k > n:
        raise InvalidArgumentError("successes", successes, f"must be <= trials={n}")
    null = common.probability("probability", probability)
    level = common.rate("confidence", confidence)
    test = stats.binomtest(k, n, null)
    interval = test.proportion_ci(confidence_level=level, method="exact")
    return BinomialTestResult(
        statistic=k / n,
        pvalue=float(test.pvalue),
        successes=k,
        n_samples=n,
        probability=null,
        rate=k / n,
        expected=n * null,
        confidence=level,
        ci_low=float(interval.low),
        ci_high=float(interval.high),
    )


def assert_binomial(
    successes: int,
    trials: int,
    probability: float,
    *,
    false_positive_rate: float,
    confidence: float = 0.999,
    reproduce: str | None = None,
    what: str = "success rate",
) -> BinomialTestResult:
    """Raise unless ``successes / trials`` is consistent with ``probability``.

    Parameters as in :func:`check_binomial`, plus the level
    ``false_positive_rate``, the ``reproduce`` command quoted on failure and
    ``what`` names the rate in the message.

    Raises
    ------
    StatisticalAssertionError
        When ``pvalue <= false_positive_rate``.

    Examples
    --------
    >>> from pcg_verify.stats import assert_binomial
    >>> assert_binomial(480, 1000, 0.5, false_positive_rate=1e-6).pvalue > 1e-6
    True
    """
    alpha = common.rate("false_positive_rate", false_positive_rate)
    common.text("what", what, optional=False)
    common.text("reproduce", reproduce, optional=True)
    result = check_binomial(successes, trials, probability, confidence=confidence)
    if not result.passed(alpha):
        raise StatisticalAssertionError.from_result(
            result, what=what, reproduce=reproduce, false_positive_rate=alpha
        )
    return result


def _first(predicate: Callable[[int], bool], start: int, stop: int, step: int, guess: int) -> int:
    """First x of ``start, start + step, ...`` (``stop`` excluded) where ``predicate(x)`` holds.

    ``predicate`` must be False then True along that sequence; returns ``stop``
    when it never holds. Walks from ``guess``, so a good guess makes it O(1).
    """
    if start == stop:
        return stop
    low, high = sorted((start, stop - step))
    x = min(max(guess, low), high)
    if predicate(x):
        while x != start and predicate(x - step):
            x -= step
        return x
    x += step
    while x != stop and not predicate(x):
        x += step
    return x


def _acceptance(
    n_samples: int, probability: float, alpha: float, guess: tuple[int, int] | None
) -> tuple[int, int]:
    """Accepted outcomes ``[low, high]`` of the exact two-sided test; see :func:`acceptance_interval`."""
    if probability in (0.0, 1.0):  # point mass: only the certain outcome is accepted
        outcome = 0 if probability == 0.0 else n_samples
        return outcome, outcome
    n = n_samples
    mean = n * probability
    log_n_factorial = math.lgamma(n + 1.0)
    log_p, log_q = math.log(probability), math.log1p(-probability)
    rising_end = math.floor(mean)  # the pmf rises on [0, rising_end] ...
    falling_start = math.ceil(mean)  # ... and falls on [falling_start, n]

    def log_pmf(k: int) -> float:
        return log_n_factorial - math.lgamma(k + 1.0) - math.lgamma(n - k + 1.0) + k * log_p + (n - k) * log_q

    def pvalue(k: int) -> float:
        # Mass of the outcomes at most (1 + 1e-7) times as likely as k, split at the mean as
        # in scipy.stats.binomtest: k's own tail plus the matching tail beyond the mean.
        if k == mean:
            return 1.0
        threshold = log_pmf(k) + _LOG_TIE_FACTOR
        mirror = round(2.0 * mean) - k

        def unlikely(j: int) -> bool:
            return log_pmf(j) <= threshold

        if k < mean:
            far = _first(unlikely, falling_start, n + 1, 1, mirror)
            total = float(special.bdtr(k, n, probability))
            total += float(special.bdtrc(far - 1, n, probability)) if far <= n else 0.0
        else:
            far = _first(unlikely, rising_end, -1, -1, mirror)
            total = float(special.bdtrc(k - 1, n, probability))
            total += float(special.bdtr(far, n, probability)) if far >= 0 else 0.0
        return min(1.0, total)

    def accepted(k: int) -> bool:
        return pvalue(k) > alpha

    if guess is None:  # normal approximation of the two boundaries
        spread = float(special.ndtri(1.0 - 0.5 * alpha)) * math.sqrt(mean * (1.0 - probability))
        guess = (math.floor(mean - spread), math.ceil(mean + spread))
    # p-values grow towards the mean from both sides, so each boundary is a sign change.
    low = _first(accepted, 0, falling_start, 1, guess[0])
    high = _first(accepted, n, rising_end, -1, guess[1])
    return low, high


def acceptance_interval(n_samples: int, probability: float, false_positive_rate: float) -> tuple[int, int]:
    """The outcomes ``[low, high]`` that the exact two-sided test at this level accepts.

    The test of :func:`check_binomial` rejects ``k`` iff its
    :func:`scipy.stats.binomtest` p-value, the mass of the outcomes no more
    likely than ``k`` (within a factor 1 + 1e-7), is ``<= false_positive_rate``.
    The pmf is unimodal, so p-values grow towards the mean from both sides and
    the accepted outcomes form an interval around it.

    Fast equivalent of calling binomtest at every k: the same p-value (tails
    from the binomial CDF, the matching outcome beyond the mean found on the
    log pmf), evaluated only near the two boundaries, which are found by
    walking from a normal-approximation guess. Agrees with binomtest except
    where a p-value lies within rounding of the level.
    """
    return _acceptance(n_samples, probability, false_positive_rate, None)


def _alternatives(probability: float, discrepancy: float) -> tuple[float, ...]:
    return tuple(p for p in (probability - discrepancy, probability + discrepancy) if 0.0 <= p <= 1.0)


def _power_at(n_samples: int, interval: tuple[int, int], alternatives: tuple[float, ...]) -> float:
    """Smallest rejection probability P(X < low) + P(X > high) over the alternatives."""
    low, high = interval
    powers = [
        (float(special.bdtr(low - 1, n_samples, p)) if low > 0 else 0.0)
        + float(special.bdtrc(high, n_samples, p))
        for p in alternatives
    ]
    return min(powers)


def _neyman_pearson_power(n_samples: int, probability: float, alternative: float, alpha: float) -> float:
    """Power of the most powerful randomized level-alpha test of ``probability`` vs ``alternative``.

    No level-alpha test, in particular the exact two-sided one, has more power,
    and this power never decreases with n (the test may ignore a sample).
    """
    if alternative < probability:  # mirror: count failures instead of successes
        probability, alternative = 1.0 - probability, 1.0 - alternative
    low, high = 0, n_samples  # smallest c with P0(X > c) <= alpha, by bisection
    while low < high:
        middle = (low + high) // 2
        if float(special.bdtrc(middle, n_samples, probability)) <= alpha:
            high = middle
        else:
            low = middle + 1
    cut = low
    above_null = float(special.bdtrc(cut, n_samples, probability))
    at_null = (1.0 if cut == 0 else float(special.bdtrc(cut - 1, n_samples, probability))) - above_null
    randomize = 0.0 if at_null <= 0.0 else min(1.0, max(0.0, (alpha - above_null) / at_null))
    above_alternative = float(special.bdtrc(cut, n_samples, alternative))
    at_alternative = (
        1.0 if cut == 0 else float(special.bdtrc(cut - 1, n_samples, alternative))
    ) - above_alternative
    return above_alternative + randomize * at_alternative


def _lower_bound(probability: float, alternatives: tuple[float, ...], alpha: float, power: float) -> int:
    """No n below the result gives the exact test ``power``: the most powerful test cannot."""
    bound = 1
    for alternative in alternatives:
        high = 1
        while _neyman_pearson_power(high, probability, alternative, alpha) < power:
            high *= 2
            if high > 4 * MAX_EXACT_SAMPLES:
                return high
        low = high // 2
        while high - low > 1:
            middle = (low + high) // 2
            if _neyman_pearson_power(middle, probability, alternative, alpha) >= power:
                high = middle
            else:
                low = middle
        bound = max(bound, high)
    return bound


def sizing_window(n_samples: int) -> int:
    """How many larger sample sizes must keep the power: ``max(16, n // 100)``."""
    return max(16, n_samples // 100)


def _validate_sizing(
    false_positive_rate: object, false_negative_rate: object, probability: object
) -> tuple[float, float, float]:
    alpha, beta = common.error_rates(false_positive_rate, false_negative_rate)
    return alpha, beta, common.probability("probability", probability)


def min_samples_for_binomial(
    min_discrepancy: float,
    false_positive_rate: float,
    false_negative_rate: float,
    *,
    probability: float,
) -> int:
    """Exact number of trials the two-sided binomial test needs to detect a shifted rate.

    Returns the smallest n such that the exact test of :func:`check_binomial`
    at level ``false_positive_rate`` rejects with probability
    ``>= 1 - false_negative_rate`` under each alternative
    ``probability ± min_discrepancy`` that lies in [0, 1], and keeps doing so
    for each of the next ``max(16, n // 100)`` sample sizes.

    Parameters
    ----------
    min_discrepancy : float
        Shift ε of the success probability, ``0 < ε <= max(p, 1 - p)``.
    false_positive_rate, false_negative_rate : float
        Error rates in (0, 1) with sum below 1.
    probability : float
        Success probability p under the null, in [0, 1].

    Returns
    -------
    int

    Notes
    -----
    Everything is exact binomial arithmetic (no normal approximation): the
    rejection region at each n comes from :func:`acceptance_interval` and the
    power from the binomial CDF. The power of a discrete test saw-tooths in n,
    so "power >= 1 - β at n" alone could single out a lucky n whose neighbours
    fall short; the window makes it safe to take up to 1% more samples than
    returned. The scan starts at a lower bound from the most powerful
    (Neyman–Pearson, randomized) test, whose power is monotone in n, and walks
    up one n at a time, so the answer is the smallest n with the property.
    Raises when that lower bound exceeds ``MAX_EXACT_SAMPLES = 2_000_000``.

    Examples
    --------
    >>> from pcg_verify.stats import min_samples_for_binomial
    >>> min_samples_for_binomial(0.1, 0.01, 0.1, probability=0.5)
    384
    """
    epsilon = common.real("min_discrepancy", min_discrepancy)
    alpha, beta, null = _validate_sizing(false_positive_rate, false_negative_rate, probability)
    if not 0.0 < epsilon <= max(null, 1.0 - null):
        raise InvalidArgumentError(
            "min_discrepancy",
            min_discrepancy,
            f"must lie in (0, max(probability, 1 - probability)] = (0, {max(null, 1.0 - null)!r}]",
            hint="otherwise no alternative probability ± min_discrepancy lies in [0, 1]",
        )
    alternatives = _alternatives(null, epsilon)
    target = 1.0 - beta
    start = _lower_bound(null, alternatives, alpha, target)
    if start > MAX_EXACT_SAMPLES:
        raise InvalidArgumentError(
            "min_discrepancy",
            min_discrepancy,
            f"needs more than {MAX_EXACT_SAMPLES} trials, beyond exact sizing",
            hint="test a larger discrepancy or relax the error rates",
        )
    run_start: int | None = None
    n = max(1, start - 1)
    interval: tuple[int, int] | None = None
    while True:
        # Boundaries move by about one outcome per extra trial: start from the last ones.
        interval = _acceptance(n, null, alpha, interval)
        if _power_at(n, interval, alternatives) >= target:
            run_start = n if run_start is None else run_start
            if n - run_start >= sizing_window(run_start):
                return run_start
        else:
            run_start = None
        n += 1


def min_detectable_discrepancy_for_binomial(
    n_samples: int,
    false_positive_rate: float,
    false_negative_rate: float,
    *,
    probability: float,
) -> float:
    """Smallest rate shift that ``n_samples`` trials detect with the exact test.

    Returns the smallest float ε such that the exact two-sided test at level
    ``false_positive_rate`` and this n rejects with probability
    ``>= 1 - false_negative_rate`` under each of ``probability ± ε`` inside
    [0, 1], or ``inf`` when even ``ε = max(p, 1 - p)`` does not qualify.
    Found by bisection on ε (the power grows with the shift); exact binomial
    arithmetic as in :func:`min_samples_for_binomial`, without the window.

    Examples
    --------
    >>> from pcg_verify.stats import min_detectable_discrepancy_for_binomial
    >>> round(min_detectable_discrepancy_for_binomial(384, 0.01, 0.1, probability=0.5), 4)
    0.0985
    """
    n = common.integer("n_samples", n_samples, minimum=1)
    alpha, beta, null = _validate_sizing(false_positive_rate, false_negative_rate, probability)
    interval = acceptance_interval(n, null, alpha)
    target = 1.0 - beta

    def detects(epsilon: float) -> bool:
        return _power_at(n, interval, _alternatives(null, epsilon)) >= target

    high = max(null, 1.0 - null)
    if not detects(high):
        return math.inf
    low = 0.0
    while True:  # bisection down to adjacent floats
        middle = 0.5 * (low + high)
        if not low < middle < high:
            return high
        if detects(middle):
            high = middle
        else:
            low = middle
