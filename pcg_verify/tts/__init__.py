"""The paper's end-to-end TTS run: LibriTTS cross-sentence voice cloning with X-codec2, WER/CER and similarity.

Pieces (each usable alone, all from local paths; nothing is fetched from a hub):

- data: :func:`scan_libritts` indexes a local LibriTTS subset,
  :func:`sample_cases` draws the seeded cross-sentence cases (the prompt is
  another utterance of the same speaker);
- prompt: :class:`LlasaPrompter` builds Llasa's chat prompt (text + prompt
  speech tokens) and reads speech tokens back;
- codec: :class:`XCodec2` encodes and decodes (xcodec2 0.1.5 imported through
  the documented shim, :func:`import_xcodec2`), and gives the codec's code
  vectors for the "raw acoustic" grouping ablation;
- metrics: :class:`FasterWhisperASR` / :class:`TransformersASR`,
  :func:`error_rates` (jiwer, with :func:`normalize_text`),
  :class:`ResemblyzerEncoder` / :class:`WavLMEncoder` and
  :func:`speaker_similarity`;
- the table: :func:`run_table` (AR, SD, SSD(β), PCG(θ) through
  :func:`pcg_verify.e2e.generate`, with monitors), :func:`run_swap_test`
  (within-group swaps), :func:`write_table_report`.

A lazy façade (PEP 562): importing this package loads none of the optional
packages of the ``tts`` extra (xcodec2, faster-whisper, resemblyzer, jiwer,
transformers); each is imported where it is used, and a missing one raises
:class:`MissingExtraError` with the install command. See docs/tts.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pcg_core.lazy import lazy_attributes

if TYPE_CHECKING:
    from pcg_verify.tts._asr import FasterWhisperASR, Transcriber, TransformersASR
    from pcg_verify.tts._audio import load_audio, resample, write_wav
    from pcg_verify.tts._codec import CODEC_HOP, CODEC_NUM_CODES, CODEC_SAMPLE_RATE, XCodec2
    from pcg_verify.tts._extras import INSTALL_COMMAND, MissingExtraError
    from pcg_verify.tts._libritts import CaseSample, LibriTTSIndex, TTSCase, Utterance, sample_cases, scan_libritts
    from pcg_verify.tts._metrics import ErrorRates, error_rates, normalize_text
    from pcg_verify.tts._pipeline import MethodRow, TTSSettings, TTSSystem, TTSTable, run_swap_test, run_table
    from pcg_verify.tts._prompt import LlasaPrompter, SpeechTokens
    from pcg_verify.tts._report import format_table, table_results, write_table_report
    from pcg_verify.tts._shim import import_xcodec2
    from pcg_verify.tts._similarity import ResemblyzerEncoder, SpeakerEncoder, WavLMEncoder, speaker_similarity
    from pcg_verify.tts._swap import SwapResult, swap_within_groups
    from pcg_verify.tts._tiny import fsq_prefix_groups, tiny_llasa, tiny_llasa_tokenizer

__all__ = [
    "CODEC_HOP",
    "CODEC_NUM_CODES",
    "CODEC_SAMPLE_RATE",
    "INSTALL_COMMAND",
    "CaseSample",
    "ErrorRates",
    "FasterWhisperASR",
    "LibriTTSIndex",
    "LlasaPrompter",
    "MethodRow",
    "MissingExtraError",
    "ResemblyzerEncoder",
    "SpeakerEncoder",
    "SpeechTokens",
    "SwapResult",
    "TTSCase",
    "TTSSettings",
    "TTSSystem",
    "TTSTable",
    "Transcriber",
    "TransformersASR",
    "Utterance",
    "WavLMEncoder",
    "XCodec2",
    "error_rates",
    "format_table",
    "fsq_prefix_groups",
    "import_xcodec2",
    "load_audio",
    "normalize_text",
    "resample",
    "run_swap_test",
    "run_table",
    "sample_cases",
    "scan_libritts",
    "speaker_similarity",
    "swap_within_groups",
    "table_results",
    "tiny_llasa",
    "tiny_llasa_tokenizer",
    "write_table_report",
    "write_wav",
]

_HOME = {
    "pcg_verify.tts._asr": ("FasterWhisperASR", "Transcriber", "TransformersASR"),
    "pcg_verify.tts._audio": ("load_audio", "resample", "write_wav"),
    "pcg_verify.tts._codec": ("CODEC_HOP", "CODEC_NUM_CODES", "CODEC_SAMPLE_RATE", "XCodec2"),
    "pcg_verify.tts._extras": ("INSTALL_COMMAND", "MissingExtraError"),
    "pcg_verify.tts._libritts": ("CaseSample", "LibriTTSIndex", "TTSCase", "Utterance", "sample_cases",
                                 "scan_libritts"),
    "pcg_verify.tts._metrics": ("ErrorRates", "error_rates", "normalize_text"),
    "pcg_verify.tts._pipeline": ("MethodRow", "TTSSettings", "TTSSystem", "TTSTable", "run_swap_test", "run_table"),
    "pcg_verify.tts._prompt": ("LlasaPrompter", "SpeechTokens"),
    "pcg_verify.tts._report": ("format_table", "table_results", "write_table_report"),
    "pcg_verify.tts._shim": ("import_xcodec2",),
    "pcg_verify.tts._similarity": ("ResemblyzerEncoder", "SpeakerEncoder", "WavLMEncoder", "speaker_similarity"),
    "pcg_verify.tts._swap": ("SwapResult", "swap_within_groups"),
    "pcg_verify.tts._tiny": ("fsq_prefix_groups", "tiny_llasa", "tiny_llasa_tokenizer"),
}
_MODULE_OF = {name: module for module, names in _HOME.items() for name in names}


__getattr__, __dir__ = lazy_attributes(__name__, _MODULE_OF, __all__)
