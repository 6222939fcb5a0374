"""The gate: every law of PCG checked on a port, with a declared family-wise error rate.

Math follows the paper: q is the target, p the draft. :func:`run_gate` is
this procedure, step by step:

1. **Plan.** Draw ``budget.cases`` cases from the master seed (case i is
   replayable alone; no two (master seed, case) pairs share a case seed).
   Size each experiment before sampling: the position-0 group-label test of
   every row must detect a total-variation discrepancy ≥ ``budget.discrepancy``
   with power ≥ 1 − ``budget.false_negative_rate`` at its Bonferroni level.
   A budget that cannot keep this promise within ``max_samples_per_row``
   raises :class:`~pcg_core.errors.DesignError` before the port is called.
2. **Stage 1** (:func:`run_case`, one case at a time). Hard structural
   checks on every output (ids, −1 padding, drafts kept, token ∈ its group,
   no impossible token or label, output types and shapes, inputs left
   unchanged, the port's own exceptions) and two calls under one seed
   (determinism); these never fail a correct port. Then one G test per
   (row, position, law); for the first multi-row cases, row 0 is also run
   alone (batch invariance). Each p-value is Bonferroni-adjusted over the
   plan's test count m: adjusted p ≤ ``direct_rate`` fails.
3. **Stage 2** (still in :func:`run_case`). A case with no failure but an
   adjusted p ≤ ``suspicious_rate`` is re-run with fresh seeds and
   ``retry_factor`` × the samples, with the same structural checks; Holm
   over that case's stage-2 tests: adjusted p ≤ ``retry_rate`` fails.
   Every decision is local to its case, so cases can run anywhere (the
   pytest plugin spreads them over workers) and give the same verdict.
4. **Verdicts.** One per category (:class:`~pcg_verify.report.Category`);
   the port passes when no category fails. The family-wise false-positive
   rate is :attr:`Procedure.family_false_positive_rate` (1e-3 by default;
   the argument is in :mod:`pcg_verify.budgets`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from pcg_core.errors import DesignError, InvalidArgumentError, InvalidTypeError
from pcg_core.validation import check_bool, check_int, check_real
from pcg_verify._call_patterns import (
    determinism_differs,
    first_call_differs,
    pattern_test_count,
    pattern_tests,
    pooled_test_count,
    pooled_tests,
)
from pcg_verify._evidence import law_checks, report_evidence, variability
from pcg_verify._experiment import Observations, derived_seed, observe, row_laws
from pcg_verify._families import family_case, label_cells
from pcg_verify.budgets import BUDGETS, PROCEDURE, Budget, Procedure
from pcg_verify.cases import Case, case_seed, draw_case
from pcg_verify.laws import BlockLaw
from pcg_verify.ports import DEFAULT_CALL_TIMEOUT, REFERENCE_PORT, LoadedPort, Port, PortProtocolError, open_port
from pcg_verify.report import Category, CategoryVerdict, GateFailure, GateReport, LawCheck, Verdict, replay_line
from pcg_verify.stats import adjust_family, min_samples_for_categorical

__all__ = [
    "CaseResult",
    "GatePlan",
    "assert_gate",
    "describe_rejection",
    "gate_case",
    "gate_report",
    "plan_gate",
    "resolve_budget",
    "run_case",
    "run_gate",
    "torch_threads",
]


# --------------------------------------------------------------------------- 1. plan
@dataclass(frozen=True)
class GatePlan:
    """The cases of one master seed, sized before sampling, and how to replay each."""

    budget: Budget
    seed: int
    singleton_only: bool
    procedure: Procedure
    cases: tuple[Case, ...]
    samples_per_row: tuple[int, ...]
    planned_tests: int  # m: the most tests the cases can give (the Bonferroni count)
    per_test_level: float  # direct_rate / m
    alone_cases: frozenset[int]  # cases also run with row 0 alone (batch invariance)
    laws: dict[int, list[BlockLaw]] = field(default_factory=dict, compare=False)

    def laws_of(self, index: int) -> list[BlockLaw]:
        """The exact block law of every row of case ``index`` (computed once)."""
        if index not in self.laws:
            self.laws[index] = row_laws(self.cases[index])
        return self.laws[index]


def gate_case(budget: Budget, seed: int, index: int, *, singleton_only: bool = False) -> Case:
    """Case ``index`` of master seed ``seed``.

    Its seed is the Cantor pairing of (seed, index), so no two pairs share one;
    consecutive indices cycle through every group kind, relation and
    distribution kind. The last drawn case of a budget with ``unaligned_vocab``
    uses that tile-unaligned vocabulary size; the last ``len(budget.families)``
    cases are one case of each family (:mod:`pcg_verify._families`), in order.
    """
    drawn = budget.cases - len(budget.families)
    if index >= drawn:
        return family_case(budget.families[index - drawn], case_seed(seed, index), singleton_only=singleton_only)
    unaligned = budget.unaligned_vocab is not None and index == drawn - 1
    vocab = budget.unaligned_vocab if unaligned and budget.unaligned_vocab else budget.max_vocab
    return draw_case(case_seed(seed, index), cycle_index=index,
                     min_vocab=vocab if unaligned else 2, max_vocab=vocab,
                     max_gamma=budget.max_gamma, max_batch=budget.max_batch, singleton_only=singleton_only)


def plan_gate(budget: Budget, seed: int, *, singleton_only: bool = False,
              procedure: Procedure = PROCEDURE) -> GatePlan:
    """Step 1: draw the cases and size every experiment (raises DesignError before any sampling)."""
    cases = tuple(gate_case(budget, seed, i, singleton_only=singleton_only) for i in range(budget.cases))
    alone = frozenset([i for i, c in enumerate(cases) if c.batch > 1][: budget.batch_invariance_cases])
    # Bonferroni count: per row, γ+1 label tests, γ+1 conformance tests, acceptance and bonus;
    # the alone runs add γ+1 label tests for row 0; per case, the tests of what pooling hides
    # (adjacent rows of one call, first and last row of every call) and of the call patterns.
    tests = sum(c.batch * (2 * (c.gamma + 1) + 2) for c in cases)
    tests += sum(cases[i].gamma + 1 for i in alone)
    tests += sum(pooled_test_count(c) + pattern_test_count(c) for c in cases)
    per_test = procedure.direct_rate / tests
    samples = []
    for index, case in enumerate(cases):
        if case.family:  # sized on the groups that carry mass, capped (each test reports what it detects)
            cells = max(2, label_cells(case))
            n = min_samples_for_categorical(budget.discrepancy, per_test, budget.false_negative_rate, n_cells=cells)
            samples.append(int(min(n, budget.family_samples_per_row)))
            continue
        cells = max(2, case.groups.num_groups)
        n = min_samples_for_categorical(budget.discrepancy, per_test, budget.false_negative_rate, n_cells=cells)
        # The promised tests are never coarsened: n / cells ≥ min_mean_expected.
        n = max(n, math.ceil(procedure.min_mean_expected * cells))
        if n > budget.max_samples_per_row:
            raise DesignError(
                "budget", budget.name,
                f"case {index} needs {n} samples per row to detect TV ≥ {budget.discrepancy} with power "
                f"{1 - budget.false_negative_rate:g} at level {per_test:.3g}, above max_samples_per_row="
                f"{budget.max_samples_per_row}",
                "raise max_samples_per_row or the discrepancy",
            )
        samples.append(int(n))
    return GatePlan(budget, seed, singleton_only, procedure, cases, tuple(samples), tests, per_test, alone)


# --------------------------------------------------------------------------- 2–3. stages, one case at a time
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

    def failing_categories(self) -> tuple[Category, ...]:
        """The categories this case fails, in :class:`Category` order."""
        return tuple(c for c in Category if self.failures(c))


def describe_rejection(test: LawCheck) -> str:
    """One line for a rejected test: where, which law, its p-value and sample count."""
    return (f"case {test.case_index} row {test.row} position {test.position}: {test.law} rejected "
            f"(p={test.pvalue:.3g}, adjusted {test.adjusted_pvalue:.3g}, n={test.n_samples}, stage {test.stage})")


def _runs(port: Port, plan: GatePlan, index: int, stage: int, result: CaseResult) -> list[LawCheck] | None:
    """The case's runs at ``stage`` (full batch, then row 0 alone where planned), each structurally
    checked; their undecided tests, or None at the first broken run."""
    case, laws = plan.cases[index], plan.laws_of(index)
    samples = (1 if stage == 1 else plan.procedure.retry_factor) * plan.samples_per_row[index]
    runs = [(False, None)] + ([(True, [0])] if index in plan.alone_cases else [])
    tests: list[LawCheck] = []
    for purpose, (alone, rows) in enumerate(runs):
        obs = observe(port, case, laws, samples_per_row=samples, rows=rows,
                      seed=derived_seed(plan.seed, index, stage, purpose))
        if stage == 1 and not alone:
            result.observations = obs
        if obs.violation_count:
            where = " (row 0 alone)" if alone else ""
            result.structure.append(f"case {index}{where}, stage {stage}: {obs.violation_count} violation(s), "
                                    f"e.g. {obs.violations[0]}")
            return None
        tests += law_checks(obs, laws if rows is None else [laws[r] for r in rows],
                            case_index=index, stage=stage, alone=alone, per_test_level=plan.per_test_level,
                            false_negative_rate=plan.budget.false_negative_rate, procedure=plan.procedure)
        if not alone:  # what pooling hides: adjacent rows of one call, first and last row of every call
            tests += pooled_tests(obs, laws, case_index=index, stage=stage, per_test_level=plan.per_test_level,
                                  false_negative_rate=plan.budget.false_negative_rate, procedure=plan.procedure)
    patterns, broken = pattern_tests(port, case, case_index=index, stage=stage, samples_per_row=samples,
                                     seed=derived_seed(plan.seed, index, stage, 3), per_test_level=plan.per_test_level,
                                     false_negative_rate=plan.budget.false_negative_rate, procedure=plan.procedure)
    if broken:
        result.structure += broken
        return None
    return tests + patterns


def run_case(port: Port, plan: GatePlan, index: int) -> CaseResult:
    """Steps 2–3 for case ``index``: stage 1, the determinism check, and stage 2 when suspicious.

    Stage 1 tests are Bonferroni-adjusted over the plan's test count
    (adjusted p = min(1, m·p)); the case fails at adjusted p ≤ ``direct_rate``
    and is suspicious, when nothing failed, at adjusted p ≤ ``suspicious_rate``.
    Stage 2 re-runs a suspicious case with fresh seeds and ``retry_factor`` ×
    the samples, with the same structural checks, and fails at Holm-adjusted
    p ≤ ``retry_rate`` over that case's stage-2 tests.
    """
    procedure, result = plan.procedure, CaseResult(index)
    first = _runs(port, plan, index, 1, result)
    if first is None:
        return result
    result.tests = [dataclasses.replace(t, adjusted_pvalue=a, rejected=a <= procedure.direct_rate)
                    for t in first for a in [min(1.0, t.pvalue * plan.planned_tests)]]
    try:  # the case's first call repeated after all others, then two large calls under one seed
        assert result.observations is not None
        result.determinism = (first_call_differs(port, plan.cases[index], result.observations)
                              or determinism_differs(port, plan.cases[index], derived_seed(plan.seed, index, 1, 2),
                                                     procedure.determinism_replicates))
        result.determinism_checked = True
    except PortProtocolError as error:
        result.structure.append(f"case {index}, determinism calls: {error}")
        return result
    if result.rejected or not any(t.adjusted_pvalue <= procedure.suspicious_rate for t in result.tests):
        return result
    result.retried = True
    second = _runs(port, plan, index, 2, result)
    if second:
        decision = adjust_family([t.pvalue for t in second], family_false_positive_rate=procedure.retry_rate,
                                 method="holm")
        result.tests += [dataclasses.replace(t, adjusted_pvalue=float(p), rejected=bool(r))
                         for t, p, r in zip(second, decision.adjusted_pvalues, decision.rejected, strict=True)]
    return result


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


# --------------------------------------------------------------------------- the gate
def resolve_budget(budget: Any) -> Budget:
    """A :class:`Budget`, or the named one of :data:`BUDGETS` (a clear error otherwise)."""
    if isinstance(budget, Budget):
        return budget
    if not isinstance(budget, str):
        raise InvalidTypeError("budget", budget, f"must be a Budget or one of {sorted(BUDGETS)}")
    if budget not in BUDGETS:
        raise InvalidArgumentError("budget", budget, f"must be one of {sorted(BUDGETS)}")
    return BUDGETS[budget]


def run_gate(
    port: Port | str = REFERENCE_PORT,
    *,
    budget: str | Budget = "standard",
    seed: int = 0,
    singleton_only: bool = False,
    case: int | None = None,
    port_name: str | None = None,
    procedure: Procedure = PROCEDURE,
    isolate: bool = False,
    call_timeout: float = DEFAULT_CALL_TIMEOUT,
    deadline: float | None = None,
    threads: int | None = 1,
    progress: Callable[[int, int], None] | None = None,
) -> GateReport:
    """Run the gate's procedure (module docstring) on ``port`` and return the report.

    Never raises on a verdict: the report says pass or fail.

    Parameters
    ----------
    port : callable or str
        A port (see the port contract in ``docs/port-contract.md``), or where
        to load one: ``package.module:function`` or ``path/to/file.py:function``.
    budget : {"quick", "standard", "thorough"} or Budget
    seed : int
        Master seed, ≥ 0; every case, experiment and retry seed is derived from it.
    singleton_only : bool
        Every case uses singleton groups: gates a plain speculative sampler.
    case : int, optional
        Run only this case index (the replay lines use it).
    port_name : str, optional
        How the report names the port (default: the import path or the qualname).
    procedure : Procedure
        The decision rule and its rates (default :data:`~pcg_verify.budgets.PROCEDURE`).
    isolate : bool
        Run the port in a worker process (it must be given by import path):
        a crash, ``os._exit``, a segfault or a hang becomes a structure
        failure of its case instead of ending the gate, and the worker is
        restarted for the next case. ``pcg-verify check`` isolates by default.
        An ``exec:`` program is its own process already.
    call_timeout : float
        In a worker or an ``exec:`` program: seconds one port call may take.
    deadline : float, optional
        In a worker or an ``exec:`` program: seconds the whole run may take; calls after it fail.
    threads : int or None
        torch intra-op threads while the gate runs (restored afterwards); the
        gate's tensors are small, so one thread is fastest and immune to busy
        neighbours. None leaves torch's setting alone.
    progress : callable, optional
        Called as ``progress(done, total)`` after each case.

    Raises
    ------
    InvalidArgumentError, InvalidTypeError
        For a bad argument or a port that cannot be loaded.
    DesignError
        When the budget cannot keep its power promise (before sampling).

    Examples
    --------
    >>> from pcg_verify import run_gate
    >>> run_gate(budget="quick", seed=0).passed
    True
    """
    started = time.perf_counter()
    budget = resolve_budget(budget)
    seed = check_int("seed", seed, minimum=0)
    singleton_only = check_bool("singleton_only", singleton_only)
    if case is not None:
        case = check_int("case", case, minimum=0, maximum=budget.cases - 1)
    if not isinstance(procedure, Procedure):
        raise InvalidTypeError("procedure", procedure, "must be a pcg_verify.Procedure")
    call_timeout = check_real("call_timeout", call_timeout, minimum=0.0)
    if deadline is not None:
        deadline = check_real("deadline", deadline, minimum=0.0)
    if threads is not None:
        threads = check_int("threads", threads, minimum=1)
    with open_port(port, port_name=port_name, isolate=check_bool("isolate", isolate), call_timeout=call_timeout,
                   deadline=deadline, threads=threads or 1) as loaded, torch_threads(threads):
        return _run(loaded, budget, seed, singleton_only, case, procedure, progress, started)


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """torch's intra-op thread count set to ``threads`` inside the block, restored after (None: left alone).

    The gate, the plugin and the mutation score run their cases inside it.
    """
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _run(loaded: LoadedPort, budget: Budget, seed: int, singleton_only: bool, case: int | None,
         procedure: Procedure, progress: Callable[[int, int], None] | None, started: float) -> GateReport:
    """Steps 1–4 of the module docstring."""

    def replay(index: int) -> str:
        return replay_line(loaded.spec, loaded.name, budget=budget, seed=seed, case=index,
                           singleton_only=singleton_only)

    plan = plan_gate(budget, seed, singleton_only=singleton_only, procedure=procedure)  # 1.
    indices = list(range(budget.cases)) if case is None else [case]
    results = []
    for done, index in enumerate(indices, start=1):
        results.append(run_case(loaded.function, plan, index))  # 2.–3.
        if progress is not None:
            progress(done, len(indices))
    return gate_report(plan, results, port_name=loaded.name, replay=replay,
                       elapsed_seconds=time.perf_counter() - started)  # 4.


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
    categories = _verdicts(plan, results, replay, has_labels)
    failed = any(v.verdict == Verdict.FAIL for v in categories.values())
    return GateReport(
        verdict=Verdict.FAIL if failed else Verdict.PASS,
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
    )


def assert_gate(port: Port | str = REFERENCE_PORT, **kwargs: Any) -> GateReport:
    """:func:`run_gate`, raising :class:`~pcg_verify.report.GateFailure` unless the verdict is pass.

    Examples
    --------
    >>> from pcg_verify import assert_gate
    >>> assert_gate(budget="quick", seed=0).passed
    True
    """
    report = run_gate(port, **kwargs)
    if not report.passed:
        raise GateFailure(report)
    return report
