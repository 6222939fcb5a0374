"""Randomized probability integral transform and tests of Uniform(0, 1).

For a stream whose law changes at every step (each emitted group label K has
its own known law), ``U = F(K - 1) + ξ P(K)`` with ``ξ ~ U(0, 1)`` is exactly
Uniform(0, 1) and the U's are independent, so one uniformity test covers the
whole stream.

.. note:: Provisional: the gate does not use the uniformity (PIT) family yet;
   its interface may change without notice.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import kstwo

from pcg_core.errors import InvalidArgumentError
from pcg_core.validation import check_choice, check_int, check_probability
from pcg_verify.stats import _common as common
from pcg_verify.stats._common import FloatArray
from pcg_verify.stats._results import StatisticalAssertionError, UniformityResult

__all__ = [
    "AD_MIN_SAMPLES",
    "anderson_darling_pvalue",
    "assert_uniformity",
    "check_uniformity",
    "min_detectable_discrepancy_for_uniformity",
    "min_samples_for_uniformity",
    "randomized_pit",
]

_METHODS = ("ks", "ad")
# Marsaglia & Marsaglia's finite-n correction is trusted from 5 samples on; below,
# simulation shows p-values a few percent too small.
AD_MIN_SAMPLES = 5
# cdf_below + prob_at may exceed 1 by rounding up to this much.
_MASS_TOLERANCE = 1e-9


def randomized_pit(cdf_below: object, prob_at: object, xi: object) -> FloatArray:
    """Randomized probability integral transform ``U = cdf_below + xi * prob_at``.

    .. note:: Provisional: the gate does not use the uniformity (PIT) family yet.

    Parameters
    ----------
    cdf_below : array_like of float, any shape
        ``F(K - 1) = P(X < K)`` under the law of each observation, in [0, 1].
    prob_at : array_like of float, same shape
        ``P(X = K)``, in [0, 1], with ``cdf_below + prob_at <= 1`` (within 1e-9).
    xi : array_like of float, same shape
        Independent Uniform(0, 1) draws, in [0, 1].

    Returns
    -------
    numpy.ndarray of float64, same shape
        U, clipped to at most 1. Under the law, U ~ Uniform(0, 1) exactly and
        independent across observations whose xi are independent.

    Examples
    --------
    >>> import numpy as np
    >>> from pcg_verify.stats import randomized_pit
    >>> law = np.array([0.5, 0.3, 0.2])
    >>> rng = np.random.default_rng(4)
    >>> k = rng.choice(3, size=5, p=law)
    >>> cdf_below = np.concatenate(([0.0], np.cumsum(law)[:-1]))[k]
    >>> u = randomized_pit(cdf_below, law[k], rng.random(5))
    >>> u.shape, bool(np.all((0 <= u) & (u <= 1)))
    ((5,), True)
    """
    below = common.unit_values("cdf_below", cdf_below, one_dimensional=False)
    mass = common.unit_values("prob_at", prob_at, one_dimensional=False)
    uniforms = common.unit_values("xi", xi, one_dimensional=False)
    for name, array, value in (("prob_at", mass, prob_at), ("xi", uniforms, xi)):
        if array.shape != below.shape:
            raise InvalidArgumentError(name, value, f"must have the shape of cdf_below, {below.shape}")
    if np.any(below + mass > 1.0 + _MASS_TOLERANCE):
        raise InvalidArgumentError("prob_at", prob_at, "cdf_below + prob_at must not exceed 1")
    transformed: FloatArray = np.minimum(below + uniforms * mass, 1.0)
    return transformed


def _adinf(z: float) -> float:
    """Limiting CDF of A² (Marsaglia & Marsaglia 2004, eq. for ADinf), for z > 0."""
    if z < 2.0:
        polynomial = (
            2.00012 + (0.247105 - (0.0649821 - (0.0347962 - (0.011672 - 0.00168691 * z) * z) * z) * z) * z
        )
        return math.exp(-1.2337141 / z) / math.sqrt(z) * polynomial
    return math.exp(-_adinf_log_tail(z))


def _adinf_log_tail(z: float) -> float:
    """``exp(g(z))`` where ADinf(z) = exp(-exp(g(z))) for z >= 2."""
    exponent = 1.0776 - (2.30695 - (0.43424 - (0.082433 - (0.008056 - 0.0003146 * z) * z) * z) * z) * z
    return math.exp(exponent)


def _errfix(n_samples: int, x: float) -> float:
    """Marsaglia & Marsaglia's correction: P(A²_n < z) ≈ x + errfix(n, x), x = ADinf(z)."""
    n = float(n_samples)
    if x > 0.8:
        polynomial = (
            -130.2137 + (745.2337 - (1705.091 - (1950.646 - (1116.360 - 255.7844 * x) * x) * x) * x) * x
        )
        return polynomial / n
    cut = 0.01265 + 0.1757 / n
    if x < cut:
        t = x / cut
        t = math.sqrt(t) * (1.0 - t) * (49.0 * t - 102.0)
        return t * (0.0037 / n**3 + 0.00078 / n**2 + 0.00006 / n)
    t = (x - cut) / (0.8 - cut)
    t = -0.00022633 + (6.54034 - (14.6538 - (14.458 - (8.259 - 1.91864 * t) * t) * t) * t) * t
    return t * (0.04213 / n + 0.01365 / n**2)


