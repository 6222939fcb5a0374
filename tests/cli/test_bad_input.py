"""Bad input to ``pcg-verify check`` is refused before anything runs, with the message and the exit code.

:data:`REFUSED` is the table ``docs/gate.md`` shows under *Bad input* (a test
keeps the two equal): each row is the arguments, the exit code and the message
the command prints. Every row is refused before a port is loaded, so these
tests are deterministic and take well under a second each (no gate runs).
Then the faults the gate meets while it runs: a port that hangs (paid for
once), port text with terminal escapes, a flood of stderr, a daemonised
grandchild, SIGTERM and too little address space.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pcg_verify._commands import (
    EXIT_GATE_ERROR,
    EXIT_TERMINATED,
    EXIT_TOO_SLOW,
    EXIT_USAGE,
    REQUIRED_ADDRESS_SPACE_MB,
)
from pcg_verify._options import max_threads
from pcg_verify.cli import main
from pcg_verify.ports._process import is_dead

DOCS = Path(__file__).resolve().parents[2] / "docs" / "gate.md"

#: (arguments after ``check``, exit code, the message on stderr). ``{cores}`` is this machine's core count.
REFUSED: list[tuple[list[str], int, str]] = [
    (["", "--budget", "quick"], 2, "PORT='': must not be empty"),
    (["--exec", ""], 2, "--exec='': must not be empty"),
    (["--json", "", "--budget", "quick"], 2, "--json='': must be a non-empty file path"),
    (["--report", "", "--budget", "quick"], 2, "--report='': must be a non-empty directory path"),
    (["--seed", "-1"], 2, "--seed=-1: must be an integer in [0, 2^63)"),
    (["--call-timeout", "0"], 2, "--call-timeout=0.0: must be a finite number of seconds ≥ 5"),
    (["--call-timeout", "-5"], 2, "--call-timeout=-5.0: must be a finite number of seconds ≥ 5"),
    (["--call-timeout", "nan"], 2, "--call-timeout=nan: must be a finite number of seconds ≥ 5"),
    (["--deadline", "0"], 2, "--deadline=0.0: must be a finite number of seconds ≥ 5"),
    (["--threads", "0"], 2, "--threads=0: must be an integer in [1, {cores}]"),
    (["--threads", "100000"], 2, "--threads=100000: must be an integer in [1, {cores}]"),
    (["--json", "/proc/self/report.json", "--budget", "quick"], 2,
     "--json='/proc/self/report.json': cannot be written"),
    (["missing_port.py:port", "--budget", "quick"], 2, "port='missing_port.py:port': no file 'missing_port.py'"),
]


def _message(template: str) -> str:
    return template.format(cores=max_threads())


@pytest.mark.parametrize(("arguments", "code", "message"), REFUSED, ids=[" ".join(a) or "''" for a, _, _ in REFUSED])
def test_bad_input_is_refused_before_anything_runs(arguments: list[str], code: int, message: str,
                                                   capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["check", *arguments]) == code
    err = capsys.readouterr().err
    assert f"pcg-verify: error: {_message(message)}" in err, err
    assert list(tmp_path.iterdir()) == []  # no report, no temporary file


def test_the_docs_table_lists_every_refused_input() -> None:
    """docs/gate.md's *Bad input* table is this module's table: one row per refusal, the same words."""
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("### Bad input"):]
    rows = [line for line in section.splitlines()[2:] if line.startswith("| `")]
    documented = [(re.findall(r"`([^`]*)`", row)[0], row.split("|")[2].strip(), row.split("|")[3].strip())
                  for row in rows[: len(REFUSED)]]
    expected = [(shlex_join(arguments), str(code), f"`{message.format(cores='<cores>')}`")
                for arguments, code, message in REFUSED]
    assert documented == expected


def shlex_join(arguments: list[str]) -> str:
    import shlex

    return "pcg-verify check " + shlex.join(arguments)


# ---------------------------------------------------------------------------- faults while the gate runs
PORTS = '''
import os, sys, time, subprocess
from pcg_core import verify


def hangs(dt, dp, tp, g, *, generator):
    time.sleep(3600)


def escapes(dt, dp, tp, g, *, generator):
    sys.stderr.write("\\x1b]0;owned\\x07\\x1b[2J screen cleared\\n")
    sys.stderr.flush()
    raise ValueError("\\x1b[31mred\\x1b[0m \\x1b]0;title\\x07")


def terminated(dt, dp, tp, g, *, generator):
    open("called", "w").close()  # the event the SIGTERM test waits for
    time.sleep(3600)
'''


@pytest.fixture
def ports_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "faulty.py").write_text(PORTS)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_port_that_hangs_on_every_call_costs_one_call_timeout(ports_dir: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Quick has 8 cases: one waits out the 5 s limit, the other 7 are not called and say why; all 8 are
    unfinished, too slow (a hang and a slow port read the same), never a structure failure."""
    code = main(["check", "faulty.py:hangs", "--budget", "quick", "--call-timeout", "5", "--json", "hang.json"])
    assert code == EXIT_TOO_SLOW
    unfinished = json.loads((ports_dir / "hang.json").read_text())["unfinished"]
    waited = [line for line in unfinished if "no answer within 5 s" in line and "not called" not in line]
    skipped = [line for line in unfinished if "not called: the port was too slow in an earlier call (no answer" in line]
    assert (len(waited), len(skipped)) == (1, 7), unfinished


