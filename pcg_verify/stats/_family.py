"""Multiple testing: control the family-wise false-positive rate over many checks."""

from __future__ import annotations

import numpy as np

from pcg_core.validation import check_choice, check_probability
from pcg_verify.stats import _common as common
from pcg_verify.stats._results import FamilyDecision

__all__ = ["adjust_family"]

_METHODS = ("holm", "bonferroni")


def adjust_family(
    pvalues: object, *, family_false_positive_rate: float, method: str = "holm"
) -> FamilyDecision:
    """Adjust m p-values so that rejecting ``adjusted <= rate`` controls the family-wise rate.

    Parameters
    ----------
    pvalues : array_like of float, shape [m]
        One p-value per hypothesis, in [0, 1]; ``m >= 1``.
    family_false_positive_rate : float
        Probability, in (0, 1), of rejecting at least one true hypothesis.
    method : {"holm", "bonferroni"}
        Bonferroni: ``min(1, m p_i)``. Holm's step-down (never less powerful):
        with the p-values sorted ascending, ``p_(1) <= ... <= p_(m)``,
        ``adjusted_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``.

    Returns
    -------
    FamilyDecision
        Adjusted p-values in the input order (ties keep their order);
        ``rejected[i] = adjusted[i] <= family_false_positive_rate``. Both
        methods hold the family-wise rate under any dependence between tests.

    Complexity: O(m log m).

    Examples
    --------
    >>> from pcg_verify.stats import adjust_family
    >>> decision = adjust_family([0.01, 0.04, 0.03], family_false_positive_rate=0.05)
    >>> decision.adjusted_pvalues
    (0.03, 0.06, 0.06)
    >>> decision.rejected
    (True, False, False)
    """
    values = common.unit_values("pvalues", pvalues, one_dimensional=True)
    rate = check_probability("family_false_positive_rate", family_false_positive_rate, strict=True)
    method_name = check_choice("method", method, _METHODS)
    m = values.size
    if method_name == "bonferroni":
        adjusted = np.minimum(1.0, m * values)
    else:
        order = np.argsort(values, kind="stable")
        multipliers = m - np.arange(m, dtype=np.float64)  # m, m-1, ..., 1
        stepped = np.maximum.accumulate(np.minimum(1.0, multipliers * values[order]))
        adjusted = np.empty(m, dtype=np.float64)
        adjusted[order] = stepped
    return FamilyDecision(
        rejected=tuple(bool(flag) for flag in adjusted <= rate),
        adjusted_pvalues=tuple(float(value) for value in adjusted),
        pvalues=tuple(float(value) for value in values),
        method=method_name,
        family_false_positive_rate=rate,
    )