def anderson_darling_pvalue(statistic: float, n_samples: int) -> float:
    """P(A²_n >= statistic) for a fully specified continuous law.

    Marsaglia & Marsaglia (2004), "Evaluating the Anderson–Darling
    distribution", J. Stat. Softw. 9(2): the limiting CDF ADinf plus their
    finite-n correction errfix. The CDF is accurate to a few 1e-6. In the far
    upper tail the correction tends to ``-0.0006 / n`` instead of 0, so p-values
    never fall below about ``0.0006 / n``: conservative there (the gate cannot
    flake), but a level below that floor can never reject.
    """
    if statistic <= 0.0:
        return 1.0
    if math.isinf(statistic):
        return 0.0
    if statistic < 2.0:
        limit_cdf = _adinf(statistic)
        tail = 1.0 - limit_cdf
    else:  # 1 - exp(-e) computed without cancellation
        log_tail = _adinf_log_tail(statistic)
        tail = -math.expm1(-log_tail)
        limit_cdf = math.exp(-log_tail)
    return min(1.0, max(0.0, tail - _errfix(n_samples, limit_cdf)))


def _ks_distance(ordered: FloatArray) -> tuple[float, float]:
    """sup |F_n(u) - u| of sorted values [n], and the value where it is attained."""
    n = ordered.size
    ranks = np.arange(1, n + 1, dtype=np.float64)
    above = ranks / n - ordered  # F_n jumps up to i/n at u_(i)
    below = ordered - (ranks - 1.0) / n  # just before the jump F_n = (i-1)/n
    gaps = np.maximum(above, below)
    where = int(np.argmax(gaps))
    return float(gaps[where]), float(ordered[where])


def _anderson_darling(ordered: FloatArray) -> float:
    """A² = -n - (1/n) Σ_i (2i - 1) [ln u_(i) + ln(1 - u_(n+1-i))] for sorted values [n]."""
    if ordered[0] <= 0.0 or ordered[-1] >= 1.0:
        return math.inf  # an atom at 0 or 1: probability zero under Uniform(0, 1)
    n = ordered.size
    weights = 2.0 * np.arange(1, n + 1, dtype=np.float64) - 1.0
    terms = np.log(ordered) + np.log1p(-ordered[::-1])
    return float(-n - np.dot(weights, terms) / n)


def check_uniformity(u: object, *, method: str = "ks") -> UniformityResult:
    """Test that values are iid Uniform(0, 1), e.g. randomized PIT values.

    .. note:: Provisional: the gate does not use the uniformity (PIT) family yet.

    Parameters
    ----------
    u : array_like of float, shape [n]
        Values in [0, 1]; ``n >= 1`` (``n >= 5`` for ``"ad"``).
    method : {"ks", "ad"}
        ``"ks"``: Kolmogorov–Smirnov distance with its exact finite-n p-value
        (:data:`scipy.stats.kstwo`, as ``scipy.stats.kstest(method="exact")``).
        ``"ad"``: Anderson–Darling A² with the p-value of
        :func:`anderson_darling_pvalue`; more sensitive in the tails. A value of
        exactly 0 or 1 gives ``A² = inf`` and p-value 0.

    Returns
    -------
    UniformityResult

    Complexity: O(n log n).

    Examples
    --------
    >>> import numpy as np
    >>> from pcg_verify.stats import check_uniformity
    >>> u = np.random.default_rng(5).random(500)
    >>> check_uniformity(u).passed(1e-3), check_uniformity(u, method="ad").passed(1e-3)
    (True, True)
    >>> check_uniformity(u**2).passed(1e-3)
    False
    """
    method_name = check_choice("method", method, _METHODS)
    values = common.unit_values("u", u, one_dimensional=True)
    n = values.size
    if method_name == "ad" and n < AD_MIN_SAMPLES:
        raise InvalidArgumentError(
            "u", u, f"method='ad' needs at least {AD_MIN_SAMPLES} values", hint="use method='ks'"
        )
    ordered = np.sort(values)
    distance, where = _ks_distance(ordered)
    if method_name == "ks":
        statistic = distance
        pvalue = float(kstwo.sf(distance, n))
    else:
        statistic = _anderson_darling(ordered)
        pvalue = anderson_darling_pvalue(statistic, n)
    return UniformityResult(
        statistic=statistic,
        pvalue=min(1.0, max(0.0, pvalue)),
        method=method_name,
        n_samples=n,
        max_cdf_deviation=distance,
        deviation_at=where,
    )


