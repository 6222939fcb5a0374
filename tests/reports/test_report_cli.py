"""The command line: ``check --report DIR`` and ``report DIR``; progress on a terminal only."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from report_pages import parse_html

from pcg_verify.cli import main
from pcg_verify.reliability import load_results, progress_bar


def test_check_writes_the_report_and_prints_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "reports" / "reference"
    status = main(["check", "--budget", "quick", "--case", "0", "--in-process", "--report", str(directory)])
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert out.rstrip().splitlines()[-1] == f"report page: {directory / 'index.html'}"
    assert "\r" not in err and "case" not in err  # stderr is not a terminal: no progress
    results = load_results(directory)
    assert results["kind"] == "gate" and results["verdict"] == "pass"
    assert results["command"] == (f"pcg-verify check --budget quick --case 0 --in-process --report {directory}")
    assert results["runs"][0]["cases"][0]["index"] == 0 and len(results["runs"][0]["cases"]) == 1
    page = parse_html((directory / "index.html").read_text(encoding="utf-8"))
    assert page.find_all("header")[0].attrs["data-verdict"] == "pass"


def test_report_with_json_to_stdout_names_the_page_on_stderr(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["check", "--budget", "quick", "--case", "0", "--in-process", "--json", "-",
                   "--report", str(tmp_path)])
    out, err = capsys.readouterr()
    assert status == 0 and out.lstrip().startswith("{")
    assert f"report page: {tmp_path / 'index.html'}" in err


def test_an_unwritable_report_directory_stops_before_the_run(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "taken").write_text("a file", encoding="utf-8")
    assert main(["check", "--budget", "quick", "--report", str(tmp_path / "taken")]) == 2
    out, err = capsys.readouterr()
    assert "--report=" in err and "exists and is not a directory" in err and "PASS" not in out
    assert main(["check", "--budget", "quick", "--report", str(tmp_path / "taken" / "below")]) == 2
    assert "which is a file" in capsys.readouterr().err


def test_progress_bar_draws_on_a_terminal_and_is_silent_otherwise() -> None:
    stream = io.StringIO()
    with progress_bar("pcg-verify: cases", stream=stream) as update:
        assert update is None  # a StringIO is not a tty
    assert stream.getvalue() == ""
    with progress_bar("pcg-verify: cases", stream=stream, enabled=True) as update:
        assert update is not None
        update(1, 3)
        update(3, 3)
    drawn = stream.getvalue()
    assert "pcg-verify: cases" in drawn and "3/3" in drawn


def test_bugs_writes_a_mutation_report_with_mutants_and_equivalents(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "bugs"
    status = main(["bugs", "--budget", "quick", "--only", "ratio_inverted", "rng_reordered", "--report",
                   str(directory)])
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert out.rstrip().splitlines()[-1] == f"report written to {directory / 'index.html'}"
    results = load_results(directory)
    assert results["kind"] == "bugs" and results["verdict"] == "pass"
    runs = {r["mutant"]: r for r in results["runs"]}
    assert runs["ratio_inverted"]["killed"] and not runs["ratio_inverted"]["equivalent"]
    assert runs["ratio_inverted"]["replay"].startswith("pcg-verify check pcg_verify.bugs:mutants.ratio_inverted")
    assert not runs["rng_reordered"]["killed"] and runs["rng_reordered"]["equivalent"]
    page = parse_html((directory / "index.html").read_text(encoding="utf-8"))
    assert page.find_all("header")[0].attrs["data-verdict"] == "pass"
    assert "1 of 1 mutants killed; 1 of 1 equivalents passed" in page.find_all("header")[0].all_text()
    (tmp_path / "taken").write_text("a file", encoding="utf-8")
    assert main(["bugs", "--only", "ratio_inverted", "--report", str(tmp_path / "taken")]) == 2  # before the run
