"""``pcg-verify e2e`` end to end: models saved with save_pretrained, loaded offline, report files written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from e2e_pairs import Pair

from pcg_verify.cli import EXIT_FAIL, EXIT_PASS, EXIT_USAGE, main
from pcg_verify.reliability import load_results


@pytest.fixture(scope="module")
def saved_pair(tiny_pair: Pair, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("models")
    tiny_pair.target.save_pretrained(root / "target")
    tiny_pair.draft.save_pretrained(root / "draft")
    return root / "target", root / "draft"


def test_e2e_pcg_writes_the_report(saved_pair: tuple[Path, Path], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    target, draft = saved_pair
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("812 300 301 302\n\n812, 400, 401\n", encoding="utf-8")
    code = main(["e2e", "--target", str(target), "--draft", str(draft), "--method", "pcg", "--theta", "0.3",
                 "--speech-offset", "300", "--num-speech", "512", "--prompts", str(prompts), "--max-new-tokens", "24",
                 "--groups-cache", str(tmp_path / "groups.npz"), "--report", str(tmp_path / "report"),
                 "--json", str(tmp_path / "results.json"), "--reference", "recompute"])
    out = capsys.readouterr().out
    assert code == EXIT_PASS, out
    assert "speedup" in out and "pcg" in out and "report page:" in out
    results = load_results(tmp_path / "report")
    assert results["kind"] == "e2e" and results["verdict"] == "pass"
    assert [run["name"] for run in results["runs"]] == ["ar", "pcg"]
    pcg = results["runs"][1]
    assert pcg["metrics"]["speedup_vs_ar"] is not None and pcg["metrics"]["rows"] == 2
    assert {t["name"] for t in pcg["tests"]} == {"labels PIT (KS)", "accepts PIT (KS)"}
    assert "pcg-verify e2e" in results["command"]
    assert (tmp_path / "report" / "index.html").is_file() and (tmp_path / "groups.npz").is_file()
    assert json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))["verdict"] == "pass"


def test_e2e_exits_1_when_the_monitors_fail(saved_pair: tuple[Path, Path], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """SSD with β = 1 accepts every draft: the emitted tokens follow the draft, not the target, and the
    monitors fail (the label stream's p-value is far below 1e-3 at this size); the failure names the command."""
    target, draft = saved_pair
    code = main(["e2e", "--target", str(target), "--draft", str(draft), "--method", "ssd", "--beta", "1.0",
                 "--no-baseline", "--max-new-tokens", "48", "--report", str(tmp_path / "r")])
    assert code == EXIT_FAIL, capsys.readouterr().out
    run = load_results(tmp_path / "r")["runs"][0]
    assert run["verdict"] == "fail" and run["failures"][0].split("Reproduce: ")[1].startswith("pcg-verify e2e")


@pytest.mark.parametrize("argv", [
    ["e2e", "--target", "/nonexistent", "--method", "ar"],
    ["e2e", "--method", "ar"],
    ["e2e", "--target", ".", "--method", "pcg"],
    ["e2e", "--target", ".", "--method", "beam"],
])
def test_e2e_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == EXIT_USAGE
    assert "error" in capsys.readouterr().err
