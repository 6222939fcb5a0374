"""The LibriTTS loader and the seeded cross-sentence sampling, on generated LibriTTS-shaped folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_verify.tts import load_audio, resample, sample_cases, scan_libritts, write_wav

RATE = 24_000  # LibriTTS's sample rate
#: speaker -> seconds of each of its utterances (speaker 30 has one utterance: no prompt to offer).
LAYOUT = {"10": [1.0, 2.0, 3.0, 4.0], "20": [1.5, 2.5, 6.0], "30": [2.0]}


def make_folder(root: Path, layout: dict[str, list[float]] = LAYOUT, subset: str = "test-clean") -> Path:
    """SUBSET/SPEAKER/CHAPTER/SPEAKER_CHAPTER_PARAGRAPH_SENTENCE.wav (+ .normalized.txt) with tones."""
    for speaker, durations in layout.items():
        chapter = root / subset / speaker / "7"
        chapter.mkdir(parents=True)
        for i, seconds in enumerate(durations):
            stem = f"{speaker}_7_{i:06d}_000001"
            t = np.arange(int(seconds * RATE)) / RATE
            write_wav(chapter / f"{stem}.wav", 0.3 * np.sin(2 * np.pi * (200 + 10 * i) * t), RATE)
            (chapter / f"{stem}.normalized.txt").write_text(f"Speaker {speaker} says sentence {i}.\n", "utf-8")
    return root


def test_scan_reads_every_utterance_with_its_text_and_duration(tmp_path: Path) -> None:
    index = scan_libritts(make_folder(tmp_path))
    assert [u.id for u in index.utterances] == sorted(u.id for u in index.utterances)
    assert len(index.utterances) == 8 and index.skipped == ()
    first = index.utterances[0]
    assert (first.speaker, first.chapter, first.text) == ("10", "7", "Speaker 10 says sentence 0.")
    assert first.seconds == pytest.approx(1.0)
    assert {s: len(u) for s, u in index.by_speaker().items()} == {"10": 4, "20": 3, "30": 1}
    # The subset folder itself is accepted as root too.
    assert scan_libritts(tmp_path / "test-clean").utterances == index.utterances


def test_missing_or_empty_transcripts_are_skipped_and_listed_or_raise_when_strict(tmp_path: Path) -> None:
    root = make_folder(tmp_path)
    chapter = root / "test-clean" / "10" / "7"
    (chapter / "10_7_000001_000001.normalized.txt").unlink()
    (chapter / "10_7_000002_000001.normalized.txt").write_text("  \n", "utf-8")
    index = scan_libritts(root)
    assert len(index.utterances) == 6
    reasons = sorted(reason.split()[0] for _, reason in index.skipped)
    assert reasons == ["empty", "no"]
    with pytest.raises(InvalidArgumentError, match=r"no transcript 10_7_000001_000001\.normalized\.txt"):
        scan_libritts(root, strict=True)


def test_sample_is_seeded_and_pairs_each_target_with_another_utterance_of_its_speaker(tmp_path: Path) -> None:
    index = scan_libritts(make_folder(tmp_path))
    sample = sample_cases(index, 5, seed=3)
    assert sample.eligible == 7 and sample.speakers_without_prompt == ("30",)
    assert sample == sample_cases(index, 5, seed=3)
    assert sample.cases != sample_cases(index, 5, seed=4).cases
    targets = [c.target.id for c in sample.cases]
    assert len(set(targets)) == 5
    for case in sample.cases:
        assert case.prompt.speaker == case.target.speaker and case.prompt.id != case.target.id
    assert sample.to_dict()["cases"][0] == {"target": sample.cases[0].target.id, "prompt": sample.cases[0].prompt.id}


def test_duration_filters_choose_targets_and_prompts(tmp_path: Path) -> None:
    index = scan_libritts(make_folder(tmp_path))
    sample = sample_cases(index, 3, seed=0, min_seconds=2.0, max_seconds=4.0, max_prompt_seconds=2.0)
    for case in sample.cases:
        assert 2.0 <= case.target.seconds <= 4.0 and case.prompt.seconds <= 2.0
    # Targets in [2, 4] s with another utterance of at most 2 s: 10's 3.0 and 4.0 (prompts 1.0/2.0), 10's 2.0
    # (prompt 1.0), 20's 2.5 (prompt 1.5); speaker 30 has no second utterance.
    assert sample.eligible == 4


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"n": 8}, InvalidArgumentError, r"n=8: must be at most the 7 eligible targets .*\['30'\]"),
    ({"n": 0}, InvalidArgumentError, "n=0: must be an integer >= 1"),
    ({"n": 2.0}, InvalidTypeError, "n=2.0: must be an integer"),
    ({"n": 1, "seed": -1}, InvalidArgumentError, "seed=-1"),
    ({"n": 1, "min_seconds": 3.0, "max_seconds": 2.0}, InvalidArgumentError, "max_seconds=2.0"),
])
def test_sample_rejects_bad_arguments(tmp_path: Path, kwargs: dict[str, object], error: type[Exception],
                                      message: str) -> None:
    index = scan_libritts(make_folder(tmp_path))
    n = kwargs.pop("n")
    with pytest.raises(error, match=message):
        sample_cases(index, n, seed=kwargs.pop("seed", 0), **kwargs)  # type: ignore[arg-type]


def test_scan_rejects_a_missing_or_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="must be an existing directory"):
        scan_libritts(tmp_path / "nowhere")
    with pytest.raises(InvalidArgumentError, match="holds no usable utterance"):
        scan_libritts(tmp_path)
    with pytest.raises(InvalidTypeError, match="root=3"):
        scan_libritts(3)  # type: ignore[arg-type]


def test_audio_reads_pcm_and_float_wav_refuses_stereo_and_resamples_exactly(tmp_path: Path) -> None:
    from scipy.io import wavfile

    wave = 0.5 * np.sin(np.linspace(0, 40 * np.pi, 4_800))
    write_wav(tmp_path / "pcm.wav", wave, RATE)
    samples, rate = load_audio(tmp_path / "pcm.wav")
    assert rate == RATE and samples.dtype == np.float32 and np.max(np.abs(samples - wave)) < 1e-4
    wavfile.write(tmp_path / "float.wav", 16_000, wave.astype(np.float32))
    assert np.allclose(load_audio(tmp_path / "float.wav")[0], wave, atol=1e-7)
    wavfile.write(tmp_path / "stereo.wav", 16_000, np.zeros((10, 2), np.int16))
    with pytest.raises(InvalidArgumentError, match="must be a mono WAV file"):
        load_audio(tmp_path / "stereo.wav")
    # 24 kHz -> 16 kHz keeps the duration (2 of every 3 samples) and a 200 Hz tone's frequency.
    tone = np.sin(2 * np.pi * 200 * np.arange(RATE) / RATE)
    down = resample(tone, RATE, 16_000)
    assert down.shape == (16_000,)
    spectrum = np.abs(np.fft.rfft(down))
    assert int(np.argmax(spectrum)) == 200  # 1 Hz bins over one second
