"""The end-to-end run behind ``pcg-verify e2e``: load a target/draft pair, decode, monitor, report.

Each method run (plus plain AR as the speed baseline) becomes one ``e2e``
record of the reliability report (:mod:`pcg_verify.reliability`): metrics
(tokens/s, speedup vs AR, mean accepted drafts per block, acceptance rate,
tokens per target call), tests (the monitors' KS tests) and failures, each
ending with the command that reproduces it.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pcg_core.errors import InvalidArgumentError
from pcg_core.validation import check_choice, check_int, check_real
from pcg_verify.e2e._layout import LLASA_VOCAB_SIZE, SpeechLayout

__all__ = ["DEFAULT_PROMPTS", "E2EOutcome", "read_prompts", "run_e2e"]

#: Prompts drawn when no ``--prompts`` file is given (seeded ids from the speech range).
DEFAULT_PROMPTS = 4
_DEFAULT_PROMPT_LENGTH = 4


@dataclass(frozen=True)
class E2EOutcome:
    """What :func:`run_e2e` returns: one report record per run, the printed table and the verdict."""

    runs: list[dict[str, Any]]
    lines: list[str]
    passed: bool
    results: dict[str, Any] = field(default_factory=dict)


def read_prompts(path: str | os.PathLike[str], vocab_size: int) -> list[list[int]]:
    """Prompts from a text file: one per line, token ids separated by spaces or commas; blank lines skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidArgumentError("--prompts", os.fspath(path), f"cannot be read: {error}") from None
    prompts = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.replace(",", " ").split()
        if not fields:
            continue
        try:
            ids = [int(value) for value in fields]
        except ValueError:
            raise InvalidArgumentError("--prompts", os.fspath(path),
                                       f"line {number} must hold integer token ids") from None
        bad = [i for i in ids if not 0 <= i < vocab_size]
        if bad:
            raise InvalidArgumentError("--prompts", os.fspath(path),
                                       f"line {number}: id {bad[0]} is outside the vocabulary [0, {vocab_size})")
        prompts.append(ids)
    if not prompts:
        raise InvalidArgumentError("--prompts", os.fspath(path), "holds no prompt")
    return prompts


def _layout(vocab: int, speech_offset: int | None, num_speech: int | None) -> SpeechLayout:
    if (speech_offset is None) != (num_speech is None):
        raise InvalidArgumentError("--speech-offset", speech_offset, "comes with --num-speech (both or neither)")
    if speech_offset is not None and num_speech is not None:
        return SpeechLayout(vocab, speech_offset, num_speech)
    if vocab >= LLASA_VOCAB_SIZE:
        return SpeechLayout.llasa(vocab)
    return SpeechLayout(vocab, 0, vocab)  # no layout given: every id is grouped


def _load(name: str, directory: str, device: str) -> Any:
    from transformers import AutoModelForCausalLM

    if not Path(directory).is_dir():
        raise InvalidArgumentError(name, directory, "must be a directory written by save_pretrained")
    try:
        model = AutoModelForCausalLM.from_pretrained(directory, local_files_only=True)
    except (OSError, ValueError) as error:
        raise InvalidArgumentError(name, directory, f"cannot be loaded: {error}") from None
    return model.to(device).eval()  # type: ignore[arg-type]


def _batch(prompts: list[list[int]], device: str) -> tuple[Any, Any]:
    """Left-padded input_ids and attention_mask [B, L]."""
    import torch

    width = max(len(p) for p in prompts)
    ids = torch.zeros(len(prompts), width, dtype=torch.int64)
    mask = torch.zeros(len(prompts), width, dtype=torch.int64)
    for b, prompt in enumerate(prompts):
        ids[b, width - len(prompt):] = torch.tensor(prompt)
        mask[b, width - len(prompt):] = 1
    return ids.to(device), mask.to(device)