def test_keep_going_waits_in_every_case(ports_dir: Path) -> None:
    assert main(["check", "faulty.py:hangs", "--budget", "quick", "--case", "0", "--call-timeout", "5",
                 "--keep-going", "--json", "hang.json"]) == EXIT_TOO_SLOW
    unfinished = json.loads((ports_dir / "hang.json").read_text())["unfinished"]
    assert unfinished and all("not called" not in line for line in unfinished)


def test_port_text_reaches_no_output_with_its_escape_sequences(ports_dir: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "faulty.py:escapes", "--budget", "quick", "--case", "0", "--json", "e.json",
                 "--report", "page"]) == 1
    out, err = capsys.readouterr()
    written = [(ports_dir / "e.json").read_text(), (ports_dir / "page" / "results.json").read_text(),
               (ports_dir / "page" / "index.html").read_text()]
    for text in (out, err, *written):
        assert "\x1b" not in text and "\x07" not in text
    assert "\\x1b[31mred" in out  # shown, escaped


def _peak_rss_mb(code: str) -> float:
    done = subprocess.run([sys.executable, "-c", code + "\nimport resource\n"
                           "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"],
                          capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1])


def test_the_stderr_tail_is_read_from_the_end(tmp_path: Path) -> None:
    """A 400 MB stderr (sparse: no disk) costs the tail 64 KiB, not 400 MB of memory."""
    flood = tmp_path / "flood.stderr"
    with open(flood, "wb") as handle:
        handle.truncate(400 << 20)
        handle.seek(0, os.SEEK_END)
        handle.write(b"\nthe last line\n")
    setup = ("from pathlib import Path\nfrom pcg_verify.ports._process import StderrLog\n"
             f"log = StderrLog(); log.path.unlink(); log.path = Path({str(flood)!r})\n")
    baseline = _peak_rss_mb(setup)
    peak = _peak_rss_mb(setup + "tail = log.tail(); assert tail.endswith('the last line'), tail[-80:]")
    assert peak - baseline < 50, (baseline, peak)


def test_a_daemonised_grandchild_of_a_program_port_does_not_outlive_the_gate(tmp_path: Path) -> None:
    program = tmp_path / "daemon_port.sh"
    program.write_text("#!/bin/sh\nsetsid sh -c 'echo $$ > grandchild.pid; exec sleep 1000' &\n"
                       "read hello\necho 'PCG-PORT 1 daemon float64 cpu'\ncat > /dev/null\n")
    program.chmod(0o755)
    done = subprocess.run([sys.executable, "-m", "pcg_verify", "check", "--exec", "./daemon_port.sh", "--budget",
                           "quick", "--case", "0", "--call-timeout", "5"], cwd=tmp_path, capture_output=True,
                          text=True)
    assert done.returncode == EXIT_TOO_SLOW, done.stderr  # it never answers: cut at the call limit
    pid = int((tmp_path / "grandchild.pid").read_text())
    assert is_dead(pid), Path(f"/proc/{pid}/stat").read_text()  # gone, or a zombie its adopter has yet to reap


def _default_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def test_sigterm_stops_the_gate_like_ctrl_c(ports_dir: Path) -> None:
    scratch = ports_dir / "tmp"
    scratch.mkdir()
    process = subprocess.Popen([sys.executable, "-m", "pcg_verify", "check", "faulty.py:terminated", "--budget",
                                "quick", "--json", "never.json"], cwd=ports_dir, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "TMPDIR": str(scratch)}, preexec_fn=_default_signals)
    while not (ports_dir / "called").exists():  # the event: the port is called and hangs
        assert process.poll() is None, process.communicate()[1]
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    err = process.communicate(timeout=120)[1]
    assert process.returncode == EXIT_TERMINATED, err
    assert "terminated; no report written" in err
    assert not (ports_dir / "never.json").exists()
    assert list(scratch.iterdir()) == []  # the worker's stderr file is gone too


@pytest.mark.parametrize("megabytes", [500, 700])
def test_too_little_address_space_is_a_gate_error_named_at_once(megabytes: int, tmp_path: Path) -> None:
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (megabytes << 20, megabytes << 20))

    done = subprocess.run([sys.executable, "-m", "pcg_verify", "check", "--budget", "quick"], cwd=tmp_path,
                          capture_output=True, text=True, preexec_fn=cap, timeout=120)
    assert done.returncode == EXIT_GATE_ERROR, done.stderr
    assert f"needs at least {REQUIRED_ADDRESS_SPACE_MB} MB of address space" in done.stderr
    assert EXIT_GATE_ERROR not in (0, 1, EXIT_USAGE)  # never a pass, never "the port is wrong"
