"""Exact test of a Bernoulli rate (e.g. an acceptance probability) and its exact sizing.

The two-sided p-value of ``k`` successes in ``n`` trials under success
probability ``p`` is the binomial mass of the outcomes no more likely than
``k``. It is computed here (tails from the binomial CDF, the matching outcome
beyond the mean found on the log pmf), so that :func:`check_binomial`, its
rejection region :func:`nonrejection_interval` and the sizing helpers are one
rule; the tests check it against :func:`scipy.stats.binomtest`.

.. note:: Provisional: the gate does not use the binomial family yet; its
   interface may change without notice.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from scipy import special

from pcg_core.errors import InvalidArgumentError
from pcg_core.validation import check_int, check_probability, check_real
from pcg_verify.stats import _common as common
from pcg_verify.stats._results import BinomialTestResult, StatisticalAssertionError

__all__ = [
    "MAX_EXACT_SAMPLES",
    "assert_binomial",
    "check_binomial",
    "min_detectable_discrepancy_for_binomial",
    "min_samples_for_binomial",
    "nonrejection_interval",
    "sizing_window",
]

# Two outcomes whose likelihoods agree to a relative 1e-7 count as equally likely. Exact ties
# (k and n − k at p = ½) must be recognised although the log pmf below carries rounding errors
# of order 1e-8 (it adds terms as large as ln(n!) ≈ 2.7e7 at MAX_EXACT_SAMPLES, whose spacing
# of floats is 4e-9); a margin ten times larger recognises them, and outcomes this close in
# likelihood are interchangeable for any purpose of the test.
_LOG_TIE_MARGIN = math.log1p(1e-7)
#: Sizing is exact but linear in n; beyond this many samples the scan would take minutes.
MAX_EXACT_SAMPLES = 2_000_000


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


def _two_sided_pvalue(n_samples: int, probability: float) -> Callable[[int], float]:
    """k ↦ P(pmf(X) <= pmf(k)) for X ~ Binomial(n, p), likelihood ties within a relative 1e-7 included.

    The pmf is unimodal with its mode next to the mean np, so the outcomes no
    more likely than k are k's own tail and a tail beyond the mean, which
    starts at the first outcome (walking away from the mean, from the mirror
    image 2np − k) whose pmf has fallen to pmf(k). Each call is O(1) pmf
    evaluations when the mirror guess is good, O(n) at worst.
    """
    n = n_samples
    if probability in (0.0, 1.0):  # point mass: every other outcome has probability 0
        certain = 0 if probability == 0.0 else n
        return lambda k: 1.0 if k == certain else 0.0
    mean = n * probability
    log_n_factorial = math.lgamma(n + 1.0)
    log_p, log_q = math.log(probability), math.log1p(-probability)
    rising_end = math.floor(mean)  # the pmf rises on [0, rising_end] ...
    falling_start = math.ceil(mean)  # ... and falls on [falling_start, n]

    def log_pmf(k: int) -> float:
        return log_n_factorial - math.lgamma(k + 1.0) - math.lgamma(n - k + 1.0) + k * log_p + (n - k) * log_q

    def pvalue(k: int) -> float:
        if k == mean:
            return 1.0
        threshold = log_pmf(k) + _LOG_TIE_MARGIN
        mirror = round(2.0 * mean) - k

        def unlikely(j: int) -> bool:
            return log_pmf(j) <= threshold

        if k < mean:  # P(X <= k) + P(X >= far), far the first unlikely outcome above the mean
            far = _first(unlikely, falling_start, n + 1, 1, mirror)
            total = float(special.bdtr(k, n, probability))
            total += float(special.bdtrc(far - 1, n, probability)) if far <= n else 0.0
        else:  # P(X >= k) + P(X <= far), far the first unlikely outcome below the mean
            far = _first(unlikely, rising_end, -1, -1, mirror)
            total = float(special.bdtrc(k - 1, n, probability))
            total += float(special.bdtr(far, n, probability)) if far >= 0 else 0.0
        return min(1.0, max(0.0, total))

    return pvalue


def _clopper_pearson(successes: int, n_samples: int, confidence: float) -> tuple[float, float]:
    """The exact (Clopper–Pearson) two-sided interval for the success probability.

    With ``a = (1 - confidence) / 2``: ``low`` solves ``P(X >= k | low) = a`` and
    ``high`` solves ``P(X <= k | high) = a`` (0 when k = 0, 1 when k = n). As
    ``P(X >= k | p) = I_p(k, n - k + 1)``, the regularized incomplete beta
    function, each end is one inverse incomplete beta.
    """
    k, n = successes, n_samples
    tail = 0.5 * (1.0 - confidence)
    low = 0.0 if k == 0 else float(special.betaincinv(k, n - k + 1, tail))
    high = 1.0 if k == n else float(special.betaincinv(k + 1, n - k, 1.0 - tail))
    return low, high


def check_binomial(
    successes: int, trials: int, probability: float, *, confidence: float = 0.999
) -> BinomialTestResult:
    """Exact two-sided binomial test of ``successes`` out of ``trials`` against ``probability``.

    .. note:: Provisional: the gate does not use the binomial family yet.

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
        ``pvalue`` is the two-sided exact p-value: the total probability of the
        outcomes no more likely than the observed one (likelihoods within a
        relative 1e-7 count as ties); the tests check it against
        :func:`scipy.stats.binomtest`. ``[ci_low, ci_high]`` is the
        Clopper–Pearson interval.

    Complexity: O(1) pmf and CDF evaluations, O(trials) at worst.

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
    n = check_int("trials", trials, minimum=1)
    k = check_int("successes", successes, minimum=0)
    if k > n:
        raise InvalidArgumentError("successes", successes, f"must be <= trials={n}")
    null = check_probability("probability", probability)
    level = check_probability("confidence", confidence, strict=True)
    ci_low, ci_high = _clopper_pearson(k, n, level)
    return BinomialTestResult(
        statistic=k / n,
        pvalue=_two_sided_pvalue(n, null)(k),
        successes=k,
        n_samples=n,
        probability=null,
        rate=k / n,
        expected=n * null,
        confidence=level,
        ci_low=ci_low,
        ci_high=ci_high,
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

    .. note:: Provisional: the gate does not use the binomial family yet.

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
    alpha = check_probability("false_positive_rate", false_positive_rate, strict=True)
    common.text("what", what, optional=False)
    common.text("reproduce", reproduce, optional=True)
    result = check_binomial(successes, trials, probability, confidence=confidence)
    if not result.passed(alpha):
        raise StatisticalAssertionError.from_result(
            result, what=what, reproduce=reproduce, false_positive_rate=alpha
        )
    return result


def _nonrejection(
    n_samples: int, probability: float, alpha: float, guess: tuple[int, int] | None
) -> tuple[int, int]:
    """Outcomes ``[low, high]`` the exact test does not reject; see :func:`nonrejection_interval`."""
    if probability in (0.0, 1.0):  # point mass: only the certain outcome is not rejected
        outcome = 0 if probability == 0.0 else n_samples
        return outcome, outcome
    n = n_samples
    mean = n * probability
    pvalue = _two_sided_pvalue(n, probability)

    def kept(k: int) -> bool:
        return pvalue(k) > alpha

    if guess is None:  # normal approximation of the two boundaries
        spread = float(special.ndtri(1.0 - 0.5 * alpha)) * math.sqrt(mean * (1.0 - probability))
        guess = (math.floor(mean - spread), math.ceil(mean + spread))
    # p-values grow towards the mean from both sides, so each boundary is a sign change.
    low = _first(kept, 0, math.ceil(mean), 1, guess[0])
    high = _first(kept, n, math.floor(mean), -1, guess[1])
    return low, high


def nonrejection_interval(n_samples: int, probability: float, false_positive_rate: float) -> tuple[int, int]:
    """The outcomes ``[low, high]`` that the exact two-sided test at this level does not reject.

    The test of :func:`check_binomial` rejects ``k`` iff its p-value, the
    mass of the outcomes no more likely than ``k``, is
    ``<= false_positive_rate``. The pmf is unimodal, so p-values grow towards
    the mean from both sides and the outcomes kept form an interval around it;
    the rejection region is its complement.

    Fast equivalent of evaluating the p-value at every k: only the outcomes
    near the two boundaries are evaluated, found by walking from a
    normal-approximation guess. O(1) p-values when the guess is good.
    """
    n = check_int("n_samples", n_samples, minimum=1)
    null = check_probability("probability", probability)
    alpha = check_probability("false_positive_rate", false_positive_rate, strict=True)
    return _nonrejection(n, null, alpha, None)


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
    return alpha, beta, check_probability("probability", probability)


def min_samples_for_binomial(
    min_discrepancy: float,
    false_positive_rate: float,
    false_negative_rate: float,
    *,
    probability: float,
) -> int:
    """Exact number of trials the two-sided binomial test needs to detect a shifted rate.

    .. note:: Provisional: the gate does not use the binomial family yet.

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
    rejection region at each n comes from :func:`nonrejection_interval` and the
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
    epsilon = check_real("min_discrepancy", min_discrepancy)
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
        interval = _nonrejection(n, null, alpha, interval)
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

    .. note:: Provisional: the gate does not use the binomial family yet.

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
    n = check_int("n_samples", n_samples, minimum=1)
    alpha, beta, null = _validate_sizing(false_positive_rate, false_negative_rate, probability)
    interval = _nonrejection(n, null, alpha, None)
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
