"""Determinism across processes: one call repeated in a fresh child with another string-hash seed.

Math follows the paper: q is the target, p the draft. Contract clause 3 says
equal inputs and an equal seed give equal outputs; the per-case checks
(:mod:`pcg_verify._call_patterns`) compare calls inside one process. A port
whose work order follows Python's string hashing (``for k in set(names)``)
keeps its laws and repeats itself inside a process, yet another process
gives other outputs under the same seed, so a replay line does not replay it.

Once per gate run (a fresh process costs seconds, not a call), after the
cases, :func:`cross_process_check` repeats the first call of the first case
that made one (same inputs, same seed) in a fresh child whose
``PYTHONHASHSEED`` is :data:`FRESH_HASH_SEED`, where the usual child has
``CHILD_ENVIRONMENT``'s (:mod:`pcg_verify.ports._process`), so the two differ by
construction; any difference fails ``determinism``. Which child:

* a port that runs in a child (an isolated worker, an ``exec:`` program): a
  new one of the same kind, with the same limits;
* a Python port that runs in this process and was given by import path: a
  one-off isolated worker (compared with this process's own first call);
* a bare callable: no child can load it, so the check does not run, and the
  determinism verdict's detail says so (:func:`with_cross_process`); the same
  for the gate's built-in ports (pcg_core's samplers) run in this process.

The check is exact (a structural check): it never fails a correct port and
adds nothing to the plan's Bonferroni count.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence

from pcg_core.errors import InvalidArgumentError
from pcg_verify._call_patterns import outputs_differ
from pcg_verify._experiment import call
from pcg_verify._verdicts import CaseResult, overall_verdict
from pcg_verify.ports import DEFAULT_CALL_TIMEOUT, ExecPort, IsolatedPort, LoadedPort, PortProtocolError, ProcessPort
from pcg_verify.report import Category, CategoryVerdict, GateReport, Verdict

__all__ = ["FRESH_HASH_SEED", "CrossProcess", "cross_process_check", "fresh_child", "with_cross_process"]

#: The fresh child's PYTHONHASHSEED (the usual child's is CHILD_ENVIRONMENT's).
FRESH_HASH_SEED = "2"
_HASH = "PYTHONHASHSEED"
#: The module of the gate's built-in ports (pcg_core's samplers): in this process, they are not re-run in a fresh
#: one (the gate runs them in-process in most of its own tests, and a one-off worker costs seconds each time).
_BUILTIN = "pcg_verify.ports._builtin"
_UNLOADABLE = ("a port given as a callable object cannot be loaded in a fresh process (give it by import path or as "
               "exec:CMD to have it checked)")


@dataclasses.dataclass(frozen=True)
class CrossProcess:
    """What the cross-process check found: the case whose first call it repeated (None when it did not
    run), a failure message (None when the outputs agreed), and a note for the verdict's detail."""

    case_index: int | None
    failure: str | None
    note: str


def _other_hash_seed(usual: str | None) -> str:
    """:data:`FRESH_HASH_SEED`, or another value when the usual process already has it."""
    return FRESH_HASH_SEED if usual != FRESH_HASH_SEED else str(int(FRESH_HASH_SEED) + 1)


def fresh_child(loaded: LoadedPort) -> tuple[ProcessPort, str] | None:
    """A new, not yet started child that runs ``loaded``'s port with another ``PYTHONHASHSEED``, and the
    usual process's hash seed in words; None for a port no child can load (a bare callable)."""
    port = loaded.function
    if isinstance(port, ExecPort):
        usual = port.env.get(_HASH)
        program = ExecPort(port.argv, call_timeout=port.call_timeout, start_timeout=port.start_timeout,
                           deadline=port.seconds_left(), env={_HASH: _other_hash_seed(usual)})
        return program, f"{_HASH}={usual}"
    if isinstance(port, IsolatedPort):
        usual = port.env.get(_HASH)
        worker = IsolatedPort(port.spec, call_timeout=port.call_timeout, start_timeout=port.start_timeout,
                              deadline=port.seconds_left(), threads=port.threads)
        described = f"{_HASH}={usual}"
    elif isinstance(port, ProcessPort) or loaded.spec is None:
        return None
    else:  # in this process: its hash seed is the environment's, or random when unset
        usual = os.environ.get(_HASH)
        worker = IsolatedPort(loaded.spec, call_timeout=DEFAULT_CALL_TIMEOUT)
        described = "this process's " + (f"{_HASH}={usual}" if usual is not None else "random string-hash seed")
    worker.env[_HASH] = _other_hash_seed(usual)  # IsolatedPort takes no env argument: set before its start
    return worker, described


