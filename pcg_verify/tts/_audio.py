"""Mono WAV input/output and resampling with numpy and scipy only (no audio library needed).

Waveforms are float32 arrays [T] in [-1, 1] with their sample rate in Hz.
"""

from __future__ import annotations

import math
import os

import numpy as np
import numpy.typing as npt

from pcg_core.atomic import atomic_writer
from pcg_core.errors import InvalidArgumentError
from pcg_core.validation import check_int

__all__ = ["load_audio", "resample", "write_wav"]


def load_audio(path: str | os.PathLike[str]) -> tuple[npt.NDArray[np.float32], int]:
    """A mono WAV file as float32 samples in [-1, 1] and its sample rate (PCM 8/16/32-bit or float WAV).

    Raises :class:`InvalidArgumentError` for a multi-channel file (nothing is mixed down silently).
    """
    from scipy.io import wavfile

    rate, data = wavfile.read(os.fspath(path))
    if data.ndim != 1:
        raise InvalidArgumentError("path", os.fspath(path), f"must be a mono WAV file (it has {data.shape[1]} "
                                   "channels)")
    if data.dtype == np.uint8:
        samples = (data.astype(np.float32) - 128.0) / 128.0
    elif np.issubdtype(data.dtype, np.integer):
        samples = data.astype(np.float32) / float(np.iinfo(data.dtype).max + 1)
    else:
        samples = data.astype(np.float32)
    return samples, int(rate)


def write_wav(path: str | os.PathLike[str], waveform: npt.ArrayLike, sample_rate: int) -> None:
    """Write a mono float waveform [T] as 16-bit PCM WAV, atomically (values clipped to [-1, 1])."""
    from scipy.io import wavfile

    rate = check_int("sample_rate", sample_rate, minimum=1)
    wave = np.asarray(waveform, dtype=np.float64)
    if wave.ndim != 1:
        raise InvalidArgumentError("waveform", wave, "must be one-dimensional [T] (a mono signal)")
    pcm = np.round(np.clip(wave, -1.0, 1.0) * 32767.0).astype(np.int16)
    with atomic_writer(path, "wb") as handle:
        wavfile.write(handle, rate, pcm)


def resample(waveform: npt.ArrayLike, source_rate: int, target_rate: int) -> npt.NDArray[np.float32]:
    """``waveform`` [T] resampled from ``source_rate`` to ``target_rate`` Hz by polyphase filtering
    (``scipy.signal.resample_poly`` with the reduced ratio up/down): float32 [ceil(T·up/down)]."""
    source = check_int("source_rate", source_rate, minimum=1)
    target = check_int("target_rate", target_rate, minimum=1)
    wave = np.asarray(waveform, dtype=np.float64)
    if wave.ndim != 1:
        raise InvalidArgumentError("waveform", wave, "must be one-dimensional [T] (a mono signal)")
    if source == target:
        return wave.astype(np.float32)
    from scipy.signal import resample_poly

    common = math.gcd(source, target)
    return np.asarray(resample_poly(wave, target // common, source // common), dtype=np.float32)
