"""LibriTTS from a local copy, and the paper's cross-sentence test cases drawn from it.

Layout read (LibriTTS as distributed)::

    ROOT/<subset>/<speaker>/<chapter>/<speaker>_<chapter>_<paragraph>_<sentence>.wav
    ROOT/<subset>/<speaker>/<chapter>/<speaker>_<chapter>_<paragraph>_<sentence>.normalized.txt

``root`` may be the LibriTTS folder (with ``subset``, default ``test-clean``)
or a subset folder itself. The text of an utterance is its
``.normalized.txt``. Skips, each listed in :attr:`LibriTTSIndex.skipped` with
its reason and never silent: a ``.wav`` with no ``.normalized.txt``, or one
whose transcript is empty. ``strict=True`` raises on the first one instead.

Cross-sentence voice cloning (the paper's protocol): a test case is a target
utterance (its text is what the model must say, its audio is the reference
for speaker similarity) and a *prompt*: another utterance of the same speaker,
whose audio (as codec tokens) and text make the prompt. Speakers with one
usable utterance have no prompt to offer and are left out (listed in
:attr:`CaseSample.speakers_without_prompt`).

Sampling is seeded and depends only on the sorted utterance ids, the
filters and the seed: the same folder gives the same cases on any machine.
"""

from __future__ import annotations

import os
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_core.validation import check_bool, check_int, check_real
from pcg_verify.tts._audio import load_audio

__all__ = ["CaseSample", "LibriTTSIndex", "TTSCase", "Utterance", "sample_cases", "scan_libritts"]

_TEXT_SUFFIX = ".normalized.txt"


@dataclass(frozen=True)
class Utterance:
    """One LibriTTS utterance: ``id`` is ``speaker_chapter_paragraph_sentence``; ``seconds`` from the WAV header."""

    id: str
    speaker: str
    chapter: str
    audio_path: Path
    text: str
    seconds: float


@dataclass(frozen=True)
class LibriTTSIndex:
    """Every usable utterance of a subset (sorted by id) and what was skipped, as ``(path, reason)``."""

    root: Path
    utterances: tuple[Utterance, ...]
    skipped: tuple[tuple[str, str], ...] = ()

    def by_speaker(self) -> dict[str, list[Utterance]]:
        """Utterances grouped by speaker id (each list sorted by utterance id)."""
        speakers: dict[str, list[Utterance]] = {}
        for utterance in self.utterances:
            speakers.setdefault(utterance.speaker, []).append(utterance)
        return speakers


@dataclass(frozen=True)
class TTSCase:
    """A cross-sentence test case: say ``target.text`` in the voice of ``prompt`` (same speaker, other utterance)."""

    target: Utterance
    prompt: Utterance


@dataclass(frozen=True)
class CaseSample:
    """The drawn cases and the design they came from: ``eligible`` targets (a prompt and within the
    filters) and the speakers with no eligible target (one utterance only, or none within the filters)."""

    cases: tuple[TTSCase, ...]
    seed: int
    eligible: int
    speakers_without_prompt: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "n": len(self.cases), "eligible": self.eligible,
                "speakers_without_prompt": list(self.speakers_without_prompt),
                "cases": [{"target": c.target.id, "prompt": c.prompt.id} for c in self.cases]}


def scan_libritts(root: str | os.PathLike[str], *, subset: str | None = "test-clean", strict: bool = False
                  ) -> LibriTTSIndex:
    """Index the utterances of a local LibriTTS subset (module docstring for the layout and the skips).

    Parameters
    ----------
    root : path
        The LibriTTS folder, or a subset folder (then ``subset`` is ignored when
        ``root/subset`` does not exist).
    subset : str or None
        Subset folder name under ``root`` (``test-clean`` in the paper).
    strict : bool
        Raise on a missing or empty transcript instead of skipping it.

    Raises
    ------
    InvalidArgumentError
        ``root`` is not a directory, or no utterance was found.
    """
    if not isinstance(root, str | os.PathLike):
        raise InvalidTypeError("root", root, "must be a path (str or os.PathLike)")
    strict = check_bool("strict", strict)
    base = Path(root)
    if not base.is_dir():
        raise InvalidArgumentError("root", os.fspath(root), "must be an existing directory (a local LibriTTS copy)")
    folder = base / subset if subset is not None and (base / subset).is_dir() else base
    utterances: list[Utterance] = []
    skipped: list[tuple[str, str]] = []
    for wav in sorted(folder.glob("*/*/*.wav")):
        speaker, chapter = wav.parent.parent.name, wav.parent.name
        text_path = wav.with_name(wav.stem + _TEXT_SUFFIX)
        reason = None
        if not text_path.is_file():
            reason = f"no transcript {text_path.name}"
        else:
            text = " ".join(text_path.read_text(encoding="utf-8").split())
            if not text:
                reason = f"empty transcript {text_path.name}"
        if reason is not None:
            if strict:
                raise InvalidArgumentError("root", os.fspath(root), f"{wav}: {reason}",
                                           "pass strict=False to skip such utterances")
            skipped.append((str(wav), reason))
            continue
        utterances.append(Utterance(wav.stem, speaker, chapter, wav, text, _seconds(wav)))
    if not utterances:
        raise InvalidArgumentError("root", os.fspath(root), f"holds no usable utterance under {folder}",
                                   "expected <speaker>/<chapter>/<id>.wav with <id>.normalized.txt beside it")
    return LibriTTSIndex(folder, tuple(utterances), tuple(skipped))


