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
   (determinism); these never fail a correct port. Once per run, one call
   is also repeated in a fresh process (:mod:`pcg_verify._cross_process`).
   Then one G test per (row, position, law); for the first multi-row cases, row 0 is also run
   alone (batch invariance). Each p-value is Bonferroni-adjusted over the
   plan's test count m: adjusted p ≤ ``direct_rate`` fails.
3. **Stage 2** (still in :func:`run_case`). A case with no failure but an
   adjusted p ≤ ``suspicious_rate`` is re-run with fresh seeds and
   ``retry_factor`` × the samples, with the same structural checks; Holm
   over that case's stage-2 tests: adjusted p ≤ ``retry_rate`` fails.
   Every decision is local to its case, so cases can run anywhere (the
   pytest plugin spreads them over workers) and give the same verdict.
   A port that does not answer in time (a call past ``call_timeout``, or
   the run's ``deadline`` passed) leaves its case **unfinished, too slow**:
   never a structure or law failure, and never a pass.
4. **Verdicts.** One per category (:class:`~pcg_verify.report.Category`);
   the port passes when no category fails and every case finished; with no
   failure but an unfinished case the verdict is ``too_slow``. The family-wise false-positive
   rate is :attr:`Procedure.family_false_positive_rate` (1e-3 by default;
   the argument is in :mod:`pcg_verify.budgets`).

Step 1 lives in :mod:`pcg_verify._plan`, step 4 in :mod:`pcg_verify._verdicts`;
the port is opened once (:func:`pcg_verify.ports.open_port`) and called only
through :mod:`pcg_verify._experiment`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch

from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_core.validation import check_bool, check_int
from pcg_verify._call_patterns import determinism_differs, first_call_differs, pattern_tests, pooled_tests
from pcg_verify._cross_process import cross_process_check, with_cross_process
from pcg_verify._evidence import law_checks
from pcg_verify._experiment import derived_seed, observe
from pcg_verify._options import check_seconds, check_threads
from pcg_verify._plan import GatePlan, gate_case, plan_gate
from pcg_verify._row_joint import row_joint_tests
from pcg_verify._spread import spread_tests
from pcg_verify._verdicts import CaseResult, describe_rejection, gate_report
from pcg_verify.budgets import BUDGETS, PROCEDURE, Budget, Procedure
from pcg_verify.ports import (
    DEFAULT_CALL_TIMEOUT,
    REFERENCE_PORT,
    KeptResults,
    LoadedPort,
    Port,
    PortProtocolError,
    PortTooSlow,
    open_port,
)
from pcg_verify.report import GateFailure, GateReport, LawCheck, replay_line
from pcg_verify.stats import adjust_family

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


# --------------------------------------------------------------------------- 2–3. stages, one case at a time
def _runs(port: Port, plan: GatePlan, index: int, stage: int, result: CaseResult,
          kept: KeptResults) -> list[LawCheck] | None:
    """The case's runs at ``stage`` (full batch, then row 0 alone where planned), each structurally
    checked (results in ``kept``, the case's); their undecided tests, or None at the first broken run."""
    case, laws = plan.cases[index], plan.laws_of(index)
    samples = (1 if stage == 1 else plan.procedure.retry_factor) * plan.samples_per_row[index]
    runs = [(False, None)] + ([(True, [0])] if index in plan.alone_cases else [])
    tests: list[LawCheck] = []
    for purpose, (alone, rows) in enumerate(runs):
        obs = observe(port, case, laws, samples_per_row=samples, rows=rows,
                      seed=derived_seed(plan.seed, index, stage, purpose), kept=kept)
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
            tests += row_joint_tests(obs, laws, case_index=index, stage=stage, per_test_level=plan.per_test_level,
                                     false_negative_rate=plan.budget.false_negative_rate, procedure=plan.procedure)
            tests += spread_tests(obs, laws, case_index=index, stage=stage)
    patterns, broken = pattern_tests(port, case, case_index=index, stage=stage, samples_per_row=samples,
                                     seed=derived_seed(plan.seed, index, stage, 3), per_test_level=plan.per_test_level,
                                     false_negative_rate=plan.budget.false_negative_rate, procedure=plan.procedure,
                                     kept=kept)
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

    A call that does not answer in time (:class:`~pcg_verify.ports.PortTooSlow`) ends the case there:
    ``result.too_slow`` says why, and what was decided before it stands.
    """
    result = CaseResult(index)
    try:
        _stages(port, plan, index, result)
    except PortTooSlow as error:
        result.too_slow = f"case {index}: {error}"
    return result


def _stages(port: Port, plan: GatePlan, index: int, result: CaseResult) -> None:
    """:func:`run_case`'s work, recorded in ``result``; raises PortTooSlow when a call is too slow."""
    procedure = plan.procedure
    kept = KeptResults(f"of case {index}")  # every call of the case keeps the ownership clause
    first = _runs(port, plan, index, 1, result, kept)
    if first is None:
        return
    result.tests = [dataclasses.replace(t, adjusted_pvalue=a, rejected=a <= procedure.direct_rate)
                    for t in first for a in [min(1.0, t.pvalue * plan.planned_tests)]]
    try:  # the case's first call repeated after all others, then two large calls under one seed
        assert result.observations is not None
        result.determinism = (first_call_differs(port, plan.cases[index], result.observations, kept)
                              or determinism_differs(port, plan.cases[index], derived_seed(plan.seed, index, 1, 2),
                                                     procedure.determinism_replicates, kept))
        result.determinism_checked = True
    except PortTooSlow:
        raise
    except PortProtocolError as error:
        result.structure.append(f"case {index}, determinism calls: {error}")
        return
    if result.rejected or not any(t.adjusted_pvalue <= procedure.suspicious_rate for t in result.tests):
        return
    result.retried = True
    second = _runs(port, plan, index, 2, result, kept)
    if second:
        decision = adjust_family([t.pvalue for t in second], family_false_positive_rate=procedure.retry_rate,
                                 method="holm")
        result.tests += [dataclasses.replace(t, adjusted_pvalue=float(p), rejected=bool(r))
                         for t, p, r in zip(second, decision.adjusted_pvalues, decision.rejected, strict=True)]


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
    keep_going: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> GateReport:
    """Run the gate's procedure (module docstring) on ``port`` and return the report.

    Never raises on a verdict: the report says pass, fail or too slow (``report.verdict``).

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
        In a worker or an ``exec:`` program: seconds one port call may take
        (at least :data:`~pcg_verify._options.MIN_CALL_TIMEOUT`, 5 s); a call
        past it leaves its case unfinished and the verdict ``too_slow``
        (unless another case failed).
    deadline : float, optional
        In a worker or an ``exec:`` program: seconds the whole run may take
        (at least 5 s); the cases it cuts short are unfinished, too slow.
    threads : int or None
        torch intra-op threads while the gate runs (restored afterwards), at
        most the machine's cores; the gate's tensors are small, so one thread
        is fastest and immune to busy neighbours. None leaves torch's setting alone.
    keep_going : bool
        In a worker or an ``exec:`` program: after a call timed out, keep
        calling the port in every later case. By default later cases are not
        called ("not called: the port was too slow in an earlier call"), so a
        port that hangs on every call costs one ``call_timeout``, not one per
        case; the verdict is too slow either way.
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
    call_timeout = check_seconds("call_timeout", call_timeout)
    if deadline is not None:
        deadline = check_seconds("deadline", deadline)
    if threads is not None:
        threads = check_threads("threads", threads)
    opened = open_port(port, port_name=port_name, isolate=check_bool("isolate", isolate), call_timeout=call_timeout,
                       deadline=deadline, threads=threads or 1, keep_going=check_bool("keep_going", keep_going))
    with opened as loaded, torch_threads(threads):
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
    crossed = cross_process_check(loaded, results)  # once per run: a fresh process costs seconds
    return with_cross_process(gate_report(plan, results, port_name=loaded.name, replay=replay,
                                          elapsed_seconds=time.perf_counter() - started), crossed, replay)  # 4.


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
