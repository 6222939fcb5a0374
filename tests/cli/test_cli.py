"""The pcg-verify command: exit codes, JSON report, reproduce commands, usage errors.

Seeds are fixed, so every verdict here is deterministic; the gate's own
false-positive rate (1e-3) and power are shown in tests/statistical.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pcg_verify.cli import main


def test_reference_passes_and_writes_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "deep" / "reference.json"
    assert main(["check", "--budget", "quick", "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("pcg-verify: PASS")
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["schema_version"] == 2
    assert data["verdict"] == "pass"
    assert data["port"] == "pcg_verify.ports:reference_port"
    assert set(data["categories"]) == {"guarantee", "conformance", "acceptance", "bonus", "batch_invariance",
                                       "structure", "determinism"}
    assert data["procedure"]["family_false_positive_rate"] == pytest.approx(1e-3)
    assert data["tests"] and all(t["pvalue"] >= 0 for t in data["tests"])
    assert [p.name for p in report.parent.iterdir()] == ["reference.json"]  # atomic: no temp files left


def test_a_planted_bug_fails_with_a_replayable_case(capsys: pytest.CaptureFixture[str]) -> None:
    port = "pcg_verify.bugs:mutants.dense_residual_from_draft"
    assert main(["check", port, "--budget", "quick", "--seed", "3"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("pcg-verify: FAIL")
    reproduce = [line.split("Reproduce: ", 1)[1] for line in out.splitlines() if "Reproduce: " in line]
    assert reproduce, out
    argv = shlex.split(reproduce[0])
    assert argv[:3] == ["pcg-verify", "check", port] and "--case" in argv
    assert main(argv[1:]) == 1  # the single case fails again on its own
    assert "--case" in capsys.readouterr().out


def test_the_json_keeps_guarantee_and_conformance_apart(tmp_path: Path) -> None:
    # Standard speculative decoding is token-exact, so the group labels it draws as
    # k ~ w[·, t] have law Q_c; it accepts less than PCG, so it is not the reference.
    report = tmp_path / "sd.json"
    assert main(["check", "pcg_verify.ports:standard_port", "--budget", "quick", "--json", str(report)]) == 1
    categories = json.loads(report.read_text())["categories"]
    assert categories["guarantee"]["verdict"] == "pass"
    assert categories["acceptance"]["verdict"] == "fail"
    assert categories["structure"]["verdict"] == "pass"


def test_singleton_groups_gate_a_plain_speculative_sampler(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "pcg_verify.ports:standard_port", "--singleton-groups", "--budget", "quick"]) == 0
    assert "PASS" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "--budget", "huge"], "invalid choice"),
        (["check", "no_such_module_xyz:port"], "cannot be imported"),
        (["check", "no_such_file.py:port"], "no file 'no_such_file.py'"),
        (["check", "pcg_verify.ports:"], "path/to/file.py:function"),
        (["check", "pcg_verify.ports:no_such_port"], "has no attribute"),
        (["check", "pcg_verify.ports"], "package.module:function"),
        (["check", "--case", "99", "--budget", "quick"], "case=99"),
        (["check", "--seed", "-1"], "seed=-1"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_the_console_script_is_installed() -> None:
    done = subprocess.run([sys.executable, "-m", "pcg_verify", "check", "--help"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert "--budget" in done.stdout and "--singleton-groups" in done.stdout
    assert "examples:" in done.stdout and "exit codes: 0 pass, 1 the port is wrong, 2" in done.stdout


def test_list_prints_budgets_and_the_one_bug_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    from pcg_verify import BUDGETS
    from pcg_verify.bugs import CATALOGUE, EQUIVALENTS

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "family-wise false-positive rate 0.001" in out
    for budget in BUDGETS.values():
        assert any(line.split()[:3] == [budget.name, str(budget.cases), f"{budget.discrepancy:g}"]
                   for line in out.splitlines())
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    for mutant in CATALOGUE.values():  # both bases: the sparse reference's flaws and the dense port's bugs
        assert lines[mutant.name].endswith(", ".join(map(str, mutant.expected))), lines[mutant.name]
    assert set(EQUIVALENTS) <= set(lines) and "dense_port" in EQUIVALENTS
    assert {m.base for m in CATALOGUE.values()} == {"sparse", "dense"}


LOOSE_PORT = """
from pcg_core import verify


def my_port(draft_tokens, draft_probs, target_probs, groups, *, generator):
    return verify(draft_tokens, draft_probs, target_probs, groups, generator=generator)


def my_wrong_port(draft_tokens, draft_probs, target_probs, groups, *, generator):
    out = verify(draft_tokens, draft_probs, target_probs, groups, generator=generator)
    return out.tokens.clamp(min=0), out.group_ids, out.num_accepted
"""


def test_a_loose_file_is_gated_by_path_and_its_replay_line_runs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ports").mkdir()
    (tmp_path / "ports" / "myport.py").write_text(LOOSE_PORT)
    monkeypatch.chdir(tmp_path)
    assert main(["check", "ports/myport.py:my_port", "--budget", "quick"]) == 0
    assert main(["check", "ports/myport.py:my_wrong_port", "--budget", "quick"]) == 1
    out = capsys.readouterr().out
    replay = next(line.split("Reproduce: ", 1)[1] for line in out.splitlines() if "Reproduce: " in line)
    argv = shlex.split(replay)
    assert argv[:3] == ["pcg-verify", "check", "ports/myport.py:my_wrong_port"]
    done = subprocess.run([sys.executable, "-m", "pcg_verify", *argv[1:]], capture_output=True, text=True,
                          check=False, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr


def test_a_module_in_the_working_directory_is_importable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cwd_port_module.py").write_text(LOOSE_PORT)
    done = subprocess.run([sys.executable, "-m", "pcg_verify", "check", "cwd_port_module:my_port", "--budget",
                           "quick", "--case", "0"], capture_output=True, text=True, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
