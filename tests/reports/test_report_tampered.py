"""A results.json is untrusted input: every way of breaking one is refused with a named error, and exit 2.

:data:`REJECTED` is the one table of refused inputs: what is wrong, how the
file is made, the error and a fragment of its message. Each row is refused by
:func:`load_results`, by ``pcg-verify report DIR`` (exit 2, one line on
stderr, no traceback, the old page left as it was) and, where the input is an
envelope rather than raw bytes, by :func:`validate_results` and
:func:`render_html` with the same message. ``python tests/reports/test_report_tampered.py``
prints the table with the exact messages, for the documentation.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import operator
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tampered import bugs, dumped, e2e, failed, gate, gate_run

from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_verify.cli import main
from pcg_verify.reliability import load_results, make_results, render_html, validate_results, write_report
from pcg_verify.reliability._schema import (
    MAX_CASES,
    MAX_CELLS,
    MAX_DEPTH,
    MAX_GATE_RUNS,
    MAX_ITEMS,
    MAX_KEY_CHARS,
    MAX_KEYS,
    MAX_PLOT_TEXT,
    MAX_PLOTTED_TESTS,
    MAX_RESULTS_BYTES,
    MAX_SEPARATORS,
    MAX_STRING_CHARS,
    MAX_VALUES,
    envelope_verdict,
)

_DELETE = object()


class _File:
    """A builder that makes ``DIR/results.json`` itself (a sparse file, a FIFO, a directory)."""

    def __init__(self, make: Callable[[Path], None]) -> None:
        self.make = make


def _at(make: Callable[[], dict[str, Any]], path: tuple[Any, ...], value: Any = _DELETE) -> Callable[[], Any]:
    """``make()`` with the field at ``path`` set to ``value`` (deleted by default)."""
    def build() -> Any:
        results = make()
        *parents, last = path
        holder = functools.reduce(operator.getitem, parents, results)
        if value is _DELETE:
            del holder[last]
        else:
            holder[last] = value
        return results
    return build


def _with(make: Callable[[], dict[str, Any]], edit: Callable[[dict[str, Any]], Any]) -> Callable[[], Any]:
    def build() -> Any:
        results = make()
        edit(results)
        return results
    return build


def _raw(data: bytes) -> Callable[[], Any]:
    return lambda: data


def _nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


def _sparse(size: int) -> _File:
    def make(path: Path) -> None:
        path.write_bytes(b"{")
        os.truncate(path, size)
    return _File(make)


def _run_of(results: dict[str, Any]) -> dict[str, Any]:
    run: dict[str, Any] = results["runs"][0]
    return run


def _pass_over_failed_category(results: dict[str, Any]) -> None:
    failed(_run_of(results))["verdict"] = "pass"  # the envelope still says pass too


def _rejected_test_under_a_pass(results: dict[str, Any]) -> None:
    _run_of(results)["tests"][0]["rejected"] = True


def _distinct_columns(results: dict[str, Any]) -> None:
    _run_of(results)["tests"] = [{f"a{i}": 1 for i in range(200)}, {f"b{i}": 1 for i in range(200)}]


def _many_values(results: dict[str, Any]) -> None:
    results["padding"] = [[0] * MAX_ITEMS for _ in range(MAX_VALUES // MAX_ITEMS + 1)]


# (what is wrong, how the input is made, error type, message fragment)
REJECTED: list[tuple[str, Callable[[], Any] | _File, type[Exception], str]] = [
    # step 1: the file
    ("file larger than 16 MiB (59 MB)", _sparse(59_000_000), InvalidArgumentError,
     f"is 59000000 bytes; a results file holds at most {MAX_RESULTS_BYTES} (16 MiB)"),
    ("results.json is a FIFO", _File(lambda path: os.mkfifo(path)), InvalidArgumentError, "is not a regular file"),
    ("not UTF-8", _raw(b'{"title": "\xff"}'), InvalidArgumentError,
     "is not UTF-8 text: byte 11 (b'\\xff') invalid start byte"),
    ("not JSON", _raw(b"{not json"), InvalidArgumentError, "is not valid JSON: Expecting property name"),
    ("NaN token", _raw(b'{"duration_seconds": NaN}'), InvalidArgumentError,
     "holds NaN, which strict JSON has no token for"),
    ("an integer of 5000 digits", _raw(b"[" + b"7" * 5000 + b"]"), InvalidArgumentError,
     "is not valid JSON: Exceeds the limit (4300 digits)"),
    ("a million empty lists (3 MB)", _raw(b"[" + b"[]," * (MAX_SEPARATORS // 2) + b"[]]"), InvalidArgumentError,
     f"holds {MAX_SEPARATORS + 2} commas and opening brackets; a results file holds at most {MAX_SEPARATORS} "
     "(counted before parsing)"),
    ("nested 100,000 deep", _raw(b"[" * 100_000 + b"]" * 100_000), InvalidArgumentError,
     "nests JSON deeper than the parser can follow; a results file nests at most 16 deep"),
    # step 2: any JSON value
    (f"nested {MAX_DEPTH + 4} deep inside an extra field", _at(gate, ("extra",), _nested(MAX_DEPTH + 4)),
     InvalidArgumentError, f"nests deeper than {MAX_DEPTH}"),
    ("a list of 20,001 items", _at(gate, ("extra",), [0] * (MAX_ITEMS + 1)), InvalidArgumentError,
     f"results.extra='<JSON list of {MAX_ITEMS + 1} items>': has more than {MAX_ITEMS} items"),
    ("an object of 257 keys", _at(gate, ("extra",), {str(i): 0 for i in range(MAX_KEYS + 1)}),
     InvalidArgumentError, f"has more than {MAX_KEYS} keys"),
    ("over a million JSON values", _with(gate, _many_values), InvalidArgumentError,
     f"brings the file past {MAX_VALUES} JSON values"),
    ("a string of 2**20 + 1 characters", _at(gate, ("runs", 0, "port"), "x" * (MAX_STRING_CHARS + 1)),
     InvalidArgumentError, f"results.runs[0].port='{'x' * 76}...: is a string of {MAX_STRING_CHARS + 1} characters"),
    ("a key of 201 characters", _at(gate, ("k" * (MAX_KEY_CHARS + 1),), 1), InvalidArgumentError,
     f"has a key longer than {MAX_KEY_CHARS} characters"),
    ("an integer of 2**1023", _at(gate, ("runs", 0, "seed"), 2**1023), InvalidArgumentError,
     "results.runs[0].seed='<integer of 1024 bits>': is an integer of 2**1023 or more in magnitude"),
    ("a number that overflows to infinity", _raw(b'{"duration_seconds": 1e999}'), InvalidArgumentError,
     "results.duration_seconds=inf: must be finite"),
    # step 3: the envelope's fields
    ("a list, not an envelope", _raw(b"[1, 2]"), InvalidTypeError,
     "results='<JSON list of 2 items>': must be a JSON object (dict) with the results envelope"),
    ("no kind", _at(bugs, ("kind",)), InvalidArgumentError, "results='<JSON object of 9 keys>': has no 'kind' field"),
    ("unknown kind", _at(bugs, ("kind",), "benchmark"), InvalidArgumentError,
     "results.kind='benchmark': must be one of ['gate', 'bugs', 'e2e']"),
    ("future schema", _at(bugs, ("schema_version",), 2), InvalidArgumentError,
     "results.schema_version=2: must be 1 (written by another version of pcg-verify)"),
    ("schema version as text", _at(bugs, ("schema_version",), "1"), InvalidArgumentError,
     "results.schema_version='1': must be 1"),
    ("verdict unknown", _at(bugs, ("verdict",), "maybe"), InvalidArgumentError,
     "results.verdict='maybe': must be one of ['pass', 'fail', 'too_slow']"),
    ("bool as duration", _at(bugs, ("duration_seconds",), True), InvalidArgumentError,
     "results.duration_seconds=True: must be a JSON number"),
    ("negative duration", _at(bugs, ("duration_seconds",), -1.0), InvalidArgumentError,
     "results.duration_seconds=-1.0: must be a number >= 0.0"),
    ("a version as a list", _at(gate, ("versions", "torch"), ["2.4"]), InvalidArgumentError,
     "results.versions.torch='<JSON list of 1 items>': must be a JSON string or null"),
    ("cpu_count as text", _at(gate, ("machine", "cpu_count"), "8"), InvalidArgumentError,
     "results.machine.cpu_count='8': must be a JSON int or null"),
    ("runs not a list", _at(bugs, ("runs",), {"a": 1}), InvalidArgumentError,
     "results.runs='<JSON object of 1 keys>': must be a JSON list"),
    ("a run that is not an object", _at(bugs, ("runs",), [3]), InvalidArgumentError,
     "results.runs[0]=3: must be a JSON object"),
    (f"{MAX_GATE_RUNS + 1} gate runs", _with(gate, lambda r: r.update(runs=[gate_run()] * (MAX_GATE_RUNS + 1))),
     InvalidArgumentError, f"results.runs='<JSON list of {MAX_GATE_RUNS + 1} items>': must hold at most "
     f"{MAX_GATE_RUNS} items"),
    # step 3: a gate run's fields
    ("a gate run without categories", _at(gate, ("runs", 0, "categories")), InvalidArgumentError,
     "results.runs[0]='<JSON object of 13 keys>': has no 'categories' field (a gate run needs "
     "['budget', 'categories', 'port', 'procedure', 'tests', 'verdict']"),
    ("categories as a list", _at(gate, ("runs", 0, "categories"), []), InvalidArgumentError,
     "results.runs[0].categories='<JSON list of 0 items>': must be a JSON object"),
    ("an unknown category", _at(gate, ("runs", 0, "categories", "speed"), {"verdict": "pass", "message": "",
                                                                          "failures": []}),
     InvalidArgumentError, "results.runs[0].categories='speed': names no known entry; must be one of ['guarantee'"),
    ("a category verdict unknown", _at(gate, ("runs", 0, "categories", "bonus", "verdict"), "ok"),
     InvalidArgumentError,
     "results.runs[0].categories.bonus.verdict='ok': must be one of ['pass', 'fail', 'untested', 'too_slow']"),
    ("failures as text", _at(gate, ("runs", 0, "categories", "bonus", "failures"), "none"), InvalidArgumentError,
     "results.runs[0].categories.bonus.failures='none': must be a JSON list"),
    ("a failure that is a number", _at(gate, ("runs", 0, "categories", "bonus", "failures"), [3]),
     InvalidArgumentError, "results.runs[0].categories.bonus.failures[0]=3: must be a JSON string"),
    ("a p-value as text", _at(gate, ("runs", 0, "tests", 0, "pvalue"), "0.5"), InvalidArgumentError,
     "results.runs[0].tests[0].pvalue='0.5': must be a JSON number or null"),
    ("a p-value above 1", _at(gate, ("runs", 0, "tests", 0, "pvalue"), 7), InvalidArgumentError,
     "results.runs[0].tests[0].pvalue=7: must be a number in [0.0, 1.0]"),
    ("a test of an unknown category", _at(gate, ("runs", 0, "tests", 0, "category"), "speed"), InvalidArgumentError,
     "results.runs[0].tests[0].category='speed': must be one of ['guarantee'"),
    ("rejected as text", _at(gate, ("runs", 0, "tests", 0, "rejected"), "no"), InvalidArgumentError,
     "results.runs[0].tests[0].rejected='no': must be a JSON bool"),
    (f"{MAX_CASES + 1} cases", _at(gate, ("runs", 0, "cases"), [{"index": 0}] * (MAX_CASES + 1)),
     InvalidArgumentError, f"must hold at most {MAX_CASES} items"),
    (f"{MAX_PLOTTED_TESTS + 1} plotted tests",
     _with(gate, lambda r: r["runs"][0]["evidence"].update(
         worst_tests=r["runs"][0]["evidence"]["worst_tests"] * (MAX_PLOTTED_TESTS + 1))),
     InvalidArgumentError, f"results.runs[0].evidence.worst_tests='<JSON list of {MAX_PLOTTED_TESTS + 1} items>': "
     f"must hold at most {MAX_PLOTTED_TESTS} items"),
    (f"a plotted test of {MAX_CELLS + 1} cells",
     _at(gate, ("runs", 0, "evidence", "worst_tests", 0, "cells"),
         [{"label": "k", "observed": 1, "probability": 0.001}] * (MAX_CELLS + 1)),
     InvalidArgumentError, f"must hold at most {MAX_CELLS} items"),
    ("a cell label too long to plot",
     _at(gate, ("runs", 0, "evidence", "worst_tests", 0, "cells", 0, "label"), "k" * (MAX_PLOT_TEXT + 1)),
     InvalidArgumentError, f"cells[0].label='{'k' * 76}...: must be at most {MAX_PLOT_TEXT} characters long"),
    ("a negative count", _at(gate, ("runs", 0, "evidence", "worst_tests", 0, "cells", 0, "observed"), -1),
     InvalidArgumentError, "cells[0].observed=-1: must be an integer in [0, 9007199254740992]"),
    ("a cell without its probability",
     _at(gate, ("runs", 0, "evidence", "worst_tests", 0, "cells", 0, "probability")), InvalidArgumentError,
     "has no 'probability' field (a plotted cell needs ['label', 'observed', 'probability']"),
    ("variability as a number", _at(gate, ("runs", 0, "variability"), 0.5), InvalidArgumentError,
     "results.runs[0].variability=0.5: must be a JSON object or null"),
    # step 3: bugs and e2e runs
    ("killed as text", _at(bugs, ("runs", 0, "killed"), "yes"), InvalidArgumentError,
     "results.runs[0].killed='yes': must be a JSON bool"),
    ("killed_by as text", _at(bugs, ("runs", 0, "killed_by"), "guarantee"), InvalidArgumentError,
     "results.runs[0].killed_by='guarantee': must be a JSON list"),
    ("killed_by naming no category", _at(bugs, ("runs", 0, "killed_by"), ["speed"]), InvalidArgumentError,
     "results.runs[0].killed_by[0]='speed': must be one of ['guarantee'"),
    ("a mutant without killed", _at(bugs, ("runs", 0, "killed")), InvalidArgumentError,
     "has no 'killed' field (a mutant needs ['killed', 'killed_by', 'mutant']"),
    ("an e2e metric that is an object", _at(e2e, ("runs", 0, "metrics", "speedup_vs_ar"), {"x": 1}),
     InvalidArgumentError, "results.runs[0].metrics.speedup_vs_ar='<JSON object of 1 keys>': must be a JSON "
     "string, number or bool or null"),
    ("e2e failures as null", _at(e2e, ("runs", 0, "failures"), None), InvalidArgumentError,
     "results.runs[0].failures=None: must be a JSON list"),
    ("e2e tests with 400 distinct fields", _with(e2e, _distinct_columns), InvalidArgumentError,
     "its tests have 400 distinct fields (the table's columns); at most 256"),
    # step 4: verdicts recomputed from the evidence
    ("PASS envelope over a failed category", _with(gate, _pass_over_failed_category), InvalidArgumentError,
     "results.runs[0].verdict='pass': disagrees with its categories (failed: guarantee); the gate's rule gives "
     "'fail' (refusing to render a verdict its evidence contradicts)"),
    ("PASS envelope over a failed run", _with(gate, lambda r: failed(_run_of(r))), InvalidArgumentError,
     "results.verdict='pass': disagrees with its runs (0 of 1 passed), which give 'fail'"),
    ("FAIL envelope over passing runs", _at(gate, ("verdict",), "fail"), InvalidArgumentError,
     "results.verdict='fail': disagrees with its runs (1 of 1 passed), which give 'pass'"),
    ("PASS envelope with no run", _at(e2e, ("runs",), []), InvalidArgumentError,
     "results.verdict='pass': disagrees with its runs (0 of 0 passed), which give 'fail'"),
    ("FAIL run over passing categories", _at(gate, ("runs", 0, "verdict"), "fail"), InvalidArgumentError,
     "results.runs[0].verdict='fail': disagrees with its categories (no category failed, every case finished); "
     "the gate's rule gives 'pass'"),
    ("TOO_SLOW run with every case finished", _at(gate, ("runs", 0, "verdict"), "too_slow"), InvalidArgumentError,
     "results.runs[0].verdict='too_slow': disagrees with its categories (no category failed, every case finished); "
     "the gate's rule gives 'pass'"),
    ("a too_slow category with every case finished", _at(gate, ("runs", 0, "categories", "bonus", "verdict"),
                                                         "too_slow"), InvalidArgumentError,
     "results.runs[0].categories.bonus.verdict='too_slow': disagrees with its run's no unfinished case"),
    ("a passed category listing failures", _at(gate, ("runs", 0, "categories", "bonus", "failures"), ["x"]),
     InvalidArgumentError, "results.runs[0].categories.bonus.verdict='pass': disagrees with its 1 failure(s)"),
    ("a passed category over a rejected test", _with(gate, _rejected_test_under_a_pass), InvalidArgumentError,
     "results.runs[0].categories.guarantee.verdict='pass': disagrees with its tests: at least one was rejected"),
    ("a category left out", _at(gate, ("runs", 0, "categories", "guarantee")), InvalidArgumentError,
     "results.runs[0].categories='<JSON object of 6 keys>': has no 'guarantee' category"),
    ("a category filed under another's name", _at(gate, ("runs", 0, "categories", "bonus", "name"), "guarantee"),
     InvalidArgumentError, "results.runs[0].categories.bonus.name='guarantee': must be 'bonus', the key it is filed "
     "under"),
    ("a mutant killed by no category", _at(bugs, ("runs", 0, "killed_by"), []), InvalidArgumentError,
     "results.runs[0].killed=True: disagrees with its empty killed_by"),
    ("a survivor with killed_by", _at(bugs, ("runs", 1, "killed_by"), ["bonus"]), InvalidArgumentError,
     "results.runs[1].killed=False: disagrees with killed_by=['bonus']"),
    ("an e2e pass listing failures", _at(e2e, ("runs", 0, "failures"), ["KS rejected. Reproduce: make e2e"]),
     InvalidArgumentError, "results.runs[0].verdict='pass': disagrees with its 1 failure(s)"),
    ("an e2e pass over a rejected test", _at(e2e, ("runs", 0, "tests", 0, "rejected"), True), InvalidArgumentError,
     "results.runs[0].verdict='pass': disagrees with a rejected test among its tests"),
]


def _make(directory: Path, build: Callable[[], Any] | _File) -> Any:
    """Write ``directory/results.json`` from ``build``; return the envelope when there is one (else None)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "results.json"
    if isinstance(build, _File):
        build.make(path)
        return None
    made = build()
    path.write_bytes(made if isinstance(made, bytes) else dumped(made))
    return None if isinstance(made, bytes) else made


