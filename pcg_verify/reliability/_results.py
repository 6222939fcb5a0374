"""``results.json``: the envelope every kind of run writes, its fields, and how it is checked on load.

Envelope, schema version :data:`RESULTS_SCHEMA_VERSION` (strict JSON: no NaN
or Infinity tokens, non-finite numbers written as ``null``; UTF-8 text):

``schema_version`` int; ``kind`` "gate" | "bugs" | "e2e"; ``title`` str;
``verdict`` "pass" | "fail" (pass when every run passes); ``created`` str
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
#: Keys each run of a kind must have, with the JSON types they must hold.
_RUN_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "gate": {"verdict": (str,), "port": (str,), "budget": (dict,), "procedure": (dict,), "categories": (dict,),
             "tests": (list,)},
    "bugs": {"mutant": (str,), "killed": (bool,), "killed_by": (list,)},
    "e2e": {"name": (str,), "verdict": (str,)},
}
_ENVELOPE_FIELDS: dict[str, tuple[type, ...]] = {
    "schema_version": (int,), "kind": (str,), "title": (str,), "verdict": (str,), "created": (str,),
    "duration_seconds": (int, float), "versions": (dict,), "machine": (dict,), "runs": (list,),
}


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


def run_passed(kind: str, run: Mapping[str, Any]) -> bool:
    """A gate or e2e run that passed; a mutant the gate killed; an equivalent it passed."""
    if kind == "bugs":
        return bool(run["killed"]) != bool(run.get("equivalent", False))
    return run.get("verdict") == "pass"


def make_results(kind: str, runs: Sequence[Mapping[str, Any]], *, duration_seconds: float,
                 title: str | None = None, command: str | None = None,
                 created: datetime.datetime | None = None) -> dict[str, Any]:
    """The envelope (module docstring) around ``runs`` of one ``kind``; validated before it is returned.

    The verdict is derived: pass when every run passes (a mutant passes when
    it is killed), fail otherwise or when there is no run.
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
    validate_results(results)
    if results["runs"] and all(run_passed(kind, run) for run in results["runs"]):
        results["verdict"] = "pass"
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
        "killed": not report.passed,
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


def _check_fields(where: str, data: Mapping[str, Any], wanted: Mapping[str, tuple[type, ...]]) -> None:
    for key, types in wanted.items():
        if key not in data:
            raise InvalidArgumentError("results", where, f"has no {key!r} field",
                                       f"a {where} needs {sorted(wanted)}; see pcg_verify.reliability._results")
        value = data[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            names = " or ".join(t.__name__ for t in types)
            raise InvalidArgumentError("results", f"{where}[{key!r}]={value!r}"[:120], f"must be a JSON {names}")


def validate_results(results: Any) -> dict[str, Any]:
    """``results`` if it is an envelope of a supported schema version with well-formed runs; else raise
    :class:`~pcg_core.errors.InvalidArgumentError` naming the field and the rule."""
    if not isinstance(results, dict):
        raise InvalidTypeError("results", results, "must be a JSON object (dict) with the results envelope")
    _check_fields("envelope", results, _ENVELOPE_FIELDS)
    if results["schema_version"] != RESULTS_SCHEMA_VERSION:
        raise InvalidArgumentError("results", f"schema_version={results['schema_version']}",
                                   f"must be {RESULTS_SCHEMA_VERSION}", "written by another version of pcg-verify")
    kind = results["kind"]
    if kind not in KINDS:
        raise InvalidArgumentError("results", f"kind={kind!r}", f"must be one of {list(KINDS)}")
    if results["verdict"] not in ("pass", "fail"):
        raise InvalidArgumentError("results", f"verdict={results['verdict']!r}", "must be 'pass' or 'fail'")
    for index, run in enumerate(results["runs"]):
        if not isinstance(run, dict):
            raise InvalidArgumentError("results", f"runs[{index}]={run!r}"[:120], "must be a JSON object")
        _check_fields(f"runs[{index}]", run, _RUN_FIELDS[kind])
    return results


def results_json(results: Mapping[str, Any]) -> str:
    """Strict, indented JSON text of ``results`` (no NaN/Infinity; UTF-8, not ASCII-escaped)."""
    try:
        return json.dumps(_json_ready(dict(results)), indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    except (TypeError, ValueError) as error:
        raise InvalidArgumentError("results", type(results).__name__, f"is not JSON-serialisable: {error}") from None


def load_results(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate ``directory/results.json`` (or a results file given directly)."""
    path = Path(directory)
    if path.is_dir():
        path = path / RESULTS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidArgumentError("directory", os.fspath(directory), f"has no {RESULTS_FILE}",
                                   "write one with 'pcg-verify check ... --report DIR'") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidArgumentError("directory", os.fspath(directory), f"{path} cannot be read: {error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidArgumentError("directory", os.fspath(directory), f"{path} is not valid JSON: {error}") from None
    return validate_results(data)
