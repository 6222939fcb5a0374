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
2. **Stage 1** (:func:`run_stage`). Run every case: hard structural checks on
   every output (ids, −1 padding, drafts kept, token ∈ its group, no
   impossible token or label, output types and shapes, the port's own
   exceptions) and two calls under one seed (determinism); these never fail
   a correct port. Then one G test per (case, row, position, law); for the
   first multi-row cases, row 0 is also run alone (batch invariance). Holm
   over all tests of the stage: adjusted p ≤ ``direct_rate`` fails.
3. **Stage 2** (:func:`run_stage` again). Every case with an adjusted p
   ≤ ``suspicious_rate`` is re-run with a fresh seed and ``retry_factor`` ×
   the samples, with the same structural checks; Holm over the stage's tests:
   adjusted p ≤ ``retry_rate`` fails.
4. **Verdicts.** One per category (:class:`~pcg_verify.report.Category`);
   the port passes when no category fails. The family-wise false-positive
   rate is :attr:`Procedure.family_false_positive_rate` (1e-3 by default;
   the argument is in :mod:`pcg_verify.budgets`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from pcg_core.errors import DesignError, InvalidArgumentError, InvalidTypeError
from pcg_core.validation import check_bool, check_int, check_real
from pcg_verify._evidence import law_checks, variability
from pcg_verify._experiment import Observations, derived_seed, draft_tokens_for, observe, row_laws
from pcg_verify._isolation import DEFAULT_CALL_TIMEOUT, IsolatedPort
from pcg_verify.budgets import BUDGETS, PROCEDURE, Budget, Procedure
from pcg_verify.cases import Case, case_seed, draw_case
from pcg_verify.laws import BlockLaw
from pcg_verify.ports import REFERENCE_PORT, LoadedPort, Port, PortProtocolError, call_port, resolve_port
from pcg_verify.report import Category, CategoryVerdict, GateFailure, GateReport, LawCheck, Verdict
from pcg_verify.stats import adjust_family, min_samples_for_categorical

__all__ = ["GatePlan", "StageResult", "assert_gate", "gate_case", "plan_gate", "run_gate", "run_stage"]


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
    per_test_level: float
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
    distribution kind. The last case of a budget with ``unaligned_vocab``
    uses that tile-unaligned vocabulary size.
    """
    unaligned = budget.unaligned_vocab is not None and index == budget.cases - 1
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
    # the alone runs add γ+1 label tests for row 0.
    tests = sum(c.batch * (2 * (c.gamma + 1) + 2) for c in cases)
    tests += sum(cases[i].gamma + 1 for i in alone)
    per_test = procedure.direct_rate / tests
    samples = []
    for index, case in enumerate(cases):
        cells = max(2, case.groups.num_groups)
        n = min_samples_for_categorical(budget.discrepancy, per_test, budget.false_negative_rate, n_cells=cells)
        if n > budget.max_samples_per_row:
            raise DesignError(
                "budget", budget.name,
                f"case {index} needs {n} samples per row to detect TV ≥ {budget.discrepancy} with power "
                f"{1 - budget.false_negative_rate:g} at level {per_test:.3g}, above max_samples_per_row="
                f"{budget.max_samples_per_row}",
                "raise max_samples_per_row or the discrepancy",
            )
        samples.append(int(n))
    return GatePlan(budget, seed, singleton_only, procedure, cases, tuple(samples), per_test, alone)


# --------------------------------------------------------------------------- 2–3. stages
@dataclass
class StageResult:
    """What one stage found: decided tests, structural and determinism failures, observations."""

    stage: int
    tests: list[LawCheck] = field(default_factory=list)
    structure: list[tuple[int, str]] = field(default_factory=list)  # (case, message)
    determinism: list[tuple[int, str]] = field(default_factory=list)
    determinism_checked: int = 0  # cases whose two same-seed calls were compared
    observations: dict[int, Observations] = field(default_factory=dict)

    def suspicious_cases(self, rate: float) -> list[int]:
        """Cases with a test whose adjusted p-value is ≤ ``rate`` but that did not fail."""
        return sorted({t.case_index for t in self.tests if not t.rejected and t.adjusted_pvalue <= rate})


def _determinism(port: Port, case: Case, seed: int, replicates: int) -> str | None:
    """Two calls with one seed must agree exactly; return a message when they do not."""
    drafts = draft_tokens_for(case, replicates, np.random.default_rng(seed))
    draft_probs = case.draft_probs.repeat(replicates, 1, 1)
    target_probs = case.target_probs.repeat(replicates, 1, 1)
    first = call_port(port, drafts, draft_probs, target_probs, case.groups, seed)  # PortProtocolError: structure
    second = call_port(port, drafts, draft_probs, target_probs, case.groups, seed)
    for name in ("tokens", "group_ids", "num_accepted"):
        a, b = getattr(first, name), getattr(second, name)
        if (a is None) != (b is None) or (a is not None and not bool((a == b).all())):
            return f"two calls with generator seed {seed} returned different {name}"
    return None


def _run_case(port: Port, plan: GatePlan, index: int, stage: int, result: StageResult) -> bool:
    """The case's runs (full batch, then row 0 alone where planned); False at the first broken run."""
    case, laws = plan.cases[index], plan.laws_of(index)
    samples = (1 if stage == 1 else plan.procedure.retry_factor) * plan.samples_per_row[index]
    runs = [(False, None)] + ([(True, [0])] if index in plan.alone_cases else [])
    for purpose, (alone, rows) in enumerate(runs):
        obs = observe(port, case, laws, samples_per_row=samples, rows=rows,
                      seed=derived_seed(plan.seed, index, stage, purpose))
        if not alone:
            result.observations[index] = obs
        if obs.violation_count:
            where = " (row 0 alone)" if alone else ""
            result.structure.append((index, f"case {index}{where}, stage {stage}: {obs.violation_count} "
                                            f"violation(s), e.g. {obs.violations[0]}"))
            return False
        result.tests += law_checks(obs, laws if rows is None else [laws[r] for r in rows],
                                   case_index=index, stage=stage, alone=alone, per_test_level=plan.per_test_level,
                                   false_negative_rate=plan.budget.false_negative_rate, procedure=plan.procedure)
    return True


def _check_determinism(port: Port, plan: GatePlan, index: int, result: StageResult) -> None:
    """Two calls with one seed; a port that fails in them breaks structure there."""
    seed = derived_seed(plan.seed, index, 1, 2)
    try:
        message = _determinism(port, plan.cases[index], seed, plan.procedure.determinism_replicates)
    except PortProtocolError as error:
        result.structure.append((index, f"case {index}, determinism calls: {error}"))
        return
    result.determinism_checked += 1
    if message:
        result.determinism.append((index, f"case {index}: {message}"))


def run_stage(port: Port, plan: GatePlan, indices: Sequence[int], *, stage: int,
              progress: Callable[[int, int, int], None] | None = None) -> StageResult:
    """Run ``indices`` at ``stage`` (1 or 2): structural checks on every run, tests, Holm at the stage's rate.

    Stage 2 uses fresh seeds and ``retry_factor`` × the samples. Every run of
    the stage (the full batch and the row-0-alone run) has its structure
    checked; a run that breaks structure contributes no tests.
    """
    result = StageResult(stage)
    for done, index in enumerate(indices, start=1):
        if _run_case(port, plan, index, stage, result) and stage == 1:
            _check_determinism(port, plan, index, result)
        if progress is not None:
            progress(stage, done, len(indices))
    procedure = plan.procedure
    rate = procedure.direct_rate if stage == 1 else procedure.retry_rate
    if result.tests:
        decision = adjust_family([t.pvalue for t in result.tests], family_false_positive_rate=rate, method="holm")
        result.tests = [dataclasses.replace(t, adjusted_pvalue=float(p), rejected=bool(r))
                        for t, p, r in zip(result.tests, decision.adjusted_pvalues, decision.rejected, strict=True)]
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
        failures = tuple(
            f"case {t.case_index} row {t.row} position {t.position}: {t.law} rejected (p={t.pvalue:.3g}, "
            f"Holm-adjusted {t.adjusted_pvalue:.3g}, n={t.n_samples}, stage {t.stage}). "
            f"Reproduce: {replay(t.case_index)}"
            for t in sorted(blamed, key=lambda t: t.pvalue))
        return CategoryVerdict(category, Verdict.FAIL, f"{len(blamed)} of {len(mine)} tests rejected", failures)
    detect = sorted(t.detectable_discrepancy for t in mine)
    least = f"{detect[-1]:.3g}" if np.isfinite(detect[-1]) else "nothing (too few samples there)"
    return CategoryVerdict(category, Verdict.PASS,
                           f"{len(mine)} tests; with power ≥ {1 - budget.false_negative_rate:g} the most sensitive "
                           f"detects TV ≥ {detect[0]:.3g}, the least sensitive {least}")


def _verdicts(plan: GatePlan, stages: list[StageResult], replay: Callable[[int], str],
              has_labels: bool) -> dict[Category, CategoryVerdict]:
    tests = [t for s in stages for t in s.tests]
    # A row that fails alone is blamed on batch dependence only if its case passes in the full batch.
    full_batch_failures = {t.case_index for t in tests if t.rejected and t.category != Category.BATCH_INVARIANCE}
    structure = [f"{m}. Reproduce: {replay(i)}" for s in stages for i, m in s.structure]
    out = {c: _statistical_verdict(c, tests, full_batch_failures if c == Category.BATCH_INVARIANCE else set(),
                                   has_labels, bool(structure), replay, plan.budget)
           for c in Category if c.statistical}
    determinism = [f"{m}. Reproduce: {replay(i)}" for s in stages for i, m in s.determinism]
    out[Category.STRUCTURE] = (
        CategoryVerdict(Category.STRUCTURE, Verdict.FAIL, f"{len(structure)} run(s) broke the contract",
                        tuple(structure)) if structure else
        CategoryVerdict(Category.STRUCTURE, Verdict.PASS, "ids, padding, membership and support hold in every output"))
    checked = sum(s.determinism_checked for s in stages)
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
def _resolve_budget(budget: Any) -> Budget:
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
    progress: Callable[[int, int, int], None] | None = None,
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
    call_timeout : float
        With ``isolate``: seconds one port call may take.
    deadline : float, optional
        With ``isolate``: seconds the whole run may take; calls after it fail.
    threads : int or None
        torch intra-op threads while the gate runs (restored afterwards); the
        gate's tensors are small, so one thread is fastest and immune to busy
        neighbours. None leaves torch's setting alone.
    progress : callable, optional
        Called as ``progress(stage, done, total)`` after each case.

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
    budget = _resolve_budget(budget)
    seed = check_int("seed", seed, minimum=0)
    singleton_only = check_bool("singleton_only", singleton_only)
    if case is not None:
        case = check_int("case", case, minimum=0, maximum=budget.cases - 1)
    if not isinstance(procedure, Procedure):
        raise InvalidTypeError("procedure", procedure, "must be a pcg_verify.Procedure")
    if isolate and not isinstance(port, str):
        raise InvalidArgumentError("isolate", isolate, "needs the port as an import path (the worker loads it)",
                                   "pass 'package.module:function' or 'path/to/file.py:function'")
    call_timeout = check_real("call_timeout", call_timeout, minimum=0.0)
    if deadline is not None:
        deadline = check_real("deadline", deadline, minimum=0.0)
    if threads is not None:
        threads = check_int("threads", threads, minimum=1)
    if isolate:
        assert isinstance(port, str)
        with IsolatedPort(port, call_timeout=call_timeout, deadline=deadline, threads=threads or 1) as worker:
            worker.start()  # raises InvalidArgumentError when the port cannot be loaded
            return _with_threads(threads, lambda: _run(LoadedPort(worker, port_name or port, port), budget,
                                                       seed, singleton_only, case, procedure, progress, started))
    loaded = resolve_port(port, port_name)
    return _with_threads(threads, lambda: _run(loaded, budget, seed, singleton_only, case, procedure, progress,
                                               started))


def _with_threads(threads: int | None, run: Callable[[], GateReport]) -> GateReport:
    """``run()`` with torch's intra-op thread count set to ``threads`` (restored afterwards)."""
    if threads is None:
        return run()
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return run()
    finally:
        torch.set_num_threads(before)


def _run(loaded: LoadedPort, budget: Budget, seed: int, singleton_only: bool, case: int | None,
         procedure: Procedure, progress: Callable[[int, int, int], None] | None, started: float) -> GateReport:
    """Steps 1–4 of the module docstring."""

    def replay(index: int) -> str:
        return loaded.replay(budget=budget, seed=seed, case=index, singleton_only=singleton_only)

    plan = plan_gate(budget, seed, singleton_only=singleton_only, procedure=procedure)  # 1.
    indices = list(range(budget.cases)) if case is None else [case]
    first = run_stage(loaded.function, plan, indices, stage=1, progress=progress)  # 2.
    second = run_stage(loaded.function, plan, first.suspicious_cases(procedure.suspicious_rate), stage=2,
                       progress=progress)  # 3.
    observed = list(first.observations.values())
    has_labels = all(o.has_labels for o in observed if o.rows)
    categories = _verdicts(plan, [first, second], replay, has_labels)  # 4.
    failed = any(v.verdict == Verdict.FAIL for v in categories.values())
    return GateReport(
        verdict=Verdict.FAIL if failed else Verdict.PASS,
        port=loaded.name,
        budget=budget,
        seed=seed,
        singleton_only=singleton_only,
        procedure=procedure,
        categories=categories,
        tests=tuple(first.tests + second.tests),
        variability=variability(observed, [plan.laws_of(i) for i in first.observations]),
        retried_cases=tuple(second.observations),
        cases=tuple({"index": i, "samples_per_row": plan.samples_per_row[i], **plan.cases[i].to_dict()}
                    for i in indices),
        elapsed_seconds=time.perf_counter() - started,
        per_test_level=plan.per_test_level,
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
