"""What a results.json may hold: stated limits, the type of every field the page reads, verdicts recomputed.

``pcg-verify report DIR`` renders whatever file it finds, so the file is
untrusted input. It is read in four steps; each refuses with an
:class:`~pcg_core.errors.InvalidArgumentError` that names the field, its
value and the rule (``results.runs[0].killed='yes': must be a JSON bool``):

1. the file (:func:`read_results_file`): a regular file of at most
   :data:`MAX_RESULTS_BYTES`, checked by ``fstat`` before reading and then
   read with a bounded read; at most :data:`MAX_SEPARATORS` commas and
   opening brackets (counted in the raw bytes, an upper bound on the values
   the parser would build: a file of 16 MiB of ``[],`` would otherwise cost
   400 MB before step 2 could count it); UTF-8; strict JSON (no NaN or
   Infinity tokens, no number too long for Python, nesting the parser can
   follow);
2. any JSON value (:func:`check_bounds`, one iterative pass, no recursion):
   nesting at most :data:`MAX_DEPTH` deep, at most :data:`MAX_VALUES` values
   in all, lists of at most :data:`MAX_ITEMS`, objects of at most
   :data:`MAX_KEYS` keys of at most :data:`MAX_KEY_CHARS` characters, strings
   of at most :data:`MAX_STRING_CHARS`, integers below 2**1023 in magnitude
   (so that ``float()`` of one is finite: the page formats numbers as floats),
   finite floats;
3. the fields (:func:`check_fields`): every field the page reads has its JSON
   type, its range and its own tighter bound (:data:`MAX_GATE_RUNS` gate
   runs, :data:`MAX_PLOTTED_TESTS` plotted tests of :data:`MAX_CELLS` cells,
   :data:`MAX_PLOT_TEXT` characters of text inside a plot); fields the page
   does not read may be added and are bounded by step 2 only;
4. the verdicts (:func:`check_verdicts`): recomputed from the evidence and
   compared with the stated ones. A gate run fails exactly when one of its
   categories fails (the gate's rule); else it is ``too_slow`` exactly when
   it lists an unfinished case (and then every category that did not fail
   is ``too_slow``); a category that passed lists no failure and none of
   its tests was rejected; a mutant is killed exactly when ``killed_by``
   names a category; an e2e run that passed lists no failure and no
   rejected test; the envelope passes exactly when it holds a run and every
   run passed (it is ``too_slow`` when every gate run that did not pass was
   too slow). **A disagreement is refused**, in either
   direction: the writers derive every verdict, so a file that contradicts
   itself was edited or written by a bug, and the page never shows a
   verdict that its own evidence contradicts (the banner is drawn from
   :func:`envelope_verdict`, not from the stated field).

The limits leave a wide margin above real reports (the reference at the
thorough budget writes 1,161 tests and 52 cases in 0.6 MB) while bounding
the work: a file at every limit renders in about 6 times the time of that
report, and no file the limits admit costs more than about 200 MB to parse
(docs/untrusted-files.md gives the measurements).
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pcg_core.errors import InvalidArgumentError, InvalidTypeError

__all__ = [
    "CATEGORIES",
    "MAX_CASES",
    "MAX_CELLS",
    "MAX_DEPTH",
    "MAX_GATE_RUNS",
    "MAX_ITEMS",
    "MAX_KEYS",
    "MAX_KEY_CHARS",
    "MAX_PLOTTED_TESTS",
    "MAX_PLOT_TEXT",
    "MAX_RESULTS_BYTES",
    "MAX_SEPARATORS",
    "MAX_STRING_CHARS",
    "MAX_TESTS",
    "MAX_VALUES",
    "check_bounds",
    "check_fields",
    "check_verdicts",
    "envelope_verdict",
    "read_results_file",
    "run_passed",
]

#: Largest results file read, in bytes (16 MiB; checked before reading).
MAX_RESULTS_BYTES = 16 * 2**20
#: Deepest nesting of objects and lists (the schema's deepest field, a plotted cell, is at depth 8).
MAX_DEPTH = 16
#: JSON values in the whole file, containers and scalars together.
MAX_VALUES = 1_000_000
#: Commas, '[' and '{' in the raw file, strings included: each value but the first in a container follows a
#: comma, and each container opens with a bracket, so this bounds the values parsed (MAX_VALUES, with room).
MAX_SEPARATORS = 2 * MAX_VALUES
#: Items of any list, and keys of any object.
MAX_ITEMS, MAX_KEYS = 20_000, 256
#: Characters of any string, and of any object key.
MAX_STRING_CHARS, MAX_KEY_CHARS = 2**20, 200
#: Gate runs in one report (each draws up to MAX_PLOTTED_TESTS + 4 plots; the gate writes one per report).
MAX_GATE_RUNS = 4
#: Tests and cases of one gate run: a row of the checks table each, and a point of the QQ plot.
MAX_TESTS, MAX_CASES = MAX_ITEMS, 2_000
#: Tests whose cells are plotted, cells per plotted test, and characters of a label or title inside a plot
#: (the gate plots at most 8 + 7 tests of at most 24 + 1 cells: pcg_verify._evidence).
MAX_PLOTTED_TESTS, MAX_CELLS, MAX_PLOT_TEXT = 16, 64, 200
#: The gate's categories (pcg_verify.report.Category, spelt out: importing it would load torch).
CATEGORIES = ("guarantee", "conformance", "acceptance", "bonus", "batch_invariance", "structure", "determinism")
_INT_LIMIT = 2**1023  # float(2**1024) overflows; seeds may legitimately exceed 2**64
_COUNT_LIMIT = 2**53  # sample counts: exact as floats
_HINT = "see pcg_verify.reliability._schema for the schema and its limits"

Check = Callable[[Any, str], None]


# --------------------------------------------------------------------------- errors
def _shown(value: Any) -> Any:
    """``value`` for a message: scalars as they are (describe() cuts them), containers by size only."""
    if isinstance(value, Mapping):
        return f"<JSON object of {len(value)} keys>"
    if isinstance(value, list | tuple):
        return f"<JSON list of {len(value)} items>"
    if isinstance(value, str) and len(value) > 80:
        return value[:80]
    return value


def _refuse(where: str, value: Any, rule: str, hint: str | None = None) -> InvalidArgumentError:
    return InvalidArgumentError(f"results{where}", _shown(value), rule, hint)


def _item(where: str, key: str | int) -> str:
    return f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}" if key.isidentifier() \
        else f"{where}[{key!r}]"


# --------------------------------------------------------------------------- step 1: the file
def read_results_file(path: Path, name: str, shown: str) -> Any:
    """The JSON value in the results file ``path``; errors name ``name=shown`` (step 1 of the module docstring);
    a missing file raises FileNotFoundError.

    Reads at most :data:`MAX_RESULTS_BYTES` + 1 bytes whatever the file is:
    a FIFO or a device is refused before any read, and a file that grows
    while it is read is refused at the limit.
    """
    try:  # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise  # the caller says which file a report directory should hold
    except OSError as error:
        raise InvalidArgumentError(name, shown, f"{path} cannot be read: {error}") from None
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InvalidArgumentError(name, shown, f"{path} is not a regular file")
        if info.st_size > MAX_RESULTS_BYTES:
            raise InvalidArgumentError(name, shown, f"{path} is {info.st_size} bytes; a results file holds at most "
                                       f"{MAX_RESULTS_BYTES} ({MAX_RESULTS_BYTES // 2**20} MiB)", _HINT)
        try:
            data = handle.read(MAX_RESULTS_BYTES + 1)
        except OSError as error:
            raise InvalidArgumentError(name, shown, f"{path} cannot be read: {error}") from None
    if len(data) > MAX_RESULTS_BYTES:
        raise InvalidArgumentError(name, shown, f"{path} grew past {MAX_RESULTS_BYTES} bytes while it was read")
    separators = data.count(b",") + data.count(b"[") + data.count(b"{")
    if separators > MAX_SEPARATORS:
        raise InvalidArgumentError(name, shown, f"{path} holds {separators} commas and opening brackets; a results "
                                   f"file holds at most {MAX_SEPARATORS} (counted before parsing)", _HINT)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidArgumentError(name, shown, f"{path} is not UTF-8 text: byte {error.start} "
                                   f"({data[error.start:error.start + 1]!r}) {error.reason}") from None
    del data

    def constant(token: str) -> Any:
        raise InvalidArgumentError(name, shown, f"{path} holds {token}, which strict JSON has no token for "
                                   "(non-finite numbers are written as null)")

    try:
        return json.loads(text, parse_constant=constant)
    except RecursionError:
        raise InvalidArgumentError(name, shown, f"{path} nests JSON deeper than the parser can follow; a results "
                                   f"file nests at most {MAX_DEPTH} deep") from None
    except ValueError as error:  # JSONDecodeError, and integers longer than Python converts
        if isinstance(error, InvalidArgumentError):
            raise
        raise InvalidArgumentError(name, shown, f"{path} is not valid JSON: {error}") from None


# --------------------------------------------------------------------------- step 2: any JSON value
def check_bounds(data: Any) -> None:
    """Refuse a value beyond the limits of step 2 (module docstring); iterative, so no depth overflows it.

    >>> check_bounds({"runs": [{"seed": 2**1023}]})
    Traceback (most recent call last):
    ...
    pcg_core.errors.InvalidArgumentError: results.runs[0].seed='<integer of 1024 bits>': is an integer of 2**1023 \
