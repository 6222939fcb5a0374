"""The paper's table: cross-sentence TTS with AR, SD, SSD(β) and PCG(θ), measured end to end.

For each test case (target utterance, prompt utterance of the same speaker):
the prompt audio is encoded by X-codec2 and put in Llasa's prompt with the
prompt text and the target text (:mod:`pcg_verify.tts._prompt`); each method
decodes with pcg_verify.e2e's loop (same seed, same sampling settings, a
monitor fed every verified position); the prompt's codes followed by the
generated codes are decoded to a waveform and the prompt's part cut off (as
Llasa's reference code does); the result is transcribed (WER/CER against the
target text) and compared with the target's original recording (speaker
similarity, Sim-O).

Columns (one row per method): ``speedup`` (decoding tokens/s over AR's on the
same cases; decoding time only: prompt encoding, audio decoding, ASR and
monitors excluded), ``wer``, ``cer`` (fractions, corpus-level), ``similarity``
(mean over utterances with an output), ``acceptance_rate`` (accepted drafts /
drafted), ``mean_accepted_per_block``, and the monitors' verdict (exact KS
tests of the label and accept PIT streams, Bonferroni, stated false-positive
rate). AR, SD and PCG are exact samplers (of the token law, resp. the group
law): a monitor failure there is a bug. SSD is not exact for β > 0, so its
monitors are expected to fail once they have enough records: that row reports
it, and it does not count against the exit code of ``pcg-verify tts``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pcg_core.errors import InvalidArgumentError
from pcg_core.validation import check_choice, check_int, check_probability, check_ssd_tolerance
from pcg_verify.e2e import Monitor, SamplingConfig
from pcg_verify.tts._audio import load_audio, write_wav
from pcg_verify.tts._libritts import TTSCase
from pcg_verify.tts._metrics import ErrorRates, error_rates
from pcg_verify.tts._similarity import speaker_similarity
from pcg_verify.tts._swap import SwapResult, swap_within_groups

__all__ = ["EXACT_METHODS", "MethodRow", "TTSSettings", "TTSSystem", "TTSTable", "run_swap_test", "run_table"]

METHODS = ("ar", "sd", "ssd", "pcg")
#: Methods whose output law is exact (AR, SD: tokens; PCG: groups): their monitors must pass.
EXACT_METHODS = ("ar", "sd", "pcg")
Progress = Callable[[str], None]


@dataclass(frozen=True)
class TTSSettings:
    """How the table is run (the paper: γ = 3, temperature 0.8, β = 0.3)."""

    methods: tuple[str, ...] = METHODS
    gamma: int = 3
    sampling: SamplingConfig = field(default_factory=lambda: SamplingConfig(temperature=0.8))
    beta: float = 0.3
    max_new_tokens: int = 1500  # 30 s of speech at 50 tokens per second
    batch_size: int = 1
    seed: int = 0
    false_positive_rate: float = 1e-3
    reference: str = "decoder"

    def __post_init__(self) -> None:
        if not self.methods:
            raise InvalidArgumentError("methods", self.methods, "must name at least one method")
        for method in self.methods:
            check_choice("methods", method, METHODS)
        check_int("gamma", self.gamma, minimum=1)
        check_ssd_tolerance(self.beta, "beta")
        check_int("max_new_tokens", self.max_new_tokens, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("seed", self.seed, minimum=0)
        check_probability("false_positive_rate", self.false_positive_rate, strict=True)
        check_choice("reference", self.reference, ("decoder", "recompute"))


@dataclass(frozen=True)
class TTSSystem:
    """Everything that turns a case into measurements: the models and the prompter
    (:class:`~pcg_verify.tts.LlasaPrompter`), the codec, a transcriber and a speaker encoder."""

    target: Any
    draft: Any
    prompter: Any
    codec: Any
    asr: Any
    speaker: Any


@dataclass(frozen=True)
class MethodRow:
    """One row of the table (module docstring for the columns)."""

    method: str
    label: str
    stats: dict[str, Any]
    rates: ErrorRates
    similarity: float
    monitor: Any  # pcg_verify.e2e.MonitorResult
    transcripts: tuple[str, ...]
    similarities: tuple[float, ...]
    empty_outputs: int
    speedup: float = math.nan

    @property
    def exact(self) -> bool:
        return self.method in EXACT_METHODS

    def metrics(self) -> dict[str, Any]:
        """The row's columns and evidence as plain numbers (NaN as None)."""
        values = {"speedup": self.speedup, "wer": self.rates.wer, "cer": self.rates.cer,
                  "similarity": self.similarity, "acceptance_rate": self.stats.get("acceptance_rate"),
                  "mean_accepted_per_block": self.stats.get("mean_accepted_per_block"),
                  "tokens_per_second": self.stats.get("tokens_per_second"),
                  "tokens_per_target_call": self.stats.get("tokens_per_target_call"),
                  "target_calls": self.stats["target_calls"], "new_tokens": self.stats["new_tokens"],
                  "decode_seconds": self.stats["seconds"], "utterances": len(self.transcripts),
                  "empty_outputs": self.empty_outputs, "monitor_passed": bool(self.monitor.passed)}
        return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in values.items()}


