"""results.json: the envelope, the bugs and e2e kinds, atomic writes, re-rendering (refusals: test_report_tampered)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from report_pages import PLANTED, Written, parse_html

from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_verify import run_gate
from pcg_verify.cli import main
from pcg_verify.reliability import (
    RESULTS_SCHEMA_VERSION,
    bugs_results,
    e2e_results,
    load_results,
    make_results,
    mutant_record,
    render_html,
    validate_results,
    write_report,
)
from pcg_verify.reliability import _files as files_module

MUTANTS = [
    {"mutant": "dense.shared_uniform", "description": "reuses the acceptance uniform", "expected_category":
     "guarantee", "killed": True, "killed_by": ["guarantee", "conformance"],
     "check": "guarantee: case 6 row 0 position 0, group label law = Q_c", "pvalue": 1.2e-25,
     "adjusted_pvalue": 9.9e-24, "n_samples": 907,
     "replay": "pcg-verify check pcg_verify.bugs:mutants.dense_shared_uniform --budget quick --seed 0 --case 6"},
    {"mutant": "dense.sneaky", "description": "a mutant the gate misses", "expected_category": "conformance",
     "killed": False, "killed_by": [], "check": None, "pvalue": 0.41, "adjusted_pvalue": 1.0, "n_samples": 5000,
     "replay": None},
    {"mutant": "dense.wrong_bucket", "description": "killed, but in another category", "expected_category":
     "bonus", "killed": True, "killed_by": ["acceptance"], "check": "acceptance: case 2 row 0 position -1",
     "pvalue": 3e-9, "adjusted_pvalue": 2e-7, "n_samples": 1200, "replay": "pcg-verify check x:y --case 2"},
]


def test_envelope_fields() -> None:
    results = make_results("e2e", [{"name": "tts", "verdict": "pass"}], duration_seconds=1.5, command="make e2e")
    assert results["schema_version"] == RESULTS_SCHEMA_VERSION == 1
    assert set(results) == {"schema_version", "kind", "title", "verdict", "created", "duration_seconds", "command",
                            "versions", "machine", "runs"}
    assert set(results["versions"]) == {"python", "torch", "numpy", "scipy", "pcg"}
    assert results["versions"]["torch"].startswith("2.") and results["versions"]["pcg"]
    assert results["machine"]["cpu_count"] == os.cpu_count()
    assert results["created"].endswith("+00:00") and results["verdict"] == "pass"
    assert make_results("e2e", [], duration_seconds=0)["verdict"] == "fail"  # nothing ran: not a pass


def test_not_a_mapping_and_bad_kind_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidTypeError, match="results"):
        validate_results([1, 2])
    with pytest.raises(InvalidArgumentError, match="kind='x': must be one of"):
        make_results("x", [], duration_seconds=0)
    with pytest.raises(InvalidArgumentError, match=r"has no results\.json"):
        load_results(tmp_path)
    (tmp_path / "results.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match="is not valid JSON"):
        load_results(tmp_path)
    (tmp_path / "file").write_text("", encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match="exists and is not a directory"):
        write_report(tmp_path / "file", make_results("e2e", [], duration_seconds=0))


def test_bugs_report_renders_the_mutation_score(tmp_path: Path) -> None:
    results = bugs_results(MUTANTS, duration_seconds=3.0, command="pcg-verify bugs")
    assert results["verdict"] == "fail"  # a mutant survived
    page = parse_html(write_report(tmp_path, results).read_text(encoding="utf-8"))
    assert "2 of 3 killed" in page.find_all("h2")[0].all_text()
    rows = [r for r in page.iter() if r.tag == "tr" and "data-mutant" in r.attrs]
    assert [r.attrs["data-mutant"] for r in rows] == [m["mutant"] for m in MUTANTS]
    for row, mutant in zip(rows, MUTANTS, strict=True):
        cells = [c.all_text() for c in row.children if c.tag == "td"]
        assert cells[2] == ("killed" if mutant["killed"] else "SURVIVED")
        assert cells[5] == f"{mutant['pvalue']:.3g}" and cells[7] == str(mutant["n_samples"])
        assert cells[8] == (mutant["replay"] or "—")
    assert "(expected bonus)" in rows[2].all_text()  # killed, but not by the category that should
    assert "dense.sneaky" in page.find_all("section")[0].all_text().split("survived")[1]


def test_mutant_record_from_a_real_gate_report() -> None:
    report = run_gate(PLANTED, budget="quick", seed=0, case=6)
    record = mutant_record("dense.shared_uniform", report, description="d", expected_category="guarantee")
    assert record["killed"] and "guarantee" in record["killed_by"]
    assert record["replay"] == f"pcg-verify check {PLANTED} --budget quick --seed 0 --case 6"
    assert record["pvalue"] == min(t.pvalue for t in report.tests if t.rejected)
    assert validate_results(bugs_results([record], duration_seconds=1.0))["verdict"] == "pass"


def test_e2e_report_renders_runs_metrics_and_replays(tmp_path: Path) -> None:
    runs = [{"name": "llasa-1b, γ=4", "verdict": "fail", "summary": "speech tokens decoded with PCG",
             "metrics": {"acceptance_length": 2.75, "tokens": 4096},
             "tests": [{"name": "label law", "statistic": 3.2, "pvalue": 1e-9, "n_samples": 4096}],
             "failures": ["label law rejected. Reproduce: make e2e CASE=3"]},
            {"name": "baseline", "verdict": "pass"}]
    results = e2e_results(runs, duration_seconds=12.0, title="end-to-end decoding")
    page = parse_html(write_report(tmp_path, results).read_text(encoding="utf-8"))
    assert page.find_all("header")[0].attrs["data-verdict"] == "fail"
    assert [n.all_text() for n in page.find_all("pre", class_="replay")] == ["make e2e CASE=3"]
    assert "2.75" in page.all_text() and "1e-09" in page.all_text()


def test_a_crash_while_rendering_leaves_the_old_report_whole(failing: Written, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "report"
    shutil.copytree(failing.directory, directory)
    before = {p.name: p.read_bytes() for p in directory.iterdir()}

    def broken(results: Any) -> str:
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(files_module, "render_html", broken)
    other = make_results("e2e", [{"name": "x", "verdict": "pass"}], duration_seconds=0)
    with pytest.raises(RuntimeError, match="renderer crashed"):
        write_report(directory, other)
    with pytest.raises(RuntimeError, match="renderer crashed"):
        write_report(tmp_path / "fresh", other)
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == before  # no temp file, nothing changed
    assert not (tmp_path / "fresh").exists() or not any((tmp_path / "fresh").iterdir())


def test_a_crash_while_writing_the_page_leaves_no_half_file(failing: Written, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "report"
    shutil.copytree(failing.directory, directory)
    old_page = (directory / "index.html").read_bytes()
    real_write = files_module._write

    def dies_half_way(path: Path, text: str) -> None:
        if path.name == "index.html":
            with files_module.atomic_writer(path, "w") as handle:
                handle.write(text[: len(text) // 2])
                raise OSError("disk full")
        real_write(path, text)

    monkeypatch.setattr(files_module, "_write", dies_half_way)
    with pytest.raises(OSError, match="disk full"):
        write_report(directory, failing.results)
    assert (directory / "index.html").read_bytes() == old_page
    assert sorted(p.name for p in directory.iterdir()) == ["index.html", "results.json"]


def test_report_command_rerenders_the_same_page(failing: Written, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "copy"
    shutil.copytree(failing.directory, directory)
    (directory / "index.html").unlink()
    assert main(["report", str(directory)]) == 0
    assert capsys.readouterr().out.strip() == str(directory / "index.html")
    assert (directory / "index.html").read_text(encoding="utf-8") == failing.html
    assert render_html(json.loads((directory / "results.json").read_text(encoding="utf-8"))) == failing.html
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "has no results.json" in capsys.readouterr().err


def _modules_after(code: str) -> set[str]:
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_imports_stay_light(failing: Written, tmp_path: Path) -> None:
    """The façade loads neither torch nor matplotlib; re-rendering a report loads no torch."""
    modules = _modules_after("import pcg_verify.reliability as r; r.RESULTS_FILE; r.load_results")
    assert not {m.split(".")[0] for m in modules} & {"torch", "matplotlib", "scipy"}
    shutil.copytree(failing.directory, tmp_path / "copy")
    modules = _modules_after(f"from pcg_verify.reliability import rerender; rerender({str(tmp_path / 'copy')!r})")
    assert "matplotlib" in modules and "torch" not in modules
