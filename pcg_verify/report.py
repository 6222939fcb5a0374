"""What the gate returns: one record per test, one verdict per category, the report.

The JSON form (:meth:`GateReport.to_dict`) has a versioned schema,
:data:`SCHEMA_VERSION`; non-finite numbers are written as ``null`` and text is
UTF-8 (never ASCII-escaped). Fields of version 2 (version 1 had neither the
verdict ``too_slow`` nor ``unfinished``):

``schema_version`` int; ``verdict`` "pass" | "fail" | "too_slow" (fail when a
category fails; else too_slow when a case is unfinished; else pass);
``unfinished`` [str, one per case the port was too slow to finish: why, and
its replay command]; ``port`` str;
``budget`` object (:meth:`Budget.to_dict`); ``seed`` int; ``singleton_only``
bool; ``procedure`` object (rates, family-wise rate, description);
``categories`` {name: {name, verdict ("pass" | "fail" | "untested" |
"too_slow"), message, failures}};
``variability`` {observed/reference conditional entropy (nats), within-group
TV}; ``retried_cases`` [int]; ``cases`` [object]; ``tests`` [object, one per
goodness-of-fit test: category, case_index, row, position, law, stage,
n_samples, n_cells, statistic, pvalue, detectable_discrepancy,
adjusted_pvalue, rejected]; ``elapsed_seconds`` float; ``evidence`` object
(optional, for the reliability report's plots): ``worst_tests`` [the tests
with the smallest p-values and the worst test of each category, each with
``selected`` (why), its test fields and its ``cells`` — label, observed
count, exact probability; cells beyond the largest deviations pooled into
one] and ``variability_by_case`` [case_index
and the ``variability`` figures of that case].
"""

from __future__ import annotations

import json
import math
import shlex
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

import numpy as np

from pcg_verify.budgets import BUDGETS, Budget, Procedure

__all__ = [
    "MAX_LISTED_FAILURES",
    "SCHEMA_VERSION",
    "Category",
    "CategoryVerdict",
    "CellCounts",
    "GateFailure",
    "GateReport",
    "LawCheck",
    "ShownCells",
    "Verdict",
    "json_ready",
    "replay_line",
]

#: Version of the JSON report's schema (see the module docstring).
SCHEMA_VERSION = 2
#: Failures listed per category in :meth:`GateReport.summary`; the rest are counted.
MAX_LISTED_FAILURES = 5


class Category(StrEnum):
    """What a verdict is about. The first five are statistical; the last two never fail a correct port."""

    GUARANTEE = "guarantee"  # the emitted group label has law Q_c at every reached position
    CONFORMANCE = "conformance"  # joint law of (accepted?, group, token) equals the reference's
    ACCEPTANCE = "acceptance"  # law of the number of accepted drafts
    BONUS = "bonus"  # the bonus token has law q_{γ+1}
    BATCH_INVARIANCE = "batch_invariance"  # a row alone has the law it has inside a batch
    STRUCTURE = "structure"  # ids, padding, membership, support, output types, the port's exceptions
    DETERMINISM = "determinism"  # identical outputs under one seed

    @property
    def statistical(self) -> bool:
        return self not in (Category.STRUCTURE, Category.DETERMINISM)


class Verdict(StrEnum):
    """A verdict: it passed, it failed, nothing could test it, or the port was too slow to finish every case
    (a call past the call limit, or the run's deadline passed). Only PASS is a pass; TOO_SLOW is never a
    failure of a law or of the structure: the unfinished cases are untested."""

    PASS = "pass"
    FAIL = "fail"
    UNTESTED = "untested"
    TOO_SLOW = "too_slow"

    @property
    def words(self) -> str:
        """How a reader sees it: ``pass``, ``fail``, ``untested``, ``too slow``."""
        return self.value.replace("_", " ")