@dataclass(frozen=True)
class TTSTable:
    """The table's rows, the cases, the settings, the group structure's description and timings."""

    rows: tuple[MethodRow, ...]
    cases: tuple[TTSCase, ...]
    settings: TTSSettings
    groups: dict[str, Any]
    seconds: float
    swap: SwapResult | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Every exact method's monitors passed (SSD's verdict is reported, not required)."""
        return all(row.monitor.passed for row in self.rows if row.exact)


@dataclass(frozen=True)
class _Prepared:
    case: TTSCase
    prompt_codes: tuple[int, ...]
    input_ids: list[int]
    reference: tuple[np.ndarray[Any, Any], int]  # the target's original recording


def _label(method: str, settings: TTSSettings, theta: float | None) -> str:
    if method == "ssd":
        return f"SSD(β={settings.beta:g})"
    if method == "pcg":
        return "PCG" if theta is None else f"PCG(θ={theta:g})"
    return method.upper()


def prepare_cases(cases: Sequence[TTSCase], system: TTSSystem) -> list[_Prepared]:
    """Encode each prompt's audio and build its prompt ids; load each target's original recording."""
    prepared = []
    for case in cases:
        wave, rate = load_audio(case.prompt.audio_path)
        codes = tuple(int(k) for k in system.codec.encode(wave, rate).tolist())
        ids = system.prompter.input_ids(case.prompt.text, case.target.text, codes)
        prepared.append(_Prepared(case, codes, ids, load_audio(case.target.audio_path)))
    return prepared


def run_table(cases: Sequence[TTSCase], system: TTSSystem, settings: TTSSettings, *, groups: Any = None,
              theta: float | None = None, group_info: dict[str, Any] | None = None,
              audio_dir: str | Path | None = None, progress: Progress | None = None) -> TTSTable:
    """Run every method of ``settings`` on ``cases``; ``groups`` (a pcg_core.Groups over the models'
    vocabulary) is required when PCG is among the methods. ``audio_dir``, when given, receives
    ``<method>/<target id>.wav`` (16 kHz) for listening."""
    if not cases:
        raise InvalidArgumentError("cases", cases, "must hold at least one test case")
    if "pcg" in settings.methods and groups is None:
        raise InvalidArgumentError("groups", None, "is required when 'pcg' is among the methods")
    say = progress or (lambda _: None)
    start = time.perf_counter()
    say(f"encoding {len(cases)} prompt(s) with the codec")
    prepared = prepare_cases(cases, system)
    rows = []
    for method in settings.methods:
        say(f"decoding {len(prepared)} case(s) with {method}")
        rows.append(_run_method(method, prepared, system, settings, groups, _label(method, settings, theta),
                                None if audio_dir is None else Path(audio_dir) / method))
    if "ar" in settings.methods:
        base = next(r for r in rows if r.method == "ar").stats.get("tokens_per_second") or math.nan
        rows = [dataclasses.replace(r, speedup=(r.stats.get("tokens_per_second") or math.nan) / base) for r in rows]
    return TTSTable(tuple(rows), tuple(cases), settings, dict(group_info or {}), time.perf_counter() - start)


def _run_method(method: str, prepared: list[_Prepared], system: TTSSystem, settings: TTSSettings, groups: Any,
                label: str, audio_dir: Path | None) -> MethodRow:
    from pcg_verify.e2e import generate

    device = next(system.target.parameters()).device
    generator = torch.Generator(device=device).manual_seed(settings.seed)
    monitor = Monitor(seed=settings.seed, false_positive_rate=settings.false_positive_rate, rows=len(prepared))
    layout = system.prompter.layout
    totals: dict[str, float] = {}
    outputs: list[list[int]] = []
    size = settings.batch_size
    for first in range(0, len(prepared), size):
        chunk = prepared[first:first + size]
        input_ids, mask = system.prompter.batch([p.input_ids for p in chunk])
        part = Monitor(seed=settings.seed, false_positive_rate=settings.false_positive_rate)
        result = generate(system.target, None if method == "ar" else system.draft, input_ids.to(device),
                          attention_mask=mask.to(device), method=method,
                          groups=groups if method == "pcg" else None, gamma=settings.gamma, beta=settings.beta,
                          sampling=settings.sampling, max_new_tokens=settings.max_new_tokens,
                          eos_token_id=layout.speech_end_id, generator=generator, monitor=part,
                          reference=settings.reference)
        monitor.label_horizon, monitor.accept_horizon = part.label_horizon, part.accept_horizon
        monitor.add(dataclasses.replace(r, row=r.row + first) for r in part.records)
        for key, value in result.stats.to_dict().items():
            if key in ("target_calls", "draft_calls", "blocks", "drafted", "accepted", "new_tokens", "seconds",
                       "monitor_seconds"):
                totals[key] = totals.get(key, 0) + value
        outputs.extend(result.sequences)
    stats = _derived(totals)
    references, transcripts, similarities, empty = [], [], [], 0
    for item, sequence in zip(prepared, outputs, strict=True):
        codes = system.prompter.speech_tokens(sequence).codes
        references.append(item.case.target.text)
        if not codes:
            empty += 1
            transcripts.append("")
            similarities.append(math.nan)
            continue
        wave = system.codec.decode(list(item.prompt_codes) + list(codes)).numpy()
        wave = wave[system.codec.hop * len(item.prompt_codes):]  # Llasa's cut: drop the prompt's audio
        if audio_dir is not None:
            write_wav(audio_dir / f"{item.case.target.id}.wav", wave, system.codec.sample_rate)
        transcripts.append(system.asr.transcribe(wave, system.codec.sample_rate))
        similarities.append(_similarity(system.speaker, (wave, system.codec.sample_rate), item.reference))
    rates = error_rates(references, transcripts)
    found = [s for s in similarities if not math.isnan(s)]
    return MethodRow(method, label, stats, rates, float(np.mean(found)) if found else math.nan, monitor.result(),
                     tuple(transcripts), tuple(similarities), empty)


def _derived(totals: dict[str, float]) -> dict[str, Any]:
    """Summed counts and the four rates of pcg_verify.e2e's DecodeStats (NaN when undefined)."""
    out: dict[str, Any] = {k: int(v) if k not in ("seconds", "monitor_seconds") else float(v)
                           for k, v in totals.items()}

    def ratio(a: float, b: float) -> float:
        return a / b if b else math.nan

    out["mean_accepted_per_block"] = ratio(totals.get("accepted", 0), totals.get("blocks", 0))
    out["acceptance_rate"] = ratio(totals.get("accepted", 0), totals.get("drafted", 0))
    out["tokens_per_second"] = ratio(totals.get("new_tokens", 0), totals.get("seconds", 0.0))
    out["tokens_per_target_call"] = ratio(totals.get("new_tokens", 0), totals.get("target_calls", 0))
    return out


