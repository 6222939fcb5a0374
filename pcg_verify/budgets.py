"""How hard the gate looks (:class:`Budget`) and how it decides (:class:`Procedure`).

A budget fixes the experiment: how many cases, the total-variation
discrepancy each position-0 group-label test must detect, with what power,
and the caps on case sizes and samples. A procedure fixes the decision rule
and its error rates; its family-wise false-positive rate is a computed
property, so the declared rate can never drift from the rule.

The decision rule (two stages; every decision is local to one case):

* stage 1 Bonferroni-adjusts each p-value over the plan's test count m
  (adjusted p = min(1, m·p)); an adjusted p ≤ ``direct_rate`` fails at once,
  and a case with no failure is *suspicious* when one is ≤ ``suspicious_rate``;
* stage 2 re-runs each suspicious case with fresh seeds and ``retry_factor``
  times the samples, and fails when a Holm-adjusted p-value over that case's
  stage-2 tests is ≤ ``retry_rate``.

Every test is a G (likelihood-ratio) test with a chi-square reference. Its
p-value is accurate only up to a factor at the extreme levels a gate uses:
against exact binomial tails the true rate was at most 4.9x the nominal one
(levels 1e-7..1e-3, n·p ≥ 5), so each rate is inflated by
``tail_safety_factor`` = 5 in the bound

    F·direct + (F·suspicious)·(F·retry) = 5·1e-4 + (5·2e-3)·(5·1e-2) = 1e-3

Stage 1 fails a correct port with probability ≤ F·direct (union bound over
the m tests). A case is suspicious with probability ≤ F·suspicious·(its
share of the m tests), so summed over cases ≤ F·suspicious; given that it is
re-run, its fresh stage 2 fails with probability ≤ F·retry (Holm controls the
case's family under any dependence). Structural and determinism checks never
fail a correct port, so they add nothing to the rate.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pcg_core.errors import InvalidArgumentError
from pcg_core.validation import check_int, check_real
from pcg_verify._options import FAMILY_NAMES

__all__ = ["BUDGETS", "PROCEDURE", "Budget", "Procedure"]


@dataclass(frozen=True, kw_only=True)
class Procedure:
    """The gate's decision rule and the rates it declares (see the module docstring)."""

    direct_rate: float = 1e-4
    suspicious_rate: float = 2e-3
    retry_rate: float = 1e-2
    tail_safety_factor: float = 5.0
    retry_factor: int = 4
    #: tests with fewer observations are not run (they lose power, never validity)
    min_test_samples: int = 20
    #: cells with a smaller expected count are pooled before the chi-square test
    min_expected: float = 5.0
    #: the stated coarsening: a test of n samples has at most n / min_mean_expected cells (equal-mass bins)
    min_mean_expected: float = 25.0
    #: the fewest replicates of a case's rows handed to the port twice under one seed (determinism);
    #: the call holds at least 4,096 rows where they fit (pcg_verify._call_patterns.determinism_rows)
    determinism_replicates: int = 32

    def __post_init__(self) -> None:
        for name in ("direct_rate", "suspicious_rate", "retry_rate"):
            check_real(name, getattr(self, name), minimum=0.0, maximum=1.0)
        if not self.direct_rate <= self.suspicious_rate:
            raise InvalidArgumentError("direct_rate", self.direct_rate,
                                       f"must be ≤ suspicious_rate={self.suspicious_rate}")
        check_real("tail_safety_factor", self.tail_safety_factor, minimum=1.0)
        check_int("retry_factor", self.retry_factor, minimum=1)
        check_int("min_test_samples", self.min_test_samples, minimum=1)
        check_real("min_expected", self.min_expected, minimum=0.0)
        check_real("min_mean_expected", self.min_mean_expected, minimum=1.0)
        check_int("determinism_replicates", self.determinism_replicates, minimum=1)

    def max_cells(self, n_samples: int) -> int:
        """Most cells a test of ``n_samples`` keeps: the chi-square tail of G stays accurate when the mean
        expected count per cell is ≥ ``min_mean_expected``, whatever the number of categories."""
        return max(2, int(n_samples // self.min_mean_expected))

    @property
    def family_false_positive_rate(self) -> float:
        """Probability that a correct port fails: F·direct + (F·suspicious)·(F·retry), capped at 1."""
        factor = self.tail_safety_factor
        rate = factor * self.direct_rate + (factor * self.suspicious_rate) * (factor * self.retry_rate)
        return min(1.0, rate)

    @property
    def attribution_rate(self) -> float:
        """Probability that a category whose laws a port keeps exactly fails when another category's laws are
        broken: F·direct + F·retry (the broken law may send the case to stage 2, which looks at every law of the
        case again at the retry level; Bonferroni and Holm both control every subset of true laws), capped at 1.
        """
        return min(1.0, self.tail_safety_factor * (self.direct_rate + self.retry_rate))

    def describe(self) -> str:
        """One sentence that reports quote as the declared procedure."""
        return (f"G tests, Bonferroni over all planned tests; fail if adjusted p ≤ {self.direct_rate:g}; re-run "
                f"cases with adjusted p ≤ {self.suspicious_rate:g} with fresh seeds and {self.retry_factor}x "
                f"samples, fail if Holm-adjusted p ≤ {self.retry_rate:g} within the case there; the declared rate "
                f"allows a "
                f"{self.tail_safety_factor:g}x error of the chi-square tail")

    def to_dict(self) -> dict[str, Any]:
        return {
            "direct_rate": self.direct_rate,
            "suspicious_rate": self.suspicious_rate,
            "retry_rate": self.retry_rate,
            "tail_safety_factor": self.tail_safety_factor,
            "retry_factor": self.retry_factor,
            "min_test_samples": self.min_test_samples,
            "min_expected": self.min_expected,
            "min_mean_expected": self.min_mean_expected,
            "determinism_replicates": self.determinism_replicates,
            "family_false_positive_rate": self.family_false_positive_rate,
            "attribution_rate": self.attribution_rate,
            "description": self.describe(),
        }


#: The procedure every budget uses unless a caller passes another.
PROCEDURE = Procedure()


@dataclass(frozen=True, kw_only=True)
class Budget:
    """How hard the gate looks: cases, the discrepancy it promises to detect, and caps.

    Parameters
    ----------
    name : str
        How reports and replay lines name the budget.
    cases : int
        Cases per master seed, family and designed cases included: the first
        ``cases − len(families) − designed`` are drawn, then one case of each
        family, in order, then the ``designed`` cases.
    discrepancy : float
        Total variation that each position-0 group-label test detects with
        power ≥ 1 − ``false_negative_rate`` at its Bonferroni level.
    false_negative_rate : float
    max_vocab, max_gamma, max_batch : int
        Upper bounds of V, γ and B of the drawn cases.
    max_samples_per_row : int
        Cap on replicates per case row; a promise that needs more raises
        :class:`~pcg_core.errors.DesignError` before sampling.
    batch_invariance_cases : int
        How many multi-row cases are also run with row 0 alone.
    unaligned_vocab : int, optional
        The last drawn case uses this tile-unaligned vocabulary size.
    families : tuple of str
        Case families shaped like real engines' inputs (names from
        ``pcg_verify.cases._families.FAMILIES``): paper-scale vocabularies in both
        layouts, 32-bit indices, big groups and hubs, γ = 8, calls of one and
        of a few rows, float32/float16/bfloat16 rows, non-contiguous views;
        every family case rejects. Every budget lists all of them, so every
        master seed covers every dimension.
    family_samples_per_row : int
        Cap on replicates per row of a family or designed case (its position-0
        promise holds when the sized count is below the cap; each test reports
        the discrepancy it detects).
    designed : int
        Designed cases per master seed (:mod:`pcg_verify.cases._design`): a
        covering array over the coverage dimensions, every pair of values in at
        least one case, built afresh from each master seed and padded to this
        many rows by a second cover. 0: none.
    design_entries : int
        Probability entries (rows × (2γ+1) × V) a designed case's experiment
        may hand the port; a paper-scale case gets fewer replicates per row, never
        fewer than ``design_min_samples``.
    design_min_samples : int
        The fewest replicates per row of a designed case.
    """

    name: str
    cases: int
    discrepancy: float
    false_negative_rate: float = 0.01
    max_vocab: int
    max_gamma: int
    max_batch: int
    max_samples_per_row: int
    batch_invariance_cases: int
    unaligned_vocab: int | None = None
    families: tuple[str, ...] = ()
    family_samples_per_row: int = 1000
    designed: int = 0
    design_entries: int = 400_000_000
    design_min_samples: int = 100

    def __post_init__(self) -> None:
        if isinstance(self.families, str) or not all(isinstance(f, str) for f in self.families):
            raise InvalidArgumentError("families", self.families, "must be a tuple of family names",
                                       f"choose from {sorted(FAMILY_NAMES)}")
        unknown = [f for f in self.families if f not in FAMILY_NAMES]
        if unknown:
            raise InvalidArgumentError("families", self.families, f"names unknown families {unknown}",
                                       f"choose from {sorted(FAMILY_NAMES)}")
        check_int("family_samples_per_row", self.family_samples_per_row, minimum=1)
        check_int("designed", self.designed, minimum=0)
        check_int("design_entries", self.design_entries, minimum=1)
        check_int("design_min_samples", self.design_min_samples, minimum=1)
        drawn = 1 if self.unaligned_vocab is not None else 0
        check_int("cases", self.cases, minimum=max(1, len(self.families) + self.designed + drawn))
        check_real("discrepancy", self.discrepancy, minimum=0.0, maximum=1.0)
        check_real("false_negative_rate", self.false_negative_rate, minimum=0.0, maximum=1.0)
        check_int("max_vocab", self.max_vocab, minimum=2)
        check_int("max_gamma", self.max_gamma, minimum=1)
        check_int("max_batch", self.max_batch, minimum=1)
        check_int("max_samples_per_row", self.max_samples_per_row, minimum=1)
        check_int("batch_invariance_cases", self.batch_invariance_cases, minimum=0)
        if self.unaligned_vocab is not None:
            check_int("unaligned_vocab", self.unaligned_vocab, minimum=2)

    @property
    def drawn(self) -> int:
        """How many of the cases are drawn (the rest are family and designed cases)."""
        return self.cases - len(self.families) - self.designed

    def drawn_only(self) -> Budget:
        """This budget without its family and designed cases, named ``<name>-drawn``: the same drawn cases and
        seeds, with the Bonferroni count of those alone. For calibration and power studies of the drawn cases
        (the engine-scale cases cost most of a standard run); not a gate for a release."""
        if not self.families and not self.designed:
            return self
        return dataclasses.replace(self, name=f"{self.name}-drawn", families=(), designed=0, cases=self.drawn)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "cases": self.cases,
            "discrepancy": self.discrepancy,
            "false_negative_rate": self.false_negative_rate,
            "max_vocab": self.max_vocab,
            "max_gamma": self.max_gamma,
            "max_batch": self.max_batch,
            "max_samples_per_row": self.max_samples_per_row,
            "batch_invariance_cases": self.batch_invariance_cases,
            "unaligned_vocab": self.unaligned_vocab,
            "families": list(self.families),
            "family_samples_per_row": self.family_samples_per_row,
            "designed": self.designed,
            "design_entries": self.design_entries,
            "design_min_samples": self.design_min_samples,
        }


#: The named budgets, lightest first: ``quick`` (a smoke test), ``standard`` (the default), ``thorough``.
BUDGETS: MappingProxyType[str, Budget] = MappingProxyType({
    # quick is a smoke test in a fraction of a second: toy cases only, no engine-scale family.
    "quick": Budget(name="quick", cases=8, discrepancy=0.15, max_vocab=12, max_gamma=3, max_batch=2,
                    max_samples_per_row=50_000, batch_invariance_cases=1),
    # standard and thorough: drawn toy cases, then a covering array of engine-scale designed cases (every pair of
    # coverage values on every master seed; the four engine families are its first points).
    "standard": Budget(name="standard", cases=24 + 32, discrepancy=0.05, max_vocab=24, max_gamma=4, max_batch=3,
                       max_samples_per_row=200_000, batch_invariance_cases=2, unaligned_vocab=257,
                       family_samples_per_row=400, designed=32),
    "thorough": Budget(name="thorough", cases=48 + 32, discrepancy=0.03, max_vocab=48, max_gamma=5, max_batch=4,
                       max_samples_per_row=1_000_000, batch_invariance_cases=4, unaligned_vocab=1025,
                       family_samples_per_row=2400, designed=32, design_entries=800_000_000,
                       design_min_samples=200),
})
