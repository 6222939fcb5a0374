"""Sizing the categorical goodness-of-fit test: how many samples it needs, and what n samples detect.

Both companions of :func:`~pcg_verify.stats.check_categorical` use the
asymptotic noncentral chi-square power of the G (and chi-square) test: against
a law at total variation ε from the null, the noncentrality is at least
λ = 4 n ε² (the worst case over laws at that distance), so the power at level
α with K − 1 degrees of freedom is P(χ²_{K−1}(λ) > χ²_{K−1, 1−α}).
"""

from __future__ import annotations

import math

from scipy import special
from scipy.stats import chi2

from pcg_core.validation import check_int
from pcg_verify.stats import _common as common

__all__ = ["min_detectable_discrepancy_for_categorical", "min_samples_for_categorical"]


def _sizing_arguments(
    false_positive_rate: object, false_negative_rate: object, n_cells: object
) -> tuple[float, float, int]:
    alpha, beta = common.error_rates(false_positive_rate, false_negative_rate)
    dof = check_int("n_cells", n_cells, minimum=2) - 1
    return alpha, beta, dof


def _detects(n_samples: int, discrepancy: float, critical: float, dof: int, beta: float) -> bool:
    """Asymptotic power >= 1 - beta against noncentrality λ = 4 n ε² (worst case at TV = ε)."""
    type_ii = float(special.chndtr(critical, dof, 4.0 * n_samples * discrepancy * discrepancy))
    return type_ii <= beta


def min_samples_for_categorical(
    min_discrepancy: float,
    false_positive_rate: float,
    false_negative_rate: float,
    *,
    n_cells: int,
) -> int:
    """Samples the G / chi-square test needs to detect a law at TV distance ``min_discrepancy``.

    Returns the smallest n such that the test at level ``false_positive_rate``
    rejects with probability ``>= 1 - false_negative_rate`` every alternative
    whose total-variation distance from the null law is ``>= min_discrepancy``.

    Parameters
    ----------
    min_discrepancy : float
        TV distance ε in (0, 1].
    false_positive_rate, false_negative_rate : float
        Error rates in (0, 1) with sum below 1.
    n_cells : int
        Categories of the test (the support of the law), at least 2.

    Returns
    -------
    int

    Notes
    -----
    Under an alternative p1 the statistic is asymptotically noncentral
    chi-square with ``dof = n_cells - 1`` and noncentrality
    ``λ = n Σ (p1 - p0)² / p0``. By Cauchy–Schwarz,
    ``Σ (p1 - p0)² / p0 >= (Σ |p1 - p0|)² = 4 TV²``, so ``λ >= 4 n ε²`` and the
    power is smallest at ``λ = 4 n ε²`` (attained when ``|p1 - p0| / p0`` is
    constant). The answer is asymptotic and assumes no pooling; the power is
    monotone in n, so n is found by doubling then bisection.

    Examples
    --------
    >>> from pcg_verify.stats import min_samples_for_categorical
    >>> min_samples_for_categorical(0.05, 1e-3, 1e-2, n_cells=10)
    4823
    """
    epsilon = common.discrepancy("min_discrepancy", min_discrepancy)
    alpha, beta, dof = _sizing_arguments(false_positive_rate, false_negative_rate, n_cells)
    critical = float(chi2.isf(alpha, dof))
    high = 1
    while not _detects(high, epsilon, critical, dof, beta):
        high *= 2
    low = high // 2  # does not detect (or is 0)
    while high - low > 1:
        middle = (low + high) // 2
        if _detects(middle, epsilon, critical, dof, beta):
            high = middle
        else:
            low = middle
    return high


def min_detectable_discrepancy_for_categorical(
    n_samples: int,
    false_positive_rate: float,
    false_negative_rate: float,
    *,
    n_cells: int,
) -> float:
    """Smallest TV distance that n samples detect; inverse of :func:`min_samples_for_categorical`.

    Returns the smallest float ε such that the asymptotic power at
    ``λ = 4 n ε²`` is at least ``1 - false_negative_rate`` (same assumptions as
    :func:`min_samples_for_categorical`), or ``inf`` when not even ε = 1
    qualifies. ``min_detectable_discrepancy_for_categorical(min_samples_for_categorical(ε, ...), ...) <= ε``.

    Examples
    --------
    >>> from pcg_verify.stats import min_detectable_discrepancy_for_categorical
    >>> round(min_detectable_discrepancy_for_categorical(4823, 1e-3, 1e-2, n_cells=10), 4)
    0.05
    """
    n = check_int("n_samples", n_samples, minimum=1)
    alpha, beta, dof = _sizing_arguments(false_positive_rate, false_negative_rate, n_cells)
    critical = float(chi2.isf(alpha, dof))
    if not _detects(n, 1.0, critical, dof, beta):
        return math.inf
    low, high = 0.0, 1.0
    while True:  # bisection down to adjacent floats
        middle = 0.5 * (low + high)
        if not low < middle < high:
            return high
        if _detects(n, middle, critical, dof, beta):
            high = middle
        else:
            low = middle
