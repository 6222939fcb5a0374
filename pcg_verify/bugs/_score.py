"""The mutation score: the gate run on every mutant and every equivalent variant.

A mutant is *killed* when the gate fails it; it is killed *as expected* when
one of the failing categories is among those its entry declares. An
equivalent must pass. The gate's decisions are local to each case
(docs/gate.md §4), so a mutant is decided at its first failing case: the
score runs the cases in order with the gate's own plan and stage runner
(:func:`pcg_verify.checks.plan_gate`, :func:`pcg_verify.checks.run_case`) and
stops there; a port that passes runs every case. Verdicts are the gate's:
the same seeds, the same tests, the same attribution (a batch-invariance
rejection counts only in a case that passes in the full batch).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pcg_core.atomic import writable_path, write_text_atomic
from pcg_core.errors import InvalidArgumentError
from pcg_core.validation import check_bool, check_int
from pcg_verify.budgets import Budget
from pcg_verify.bugs._catalogue import CATALOGUE, EQUIVALENTS, mutant_port
from pcg_verify.checks import CaseResult, GatePlan, plan_gate, resolve_budget, run_case, torch_threads
from pcg_verify.report import Category, json_ready

__all__ = ["MutationRow", "MutationScore", "bugs_command", "catalogue_table", "mutation_score"]


@dataclass(frozen=True)
class MutationRow:
    """The gate's verdict on one mutant or equivalent.

    killed : bool
        The gate failed it.
    categories : tuple of str
        The categories that failed in its first failing case (empty when it passed).
    smallest_pvalue : float
        The smallest p-value of the rejected tests of that case, or of all
        tests when it passed; NaN when none ran or only exact checks failed.
    samples : int
        Blocks the port verified for the statistical tests before the decision
        (stage 1, row-alone runs and retries; not the determinism calls).
    cases_run : int
        Cases run before the decision; ``failing_case`` the first failing one (None: passed).
    """

    name: str
    kind: str  # "mutant" or "equivalent"
    bug_class: str
    expected: tuple[str, ...]
    needs: str
    killed: bool
    categories: tuple[str, ...]
    smallest_pvalue: float
    samples: int
    cases_run: int
    failing_case: int | None
    elapsed_seconds: float
    replay: str

    @property
    def as_expected(self) -> bool:
        """A mutant killed in one of its declared categories, or an equivalent that passed."""
        if self.kind == "equivalent":
            return not self.killed
        return self.killed and bool(set(self.categories) & set(self.expected))

    def record(self) -> dict[str, Any]:
        """This row as a ``bugs`` record of the reliability report (``pcg_verify.reliability``)."""
        matched = [c for c in self.categories if c in self.expected]
        out: dict[str, Any] = json_ready({
            "mutant": self.name, "description": self.bug_class + (f" (needs {self.needs})" if self.needs else ""),
            "equivalent": self.kind == "equivalent",
            "expected_category": next(iter(matched or self.expected), None),
            "killed": self.killed, "killed_by": list(self.categories),
            "check": None if self.failing_case is None else f"case {self.failing_case} ({self.cases_run} cases run)",
            "pvalue": self.smallest_pvalue, "adjusted_pvalue": None, "n_samples": self.samples,
            "replay": self.replay})
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = json_ready({
            "name": self.name, "kind": self.kind, "bug_class": self.bug_class, "expected": list(self.expected),
            "needs": self.needs, "killed": self.killed, "categories": list(self.categories),
            "as_expected": self.as_expected, "smallest_pvalue": self.smallest_pvalue, "samples": self.samples,
            "cases_run": self.cases_run, "failing_case": self.failing_case,
            "elapsed_seconds": self.elapsed_seconds, "replay": self.replay})
        return out


@dataclass(frozen=True)
class MutationScore:
    """The table of :func:`mutation_score`; :meth:`to_dict` is its JSON form."""

    budget: str
    seed: int
    rows: tuple[MutationRow, ...]
    elapsed_seconds: float

    @property
    def mutants(self) -> tuple[MutationRow, ...]:
        return tuple(r for r in self.rows if r.kind == "mutant")

    @property
    def equivalents(self) -> tuple[MutationRow, ...]:
        return tuple(r for r in self.rows if r.kind == "equivalent")

    @property
    def score(self) -> float:
        """Killed mutants / mutants (NaN with no mutants)."""
        return sum(r.killed for r in self.mutants) / len(self.mutants) if self.mutants else math.nan

    @property
    def passed(self) -> bool:
        """Every mutant killed and every equivalent passed."""
        return all(r.killed for r in self.mutants) and not any(r.killed for r in self.equivalents)

    def table(self) -> str:
        """One line per row: name, bug class, killed?, by which categories, p-value, samples, time."""
        width = max(len("mutant"), *(len(r.name) for r in self.rows))  # the names stay one column
        header = (f"{'mutant':<{width}} {'bug class':<44} {'killed':<6} {'by (category)':<34} {'p-value':>9} "
                  f"{'samples':>9} {'s':>6}")
        lines = [f"pcg-verify bugs: budget {self.budget}, seed {self.seed}", header, "-" * len(header)]
        for kind, rows in (("mutants", self.mutants), ("equivalents (must pass)", self.equivalents)):
            if not rows:
                continue
            lines.append(f"[{kind}]")
            for r in rows:
                mark = "yes" if r.killed else "no"
                flag = "" if r.as_expected else "  <-- " + (
                    "passed" if r.kind == "equivalent" or not r.killed else "not in a declared category")
                pvalue = "-" if math.isnan(r.smallest_pvalue) else f"{r.smallest_pvalue:.2g}"
                by = ", ".join(r.categories) or "-"
                lines.append(f"{r.name:<{width}} {r.bug_class[:44]:<44} {mark:<6} {by[:34]:<34} {pvalue:>9} "
                             f"{r.samples:>9} {r.elapsed_seconds:>6.1f}{flag}")
        killed = sum(r.killed for r in self.mutants)
        kept = sum(not r.killed for r in self.equivalents)
        lines.append(f"mutation score {killed}/{len(self.mutants)} killed"
                     f" ({sum(r.as_expected for r in self.mutants)} in a declared category); "
                     f"equivalents passed {kept}/{len(self.equivalents)}; {self.elapsed_seconds:.0f} s")
        survivors = [r.name for r in self.mutants if not r.killed]
        if survivors:
            lines.append("survivors (what the budget's cases lack): " + "; ".join(
                f"{r.name} [{r.needs or 'n/a'}]" for r in self.mutants if not r.killed))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"budget": self.budget, "seed": self.seed, "score": json_ready(self.score), "passed": self.passed,
                "mutants_killed": sum(r.killed for r in self.mutants), "mutants": len(self.mutants),
                "equivalents_passed": sum(not r.killed for r in self.equivalents),
                "equivalents": len(self.equivalents), "elapsed_seconds": self.elapsed_seconds,
                "rows": [r.to_dict() for r in self.rows]}

    def to_json(self) -> str:
        """Strict JSON (no NaN tokens), UTF-8, indented."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def _samples(plan: GatePlan, index: int, result: CaseResult) -> int:
    case, per_row = plan.cases[index], plan.samples_per_row[index]
    once = per_row * case.batch + (per_row if index in plan.alone_cases else 0)
    return once * (1 + (plan.procedure.retry_factor if result.retried else 0))


