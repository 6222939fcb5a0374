"""The whole gate through the pipe: the examples pass, broken ones fail, and the pipe changes nothing.

The Python example runs pcg_core's reference sampler behind the protocol with
the seed the gate chose, so its report through the pipe equals the in-process
reference's test by test (statistics and p-values, not only the verdicts).
The C example is compared the same way with its own code called in-process
(ctypes). Seeds are fixed: every verdict here is deterministic; the gate's
false-positive rate (1e-3) and power are shown in tests/statistical.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pcg_verify import BUDGETS, Category, GateReport, Verdict, run_gate
from pcg_verify._commands import EXIT_TOO_SLOW
from pcg_verify.cli import main
from pcg_verify.ports import ExecPort

REPO = Path(__file__).resolve().parents[2]
#: The quick budget's drawn cases only (small vocabularies: a gate run takes about a second through the pipe).
SMALL = dataclasses.replace(BUDGETS["quick"], name="quick_small", cases=8, families=())


def numbers(report: GateReport) -> list[tuple[Any, ...]]:
    """Every test's identity and outcome: equal lists mean equal evidence, not just equal verdicts."""
    return [(t.category, t.case_index, t.row, t.position, t.law, t.stage, t.n_samples, t.statistic, t.pvalue,
             t.rejected) for t in report.tests]


def verdicts(report: GateReport) -> dict[Category, Verdict]:
    return {category: v.verdict for category, v in report.categories.items()}


@pytest.mark.slow
def test_the_python_example_through_the_pipe_reports_what_the_reference_reports_in_process(
        python_port: list[str]) -> None:
    with ExecPort(python_port) as port:
        piped = run_gate(port, budget="quick", seed=0)
        assert port.starts == 1 and port.groups_sent <= port.requests // 2
    direct = run_gate(budget="quick", seed=0)  # pcg_core's reference, in this process
    assert piped.passed and direct.passed
    assert verdicts(piped) == verdicts(direct)
    assert numbers(piped) == numbers(direct)


@pytest.mark.slow
def test_the_c_example_through_the_pipe_reports_what_its_code_reports_in_process(
        c_port: Path, c_inprocess: Callable[..., Any]) -> None:
    with ExecPort([str(c_port)]) as port:
        piped = run_gate(port, budget="quick", seed=1)
    direct = run_gate(c_inprocess, budget="quick", seed=1)
    assert piped.passed, piped.summary()
    assert verdicts(piped) == verdicts(direct) and numbers(piped) == numbers(direct)
    assert piped.port == f"exec:{c_port}"


@pytest.mark.parametrize(("flag", "failing"), [
    ("--accept-all", Category.ACCEPTANCE),  # well-formed outputs with the wrong laws
    ("--ignore-seed", Category.DETERMINISM),  # outputs that do not follow the seed
])
def test_a_c_port_that_lies_fails_through_the_pipe(c_port: Path, flag: str, failing: Category) -> None:
    report = run_gate(f"exec:{c_port} {flag}", budget=SMALL, seed=0)
    assert not report.passed and report.categories[failing].verdict == Verdict.FAIL
    assert report.categories[Category.STRUCTURE].verdict == Verdict.PASS


def test_a_c_port_without_labels_passes_on_its_tokens(c_port: Path) -> None:
    report = run_gate(f"exec:{c_port} --no-labels", budget=SMALL, seed=0)
    assert report.passed, report.summary()
    singleton_cases = {case["index"] for case in report.cases if case["max_group_size"] == 1}
    assert {t.case_index for t in report.tests if t.category == Category.GUARANTEE} <= singleton_cases


@pytest.mark.parametrize(("slots", "passes"), [(8, False), (0, True)], ids=["gid % 8 slots", "keyed by gid"])
def test_a_program_with_8_slots_by_gid_fails_a_quick_run_naming_the_structure_id_clause(
        slots: int, passes: bool) -> None:
    """tests/external/slot_port.py: the Python example with its structures in ``gid % 8`` slots (or a dict)."""
    report = run_gate(f"exec:{sys.executable} {Path(__file__).with_name('slot_port.py')} {slots}", budget=SMALL,
                      seed=0)
    structure, determinism = report.categories[Category.STRUCTURE], report.categories[Category.DETERMINISM]
    assert report.passed == passes, report.summary()
    if passes:  # and the program repeats its first call in a fresh process (PYTHONHASHSEED 1, then 2)
        assert determinism.message.endswith("identical in a fresh process with PYTHONHASHSEED=2 "
                                            "(usual: PYTHONHASHSEED=1)")
    else:
        assert structure.verdict == Verdict.FAIL and len(structure.failures) == SMALL.cases
        assert all("the program answered from another live structure, which breaks the structure-id clause "
                   "(docs/protocol.md, 'Structure ids'" in line for line in structure.failures)


