"""Pluggable speaker similarity: the cosine of two utterances' speaker embeddings, in [-1, 1].

Anything with ``embed(waveform, sample_rate) -> ndarray [D]`` is a speaker
encoder; :func:`speaker_similarity` takes the cosine of two embeddings. Two
encoders are provided, both from local files:

- :class:`ResemblyzerEncoder`: Resemblyzer's GE2E encoder (256-d), whose
  weights ship inside its wheel; CPU, no download. Its own preprocessing
  (16 kHz, volume normalisation, long silences trimmed by webrtcvad) applies.
- :class:`WavLMEncoder`: a transformers ``WavLMForXVector`` checkpoint
  directory (for example a local copy of microsoft/wavlm-base-plus-sv), the
  GPU option closest to the paper's WavLM speaker model.

The paper's Sim-O is the similarity of the generated speech to the original
recording of the target utterance.
"""

from __future__ import annotations

import importlib
import os
import warnings
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_core.validation import check_bool
from pcg_verify.tts._audio import resample
from pcg_verify.tts._extras import require

__all__ = ["ResemblyzerEncoder", "SpeakerEncoder", "WavLMEncoder", "speaker_similarity"]


@runtime_checkable
class SpeakerEncoder(Protocol):
    """What the pipeline needs from a speaker model."""

    def embed(self, waveform: npt.NDArray[np.float32], sample_rate: int) -> npt.NDArray[np.float64]: ...


def speaker_similarity(encoder: SpeakerEncoder, first: tuple[npt.NDArray[np.float32], int],
                       second: tuple[npt.NDArray[np.float32], int]) -> float:
    """Cosine similarity of the speaker embeddings of two ``(waveform [T], sample_rate)`` utterances."""
    a = np.asarray(encoder.embed(*first), dtype=np.float64)
    b = np.asarray(encoder.embed(*second), dtype=np.float64)
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    if norm == 0.0:
        raise InvalidArgumentError("encoder", type(encoder).__name__, "returned a zero embedding")
    return float(np.dot(a, b) / norm)


def _mono(waveform: Any) -> npt.NDArray[np.float32]:
    wave = np.asarray(waveform.detach().cpu().numpy() if hasattr(waveform, "detach") else waveform)
    if wave.ndim != 1 or wave.size == 0 or not np.issubdtype(wave.dtype, np.floating):
        raise InvalidArgumentError("waveform", wave, "must be a non-empty float mono signal of shape [T]")
    return wave.astype(np.float32)


class ResemblyzerEncoder:
    """Resemblyzer's voice encoder (weights from its wheel); ``device`` "cpu" or "cuda".

    ``trim_silence=True`` is Resemblyzer's own preprocessing (resample to
    16 kHz, raise the volume to -30 dBFS, shorten silences longer than its VAD
    window); ``False`` skips the VAD step, for audio that holds no speech (a
    random codec's output in the CPU tests), where trimming would leave nothing.
    """

    def __init__(self, *, device: str = "cpu", trim_silence: bool = True) -> None:
        with warnings.catch_warnings():
            # resemblyzer 0.1.4 imports scipy.ndimage.morphology, deprecated since SciPy 1.8 (still works).
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"resemblyzer(\..*)?")
            resemblyzer = require("resemblyzer", "speaker similarity with Resemblyzer")
        self._audio = importlib.import_module("resemblyzer.audio")
        self.trim_silence = check_bool("trim_silence", trim_silence)
        self.model = resemblyzer.VoiceEncoder(device, verbose=False)

    def embed(self, waveform: npt.NDArray[np.float32], sample_rate: int) -> npt.NDArray[np.float64]:
        """The 256-d, unit-norm speaker embedding of a mono ``waveform`` [T] at ``sample_rate`` Hz."""
        audio = self._audio
        if self.trim_silence:
            wave = audio.preprocess_wav(_mono(waveform), source_sr=sample_rate)
        else:
            wave = audio.librosa.resample(_mono(waveform), orig_sr=sample_rate, target_sr=audio.sampling_rate)
            wave = audio.normalize_volume(wave, audio.audio_norm_target_dBFS, increase_only=True)
        if wave.size == 0:
            raise InvalidArgumentError("waveform", waveform, "holds no speech (empty after silence trimming)")
        return np.asarray(self.model.embed_utterance(wave), dtype=np.float64)


class WavLMEncoder:
    """A ``WavLMForXVector`` checkpoint directory (``config.json``, weights, ``preprocessor_config.json``)."""

    def __init__(self, model_dir: str | os.PathLike[str], *, device: str = "cpu") -> None:
        if not isinstance(model_dir, str | os.PathLike):
            raise InvalidTypeError("model_dir", model_dir, "must be a path to a local model directory")
        path = Path(model_dir)
        if not (path / "config.json").is_file():
            raise InvalidArgumentError("model_dir", os.fspath(model_dir),
                                       "must be a local directory with a config.json")
        transformers = require("transformers", "speaker similarity with WavLM")
        self.extractor = transformers.AutoFeatureExtractor.from_pretrained(str(path), local_files_only=True)
        self.model = transformers.WavLMForXVector.from_pretrained(str(path), local_files_only=True).to(device).eval()
        self.device = device

    def embed(self, waveform: npt.NDArray[np.float32], sample_rate: int) -> npt.NDArray[np.float64]:
        """The x-vector of a mono ``waveform`` [T] at ``sample_rate`` Hz (resampled to the extractor's rate)."""
        import torch

        rate = int(self.extractor.sampling_rate)
        audio = resample(_mono(waveform), sample_rate, rate)
        inputs = self.extractor(audio, sampling_rate=rate, return_tensors="pt").to(self.device)
        with torch.no_grad():
            embedding = self.model(**inputs).embeddings[0]  # [D]
        return np.asarray(embedding.float().cpu().numpy(), dtype=np.float64)