def sample_cases(index: LibriTTSIndex, n: int, *, seed: int, min_seconds: float = 0.0,
                 max_seconds: float | None = None, min_prompt_seconds: float = 0.0,
                 max_prompt_seconds: float | None = None) -> CaseSample:
    """A seeded sample of ``n`` cross-sentence cases (the paper: 500 from test-clean).

    Targets are the utterances lasting ``[min_seconds, max_seconds]`` whose speaker
    has another utterance lasting ``[min_prompt_seconds, max_prompt_seconds]``; ``n`` of them are
    drawn without replacement (a seeded permutation of the sorted ids), and each
    gets a prompt drawn uniformly from its speaker's other qualifying utterances.

    Raises
    ------
    InvalidArgumentError
        ``n`` exceeds the eligible targets (the message gives their count and
        the speakers left out for lack of a prompt).

    Examples
    --------
    A LibriTTS-shaped folder of one speaker with three half-second utterances:

    >>> import tempfile
    >>> from pathlib import Path
    >>> from pcg_verify.tts._audio import write_wav
    >>> root = Path(tempfile.mkdtemp()) / "test-clean" / "1089" / "134686"
    >>> root.mkdir(parents=True)
    >>> for k in range(3):
    ...     write_wav(root / f"1089_134686_000001_00000{k}.wav", np.zeros(8000, dtype=np.float32), 16000)
    ...     _ = (root / f"1089_134686_000001_00000{k}.normalized.txt").write_text(f"Sentence {k}.")
    >>> sample = sample_cases(scan_libritts(root.parents[1]), 2, seed=0)
    >>> [(case.target.id[-1], case.prompt.id[-1]) for case in sample.cases]
    [('2', '0'), ('0', '1')]
    >>> all(case.prompt.speaker == case.target.speaker != case.prompt.id for case in sample.cases)
    True
    """
    if not isinstance(index, LibriTTSIndex):
        raise InvalidTypeError("index", index, "must be a LibriTTSIndex (from scan_libritts)")
    count = check_int("n", n, minimum=1)
    master = check_int("seed", seed, minimum=0)
    low = check_real("min_seconds", min_seconds, minimum=0.0)
    high = None if max_seconds is None else check_real("max_seconds", max_seconds, minimum=low)
    prompt_low = check_real("min_prompt_seconds", min_prompt_seconds, minimum=0.0)
    prompt_high = (None if max_prompt_seconds is None
                   else check_real("max_prompt_seconds", max_prompt_seconds, minimum=prompt_low))
    speakers = index.by_speaker()
    eligible: list[tuple[Utterance, list[Utterance]]] = []
    lonely: list[str] = []
    for speaker, utterances in sorted(speakers.items()):
        prompts = [u for u in utterances
                   if u.seconds >= prompt_low and (prompt_high is None or u.seconds <= prompt_high)]
        has_target = False
        for target in utterances:
            if target.seconds < low or (high is not None and target.seconds > high):
                continue
            others = [u for u in prompts if u.id != target.id]
            if others:
                eligible.append((target, others))
                has_target = True
        if not has_target:
            lonely.append(speaker)
    if count > len(eligible):
        raise InvalidArgumentError("n", count, f"must be at most the {len(eligible)} eligible targets",
                                   f"speakers without a prompt utterance: {lonely or 'none'}; "
                                   f"duration filter [{low}, {high}] s")
    rng = np.random.default_rng(master)
    order = rng.permutation(len(eligible))[:count]
    cases = []
    for position in order:
        target, others = eligible[int(position)]
        cases.append(TTSCase(target, others[int(rng.integers(len(others)))]))
    return CaseSample(tuple(cases), master, len(eligible), tuple(lonely))


def _seconds(path: Path) -> float:
    try:
        with wave.open(str(path), "rb") as handle:
            return handle.getnframes() / float(handle.getframerate())
    except (wave.Error, EOFError):  # float WAV (format 3) is not read by the wave module
        samples, rate = load_audio(path)
        return len(samples) / float(rate)


def as_sequence(cases: CaseSample | Sequence[TTSCase]) -> tuple[TTSCase, ...]:
    """The cases of a :class:`CaseSample` or a plain sequence of :class:`TTSCase`."""
    return cases.cases if isinstance(cases, CaseSample) else tuple(cases)