@pytest.mark.parametrize(("wrong", "build", "error", "message"), REJECTED, ids=[row[0] for row in REJECTED])
def test_a_tampered_results_file_is_refused(wrong: str, build: Callable[[], Any] | _File, error: type[Exception],
                                            message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "report"
    envelope = _make(directory, build)
    (directory / "index.html").write_text("the old page", encoding="utf-8")
    with pytest.raises(error) as caught:
        load_results(directory)
    assert message in str(caught.value), wrong
    assert main(["report", str(directory)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == f"pcg-verify: error: {caught.value}\n"  # one line, no traceback
    assert (directory / "index.html").read_text(encoding="utf-8") == "the old page"
    if envelope is not None:  # the same refusal in memory, before anything is written or rendered
        for refuse in (validate_results, render_html):
            with pytest.raises(error) as again:
                refuse(envelope)
            assert str(again.value) == str(caught.value)
        with pytest.raises(error):
            write_report(tmp_path / "fresh", envelope)
        assert not (tmp_path / "fresh" / "results.json").exists()


def test_every_kind_of_valid_envelope_loads_and_renders(tmp_path: Path) -> None:
    for make in (gate, bugs, e2e, lambda: make_results("gate", [failed(gate_run())], duration_seconds=1.0)):
        results = make()
        page = write_report(tmp_path / results["kind"], results)
        assert load_results(page.parent) == results
        banner = f'<header class="banner verdict-{envelope_verdict(results)}"'
        assert banner in page.read_text(encoding="utf-8")


def _nulls(results: dict[str, Any]) -> dict[str, Any]:
    """``results`` with null in every optional field that may hold one."""
    for run in results["runs"]:
        if results["kind"] == "gate":
            run.update(seed=None, variability=None, retried_cases=None, elapsed_seconds=None, evidence=None,
                       singleton_only=None)
            run["budget"].update(name=None, discrepancy=None, false_negative_rate=None)
            run["procedure"].update(family_false_positive_rate=None, attribution_rate=None, per_test_level=None)
            for test in run["tests"]:
                test.update(statistic=None, pvalue=None, adjusted_pvalue=None, detectable_discrepancy=None)
        elif results["kind"] == "bugs":
            run.update(description=None, expected_category=None, check=None, pvalue=None, adjusted_pvalue=None,
                       n_samples=None, replay=None)
        else:
            run.update(summary=None, metrics=None, tests=None)
    results.update(command=None, versions={"python": None}, machine={"cpu_count": None})
    return results


@pytest.mark.parametrize("make", [gate, bugs, e2e])
def test_every_null_the_schema_allows_renders(make: Callable[[], dict[str, Any]]) -> None:
    """The schema admits nothing the page cannot draw: null in every optional field renders."""
    results = _nulls(make())
    assert validate_results(results) is results
    assert "<!DOCTYPE html>" in render_html(results)


def test_text_from_the_file_is_drawn_as_text_never_as_mathtext() -> None:
    """A label or law holding ``$...$`` used to reach matplotlib's mathtext parser: a ValueError traceback."""
    results = gate()
    plotted = results["runs"][0]["evidence"]["worst_tests"][0]
    plotted["law"], plotted["cells"][0]["label"] = r"$\frac{$ law", r"$\frac{$"
    page = render_html(results)
    assert r"$\frac{$ law" in page and r"$\frac{$</text>" in page


def test_the_writers_derive_every_verdict() -> None:
    """make_results recomputes the envelope's verdict, and refuses a run whose own verdict contradicts it."""
    assert make_results("gate", [failed(gate_run())], duration_seconds=0)["verdict"] == "fail"
    assert make_results("gate", [gate_run()], duration_seconds=0)["verdict"] == "pass"
    lying = dict(failed(gate_run()), verdict="pass")
    with pytest.raises(InvalidArgumentError, match=r"runs\[0\]\.verdict='pass': disagrees with its categories"):
        make_results("gate", [lying], duration_seconds=0)


def test_the_limits_hold_real_reports_with_room(passing: Any, failing: Any) -> None:
    """The quick-budget reports the gate writes are far inside every limit (the thorough budget's 1,161 tests
    and 52 cases, 0.6 MB, are too: see the module docstring of pcg_verify.reliability._schema)."""
    for written in (passing, failing):
        results = load_results(written.directory)
        run = results["runs"][0]
        assert (written.directory / "results.json").stat().st_size < MAX_RESULTS_BYTES / 100
        assert len(run["tests"]) < MAX_ITEMS / 100 and len(run["cases"]) < MAX_CASES / 100
        assert len(run["evidence"]["worst_tests"]) <= MAX_PLOTTED_TESTS


def test_the_schema_follows_the_gate() -> None:
    """The schema spells out what the gate writes (importing the gate's modules would load torch when a page
    renders): its categories, and room for every test and cell the evidence keeps."""
    from pcg_verify._evidence import EVIDENCE_CELLS, EVIDENCE_TESTS
    from pcg_verify.reliability._schema import CATEGORIES
    from pcg_verify.report import Category

    assert CATEGORIES == tuple(str(c) for c in Category)
    assert EVIDENCE_TESTS + len(Category) <= MAX_PLOTTED_TESTS and EVIDENCE_CELLS + 1 <= MAX_CELLS


def _tampered_59_mb(directory: Path) -> int:
    """A valid-looking gate envelope whose plotted test holds 59 MB of cells (the issue's slowest input:
    > 400 s and > 2 GB before the limits); returns its size."""
    results = gate()
    cell = {"label": "k", "observed": 1, "probability": 0.001}
    one = len(json.dumps(cell, indent=1)) + 8
    results["runs"][0]["evidence"]["worst_tests"][0]["cells"] = [cell] * (59_000_000 // one)
    directory.mkdir()
    (directory / "results.json").write_bytes(dumped(results))
    return (directory / "results.json").stat().st_size


_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run([sys.executable, "-m", "pcg_verify", "report", sys.argv[1]], capture_output=True, text=True)
print(json.dumps({"status": done.returncode, "stderr": done.stderr, "seconds": time.perf_counter() - start,
                  "peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def _report_command(directory: Path) -> dict[str, Any]:
    """``pcg-verify report DIR`` in a fresh process: its exit status, stderr, seconds and peak resident memory
    (measured by a parent of its own, so no other child of this worker counts)."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(directory)], capture_output=True, text=True,
                          check=True, timeout=300)
    measured: dict[str, Any] = json.loads(done.stdout)
    return measured


def test_the_console_script_refuses_a_59_mb_file_at_once(tmp_path: Path) -> None:
    """Before the limits, this file took over 400 s and 2 GB (then it was killed); now its size is refused by
    stat before a byte is read, so the command costs what its start costs (the baseline: a directory with no
    results.json). The time bound is loose because the test machine is shared."""
    size = _tampered_59_mb(tmp_path / "big")
    measured = _report_command(tmp_path / "big")
    baseline = _report_command(tmp_path / "missing")
    assert baseline["status"] == 2 and "has no results.json" in baseline["stderr"]
    assert measured["status"] == 2
    assert measured["stderr"] == (f"pcg-verify: error: directory='{tmp_path / 'big'}': {tmp_path / 'big'}/results.json "
                                  f"is {size} bytes; a results file holds at most {MAX_RESULTS_BYTES} (16 MiB) (see "
                                  "pcg_verify.reliability._schema for the schema and its limits)\n")
    assert measured["peak_mib"] < baseline["peak_mib"] + 32, (measured, baseline)
    assert measured["seconds"] < 120, measured
    assert not (tmp_path / "big" / "index.html").exists()


@pytest.mark.parametrize("wrong", ["nested 100,000 deep", "PASS envelope over a failed category"])
def test_the_console_script_exits_2_without_a_traceback(wrong: str, tmp_path: Path) -> None:
    _, build, _, message = next(row for row in REJECTED if row[0] == wrong)
    _make(tmp_path / "report", build)
    measured = _report_command(tmp_path / "report")
    assert measured["status"] == 2 and message in measured["stderr"]
    assert "Traceback" not in measured["stderr"] and len(measured["stderr"].splitlines()) == 1


def markdown_table() -> str:
    """The rejected inputs with their exact messages, as a markdown table (paths shown as DIR)."""
    lines = ["| input | error | message (`pcg-verify report DIR` prints `pcg-verify: error: <message>`, exit 2) |",
             "|---|---|---|"]
    with tempfile.TemporaryDirectory() as scratch:
        for index, (wrong, build, error, _) in enumerate(REJECTED):
            directory = Path(scratch) / str(index)
            _make(directory, build)
            message = "(accepted!)"
            with contextlib.redirect_stderr(io.StringIO()):
                try:
                    load_results(directory)
                except error as caught:
                    message = str(caught).replace(str(directory), "DIR")
            lines.append(f"| {wrong} | `{error.__name__}` | `{message}` |".replace("\n", " "))
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