def run_e2e(*, target: str, draft: str | None, method: str, theta: float = 0.4, top_k_groups: int | None = None,
            gamma: int = 3, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
            beta: float = 0.3, device: str = "cpu", prompts: str | os.PathLike[str] | None = None,
            max_new_tokens: int = 64, seed: int = 0, groups_cache: str | os.PathLike[str] | None = None,
            speech_offset: int | None = None, num_speech: int | None = None, baseline: bool = True,
            reference: str = "decoder", ignore_eos: bool = False, false_positive_rate: float = 1e-3,
            command: str | None = None) -> E2EOutcome:
    """Decode with ``method`` (and AR as the baseline unless ``baseline=False``) and monitor every run.

    Models load with ``AutoModelForCausalLM.from_pretrained(DIR, local_files_only=True)``.
    Returns the report records, the printed lines and the verdict (every
    run's monitors pass); ``results`` holds the report envelope.
    """
    import torch

    from pcg_verify.e2e._decode import METHODS, REFERENCES, generate
    from pcg_verify.e2e._layout import groups_from_model
    from pcg_verify.e2e._monitor import Monitor
    from pcg_verify.e2e._sampling import SamplingConfig
    from pcg_verify.reliability import e2e_results

    method = check_choice("--method", method, METHODS)
    reference = check_choice("--reference", reference, REFERENCES)
    device = check_choice("--device", device, ("cpu", "cuda"))
    check_real("--theta", theta, minimum=-1.0, maximum=1.0)
    gamma = check_int("--gamma", gamma, minimum=1)
    max_new_tokens = check_int("--max-new-tokens", max_new_tokens, minimum=1)
    seed = check_int("--seed", seed, minimum=0)
    sampling = SamplingConfig(temperature, top_k, top_p)
    if method != "ar" and draft is None:
        raise InvalidArgumentError("--draft", None, f"is required for --method {method}")
    if device == "cuda" and not torch.cuda.is_available():
        raise InvalidArgumentError("--device", device, "no CUDA device is available")
    started = time.perf_counter()
    target_model = _load("--target", target, device)
    draft_model = None if method == "ar" or draft is None else _load("--draft", draft, device)
    vocab = int(target_model.get_output_embeddings().weight.shape[0])
    if draft_model is not None and int(draft_model.get_output_embeddings().weight.shape[0]) != vocab:
        raise InvalidArgumentError("--draft", draft, f"has another vocabulary than the target ({vocab} ids)")
    layout = _layout(vocab, speech_offset, num_speech)
    groups = None
    if method == "pcg":
        groups = groups_from_model(target_model, layout, theta=theta, top_k=top_k_groups,
                                   cache=groups_cache).to(device)
    if prompts is not None:
        prompt_ids = read_prompts(prompts, vocab)
    else:
        g = torch.Generator().manual_seed(seed)
        start, stop = layout.speech_range
        prompt_ids = torch.randint(start, stop, (DEFAULT_PROMPTS, _DEFAULT_PROMPT_LENGTH), generator=g).tolist()
    input_ids, mask = _batch(prompt_ids, device)
    eos = None if ignore_eos else getattr(target_model.generation_config, "eos_token_id", None)
    methods = (["ar"] if baseline and method != "ar" else []) + [method]
    runs: list[dict[str, Any]] = []
    lines = [f"{'method':<6} {'tok/s':>9} {'speedup':>8} {'tok/call':>9} {'acc/block':>10} {'acc.rate':>9}  monitors"]
    ar_speed = math.nan
    for name in methods:
        monitor = Monitor(seed=seed, false_positive_rate=false_positive_rate)
        out = generate(target_model, draft_model, input_ids, attention_mask=mask, method=name, groups=groups,
                       gamma=gamma, beta=beta, sampling=sampling, max_new_tokens=max_new_tokens, eos_token_id=eos,
                       generator=torch.Generator(device=device).manual_seed(seed), monitor=monitor,
                       reference=reference)
        verdict = monitor.result()
        stats = out.stats
        if name == "ar":
            ar_speed = stats.tokens_per_second
        speedup = stats.tokens_per_second / ar_speed if ar_speed == ar_speed else math.nan
        metrics = {**stats.to_dict(), "speedup_vs_ar": None if math.isnan(speedup) else speedup,
                   "gamma": gamma, "rows": len(prompt_ids)}
        label = f"{name}(β={beta:g})" if name == "ssd" else name
        failures = [] if verdict.passed else [
            f"{label}: monitor stream {s.name!r} rejects uniformity (KS p={s.pvalue:.3g}, adjusted "
            f"{s.adjusted_pvalue:.3g} <= {false_positive_rate:g}). Reproduce: {command or 'pcg-verify e2e ...'}"
            for s in verdict.streams if s.rejected]
        tests = [{"name": f"{s.name} PIT (KS)", "statistic": s.statistic, "pvalue": s.pvalue,
                  "adjusted_pvalue": s.adjusted_pvalue, "n_samples": s.n_samples, "n_padded": s.n_padded,
                  "n_dropped": s.n_dropped, "detectable": s.detectable,
                  **({} if s.observed_accepts is None else {"observed_accepts": s.observed_accepts,
                                                             "expected_accepts": s.expected_accepts})}
                 for s in verdict.streams]
        runs.append({"name": label, "verdict": "pass" if verdict.passed else "fail", "metrics": metrics,
                     "tests": tests, "failures": failures,
                     "summary": f"{label} on {len(prompt_ids)} prompt(s), {max_new_tokens} new tokens at most, "
                                f"γ={gamma}, {sampling}, reference={reference}; " + verdict.summary().splitlines()[0]})
        lines.append(f"{label:<6} {stats.tokens_per_second:>9.1f} {speedup:>7.2f}x "
                     f"{stats.tokens_per_target_call:>9.3f} {_fmt(stats.mean_accepted_per_block):>10} "
                     f"{_fmt(stats.acceptance_rate):>9}  {'PASS' if verdict.passed else 'FAIL'}")
        lines += ["    " + line for line in verdict.summary().splitlines()[1:]]
    passed = all(run["verdict"] == "pass" for run in runs)
    results = e2e_results(runs, duration_seconds=time.perf_counter() - started, command=command)
    return E2EOutcome(runs, lines, passed, results)


def _fmt(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3f}"


def e2e_command(args: Any, out: Any, command: str) -> int:
    """``pcg-verify e2e``: run, print, write ``--report DIR`` and ``--json PATH``; the exit code (0/1)."""
    from pcg_core.atomic import writable_path, write_text_atomic
    from pcg_verify.reliability import check_report_directory, results_json, write_report

    if args.report:
        check_report_directory(args.report, "--report")
    if args.json:
        writable_path("--json", args.json)
    outcome = run_e2e(target=args.target, draft=args.draft, method=args.method, theta=args.theta,
                      top_k_groups=args.top_k_groups, gamma=args.gamma, temperature=args.temperature,
                      top_k=args.top_k, top_p=args.top_p, beta=args.beta, device=args.device, prompts=args.prompts,
                      max_new_tokens=args.max_new_tokens, seed=args.seed, groups_cache=args.groups_cache,
                      speech_offset=args.speech_offset, num_speech=args.num_speech, baseline=not args.no_baseline,
                      reference=args.reference, ignore_eos=args.ignore_eos, command=command)
    text = "\n".join(outcome.lines)
    if args.report:
        text += f"\nreport page: {write_report(args.report, outcome.results)}"
    if args.json:
        text += f"\nresults written to {write_text_atomic(args.json, results_json(outcome.results))}"
    out(text)
    return 0 if outcome.passed else 1
