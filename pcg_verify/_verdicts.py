"""Step 4 of the gate (:mod:`pcg_verify.checks`): what each case decided, one verdict per category, the report.

A case the port was too slow to finish (``CaseResult.too_slow``) is untested, never failed: when no
category fails, every category that did not fail reads ``too_slow`` and so does the report; a failure
found in the cases that finished still fails the port (it is evidence whatever the rest would show).

Math follows the paper: q is the target, p the draft.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from pcg_core.errors import InvalidArgumentError
from pcg_verify._evidence import report_evidence, variability
from pcg_verify._experiment import Observations
from pcg_verify._plan import GatePlan
from pcg_verify.budgets import Budget
from pcg_verify.report import Category, CategoryVerdict, GateReport, LawCheck, Verdict

__all__ = ["CaseResult", "describe_rejection", "gate_report"]


# --------------------------------------------------------------------------- what one case decided
@dataclass
class CaseResult:
    """Everything the gate decided about one case; decisions never depend on other cases."""

    index: int
    tests: list[LawCheck] = field(default_factory=list)  # decided: adjusted_pvalue and rejected are set
    structure: list[str] = field(default_factory=list)
    determinism: str | None = None  # a message when two same-seed calls differ
    determinism_checked: bool = False
    retried: bool = False
    observations: Observations | None = None  # stage 1, full batch
    too_slow: str | None = None  # why the case is unfinished: a call past the limit or the deadline

    @property
    def rejected(self) -> bool:
        return any(t.rejected for t in self.tests)

    def failures(self, category: Category) -> list[str]:
        """What fails ``category`` in this case, one line each (the verdicts, the plugin and the
        mutation score all count failures by this rule)."""
        if category == Category.STRUCTURE:
            return list(self.structure)
        if category == Category.DETERMINISM:
            return [self.determinism] if self.determinism else []
        rejected = [t for t in self.tests if t.rejected]
        if category == Category.BATCH_INVARIANCE and any(t.category != category for t in rejected):
            return []  # the case fails in the full batch too: not evidence of batch dependence
        return [describe_rejection(t) for t in sorted(rejected, key=lambda t: t.pvalue) if t.category == category]

    def untested(self, category: Category) -> str | None:
        """Why this case tested nothing of ``category`` (None when it did); the plugin skips such items.

        An unfinished case (too slow) tested no category to the end."""
        if self.too_slow is not None:
            return f"unfinished, too slow: {self.too_slow}"
        if category == Category.STRUCTURE:
            return None
        if category == Category.DETERMINISM:
            return None if self.determinism_checked else "the determinism calls did not run"
        if any(t.category == category for t in self.tests):
            return None
        if self.observations is not None and not self.observations.has_labels and category in (
                Category.GUARANTEE, Category.BATCH_INVARIANCE):
            return "the port reports no group labels"
        return "no test of this category in this case (too few samples, or its law pools to one cell)"

    def failing_categories(self) -> tuple[Category, ...]:
        """The categories this case fails, in :class:`Category` order."""
        return tuple(c for c in Category if self.failures(c))


def describe_rejection(test: LawCheck) -> str:
    """One line for a rejected test: where, which law, its p-value and sample count."""
    return (f"case {test.case_index} row {test.row} position {test.position}: {test.law} rejected "
            f"(p={test.pvalue:.3g}, adjusted {test.adjusted_pvalue:.3g}, n={test.n_samples}, stage {test.stage})")


# --------------------------------------------------------------------------- 4. verdicts
def _statistical_verdict(category: Category, tests: list[LawCheck], excused: set[int], has_labels: bool,
                         broken: bool, replay: Callable[[int], str], budget: Budget) -> CategoryVerdict:
    mine = [t for t in tests if t.category == category]
    failing = [t for t in mine if t.rejected]
    if not mine:
        if broken and not tests:
            why = "no run could be tested: the port's outputs broke the contract (see structure)"
        elif category in (Category.GUARANTEE, Category.BATCH_INVARIANCE) and not has_labels:
            why = "the port reports no group labels"
        else:
            why = "no test had enough samples"
        return CategoryVerdict(category, Verdict.UNTESTED, why)
    blamed = [t for t in failing if t.case_index not in excused]
    if failing and not blamed:
        cases = sorted({t.case_index for t in failing})
        return CategoryVerdict(category, Verdict.UNTESTED, f"{len(failing)} rejection(s) in case(s) {cases}, "
                               "which fail in the full batch too: not evidence of batch dependence")
    if blamed:
        failures = tuple(f"{describe_rejection(t)}. Reproduce: {replay(t.case_index)}"
                         for t in sorted(blamed, key=lambda t: t.pvalue))
        return CategoryVerdict(category, Verdict.FAIL, f"{len(blamed)} of {len(mine)} tests rejected", failures)
    detect = sorted(t.detectable_discrepancy for t in mine)
    least = f"{detect[-1]:.3g}" if np.isfinite(detect[-1]) else "nothing (too few samples there)"
    return CategoryVerdict(category, Verdict.PASS,
                           f"{len(mine)} tests; with power ≥ {1 - budget.false_negative_rate:g} the most sensitive "
                           f"detects TV ≥ {detect[0]:.3g}, the least sensitive {least}")


def _verdicts(plan: GatePlan, results: list[CaseResult], replay: Callable[[int], str],
              has_labels: bool) -> dict[Category, CategoryVerdict]:
    tests = [t for r in results for t in r.tests]
    # A row that fails alone is blamed on batch dependence only if its case passes in the full batch.
    full_batch_failures = {t.case_index for t in tests if t.rejected and t.category != Category.BATCH_INVARIANCE}
    structure = [f"{m}. Reproduce: {replay(r.index)}" for r in results for m in r.structure]
    out = {c: _statistical_verdict(c, tests, full_batch_failures if c == Category.BATCH_INVARIANCE else set(),
                                   has_labels, bool(structure), replay, plan.budget)
           for c in Category if c.statistical}
    out[Category.STRUCTURE] = (
        CategoryVerdict(Category.STRUCTURE, Verdict.FAIL, f"{len(structure)} run(s) broke the contract",
                        tuple(structure)) if structure else
        CategoryVerdict(Category.STRUCTURE, Verdict.PASS, "ids, padding, membership and support hold in every output"))
    determinism = [f"case {r.index}: {r.determinism}. Reproduce: {replay(r.index)}" for r in results if r.determinism]
    checked = sum(r.determinism_checked for r in results)
    if determinism:
        out[Category.DETERMINISM] = CategoryVerdict(Category.DETERMINISM, Verdict.FAIL,
                                                    "outputs differ under one seed", tuple(determinism))
    elif checked:
        out[Category.DETERMINISM] = CategoryVerdict(Category.DETERMINISM, Verdict.PASS,
                                                    f"identical outputs under one seed in {checked} case(s)")
    else:
        out[Category.DETERMINISM] = CategoryVerdict(Category.DETERMINISM, Verdict.UNTESTED,
                                                    "not checked: no case kept the contract (see structure)")
    return {c: out[c] for c in Category}


def _too_slow(categories: dict[Category, CategoryVerdict], unfinished: int,
              total: int) -> dict[Category, CategoryVerdict]:
    """``categories`` with every verdict but a fail made ``too_slow`` when ``unfinished`` of the ``total``
    cases did not finish: what the finished cases said is kept in the message, never reported as a pass."""
    if not unfinished:
        return categories
    note = f"{unfinished} of {total} case(s) unfinished (the port was too slow)"
    return {c: v if v.verdict == Verdict.FAIL else
            CategoryVerdict(c, Verdict.TOO_SLOW, f"{note}; no case finished" if unfinished == total else
                            f"{note}; in the finished cases: {v.verdict.words}, {v.message}")
            for c, v in categories.items()}


def overall_verdict(categories: dict[Category, CategoryVerdict], unfinished: int) -> Verdict:
    """The run's verdict: FAIL when a category failed, else TOO_SLOW when a case is unfinished, else PASS
    (a run cut short is never a pass)."""
    if any(v.verdict == Verdict.FAIL for v in categories.values()):
        return Verdict.FAIL
    return Verdict.TOO_SLOW if unfinished else Verdict.PASS


def gate_report(plan: GatePlan, results: list[CaseResult], *, port_name: str, replay: Callable[[int], str],
                elapsed_seconds: float) -> GateReport:
    """Step 4: the verdicts and the report of ``results`` (cases of ``plan`` in index order, each run once).

    :func:`run_gate` calls it after its cases; the pytest plugin calls it on
    the cases its workers ran, so both give one report for one plan.
    """
    indices = [r.index for r in results]
    if indices != sorted(set(indices)):
        raise InvalidArgumentError("results", indices, "must hold each case once, in index order")
    counted = [r for r in results if r.observations is not None and r.observations.rows]
    observed = [r.observations for r in counted if r.observations is not None]
    has_labels = all(o.has_labels for o in observed)
    unfinished = tuple(f"{r.too_slow}. Reproduce: {replay(r.index)}" for r in results if r.too_slow is not None)
    categories = _too_slow(_verdicts(plan, results, replay, has_labels), len(unfinished), len(results))
    return GateReport(
        verdict=overall_verdict(categories, len(unfinished)),
        port=port_name,
        budget=plan.budget,
        seed=plan.seed,
        singleton_only=plan.singleton_only,
        procedure=plan.procedure,
        categories=categories,
        tests=tuple(t for r in results for t in r.tests),
        variability=variability(observed, [plan.laws_of(r.index) for r in counted]),
        retried_cases=tuple(r.index for r in results if r.retried),
        cases=tuple({"index": i, "samples_per_row": plan.samples_per_row[i], **plan.cases[i].to_dict()}
                    for i in indices),
        elapsed_seconds=elapsed_seconds,
        per_test_level=plan.per_test_level,
        evidence=report_evidence([t for r in results for t in r.tests],
                                 [(r.index, o, plan.laws_of(r.index)) for r, o in zip(counted, observed, strict=True)]),
        unfinished=unfinished,
    )