def score_one(name: str, budget: Budget, seed: int, *, stop_at_first_failure: bool = True) -> MutationRow:
    """The gate on one entry (a fresh port): its :class:`MutationRow`."""
    entry = CATALOGUE.get(name) or EQUIVALENTS.get(name)
    if entry is None:
        raise InvalidArgumentError("names", name, "must name entries of CATALOGUE or EQUIVALENTS")
    started = time.perf_counter()
    port, plan = mutant_port(name), plan_gate(budget, seed)
    samples, cases_run, first = 0, 0, None
    categories: tuple[Category, ...] = ()
    pvalues: list[float] = []
    with torch_threads(1):  # as the gate runs: one thread, immune to a busy machine
        for index in range(budget.cases):
            result = run_case(port, plan, index)
            cases_run += 1
            samples += _samples(plan, index, result)
            failing = result.failing_categories()
            if failing and first is None:
                first, categories = index, failing
                pvalues = [t.pvalue for t in result.tests if t.rejected and t.category in failing]
                if stop_at_first_failure:
                    break
            elif first is None:
                pvalues += [t.pvalue for t in result.tests]
    kind = "equivalent" if entry.equivalent else "mutant"
    where = "equivalents" if entry.equivalent else "mutants"
    replay = f"pcg-verify check pcg_verify.bugs:{where}.{name} --budget {budget.name} --seed {seed}"
    return MutationRow(name, kind, entry.bug_class, tuple(str(c) for c in entry.expected), entry.needs,
                       first is not None, tuple(str(c) for c in categories), min(pvalues, default=math.nan),
                       samples, cases_run, first, time.perf_counter() - started,
                       replay + (f" --case {first}" if first is not None else ""))