def assert_uniformity(
    u: object,
    *,
    false_positive_rate: float,
    method: str = "ks",
    reproduce: str | None = None,
    what: str = "PIT values",
) -> UniformityResult:
    """Raise unless ``u`` is consistent with iid Uniform(0, 1); see :func:`check_uniformity`.

    .. note:: Provisional: the gate does not use the uniformity (PIT) family yet.

    Raises
    ------
    StatisticalAssertionError
        When ``pvalue <= false_positive_rate``.
    InvalidArgumentError
        For ``method="ad"`` when ``false_positive_rate`` is below the smallest
        p-value the approximation can return at this n (about ``0.0006 / n``):
        the test could never reject.

    Examples
    --------
    >>> import numpy as np
    >>> from pcg_verify.stats import assert_uniformity
    >>> u = np.random.default_rng(6).random(2000)
    >>> assert_uniformity(u, false_positive_rate=1e-6).n_samples
    2000
    """
    alpha = check_probability("false_positive_rate", false_positive_rate, strict=True)
    common.text("what", what, optional=False)
    common.text("reproduce", reproduce, optional=True)
    result = check_uniformity(u, method=method)
    if result.method == "ad":
        floor = anderson_darling_pvalue(1e6, result.n_samples)
        if alpha < floor:
            raise InvalidArgumentError(
                "false_positive_rate",
                false_positive_rate,
                f"the Anderson-Darling p-value at n={result.n_samples} never falls below {floor:.3g}",
                hint="use method='ks' or more samples",
            )
    if not result.passed(alpha):
        raise StatisticalAssertionError.from_result(
            result, what=what, reproduce=reproduce, false_positive_rate=alpha
        )
    return result


def _dkw_quantile(rate: float) -> float:
    """c(x) = sqrt(ln(2/x) / 2): P(sqrt(n) sup|F_n - F| > c(x)) <= x (DKW–Massart)."""
    return math.sqrt(math.log(2.0 / rate) / 2.0)


def min_samples_for_uniformity(
    min_discrepancy: float, false_positive_rate: float, false_negative_rate: float
) -> int:
    """Samples the KS uniformity test needs to detect a CDF off by ``min_discrepancy``.

    .. note:: Provisional: the gate does not use the uniformity (PIT) family yet.

    Returns the smallest n with ``sqrt(n) ε >= c(α) + c(β)``, where
    ``c(x) = sqrt(ln(2/x)/2)``, ε the sup distance between the sampled CDF G and
    the uniform one, α and β the error rates.

    Notes
    -----
    Rigorous for every n (no asymptotics), by the Dvoretzky–Kiefer–Wolfowitz
    inequality with Massart's constant, ``P(sup|F_n - F| > t) <= 2 exp(-2 n t²)``:

    * under the null ``D_n > c(α)/sqrt(n)`` has probability ``<= α``, so the
      exact KS critical value is ``<= c(α)/sqrt(n)``;
    * under G, ``sup|F_n - G| <= c(β)/sqrt(n)`` with probability ``>= 1 - β``,
      and then ``D_n >= ε - c(β)/sqrt(n) >= c(α)/sqrt(n)``, so the KS test
      (which rejects at its smaller exact critical value) rejects.

    The guarantee is for ``method="ks"``; it does not cover ``"ad"``.

    Examples
    --------
    >>> from pcg_verify.stats import min_samples_for_uniformity
    >>> min_samples_for_uniformity(0.05, 1e-3, 1e-2)
    5119
    """
    epsilon = common.discrepancy("min_discrepancy", min_discrepancy)
    alpha, beta = common.error_rates(false_positive_rate, false_negative_rate)
    margin = _dkw_quantile(alpha) + _dkw_quantile(beta)
    n = max(1, math.ceil((margin / epsilon) ** 2))
    while margin / math.sqrt(n) > epsilon:  # guard against rounding in the ceiling
        n += 1
    while n > 1 and margin / math.sqrt(n - 1) <= epsilon:
        n -= 1
    return n


def min_detectable_discrepancy_for_uniformity(
    n_samples: int, false_positive_rate: float, false_negative_rate: float
) -> float:
    """Smallest CDF sup distance that the KS test on ``n_samples`` values detects.

    .. note:: Provisional: the gate does not use the uniformity (PIT) family yet.

    ``(c(α) + c(β)) / sqrt(n)`` with ``c(x) = sqrt(ln(2/x)/2)``; ``inf`` when that
    exceeds 1. See :func:`min_samples_for_uniformity` for the guarantee.

    Examples
    --------
    >>> from pcg_verify.stats import min_detectable_discrepancy_for_uniformity
    >>> round(min_detectable_discrepancy_for_uniformity(5119, 1e-3, 1e-2), 4)
    0.05
    """
    n = check_int("n_samples", n_samples, minimum=1)
    alpha, beta = common.error_rates(false_positive_rate, false_negative_rate)
    detectable = (_dkw_quantile(alpha) + _dkw_quantile(beta)) / math.sqrt(n)
    return detectable if detectable <= 1.0 else math.inf