def _similarity(encoder: Any, generated: tuple[Any, int], reference: tuple[Any, int]) -> float:
    """Sim-O, or NaN when the encoder finds no speech in the generated audio (counted by the caller)."""
    try:
        return speaker_similarity(encoder, generated, reference)
    except InvalidArgumentError:
        return math.nan


def run_swap_test(cases: Sequence[TTSCase], system: TTSSystem, groups: Any, *, fraction: float = 1.0,
                  seed: int = 0) -> SwapResult:
    """The within-group swap stress test (:mod:`pcg_verify.tts._swap`) on the targets' recordings."""
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    layout = system.prompter.layout
    references: list[str] = []
    plain: list[str] = []
    swapped_text: list[str] = []
    sims_plain: list[float] = []
    sims_swapped: list[float] = []
    tokens = changed = 0
    for case in cases:
        reference = load_audio(case.target.audio_path)
        codes = system.codec.encode(*reference).numpy()
        swapped, count = swap_within_groups(codes, groups, layout, fraction=fraction, rng=rng)
        tokens += codes.size
        changed += count
        references.append(case.target.text)
        rate = system.codec.sample_rate
        for wave_codes, texts, sims in ((codes, plain, sims_plain), (swapped, swapped_text, sims_swapped)):
            wave = system.codec.decode(torch.from_numpy(np.asarray(wave_codes, dtype=np.int64))).numpy()
            texts.append(system.asr.transcribe(wave, rate))
            sims.append(_similarity(system.speaker, (wave, rate), reference))
    base, moved = error_rates(references, plain), error_rates(references, swapped_text)
    return SwapResult(len(cases), tokens, changed / tokens if tokens else math.nan, base.wer, moved.wer, base.cer,
                      moved.cer, float(np.nanmean(sims_plain)) if not np.all(np.isnan(sims_plain)) else math.nan,
                      float(np.nanmean(sims_swapped)) if not np.all(np.isnan(sims_swapped)) else math.nan)
