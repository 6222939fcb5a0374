"""Nothing a port does turns into a pass, and nothing a user does ends in a traceback.

One table of hostile ports (each a few lines in a loose file) with the exit
code and the evidence `pcg-verify check` must give, in a worker process (the
default) and, where the port cannot kill the process, in-process. Then output
paths and Ctrl-C. Deterministic: a structural failure never depends on
sampling, and every port here breaks the contract on its first call. Signals
are sent when the event they are about has happened (a marker file the port
writes), never after a fixed sleep.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pcg_verify.cli import main

HOSTILE = '''
import ctypes, os, sys, time
import numpy as np
import torch
from pcg_core import verify


def _ok(dt, dp, tp, g, generator):
    return verify(dt, dp, tp, g, generator=generator)


def ok(dt, dp, tp, g, *, generator):
    return _ok(dt, dp, tp, g, generator)


def exits_zero(dt, dp, tp, g, *, generator):
    sys.exit(0)


def os_exit_zero(dt, dp, tp, g, *, generator):
    os._exit(0)


def segfaults(dt, dp, tp, g, *, generator):
    ctypes.string_at(0)


def hangs(dt, dp, tp, g, *, generator):
    open("hanging", "w").close()  # the event a test waits for: the port is called and hangs
    time.sleep(3600)


def raises(dt, dp, tp, g, *, generator):
    raise ValueError("my kernel is not ready")


def keyboard_interrupt(dt, dp, tp, g, *, generator):
    raise KeyboardInterrupt


def garbage(dt, dp, tp, g, *, generator):
    return "tokens"


def int32_outputs(dt, dp, tp, g, *, generator):
    out = _ok(dt, dp, tp, g, generator)
    return out.tokens.int(), out.group_ids.int(), out.num_accepted.int()


def numpy_outputs(dt, dp, tp, g, *, generator):
    out = _ok(dt, dp, tp, g, generator)
    return out.tokens.numpy(), out.group_ids.numpy(), out.num_accepted.numpy()


def wrong_shape(dt, dp, tp, g, *, generator):
    out = _ok(dt, dp, tp, g, generator)
    return out.tokens[:, :-1], out.group_ids[:, :-1], out.num_accepted


def two_items(dt, dp, tp, g, *, generator):
    out = _ok(dt, dp, tp, g, generator)
    return out.tokens, out.num_accepted


def four_items(dt, dp, tp, g, *, generator):
    out = _ok(dt, dp, tp, g, generator)
    return out.tokens, out.group_ids, out.num_accepted, None


def float_group_ids(dt, dp, tp, g, *, generator):
    out = _ok(dt, dp, tp, g, generator)
    return out.tokens, torch.full(out.group_ids.shape, float("nan")), out.num_accepted


def no_generator_keyword(dt, dp, tp, g):
    return verify(dt, dp, tp, g, generator=torch.Generator())


def halves_group_weights(dt, dp, tp, g, *, generator):
    g.group_weights.mul_(0.5)
    return _ok(dt, dp, tp, g, generator)


def overwrites_drafts(dt, dp, tp, g, *, generator):
    dt.copy_(dp.argmax(-1))
    return _ok(dt, dp, tp, g, generator)
'''

#: (port, exit code, evidence in stdout) — every hostile port fails with exit 1 and its own error. A port that
#: hangs is not here: it is too slow (exit 4), never failed (tests/cli/test_slow_ports.py, test_bad_input.py).
TABLE = [
    ("exits_zero", "the port called sys.exit(0)"),
    ("os_exit_zero", "exited with status 0"),
    ("segfaults", "killed by signal SIGSEGV"),
    ("raises", "ValueError: my kernel is not ready"),
    ("keyboard_interrupt", "the port raised KeyboardInterrupt"),
    ("garbage", "must return an object with tokens, group_ids, num_accepted"),
    ("int32_outputs", "must have dtype torch.int64, got torch.int32"),
    ("numpy_outputs", "must be a torch.Tensor, got ndarray"),
    ("wrong_shape", "must have shape"),
    ("two_items", "must return 3 items, got 2"),
    ("four_items", "must return 3 items, got 4"),
    ("float_group_ids", "group_ids must have dtype torch.int64"),
    ("no_generator_keyword", "unexpected keyword argument 'generator'"),
    ("halves_group_weights", "changed its input groups (group_weights"),
    ("overwrites_drafts", "wrote into its input draft_tokens"),
]
#: Ports that cannot take the process down also fail in-process, with the same evidence.
IN_PROCESS = [row for row in TABLE if row[0] not in ("os_exit_zero", "segfaults", "keyboard_interrupt")]


@pytest.fixture
def ports_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "hostile.py").write_text(HOSTILE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _check(name: str, *extra: str) -> list[str]:
    return ["check", f"hostile.py:{name}", "--budget", "quick", "--case", "0", "--call-timeout", "5",
            "--json", "report.json", *extra]


@pytest.mark.parametrize(("name", "evidence"), TABLE, ids=[row[0] for row in TABLE])
def test_a_hostile_port_fails_with_its_own_error_and_a_report(
        name: str, evidence: str, ports_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    assert main(_check(name)) == 1
    out = capsys.readouterr().out
    assert out.startswith("pcg-verify: FAIL"), out
    assert evidence in out, out
    assert "Reproduce: pcg-verify check hostile.py:" + name in out
    report = json.loads((ports_dir / "report.json").read_text(encoding="utf-8"))
    assert report["verdict"] == "fail" and report["categories"]["structure"]["verdict"] == "fail"
    assert time.monotonic() - started < 60


@pytest.mark.parametrize(("name", "evidence"), IN_PROCESS, ids=[row[0] for row in IN_PROCESS])
def test_in_process_a_hostile_port_fails_the_same_way(
        name: str, evidence: str, ports_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_check(name, "--in-process")) == 1
    assert evidence in capsys.readouterr().out


def test_the_isolated_port_gives_the_in_process_verdict_and_numbers(
        ports_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "hostile.py:ok", "--budget", "quick", "--json", "isolated.json"]) == 0
    assert main(["check", "hostile.py:ok", "--budget", "quick", "--json", "direct.json", "--in-process"]) == 0
    isolated, direct = (json.loads((ports_dir / f).read_text()) for f in ("isolated.json", "direct.json"))
    assert [t["statistic"] for t in isolated["tests"]] == [t["statistic"] for t in direct["tests"]]


@pytest.mark.parametrize(("body", "isolated"), [
    ("def port(:\n", True), ("def port(:\n", False),
    ("raise RuntimeError('no GPU here')\n", True), ("raise RuntimeError('no GPU here')\n", False),
    ("import sys\nsys.exit(0)\n", False), ("import os\nos._exit(0)\n", True),
])
def test_a_port_module_that_cannot_be_imported_exits_2(
        body: str, isolated: bool, ports_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (ports_dir / "broken.py").write_text(body)
    argv = ["check", "broken.py:port", "--budget", "quick", "--case", "0"] + ([] if isolated else ["--in-process"])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "port='broken.py:port'" in err and ("cannot be loaded" in err or "importing" in err), err


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: d / "adir", "is a directory"),
    (lambda d: d / "afile" / "report.json", "which is a file"),
])
def test_bad_output_paths_exit_2_before_the_run(
        make: object, message: str, ports_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (ports_dir / "adir").mkdir()
    (ports_dir / "afile").write_text("x")
    path = make(ports_dir)  # type: ignore[operator]
    started = time.monotonic()
    assert main(["check", "--budget", "standard", "--json", str(path)]) == 2
    assert message in capsys.readouterr().err
    assert time.monotonic() - started < 5  # refused before the standard run, not after it


def test_an_unwritable_directory_exits_2(ports_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # checked by creating a file there, not by permission bits (root ignores those): /proc takes no new file
    assert main(["check", "--budget", "quick", "--json", "/proc/self/out/report.json"]) == 2
    assert "cannot be written: directory" in capsys.readouterr().err


def test_dash_writes_json_to_stdout_and_the_summary_to_stderr(
        ports_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--budget", "quick", "--case", "0", "--json", "-", "--in-process"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["verdict"] == "pass"
    assert captured.err.startswith("pcg-verify: PASS")
    assert not (ports_dir / "-").exists()


def test_a_symlink_is_written_through_and_a_device_is_never_replaced(ports_dir: Path) -> None:
    (ports_dir / "real.json").write_text("old")
    (ports_dir / "link.json").symlink_to(ports_dir / "real.json")
    assert main(["check", "--budget", "quick", "--case", "0", "--json", "link.json", "--in-process"]) == 0
    assert (ports_dir / "link.json").is_symlink()
    assert json.loads((ports_dir / "real.json").read_text())["verdict"] == "pass"
    fifo = ports_dir / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    assert main(["check", "--budget", "quick", "--case", "0", "--json", str(fifo), "--in-process"]) == 0
    assert json.loads(reader.communicate(timeout=30)[0])["verdict"] == "pass"
    assert not fifo.is_file() and fifo.exists()  # still a FIFO
    assert main(["check", "--budget", "quick", "--case", "0", "--json", os.devnull, "--in-process"]) == 0
    assert Path(os.devnull).is_char_device()


SLOW_IMPORT = '''
import time

open("importing", "w").close()  # the event: the worker is loading this module
time.sleep(3600)


def port(dt, dp, tp, g, *, generator):
    raise AssertionError("never reached")
'''


def _default_signals() -> None:
    """In the child, before exec: Ctrl-C and SIGTERM as a terminal delivers them. A parent started in the
    background (``cmd &`` in a script) ignores SIGINT, and an ignored signal stays ignored across exec."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _gate(arguments: list[str], cwd: Path) -> subprocess.Popen[str]:
    """``pcg-verify check ARGUMENTS`` in a fresh interpreter, stderr captured."""
    return subprocess.Popen([sys.executable, "-m", "pcg_verify", "check", *arguments], cwd=cwd,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_signals)


def _signal_when(marker: Path, process: subprocess.Popen[str], signum: int = signal.SIGINT) -> str:
    """Send ``signum`` once ``marker`` exists (the event), then return the gate's stderr.

    The wait is bounded by the process itself: if it ends before the marker appears, the test fails with
    what it printed."""
    while not marker.exists():
        if process.poll() is not None:
            raise AssertionError(f"the gate ended ({process.returncode}) before {marker.name}: {process.stderr}")
        time.sleep(0.05)
    process.send_signal(signum)
    return process.communicate(timeout=120)[1]


@pytest.mark.parametrize(("port", "marker"), [("hostile.py:hangs", "hanging"), ("slow_import.py:port", "importing")],
                         ids=["while-the-port-hangs", "while-the-worker-loads-the-port"])
def test_ctrl_c_stops_the_gate_with_130_and_no_report(ports_dir: Path, port: str, marker: str) -> None:
    (ports_dir / "slow_import.py").write_text(SLOW_IMPORT)
    process = _gate([port, "--budget", "quick", "--json", "never.json"], ports_dir)
    err = _signal_when(ports_dir / marker, process)
    assert process.returncode == 130, err
    assert "interrupted; no report written" in err and "internal error" not in err
    assert not (ports_dir / "never.json").exists()