or more in magnitude
    """
    if not isinstance(data, Mapping | list | tuple):
        return
    todo: list[tuple[Any, str, int]] = [(data, "", 1)]
    values = 1
    while todo:
        container, where, depth = todo.pop()
        if depth > MAX_DEPTH:
            raise _refuse(where, container, f"nests deeper than {MAX_DEPTH}", _HINT)
        values += len(container)
        if values > MAX_VALUES:
            raise _refuse(where, container, f"brings the file past {MAX_VALUES} JSON values", _HINT)
        if isinstance(container, Mapping):
            if len(container) > MAX_KEYS:
                raise _refuse(where, container, f"has more than {MAX_KEYS} keys", _HINT)
            items: Any = container.items()
        else:
            if len(container) > MAX_ITEMS:
                raise _refuse(where, container, f"has more than {MAX_ITEMS} items", _HINT)
            items = enumerate(container)
        for key, item in items:
            if isinstance(key, str):
                if len(key) > MAX_KEY_CHARS:
                    raise _refuse(where, key, f"has a key longer than {MAX_KEY_CHARS} characters", _HINT)
            elif isinstance(container, Mapping):
                raise _refuse(where, key, "has a key that is not a string")
            if isinstance(item, str):
                if len(item) > MAX_STRING_CHARS:
                    raise _refuse(_item(where, key), item, f"is a string of {len(item)} characters; at most "
                                  f"{MAX_STRING_CHARS}", _HINT)
            elif isinstance(item, Mapping | list | tuple):
                todo.append((item, _item(where, key), depth + 1))
            elif isinstance(item, bool) or item is None:
                pass
            elif isinstance(item, int):
                if not -_INT_LIMIT < item < _INT_LIMIT:
                    raise _refuse(_item(where, key), f"<integer of {item.bit_length()} bits>",
                                  "is an integer of 2**1023 or more in magnitude")
            elif isinstance(item, float):
                if not math.isfinite(item):
                    raise _refuse(_item(where, key), item, "must be finite (non-finite numbers are written as null)")
            else:
                raise _refuse(_item(where, key), type(item).__name__, "is not a JSON value")


# --------------------------------------------------------------------------- step 3: the fields
def _typed(types: tuple[type, ...], null: bool, extra: Callable[[Any, str], None] | None = None, *,
           what: str | None = None) -> Check:
    """Check the JSON type (a bool is no number), then ``extra``; ``what`` names the type in the message."""
    what = what or {str: "string", bool: "bool", int: "int", float: "number", dict: "object", list: "list"}[types[-1]]
    rule = f"must be a JSON {what}" + (" or null" if null else "")

    def check(value: Any, where: str) -> None:
        if value is None and null:
            return
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise _refuse(where, value, rule)
        if extra is not None:
            extra(value, where)
    return check


def _string(*, choices: Sequence[str] | None = None, max_chars: int | None = None, null: bool = False) -> Check:
    def extra(value: str, where: str) -> None:
        if choices is not None and value not in choices:
            raise _refuse(where, value, f"must be one of {list(choices)}")
        if max_chars is not None and len(value) > max_chars:
            raise _refuse(where, value, f"must be at most {max_chars} characters long")
    return _typed((str,), null, extra)


def _range(low: float | None, high: float | None, what: str) -> Callable[[Any, str], None]:
    bounds = f"in [{low}, {high}]" if low is not None and high is not None else \
        f">= {low}" if low is not None else f"<= {high}"

    def extra(value: float, where: str) -> None:
        if (low is not None and value < low) or (high is not None and value > high):
            raise _refuse(where, value, f"must be {what} {bounds}")
    return extra


def _integer(low: int | None = None, high: int | None = None, *, null: bool = False) -> Check:
    return _typed((int,), null, _range(low, high, "an integer"))


def _number(low: float | None = None, high: float | None = None, *, null: bool = False) -> Check:
    return _typed((int, float), null, _range(low, high, "a number"))


_BOOL = _typed((bool,), False)
_TEXT, _TEXT_OR_NULL = _string(), _string(null=True)
_PROBABILITY = _number(0.0, 1.0, null=True)
_SCALAR = _typed((str, int, float, bool), True, what="string, number or bool")


def _list(item: Check, *, max_items: int = MAX_ITEMS, null: bool = False) -> Check:
    def extra(value: list[Any], where: str) -> None:
        if len(value) > max_items:
            raise _refuse(where, value, f"must hold at most {max_items} items")
        for index, element in enumerate(value):
            item(element, _item(where, index))
    return _typed((tuple, list), null, extra)


def _object(required: Mapping[str, Check], optional: Mapping[str, Check] | None = None, *, what: str = "",
            null: bool = False) -> Check:
    """An object with ``required`` fields and, when present, ``optional`` ones; other keys pass (step 2 bounds
    them) and are never read by the page."""
    def extra(value: Mapping[str, Any], where: str) -> None:
        for key, check in required.items():
            if key not in value:
                raise _refuse(where, value, f"has no {key!r} field",
                              f"{what or 'it'} needs {sorted(required)}; {_HINT}")
            check(value[key], _item(where, key))
        for key, check in (optional or {}).items():
            if key in value:
                check(value[key], _item(where, key))
    return _typed((dict,), null, extra)


def _mapping(item: Check, *, keys: Sequence[str] | None = None, null: bool = False) -> Check:
    def extra(value: Mapping[str, Any], where: str) -> None:
        for key, element in value.items():
            if keys is not None and key not in keys:
                raise _refuse(where, key, f"names no known entry; must be one of {list(keys)}")
            item(element, _item(where, key))
    return _typed((dict,), null, extra)


#: Verdicts of a gate run and of the envelope: too_slow when nothing failed but a case was unfinished.
_VERDICT = _string(choices=("pass", "fail", "too_slow"))
_TEST_FIELDS: dict[str, Check] = {  # report.LawCheck.to_dict
    "category": _string(choices=CATEGORIES), "case_index": _integer(0), "row": _integer(0),
    "position": _integer(-1), "law": _string(max_chars=MAX_PLOT_TEXT), "stage": _integer(1),
    "n_samples": _integer(0, _COUNT_LIMIT), "n_cells": _integer(0), "statistic": _number(null=True),
    "pvalue": _PROBABILITY, "adjusted_pvalue": _PROBABILITY, "detectable_discrepancy": _number(null=True),
    "rejected": _BOOL}
_CELL = _object({"label": _string(max_chars=MAX_PLOT_TEXT), "observed": _integer(0, _COUNT_LIMIT),
                 "probability": _number(0.0, 1.0)}, what="a plotted cell")
_PLOTTED_TEST = _object({**_TEST_FIELDS, "cells": _list(_CELL, max_items=MAX_CELLS)},
                        {"selected": _string(max_chars=MAX_PLOT_TEXT), "pooled_cells": _integer(0)},
                        what="a plotted test")
_VARIABILITY = {"observed_conditional_entropy_nats": _number(null=True),
                "reference_conditional_entropy_nats": _number(null=True), "within_group_tv": _number(null=True)}
_CATEGORY = _object({"verdict": _string(choices=("pass", "fail", "untested", "too_slow")), "message": _TEXT,
                     "failures": _list(_TEXT)}, {"name": _string(choices=CATEGORIES)}, what="a category")
_GATE_RUN = _object(  # report.GateReport.to_dict
    {"verdict": _VERDICT, "port": _TEXT,
     "budget": _object({}, {"name": _TEXT_OR_NULL, "discrepancy": _number(0.0, 1.0, null=True),
                            "false_negative_rate": _PROBABILITY}),
     "procedure": _object({}, {"family_false_positive_rate": _PROBABILITY, "attribution_rate": _PROBABILITY,
                               "per_test_level": _PROBABILITY, "description": _TEXT}),
     "categories": _mapping(_CATEGORY, keys=CATEGORIES),
     "tests": _list(_object(_TEST_FIELDS, what="a test"), max_items=MAX_TESTS)},
    {"schema_version": _integer(1, 2), "unfinished": _list(_TEXT, max_items=MAX_CASES),
     "seed": _integer(null=True), "singleton_only": _typed((bool,), True),
     "variability": _object({}, _VARIABILITY, null=True), "retried_cases": _list(_integer(0), null=True),
     "cases": _list(_object({}, {"index": _integer(0), "description": _TEXT, "samples_per_row": _integer(0),
                                 "seed": _integer(null=True)}), max_items=MAX_CASES),
     "elapsed_seconds": _number(0.0, null=True),
     "evidence": _object({}, {"worst_tests": _list(_PLOTTED_TEST, max_items=MAX_PLOTTED_TESTS),
                              "variability_by_case": _list(_object({"case_index": _integer(0)}, _VARIABILITY),
                                                           max_items=MAX_CASES)}, null=True)},
    what="a gate run")
_BUGS_RUN = _object(  # _results.mutant_record
    {"mutant": _TEXT, "killed": _BOOL, "killed_by": _list(_string(choices=CATEGORIES), max_items=len(CATEGORIES))},
    {"description": _TEXT_OR_NULL, "equivalent": _BOOL, "expected_category": _string(choices=CATEGORIES, null=True),
     "check": _TEXT_OR_NULL, "pvalue": _PROBABILITY, "adjusted_pvalue": _PROBABILITY,
     "n_samples": _integer(0, _COUNT_LIMIT, null=True), "replay": _TEXT_OR_NULL},
    what="a mutant")


def _e2e_tests(value: list[Any], where: str) -> None:
    """The e2e tests table: a row per test, a column per field any test has; every cell a scalar."""
    _list(_mapping(_SCALAR))(value, where)
    columns = {key for test in value for key in test}
    if len(columns) > MAX_KEYS:
        raise _refuse(where, value, f"its tests have {len(columns)} distinct fields (the table's columns); "
                      f"at most {MAX_KEYS}")


_E2E_RUN = _object(
    {"name": _TEXT, "verdict": _string(choices=("pass", "fail", "untested"))},
    {"summary": _TEXT_OR_NULL, "metrics": _mapping(_SCALAR, null=True), "failures": _list(_TEXT),
     "tests": _typed((list,), True, _e2e_tests)},
    what="an e2e run")
_RUNS = {"gate": _GATE_RUN, "bugs": _BUGS_RUN, "e2e": _E2E_RUN}
_ENVELOPE = {
    "schema_version": _integer(), "kind": _TEXT, "title": _TEXT, "verdict": _VERDICT,
    "created": _string(max_chars=MAX_PLOT_TEXT), "duration_seconds": _number(0.0),
    "versions": _mapping(_TEXT_OR_NULL),
    "machine": _object({}, {"platform": _TEXT_OR_NULL, "machine": _TEXT_OR_NULL,
                            "python_implementation": _TEXT_OR_NULL, "cpu_count": _integer(0, null=True)}),
    "runs": _typed((list,), False)}  # each run is checked by its kind


def check_fields(results: Any, version: int, kinds: Sequence[str]) -> dict[str, Any]:
    """``results`` if every field the page reads has its type and range (step 3); the envelope's
    ``schema_version`` is checked first, so a file of another version says so."""
    if not isinstance(results, dict):
        raise InvalidTypeError("results", _shown(results), "must be a JSON object (dict) with the results envelope")
    if "schema_version" in results and results["schema_version"] != version:
        raise _refuse(".schema_version", results["schema_version"], f"must be {version}",
                      "written by another version of pcg-verify")
    _object(_ENVELOPE, {"command": _TEXT_OR_NULL}, what="the envelope")(results, "")
    kind = results["kind"]
    if kind not in kinds:
        raise _refuse(".kind", kind, f"must be one of {list(kinds)}")
    limit = MAX_GATE_RUNS if kind == "gate" else MAX_ITEMS
    _list(_RUNS[kind], max_items=limit)(results["runs"], ".runs")
    return results


# --------------------------------------------------------------------------- step 4: the verdicts
def run_passed(kind: str, run: Mapping[str, Any]) -> bool:
    """A gate or e2e run that passed; a mutant the gate killed; an equivalent it passed."""
    if kind == "bugs":
        return bool(run["killed"]) != bool(run.get("equivalent", False))
    return run.get("verdict") == "pass"


def envelope_verdict(results: Mapping[str, Any]) -> str:
    """The verdict recomputed from the runs: pass when there is a run and every run passed; too_slow when
    every gate run that did not pass was too slow; else fail."""
    runs, kind = results["runs"], results["kind"]
    if runs and all(run_passed(kind, run) for run in runs):
        return "pass"
    slow = kind == "gate" and all(run_passed(kind, run) or run.get("verdict") == "too_slow" for run in runs)
    return "too_slow" if runs and slow else "fail"


def _gate_run_verdicts(run: Mapping[str, Any], where: str) -> None:
    categories, unfinished = run["categories"], run.get("unfinished") or []
    missing = [name for name in CATEGORIES if name not in categories]
    if missing:
        raise _refuse(f"{where}.categories", categories, f"has no {missing[0]!r} category",
                      "a gate run states a verdict for every category")
    rejected = {test["category"] for test in run["tests"] if test["rejected"]}
    for name, category in categories.items():
        place = f"{where}.categories.{name}"
        if category.get("name", name) != name:
            raise _refuse(f"{place}.name", category["name"], f"must be {name!r}, the key it is filed under")
        if category["verdict"] == "pass" and category["failures"]:
            raise _refuse(f"{place}.verdict", "pass", f"disagrees with its {len(category['failures'])} failure(s)")
        if category["verdict"] == "pass" and name in rejected:
            raise _refuse(f"{place}.verdict", "pass", "disagrees with its tests: at least one was rejected")
        if (category["verdict"] == "too_slow") != (bool(unfinished) and category["verdict"] != "fail"):
            because = f"{len(unfinished)} unfinished case(s)" if unfinished else "no unfinished case"
            raise _refuse(f"{place}.verdict", category["verdict"], f"disagrees with its run's {because}",
                          "a category that did not fail is too_slow exactly when a case is unfinished")
    failed = [name for name, category in categories.items() if category["verdict"] == "fail"]
    recomputed = "fail" if failed else "too_slow" if unfinished else "pass"
    if run["verdict"] != recomputed:
        because = (f"failed: {', '.join(failed)}" if failed else
                   f"no category failed, {len(unfinished)} case(s) unfinished" if unfinished else
                   "no category failed, every case finished")
        raise _refuse(f"{where}.verdict", run["verdict"], f"disagrees with its categories ({because}); "
                      f"the gate's rule gives {recomputed!r}", "refusing to render a verdict its evidence contradicts")


def check_verdicts(results: Mapping[str, Any]) -> None:
    """Refuse a stated verdict that differs from the one recomputed from the evidence (step 4)."""
    kind = results["kind"]
    for index, run in enumerate(results["runs"]):
        where = f".runs[{index}]"
        if kind == "gate":
            _gate_run_verdicts(run, where)
        elif kind == "bugs" and bool(run["killed"]) != bool(run["killed_by"]):
            because = f"killed_by={run['killed_by']}" if run["killed_by"] else "its empty killed_by"
            raise _refuse(f"{where}.killed", run["killed"], f"disagrees with {because}",
                          "a mutant is killed exactly when a category failed")
        elif kind == "e2e" and run["verdict"] == "pass":
            failures = run.get("failures") or []
            if failures or any(test.get("rejected") is True for test in run.get("tests") or []):
                because = f"its {len(failures)} failure(s)" if failures else "a rejected test among its tests"
                raise _refuse(f"{where}.verdict", "pass", f"disagrees with {because}",
                              "refusing to render a verdict its evidence contradicts")
    recomputed = envelope_verdict(results)
    if results["verdict"] != recomputed:
        passed = sum(run_passed(kind, run) for run in results["runs"])
        raise _refuse(".verdict", results["verdict"], f"disagrees with its runs ({passed} of "
                      f"{len(results['runs'])} passed), which give {recomputed!r}",
                      "refusing to render a verdict its evidence contradicts")
