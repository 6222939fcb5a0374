"""``results.json``: the envelope every kind of run writes, its fields, and how it is checked on load.

Envelope, schema version :data:`RESULTS_SCHEMA_VERSION` (strict JSON: no NaN
or Infinity tokens, non-finite numbers written as ``null``; UTF-8 text):

``schema_version`` int; ``kind`` "gate" | "bugs" | "e2e"; ``title`` str;
``verdict`` "pass" | "fail" | "too_slow" (pass when every run passes; too_slow
when every gate run that did not pass was too slow); ``created`` str
(ISO 8601, UTC); ``duration_seconds`` float; ``command`` str or null (what
produced the run); ``versions`` {python, torch, numpy, scipy, pcg: str or
null}; ``machine`` {platform, machine, python_implementation, cpu_count};
``runs`` [object], whose shape depends on ``kind``:

* ``gate`` — one :meth:`pcg_verify.report.GateReport.to_dict` per port gated
  (its own ``schema_version``; the plots read its ``evidence`` section).
* ``bugs`` — one record per mutant (a wrong port the gate must kill) or
  equivalent (a valid variant it must pass, ``equivalent`` true; optional,
  false by default): ``mutant`` str; ``description`` str;
  ``expected_category`` str or null; ``killed`` bool; ``killed_by`` [category names that failed]; ``check`` str
  or null (the decisive test); ``pvalue``, ``adjusted_pvalue`` float or null;
  ``n_samples`` int or null; ``replay`` str or null (re-runs the decisive
  case). :func:`mutant_record` builds one from a gate report.
* ``e2e`` — one record per end-to-end decoding run: ``name`` str;
  ``verdict`` "pass" | "fail" | "untested"; optional ``summary`` str,
  ``metrics`` {name: number}, ``tests`` [{name, statistic, pvalue, n_samples,
  ...}], ``failures`` [str, each ending with ``Reproduce: <command>``].

Every verdict is derived from the evidence, and a file whose stated verdicts
disagree with it is refused on load, as is any file beyond the stated limits
or with a field of the wrong type (:mod:`pcg_verify.reliability._schema`).
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_verify.reliability._schema import (
    check_bounds,
    check_fields,
    check_verdicts,
    envelope_verdict,
    read_results_file,
    run_passed,
)

if TYPE_CHECKING:
    from pcg_verify.report import GateReport

__all__ = [
    "KINDS",
    "RESULTS_FILE",
    "RESULTS_SCHEMA_VERSION",
    "bugs_results",
    "e2e_results",
    "environment",
    "gate_results",
    "load_results",
    "make_results",
    "mutant_record",
    "results_json",
    "run_passed",
    "validate_results",
]

#: Version of the envelope's schema (see the module docstring).
RESULTS_SCHEMA_VERSION = 1
#: The kinds of run a report can hold.
KINDS = ("gate", "bugs", "e2e")
#: Name of the source of truth inside a report directory.
RESULTS_FILE = "results.json"

_TITLES = {"gate": "pcg-verify gate report", "bugs": "pcg-verify mutation report",
           "e2e": "pcg end-to-end decoding report"}
_VERSIONED = {"torch": "torch", "numpy": "numpy", "scipy": "scipy", "pcg": "pcg-verify"}
def environment() -> dict[str, dict[str, Any]]:
    """The ``versions`` and ``machine`` sections: installed versions (read without importing torch)
    and the platform; no host name or user name."""
    versions: dict[str, Any] = {"python": platform.python_version()}
    for key, distribution in _VERSIONED.items():
        try:
            versions[key] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            versions[key] = None
    machine = {"platform": platform.platform(), "machine": platform.machine(),
               "python_implementation": platform.python_implementation(), "cpu_count": os.cpu_count()}
    return {"versions": versions, "machine": machine}


def make_results(kind: str, runs: Sequence[Mapping[str, Any]], *, duration_seconds: float,
                 title: str | None = None, command: str | None = None,
                 created: datetime.datetime | None = None) -> dict[str, Any]:
    """The envelope (module docstring) around ``runs`` of one ``kind``; validated before it is returned.

    The verdict is derived (:func:`~pcg_verify.reliability._schema.envelope_verdict`):
    pass when every run passes (a mutant passes when it is killed), fail
    otherwise or when there is no run.
    """
    if kind not in KINDS:
        raise InvalidArgumentError("kind", kind, f"must be one of {list(KINDS)}")
    if isinstance(runs, str | bytes) or not isinstance(runs, Sequence):
        raise InvalidTypeError("runs", runs, "must be a sequence of JSON objects (dicts)")
    stamp = created or datetime.datetime.now(datetime.UTC)
    results: dict[str, Any] = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "kind": kind,
        "title": title or _TITLES[kind],
        "verdict": "fail",
        "created": stamp.astimezone(datetime.UTC).isoformat(timespec="seconds"),
        "duration_seconds": float(duration_seconds),
        "command": command,
        **environment(),
        "runs": [_json_ready(dict(run)) if isinstance(run, Mapping) else run for run in runs],
    }
    check_bounds(results)
    check_fields(results, RESULTS_SCHEMA_VERSION, KINDS)
    results["verdict"] = envelope_verdict(results)
    check_verdicts(results)  # a run that contradicts its own evidence is refused here, before it is written
    return results


def gate_results(reports: GateReport | Sequence[GateReport], *, command: str | None = None,
                 duration_seconds: float | None = None) -> dict[str, Any]:
    """Results of kind ``gate`` for one or more gate reports (duration: the sum of theirs by default)."""
    from pcg_verify.report import GateReport

    many = list(reports) if isinstance(reports, Sequence) else [reports]
    for index, report in enumerate(many):
        if not isinstance(report, GateReport):
            raise InvalidTypeError(f"reports[{index}]", report, "must be a pcg_verify.GateReport")
    duration = sum(r.elapsed_seconds for r in many) if duration_seconds is None else duration_seconds
    title = f"pcg-verify gate report: {many[0].port}" if len(many) == 1 else None
    return make_results("gate", [r.to_dict() for r in many], duration_seconds=duration, title=title,
                        command=command)


def mutant_record(mutant: str, report: GateReport, *, description: str = "",
                  expected_category: str | None = None) -> dict[str, Any]:
    """One ``bugs`` run: whether the gate killed ``mutant``, by which categories, and the decisive test
    (the rejected test with the smallest p-value, else the smallest p-value of all)."""
    failed = [name for name, verdict in report.categories.items() if verdict.verdict == "fail"]
    rejected = [t for t in report.tests if t.rejected]
    decisive = min(rejected or report.tests, key=lambda t: t.pvalue, default=None)
    replay: str | None = None
    for name in failed:  # every failure line ends with its replay command
        for line in report.categories[name].failures:
            if "Reproduce: " in line:
                replay = line.rsplit("Reproduce: ", 1)[1]
                break
        if replay:
            break
    record: dict[str, Any] = _json_ready({
        "mutant": mutant,
        "description": description,
        "expected_category": expected_category,
        "killed": bool(failed),  # a mutant the gate was too slow to finish is not killed
        "killed_by": [str(name) for name in failed],
        "check": None if decisive is None else
        f"{decisive.category}: case {decisive.case_index} row {decisive.row} position {decisive.position}, "
        f"{decisive.law}",
        "pvalue": None if decisive is None else decisive.pvalue,
        "adjusted_pvalue": None if decisive is None else decisive.adjusted_pvalue,
        "n_samples": None if decisive is None else decisive.n_samples,
        "replay": replay,
    })
    return record


def bugs_results(records: Sequence[Mapping[str, Any]], *, duration_seconds: float,
                 command: str | None = None) -> dict[str, Any]:
    """Results of kind ``bugs`` (one :func:`mutant_record` per mutant)."""
    return make_results("bugs", records, duration_seconds=duration_seconds, command=command)


def e2e_results(records: Sequence[Mapping[str, Any]], *, duration_seconds: float,
                command: str | None = None, title: str | None = None) -> dict[str, Any]:
    """Results of kind ``e2e`` (one record per end-to-end decoding run; module docstring)."""
    return make_results("e2e", records, duration_seconds=duration_seconds, command=command, title=title)


def _json_ready(value: Any) -> Any:
    from pcg_verify.report import json_ready

    return json_ready(value)


def validate_results(results: Any) -> dict[str, Any]:
    """``results`` if it is an envelope of a supported schema version within the stated limits, every field
    of its type, and every verdict the one its evidence gives; else raise
    :class:`~pcg_core.errors.InvalidArgumentError` naming the field and the rule
    (:mod:`pcg_verify.reliability._schema`)."""
    check_bounds(results)
    envelope = check_fields(results, RESULTS_SCHEMA_VERSION, KINDS)
    check_verdicts(envelope)
    return envelope


def results_json(results: Mapping[str, Any]) -> str:
    """Strict, indented JSON text of ``results`` (no NaN/Infinity; UTF-8, not ASCII-escaped)."""
    try:
        return json.dumps(_json_ready(dict(results)), indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    except (TypeError, ValueError) as error:
        raise InvalidArgumentError("results", type(results).__name__, f"is not JSON-serialisable: {error}") from None


def load_results(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate ``directory/results.json`` (or a results file given directly): at most
    :data:`~pcg_verify.reliability._schema.MAX_RESULTS_BYTES`, checked before reading."""
    path = Path(directory)
    if path.is_dir():
        path = path / RESULTS_FILE
    try:
        data = read_results_file(path, "directory", os.fspath(directory))
    except FileNotFoundError:
        raise InvalidArgumentError("directory", os.fspath(directory), f"has no {RESULTS_FILE}",
                                   "write one with 'pcg-verify check ... --report DIR'") from None
    return validate_results(data)
