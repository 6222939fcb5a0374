"""A correct port that is too slow gets the verdict **too slow** (exit 4), never a structure or law failure.

The port under test is the reference sampler behind a wait on an event that never comes: it opens a FIFO
for reading, which blocks until a writer opens it, and the test never does. So the gate's own limit
(``--call-timeout`` or ``--deadline``, 5 s, the least the gate accepts) is what ends each wait: no fixed
sleep anywhere. Each gate run costs the limit once (later cases are not called) plus the worker's start.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from pcg_core.errors import InvalidArgumentError
from pcg_verify._commands import EXIT_FAIL, EXIT_TOO_SLOW
from pcg_verify.budgets import BUDGETS
from pcg_verify.checks import CaseResult, GatePlan, gate_report, plan_gate, run_case
from pcg_verify.cli import _exit_status, main
from pcg_verify.ports import reference_port
from pcg_verify.reliability import gate_results, validate_results
from pcg_verify.report import Category, Verdict

SLOW = '''
from pcg_verify.ports import reference_port

FIFO = {fifo!r}


def blocks(dt, dp, tp, g, *, generator):
    """The reference sampler, once a writer opens FIFO: none ever does (the gate's limit ends the wait)."""
    with open(FIFO) as fifo:
        fifo.read()
    return reference_port(dt, dp, tp, g, generator=generator)
'''


@pytest.fixture
def slow_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    fifo = tmp_path / "never-written"
    os.mkfifo(fifo)
    (tmp_path / "slow.py").write_text(SLOW.format(fifo=str(fifo)))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _assert_too_slow(report: dict[str, Any], out: str, first: str, later: str) -> None:
    """The report says too slow everywhere and fails nothing; every case is unfinished with its reason."""
    assert report["verdict"] == "too_slow", report["verdict"]
    assert {c["verdict"] for c in report["categories"].values()} == {"too_slow"}, report["categories"]
    assert all(not c["failures"] for c in report["categories"].values())
    assert not any(t["rejected"] for t in report["tests"])
    unfinished = report["unfinished"]
    assert len(unfinished) == len(report["cases"]) == 8, unfinished
    assert first in unfinished[0] and "Reproduce: pcg-verify check slow.py:blocks" in unfinished[0], unfinished[0]
    assert all(later in line for line in unfinished[1:]), unfinished
    assert out.startswith("pcg-verify: TOO SLOW"), out
    assert "8 of 8 case(s) unfinished, so untested (not failed)" in out, out
    # determinism may add why the cross-process check did not run
    assert len(re.findall(r"^ +[a-z_]+ +too slow +8 of 8 case\(s\) unfinished \(the port was too slow\); no case "
                          r"finished(; not checked across processes: .*)?$", out, re.MULTILINE)) == len(Category), out
    assert not re.search(r"^ +[a-z_]+ +fail ", out, re.MULTILINE), out


def test_a_call_past_the_call_timeout_is_too_slow_not_a_failure(slow_dir: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "slow.py:blocks", "--budget", "quick", "--call-timeout", "5", "--json", "r.json",
                 "--report", "page"])
    out = capsys.readouterr().out
    assert code == EXIT_TOO_SLOW, out
    report = json.loads((slow_dir / "r.json").read_text())
    _assert_too_slow(report, out, "no answer within 5 s (--call-timeout) while answering a call",
                     "not called: the port was too slow in an earlier call (no answer within 5 s")
    page = (slow_dir / "page" / "index.html").read_text()
    assert 'data-verdict="too_slow"' in page and "Unfinished: 8 case(s)" in page


def test_a_run_past_the_deadline_is_too_slow_not_a_failure(slow_dir: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "slow.py:blocks", "--budget", "quick", "--deadline", "5", "--json", "r.json"])
    out = capsys.readouterr().out
    assert code == EXIT_TOO_SLOW, out
    report = json.loads((slow_dir / "r.json").read_text())
    _assert_too_slow(report, out, "the gate's overall deadline of 5 s ran out while answering a call",
                     "not called: the gate's overall deadline of 5 s ran out")


# ---------------------------------------------------------------------------- the rule, on case results
def _finished_and_unfinished() -> tuple[GatePlan, list[CaseResult]]:
    """The quick plan, case 0 run on the reference in-process, case 1 unfinished (too slow)."""
    plan = plan_gate(BUDGETS["quick"], 0)
    return plan, [run_case(reference_port, plan, 0),
                  CaseResult(1, too_slow="case 1: no answer within 5 s (--call-timeout) while answering a call")]


def test_unfinished_cases_make_every_unfailed_category_too_slow_and_keep_what_finished() -> None:
    plan, results = _finished_and_unfinished()
    report = gate_report(plan, results, port_name="p", replay=lambda i: f"replay {i}", elapsed_seconds=1.0)
    assert report.verdict == Verdict.TOO_SLOW and not report.passed
    assert report.unfinished == ("case 1: no answer within 5 s (--call-timeout) while answering a call. "
                                 "Reproduce: replay 1",)
    assert all(v.verdict == Verdict.TOO_SLOW and "1 of 2 case(s) unfinished (the port was too slow); in the finished "
               "cases: " in v.message for v in report.categories.values())
    assert "in the finished cases: pass, ids, padding" in report.categories[Category.STRUCTURE].message
    assert report.tests and report.tests == tuple(results[0].tests)  # the finished case's evidence is kept
    assert results[1].untested(Category.STRUCTURE) is not None  # the plugin never passes an unfinished case
    validate_results(gate_results(report))  # the results.json schema takes it and recomputes the same verdict


def test_a_failure_in_a_finished_case_still_fails_the_port() -> None:
    """Too slow never hides evidence: a law rejected in a finished case fails the port (exit 1)."""
    plan, results = _finished_and_unfinished()
    results[0].tests[0] = dataclasses.replace(results[0].tests[0], rejected=True, adjusted_pvalue=0.0)
    report = gate_report(plan, results, port_name="p", replay=lambda i: f"replay {i}", elapsed_seconds=1.0)
    assert report.verdict == Verdict.FAIL and report.categories[results[0].tests[0].category].verdict == Verdict.FAIL
    assert report.unfinished and all(v.verdict in (Verdict.FAIL, Verdict.TOO_SLOW) for v in report.categories.values())
    assert _exit_status(report) == EXIT_FAIL


def test_a_results_file_that_passes_with_an_unfinished_case_is_refused() -> None:
    plan, results = _finished_and_unfinished()
    report = gate_report(plan, results, port_name="p", replay=lambda i: f"replay {i}", elapsed_seconds=1.0)
    results_json = gate_results(report)
    run = results_json["runs"][0]
    run["verdict"] = results_json["verdict"] = "pass"
    for category in run["categories"].values():
        category["verdict"] = "pass"
    with pytest.raises(InvalidArgumentError, match="too_slow exactly when a case is unfinished"):
        validate_results(results_json)


def test_the_plugin_fails_every_item_of_an_unfinished_case_as_too_slow(pytester: pytest.Pytester) -> None:
    """Under pytest an unfinished case is no pass and no skip: each item fails, saying too slow."""
    fifo = pytester.path / "never-written"
    os.mkfifo(fifo)
    pytester.makepyfile(slow=SLOW.format(fifo=str(fifo)))
    result = pytester.runpytest("--pcg-port", "slow.py:blocks", "--pcg-budget", "quick", "--pcg-call-timeout", "5",
                                "-p", "no:cacheprovider")
    outcomes = {k: v for k, v in result.parseoutcomes().items() if k != "warnings"}  # warnings: the host's own
    assert outcomes == {"failed": 8 * len(Category)}, result.outlines[-5:]
    out = result.stdout.str()
    # every item says it, once or twice (pytest repeats failure messages in full in its summary under CI=…)
    items = set(re.findall(r"case (\d+), (\w+) TOO SLOW \(untested, not failed\)", out))
    assert items == {(str(i), c.value) for i in range(8) for c in Category}, sorted(items)[:5]
    assert "no answer within 5 s (--call-timeout)" in out and " failed:\n" not in out