def json_ready(value: Any) -> Any:
    """``value`` with non-finite floats replaced by None (JSON ``null``), recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value


@dataclass(frozen=True)
class ShownCells:
    """A test's cells as the report plots them: at most a few dozen, each with a label, its observed
    count and its exact probability; the last one pools ``pooled`` cells when there were more."""

    labels: tuple[str, ...]
    observed: tuple[int, ...]
    probs: tuple[float, ...]
    pooled: int = 0

    def to_list(self) -> list[dict[str, Any]]:
        return [{"label": label, "observed": count, "probability": prob}
                for label, count, prob in zip(self.labels, self.observed, self.probs, strict=True)]


@dataclass(frozen=True)
class CellCounts:
    """Observed counts [C] and exact probabilities [C] of one test's cells, and what a cell is.

    ``kind``: "group" (label k), "length" (A = j), "token" (t), "membership"
    (k·t, in forward CSR order), "accepted×membership" or "accepted×token"
    (accept cells, then reject cells); membership cells are named through
    ``group_of``/``token_of`` [nnz] or ``group_ptr`` [M+1] with ``token_of``.
    """

    observed: Any
    probs: Any
    kind: str
    group_of: Any = None
    token_of: Any = None
    group_ptr: Any = None

    def label(self, index: int) -> str:
        """A reader's name for cell ``index``: k3, A=2, t7, k3·t7, acc k3·t7, rej t7."""
        flag = ""
        if self.kind.startswith("accepted×"):
            half = len(self.probs) // 2
            flag, index = ("acc " if index < half else "rej "), index % half
        if self.kind == "group":
            return f"k{index}"
        if self.kind == "length":
            return f"A={index}"
        if self.token_of is None or self.kind in ("token", "accepted×token"):
            return f"{flag}t{index}"
        group = (int(self.group_of[index]) if self.group_of is not None
                 else int(np.searchsorted(self.group_ptr, index, side="right")) - 1)
        return f"{flag}k{group}·t{int(self.token_of[index])}"

    def shown(self, limit: int) -> ShownCells:
        """At most ``limit`` cells, in cell order: those with the largest standardised deviation
        |O − n·π| / sqrt(n·π(1 − π)) (an observed impossible cell first), the rest pooled into one; O(C)."""
        observed = np.asarray(self.observed, dtype=np.float64)
        probs = np.asarray(self.probs, dtype=np.float64)
        n = float(observed.sum())
        keep = np.flatnonzero((probs > 0) | (observed > 0))
        pooled = 0
        if keep.size > limit:
            expected = n * probs[keep]
            spread = np.sqrt(np.maximum(expected * (1.0 - probs[keep]), 1e-300))
            deviation = np.where(expected > 0, np.abs(observed[keep] - expected) / spread, np.inf)
            pooled = int(keep.size - (limit - 1))
            keep = np.sort(keep[np.argpartition(-deviation, limit - 2)[: limit - 1]])
        labels = [self.label(int(i)) for i in keep]
        counts = [int(observed[i]) for i in keep]
        cell_probs = [float(probs[i]) for i in keep]
        if pooled:
            labels.append(f"other ({pooled} cells)")
            counts.append(int(n) - sum(counts))
            cell_probs.append(max(0.0, float(probs.sum()) - sum(cell_probs)))
        return ShownCells(tuple(labels), tuple(counts), tuple(cell_probs), pooled)


@dataclass(frozen=True)
class LawCheck:
    """One goodness-of-fit test of an exact law: observed counts of one (case, row, position) against it."""

    category: Category
    case_index: int
    row: int
    position: int  # -1 for whole-block laws (accepted length)
    law: str
    stage: int
    n_samples: int
    n_cells: int
    statistic: float
    pvalue: float
    detectable_discrepancy: float  # TV detected with the budget's power at the per-test level
    adjusted_pvalue: float = math.nan
    rejected: bool = False
    counts: CellCounts | ShownCells | None = field(default=None, compare=False, repr=False)  # plots; not JSON

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = json_ready({f.name: getattr(self, f.name) for f in fields(self) if f.name != "counts"})
        out["category"] = str(self.category)
        return out


@dataclass(frozen=True)
class CategoryVerdict:
    """pass / fail / untested for one category, with the evidence and the replay lines."""

    name: Category
    verdict: Verdict
    message: str
    failures: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": str(self.name), "verdict": str(self.verdict), "message": self.message,
                "failures": list(self.failures)}