def _first_call(results: Sequence[CaseResult]) -> CaseResult | None:
    """The first case whose stage-1 run kept its first call (None when every case broke first)."""
    return next((r for r in results if r.observations is not None and r.observations.first_call is not None), None)


def _not_checked(loaded: LoadedPort, results: Sequence[CaseResult]) -> str | None:
    """Why the check cannot (or need not) run on ``loaded`` after ``results``; None when it can."""
    port = loaded.function
    if _first_call(results) is None:
        return "no case kept the contract"
    if getattr(port, "__module__", None) == _BUILTIN:
        return "a built-in port (pcg_core's sampler, which draws only from the generator), run in this process"
    if isinstance(port, ProcessPort) and port.deadline_passed():
        return "the run's deadline had passed"
    if isinstance(port, ProcessPort) and port.hung is not None and not port.keep_going:
        return "the port already hung"
    return None


def cross_process_check(loaded: LoadedPort, results: Sequence[CaseResult]) -> CrossProcess:
    """Repeat the first call of the first case that made one in :func:`fresh_child`; compare exactly."""
    why = _not_checked(loaded, results)
    made = fresh_child(loaded) if why is None else None
    result = _first_call(results)
    if result is None or made is None:
        return CrossProcess(None, None, f"not checked across processes: {why or _UNLOADABLE}")
    child, usual = made
    assert result.observations is not None and result.observations.first_call is not None
    drafts, seed, first = result.observations.first_call
    fresh = f"a fresh process with {_HASH}={child.env[_HASH]}"
    where = f"the first call of case {result.index} ({drafts.shape[0]} rows, generator seed {seed})"
    try:
        with child:
            child.start()
            again = call(child, result.observations.case, drafts, seed)
    except (PortProtocolError, InvalidArgumentError) as error:
        return CrossProcess(result.index, f"cross-process determinism: {where}, repeated in {fresh}, failed: {error}",
                            "")
    name = outputs_differ(first, again)
    if name is not None:
        return CrossProcess(result.index, f"cross-process determinism: {where} returned different {name} in {fresh} "
                            f"than under {usual}: the port's outputs depend on the process (e.g. the order of a "
                            "set or dict of str follows Python's string hashing)", "")
    return CrossProcess(result.index, None, f"{where} identical in {fresh} (usual: {usual})")


def with_cross_process(report: GateReport, outcome: CrossProcess, replay: Callable[[int], str]) -> GateReport:
    """``report`` with ``outcome`` in its determinism verdict: a failure fails it (and the report), else the
    note joins its detail (so a check that could not run is said, not silent)."""
    verdict = report.categories[Category.DETERMINISM]
    if outcome.failure is None:
        updated = dataclasses.replace(verdict, message=f"{verdict.message}; {outcome.note}")
    else:
        assert outcome.case_index is not None
        line = f"case {outcome.case_index}: {outcome.failure}. Reproduce: {replay(outcome.case_index)}"
        message = verdict.message if verdict.verdict == Verdict.FAIL else "outputs differ between processes"
        updated = CategoryVerdict(Category.DETERMINISM, Verdict.FAIL, message, (*verdict.failures, line))
    categories = {c: updated if c == Category.DETERMINISM else v for c, v in report.categories.items()}
    return dataclasses.replace(report, categories=categories,
                               verdict=overall_verdict(categories, len(report.unfinished)))

