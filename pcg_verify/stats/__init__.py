"""Calibrated statistical tests for the verification gate.

The gate samples an implementation many times and tests the observed
frequencies against exact laws (q is the target distribution, p the draft,
as in the paper; code never uses bare ``p``/``q``). It must neither flake nor
wave a bug through, so every test states both error rates:

* ``false_positive_rate``: the probability of failing a correct implementation;
  a result *passes* unless ``pvalue <= false_positive_rate``.
* ``false_negative_rate``: the probability of passing an implementation that is
  wrong by at least the stated discrepancy; ``power = 1 - false_negative_rate``.

Each test is a family with one grammar: ``check_*`` returns a frozen result
(``statistic``, ``pvalue``, evidence, ``to_dict()``, ``passed(rate)``),
``assert_*`` raises :class:`StatisticalAssertionError` (message built from the
result, ending with a ``Reproduce:`` line when given one), and
``min_samples_for_*`` / ``min_detectable_discrepancy_for_*`` size the experiment.

==========================  =========================================  ==========================
family                      discrepancy measure                        sizing
==========================  =========================================  ==========================
``categorical``             total variation between laws               asymptotic, worst case
``binomial``                shift of a success probability             exact binomial arithmetic
``uniformity`` (PIT)        sup distance between CDFs                  finite-n (DKW–Massart), KS
==========================  =========================================  ==========================

:func:`tv_upper_bound` turns counts into a rigorous TV bound and
:func:`adjust_family` controls the family-wise rate over many tests.

``to_dict()`` returns plain JSON types and writes every non-finite float
(``inf``, ``-inf``, ``nan``) as ``None``, i.e. JSON ``null``, so results
serialise with ``json.dumps(..., allow_nan=False)``; the other fields say which
case it was (an infinite G statistic comes with ``impossible_categories``).

The gate uses the categorical family, :func:`adjust_family` and their results.
The names in :data:`PROVISIONAL` (the binomial and uniformity families and
:func:`tv_upper_bound`) are tested but not used by the gate yet; their
interface may change without notice.

This package depends on numpy, scipy, :mod:`pcg_core.errors` and
:mod:`pcg_core.validation` only, so importing it loads no torch.
"""

from pcg_verify.stats._binomial import (
    assert_binomial,
    check_binomial,
    min_detectable_discrepancy_for_binomial,
    min_samples_for_binomial,
)
from pcg_verify.stats._categorical import assert_categorical, check_categorical, pooled_cell_count
from pcg_verify.stats._family import adjust_family
from pcg_verify.stats._results import (
    BinomialTestResult,
    FamilyDecision,
    GoodnessOfFitResult,
    StatisticalAssertionError,
    TVBoundResult,
    UniformityResult,
)
from pcg_verify.stats._sizing import min_detectable_discrepancy_for_categorical, min_samples_for_categorical
from pcg_verify.stats._tv import tv_upper_bound
from pcg_verify.stats._uniformity import (
    assert_uniformity,
    check_uniformity,
    min_detectable_discrepancy_for_uniformity,
    min_samples_for_uniformity,
    randomized_pit,
)

#: Public names the gate does not use yet; their interface may change without notice.
PROVISIONAL = (
    "BinomialTestResult",
    "TVBoundResult",
    "UniformityResult",
    "assert_binomial",
    "assert_uniformity",
    "check_binomial",
    "check_uniformity",
    "min_detectable_discrepancy_for_binomial",
    "min_detectable_discrepancy_for_uniformity",
    "min_samples_for_binomial",
    "min_samples_for_uniformity",
    "randomized_pit",
    "tv_upper_bound",
)

__all__ = [
    "PROVISIONAL",
    "BinomialTestResult",
    "FamilyDecision",
    "GoodnessOfFitResult",
    "StatisticalAssertionError",
    "TVBoundResult",
    "UniformityResult",
    "adjust_family",
    "assert_binomial",
    "assert_categorical",
    "assert_uniformity",
    "check_binomial",
    "check_categorical",
    "check_uniformity",
    "min_detectable_discrepancy_for_binomial",
    "min_detectable_discrepancy_for_categorical",
    "min_detectable_discrepancy_for_uniformity",
    "min_samples_for_binomial",
    "min_samples_for_categorical",
    "min_samples_for_uniformity",
    "pooled_cell_count",
    "randomized_pit",
    "tv_upper_bound",
]