def _score_worker(args: tuple[str, Budget, int, bool]) -> MutationRow:
    name, budget, seed, stop = args
    return score_one(name, budget, seed, stop_at_first_failure=stop)


def mutation_score(
    budget: str | Budget = "standard",
    seed: int = 0,
    *,
    names: Sequence[str] | None = None,
    stop_at_first_failure: bool = True,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> MutationScore:
    """Run the gate on every mutant and equivalent (or on ``names``) and return the score table.

    Parameters
    ----------
    budget : {"quick", "standard", "thorough"} or Budget
    seed : int
        The gate's master seed.
    names : sequence of str, optional
        Entries of :data:`CATALOGUE` / :data:`EQUIVALENTS` (default: all, mutants first).
    stop_at_first_failure : bool
        Decide a failing port at its first failing case (the verdict is the
        same; ``categories`` then lists that case's). False runs every case.
    workers : int
        Processes to spread the entries over (1: in this process).
    progress : callable, optional
        ``progress(done, total)`` after each entry.

    Examples
    --------
    >>> score = mutation_score("quick", 0, names=["ratio_inverted", "exact_residual"])
    >>> [(r.name, r.killed) for r in score.rows]
    [('ratio_inverted', True), ('exact_residual', False)]
    """
    started = time.perf_counter()
    resolved = resolve_budget(budget)
    seed = check_int("seed", seed, minimum=0)
    stop = check_bool("stop_at_first_failure", stop_at_first_failure)
    workers = check_int("workers", workers, minimum=1)
    chosen = [*CATALOGUE, *EQUIVALENTS] if names is None else list(names)
    for name in chosen:
        if not isinstance(name, str) or (name not in CATALOGUE and name not in EQUIVALENTS):
            raise InvalidArgumentError("names", name, "must name entries of CATALOGUE or EQUIVALENTS",
                                       "pcg-verify bugs --list prints them")
    jobs = [(name, resolved, seed, stop) for name in chosen]
    rows: list[MutationRow] = []
    if workers == 1:
        for job in jobs:
            rows.append(_score_worker(job))
            if progress is not None:
                progress(len(rows), len(jobs))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            for row in pool.map(_score_worker, jobs):
                rows.append(row)
                if progress is not None:
                    progress(len(rows), len(jobs))
    return MutationScore(resolved.name, seed, tuple(rows), time.perf_counter() - started)


def catalogue_table() -> str:
    """The catalogue without running anything: name, bug class, expected categories, what the cases need, and
    the check expected to kill it where an entry names one."""
    entries = (*CATALOGUE.values(), *EQUIVALENTS.values())
    width = max(len(entry.name) for entry in entries)
    lines = [f"{'name':<{width}} {'bug class':<52} {'expected categories':<56} needs"]
    for entry in entries:
        expected = ", ".join(map(str, entry.expected)) or "(equivalent: must pass)"
        lines.append(f"{entry.name:<{width}} {entry.bug_class[:52]:<52} {expected:<56} {entry.needs or '-'}")
        if entry.check:
            lines.append(f"{'':<{width}} expected killer: {entry.check}")
    return "\n".join(lines)


def bugs_command(*, budget: str, seed: int, json_path: str | None, only: Sequence[str] | None, workers: int,
                 list_only: bool, out: Callable[[str], None], report_dir: str | None = None,
                 command: str | None = None) -> int:
    """``pcg-verify bugs``: print the score table (or the catalogue); 0 when the score is perfect, else 1.

    The JSON path and the report directory are checked before the run and written atomically.
    """
    if list_only:
        out(catalogue_table())
        return 0
    if json_path is not None:
        writable_path("--json", json_path)
    if report_dir is not None:
        from pcg_verify.reliability import check_report_directory

        check_report_directory(report_dir, "--report")
    score = mutation_score(budget, seed, names=only, workers=workers)
    text = score.table()
    if json_path is not None:
        text += f"\nscore written to {write_text_atomic(json_path, score.to_json())}"
    if report_dir is not None:
        from pcg_verify.reliability import bugs_results, write_report

        results = bugs_results([row.record() for row in score.rows], duration_seconds=score.elapsed_seconds,
                               command=command)
        text += f"\nreport written to {write_report(report_dir, results)}"
    out(text)
    return 0 if score.passed else 1
