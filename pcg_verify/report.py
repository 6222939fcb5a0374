"""What the gate returns: one record per test, one verdict per category, the report.

The JSON form (:meth:`GateReport.to_dict`) has a versioned schema,
:data:`SCHEMA_VERSION`; non-finite numbers are written as ``null`` and text is
UTF-8 (never ASCII-escaped). Fields of version 1:

``schema_version`` int; ``verdict`` "pass" | "fail"; ``port`` str;
``budget`` object (:meth:`Budget.to_dict`); ``seed`` int; ``singleton_only``
bool; ``procedure`` object (rates, family-wise rate, description);
``categories`` {name: {name, verdict, message, failures, omitted}};
``variability`` {observed/reference conditional entropy (nats), within-group
TV}; ``retried_cases`` [int]; ``cases`` [object]; ``tests`` [object, one per
goodness-of-fit test: category, case_index, row, position, law, stage,
n_samples, n_cells, statistic, pvalue, detectable_discrepancy,
adjusted_pvalue, rejected]; ``elapsed_seconds`` float.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from pcg_verify.budgets import Budget, Procedure

__all__ = [
    "MAX_LISTED_FAILURES",
    "SCHEMA_VERSION",
    "Category",
    "CategoryVerdict",
    "GateFailure",
    "GateReport",
    "LawCheck",
    "Verdict",
    "json_ready",
]

#: Version of the JSON report's schema (see the module docstring).
SCHEMA_VERSION = 1
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
    PASS = "pass"
    FAIL = "fail"
    UNTESTED = "untested"


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

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = json_ready({f.name: getattr(self, f.name) for f in fields(self)})
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
        lines = [f"pcg-verify: {self.verdict.upper()}{note} — port {self.port}, budget {self.budget.name}, "
                 f"seed {self.seed}, {len(self.cases)} cases, {len(self.tests)} tests, "
                 f"{self.elapsed_seconds:.1f} s"]
        for name in Category:
            cat = self.categories[name]
            lines.append(f"  {name:<17} {cat.verdict:<9} {cat.message}")
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
