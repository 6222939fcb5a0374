"""The whole table end to end on tiny random models: LibriTTS-shaped data → codec → Llasa prompt → AR, SD,
SSD(β), PCG through pcg_verify.e2e's loop with monitors → codec decode → ASR → WER/CER → similarity → report.

The numbers are real measurements of meaningless models (random weights everywhere): what is asserted is
that every column is measured and consistent, not its value.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest

from pcg_verify.reliability import load_results
from pcg_verify.tts import (
    ResemblyzerEncoder,
    TTSSettings,
    TTSSystem,
    fsq_prefix_groups,
    load_audio,
    run_swap_test,
    run_table,
    sample_cases,
    scan_libritts,
    tiny_llasa,
    write_table_report,
)
from pcg_verify.tts._cli import add_parser, run

#: Two cases with prompts of at most 4 s (codec encoding is the slow part on a CPU), 16 new tokens each.
N_CASES, MAX_PROMPT_SECONDS, NEW_TOKENS = 2, 4.0, 16


@pytest.fixture(scope="module")
def system(small_codec: Any, asr: Any) -> TTSSystem:
    tiny = tiny_llasa(seed=0)
    # No silence trimming: a random codec's output holds no speech, and trimming would leave nothing to embed.
    return TTSSystem(tiny.target, tiny.draft, tiny.prompter, small_codec, asr, ResemblyzerEncoder(trim_silence=False))


@pytest.mark.slow
def test_tiny_pipeline_fills_every_column_and_writes_the_report(system: TTSSystem, packaged_libritts: Path,
                                                                tmp_path: Path) -> None:
    cases = sample_cases(scan_libritts(packaged_libritts), N_CASES, seed=0,
                         max_prompt_seconds=MAX_PROMPT_SECONDS).cases
    layout = system.prompter.layout
    groups = fsq_prefix_groups(layout)  # embedding groups over 65,536 ids take ~20 s on a CPU: tests/e2e has them
    settings = TTSSettings(max_new_tokens=NEW_TOKENS, batch_size=2, seed=0)
    table = run_table(cases, system, settings, groups=groups, theta=None,
                      group_info={"description": "FSQ prefix groups of 16 codes"}, audio_dir=tmp_path / "audio")
    table = dataclasses.replace(table, swap=run_swap_test(cases[:1], system, groups, seed=0))
    assert [row.method for row in table.rows] == ["ar", "sd", "ssd", "pcg"]
    for row in table.rows:
        metrics = row.metrics()
        for column in ("speedup", "wer", "cer", "similarity", "tokens_per_second"):
            assert isinstance(metrics[column], float) and math.isfinite(metrics[column]), (row.label, column)
        assert 0.0 <= metrics["wer"] and 0.0 <= metrics["cer"] and -1.0 <= metrics["similarity"] <= 1.0
        assert row.empty_outputs == 0 and len(row.transcripts) == N_CASES
        assert metrics["new_tokens"] == N_CASES * NEW_TOKENS  # random models hardly ever emit the end token
        assert row.monitor.streams and row.monitor.streams[0].name == "labels"
        for case in cases:  # audio decoded from the generated codes only (the prompt's part cut off)
            wave, rate = load_audio(tmp_path / "audio" / row.method / f"{case.target.id}.wav")
            assert rate == 16_000 and len(wave) == 320 * NEW_TOKENS
        if row.method == "ar":
            assert metrics["speedup"] == 1.0 and metrics["acceptance_rate"] is None
            assert metrics["target_calls"] == metrics["new_tokens"]
        else:
            assert 0.0 < metrics["acceptance_rate"] <= 1.0
            assert 0.0 <= metrics["mean_accepted_per_block"] <= settings.gamma
            assert [s.name for s in row.monitor.streams] == ["labels", "accepts"]
    # Exact samplers: a correct loop passes its monitors (family-wise false-positive rate 1e-3 each).
    assert table.passed
    assert table.swap is not None and 0.8 < table.swap.changed_fraction < 1.0
    page = write_table_report(tmp_path / "report", table, command="pytest tests/tts/test_pipeline.py")
    results = load_results(page.parent)
    assert [run_["name"] for run_ in results["runs"]] == ["AR", "SD", "SSD(β=0.3)", "PCG",
                                                           "within-group swap stress test"]
    assert results["runs"][3]["metrics"]["similarity"] == pytest.approx(table.rows[3].similarity)
    markdown = (page.parent / "table.md").read_text("utf-8")
    assert sum(line.startswith("| ") for line in markdown.splitlines()) == 5 and "Swap stress test" in markdown


@pytest.mark.slow
def test_cli_runs_the_table_from_local_directories(system: TTSSystem, saved_codec: Path, packaged_libritts: Path,
                                                   tmp_path: Path) -> None:
    """``pcg-verify tts`` loads everything from local directories (models and tokenizer with save_pretrained,
    the codec checkpoint, the LibriTTS-shaped folder) and writes the report; SD and AR only (PCG's groups over
    65,536 embedding rows are too slow for a CPU test; the table test above covers PCG)."""
    system.target.save_pretrained(tmp_path / "target")
    system.prompter.tokenizer.save_pretrained(tmp_path / "target")
    system.draft.save_pretrained(tmp_path / "draft")
    parser = argparse.ArgumentParser(prog="pcg-verify")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args([
        "tts", "--libritts", str(packaged_libritts), "--target", str(tmp_path / "target"),
        "--draft", str(tmp_path / "draft"), "--codec", str(saved_codec), "--n", "1", "--methods", "ar,sd",
        "--speech-offset", str(system.prompter.layout.speech_offset),
        "--max-new-tokens", "8", "--max-prompt-seconds", str(MAX_PROMPT_SECONDS), "--report",
        str(tmp_path / "report"), "--json", str(tmp_path / "results.json")])
    lines: list[str] = []
    assert run(args, lines.append) == 0, lines
    assert any(line.startswith("| SD |") for line in "\n".join(lines).splitlines())
    results = json.loads((tmp_path / "results.json").read_text("utf-8"))
    assert [r["name"] for r in results["runs"]] == ["AR", "SD"]
    assert (tmp_path / "report" / "index.html").is_file() and (tmp_path / "report" / "table.md").is_file()
    bad = parser.parse_args(["tts", "--libritts", str(tmp_path / "none"), "--target", "t", "--draft", "d",
                             "--codec", "c"])
    assert run(bad, lines.append) == 2