@dataclass(frozen=True)
class GateReport:
    """The gate's verdict on one port; :meth:`to_dict` is the JSON report."""

    verdict: Verdict
    port: str
    budget: Budget
    seed: int
    singleton_only: bool
    procedure: Procedure
    categories: dict[Category, CategoryVerdict]
    tests: tuple[LawCheck, ...]
    variability: dict[str, float]
    retried_cases: tuple[int, ...]
    cases: tuple[dict[str, Any], ...]
    elapsed_seconds: float
    per_test_level: float
    evidence: dict[str, Any] = field(default_factory=dict)  # plot data: worst tests' cells, variability by case
    unfinished: tuple[str, ...] = ()  # the cases the port was too slow to finish: why, and the replay line

    @property
    def passed(self) -> bool:
        return self.verdict == Verdict.PASS

    @property
    def family_false_positive_rate(self) -> float:
        return self.procedure.family_false_positive_rate

    def summary(self) -> str:
        """The human-readable verdict: one line per category, failures with replay lines."""
        untested = [c for c in Category if self.categories[c].verdict == Verdict.UNTESTED]
        note = f" ({len(untested)} categor{'y' if len(untested) == 1 else 'ies'} untested: " \
               f"{', '.join(map(str, untested))})" if untested else ""
        lines = [f"pcg-verify: {self.verdict.words.upper()}{note} — port {self.port}, budget {self.budget.name}, "
                 f"seed {self.seed}, {len(self.cases)} cases, {len(self.tests)} tests, "
                 f"{self.elapsed_seconds:.1f} s"]
        if self.unfinished:
            lines.append(f"  too slow: {len(self.unfinished)} of {len(self.cases)} case(s) unfinished, so untested "
                         "(not failed); a slow port needs a larger --call-timeout and a larger or no --deadline "
                         "(docs/gate.md, 'Slow ports')")
            lines.extend(f"      {line}" for line in self.unfinished[:MAX_LISTED_FAILURES])
            if len(self.unfinished) > MAX_LISTED_FAILURES:
                lines.append(f"      … and {len(self.unfinished) - MAX_LISTED_FAILURES} more (all are in the JSON "
                             "report)")
        for name in Category:
            cat = self.categories[name]
            lines.append(f"  {name:<17} {cat.verdict.words:<9} {cat.message}")
            lines.extend(f"      {failure}" for failure in cat.failures[:MAX_LISTED_FAILURES])
            if len(cat.failures) > MAX_LISTED_FAILURES:
                lines.append(f"      … and {len(cat.failures) - MAX_LISTED_FAILURES} more "
                             "(all are in the JSON report)")
        lines.append(f"  declared family-wise false-positive rate {self.family_false_positive_rate:g} "
                     f"({self.procedure.describe()})")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = json_ready({
            "schema_version": SCHEMA_VERSION,
            "verdict": str(self.verdict),
            "unfinished": list(self.unfinished),
            "port": self.port,
            "budget": self.budget.to_dict(),
            "seed": self.seed,
            "singleton_only": self.singleton_only,
            "procedure": {**self.procedure.to_dict(), "per_test_level": self.per_test_level,
                          "structure_and_determinism_false_positive_rate": 0.0},
            "categories": {str(k): v.to_dict() for k, v in self.categories.items()},
            "variability": self.variability,
            "retried_cases": list(self.retried_cases),
            "cases": list(self.cases),
            "tests": [t.to_dict() for t in self.tests],
            "elapsed_seconds": self.elapsed_seconds,
            "evidence": self.evidence,
        })
        return out

    def to_json(self) -> str:
        """Strict JSON (no NaN/Infinity tokens), UTF-8 text, indented."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


class GateFailure(AssertionError):
    """Raised by :func:`~pcg_verify.checks.assert_gate`; the message is the summary with replay lines."""

    def __init__(self, report: GateReport) -> None:
        self.report = report
        super().__init__(report.summary())


def replay_line(spec: str | None, name: str, *, budget: Budget, seed: int, case: int, singleton_only: bool) -> str:
    """What re-runs one case alone: a shell line when the port (``spec``) and the budget have names
    there, else the Python call (``name`` stands for an anonymous port)."""
    named_budget = BUDGETS.get(budget.name) == budget
    if spec is not None and named_budget:
        extra = " --singleton-groups" if singleton_only else ""
        return f"pcg-verify check {shlex.quote(spec)} --budget {budget.name} --seed {seed} --case {case}{extra}"
    port = repr(spec) if spec is not None else name
    budget_arg = repr(budget.name) if named_budget else f"Budget(...{budget.name})"
    extra = ", singleton_only=True" if singleton_only else ""
    return f"pcg_verify.run_gate({port}, budget={budget_arg}, seed={seed}, case={case}{extra})"