# ---------------------------------------------------------------------------- the command line
def test_exec_and_an_exec_spec_run_the_same_gate(c_port: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    options = ["--budget", "quick", "--case", "3", "--json"]
    assert main(["check", "--exec", str(c_port), *options, str(tmp_path / "a.json")]) == 0
    assert main(["check", f"exec:{c_port}", *options, str(tmp_path / "b.json")]) == 0
    assert capsys.readouterr().out.startswith(f"pcg-verify: PASS — port exec:{c_port}, budget quick")
    first, second = (json.loads((tmp_path / name).read_text()) for name in ("a.json", "b.json"))
    first.pop("elapsed_seconds"), second.pop("elapsed_seconds")
    assert first == second and first["port"] == f"exec:{c_port}"


def _venv_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


@pytest.mark.slow
def test_a_crash_fails_its_cases_with_the_evidence_and_a_replay_line_that_runs_as_printed(
        c_port: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", f"exec:{c_port} --crash", "--budget", "quick"]) == 1
    out = capsys.readouterr().out
    assert "structure         fail" in out
    assert re.search(r"exited with status 3 while answering request \d+ .*\n.*simulated crash", out)
    replay = re.search(r"Reproduce: (pcg-verify check .* --case 0)$", out, flags=re.M)
    assert replay and replay[1] == f"pcg-verify check 'exec:{c_port} --crash' --budget quick --seed 0 --case 0"
    done = subprocess.run(["bash", "-c", replay[1]], capture_output=True, text=True, env=_venv_env(), timeout=300,
                          check=False)
    assert done.returncode == 1, done.stderr
    assert "case 0, stage 1: 1 violation(s), e.g. the port process exited with status 3" in done.stdout
    assert ", 1 cases," in done.stdout.splitlines()[0] or " 1 case" in done.stdout.splitlines()[0]


def test_a_hang_is_cut_by_the_call_timeout_and_is_too_slow(c_port: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--exec", f"{c_port} --hang", "--budget", "quick", "--case", "0",
                 "--call-timeout", "5"]) == EXIT_TOO_SLOW
    out = capsys.readouterr().out
    assert "no answer within 5 s (--call-timeout) while answering request 1: the port process was killed" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--exec", "/nonexistent/pcg_port"], r"port='exec:/nonexistent/pcg_port': did not start as a pcg-port "
                                          r"program: cannot run '/nonexistent/pcg_port'"),
    (["--exec", "{c_port} --bad-handshake"], r"speaks protocol version '99'"),
    (["pcg_verify.ports:reference_port", "--exec", "{c_port}"], r"--exec=.*comes instead of PORT"),
    (["--exec", "{c_port}", "--call-timeout", "-1"], r"--call-timeout=-1.0: must be a finite number of seconds ≥ 5"),
], ids=["missing program", "bad handshake", "PORT and --exec", "negative timeout"])
def test_a_program_the_gate_cannot_run_exits_2(c_port: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                               message: str) -> None:
    assert main(["check", *(a.format(c_port=c_port) for a in argv), "--budget", "quick"]) == 2
    assert re.search(r"^pcg-verify: error: .*" + message, capsys.readouterr().err)


# ---------------------------------------------------------------------------- the documented commands
def _documented_commands() -> list[tuple[str, int]]:
    """The ``sh`` block under "Gate a C/C++/Rust port" in docs/protocol.md: (command, expected exit status)."""
    text = (REPO / "docs" / "protocol.md").read_text(encoding="utf-8")
    section = text.split("## Gate a C/C++/Rust port", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        if line.strip() and not line.startswith("#"):
            status = re.search(r"#\s*exit\s+(\d+)\s*$", line)
            commands.append((line, int(status[1]) if status else 0))
    return commands


@pytest.mark.slow
def test_the_documented_commands_build_the_c_example_and_it_passes_the_standard_budget(tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(REPO / "examples")
    commands = _documented_commands()
    assert any("--budget standard" in c and s == 0 for c, s in commands), commands
    for command, expected in commands:
        done = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True,
                              env=_venv_env(), timeout=300, check=False)
        assert done.returncode == expected, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        if "--budget standard" in command:
            assert done.stdout.startswith("pcg-verify: PASS — port exec:./pcg_port, budget standard")
