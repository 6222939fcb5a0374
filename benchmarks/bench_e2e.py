"""Wall-clock speed of AR, SD, SSD(0.3) and PCG on a trained toy pair, with the monitors' verdicts and a cost model.

The pair (``--pair``, :data:`pcg_verify.e2e._toy.TOY_PAIRS`) is trained here on the synthetic speech-token
language with hidden acoustic clusters (seeded), or loaded from ``--models DIR`` (``DIR/target``,
``DIR/draft``, written by ``--save DIR``). ``sized`` (the default) has a target whose forward pass costs over
ten times its draft's, like a real pair; ``small`` is the tests' pair, whose target costs about as much as
its draft (every speculative method then loses to AR).

Each seed draws its own prompts and decodes them with every method ``--repeats`` times, the methods
interleaved in a rotated order so that the load of a shared machine falls on all of them alike; a repeat
decodes the same tokens (same seed), so only its clock differs, and the fastest repeat counts (the others
were slowed by other work). The monitors watch the first repeat (family-wise false-positive rate 1e-3 per
run). The table gives per method: tokens per target call, accepted drafts per block, acceptance rate,
tokens/s and speedup vs AR of the same seed as median [min–max] over the seeds, and the monitors' verdicts.
SSD is not exact, so its monitors may fail: that is what they are for.

The cost model comes from separate instrumented runs of the same seeds (wrappers set from this file around
the loop's model passes, draft sampling, cache rollback and pcg_core's verify callables; the loop itself is
unchanged): the per-pass costs of the draft (1 token per row) and the target (1 token per row in AR, γ+1 in
a block), their ratio, the speedup the block structure predicts from them and the measured tokens per
block, τ · T(1) / (γ · D + T(γ+1)), and where PCG's time goes. On CUDA every timer synchronizes first.

    python benchmarks/bench_e2e.py [--pair sized|small] [--device cpu|cuda] [--rows 4] [--max-new-tokens 128]
                                   [--seeds 5] [--repeats 3] [--gamma 3] [--theta 0.5] [--beta 0.3]
                                   [--models DIR | --save DIR] [--reference decoder|recompute] [--threads 1]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pcg_core
from pcg_verify.e2e import Monitor, SpeechLayout, _decode, generate, groups_from_model
from pcg_verify.e2e._toy import TOY_PAIRS, ToyLanguage, ToyPair, neighbour_purity

LAYOUT = SpeechLayout(vocab_size=8 + 128, speech_offset=8, num_speech=128, speech_start_id=1, speech_end_id=2)
LANGUAGE = ToyLanguage(LAYOUT, clusters=16, cluster_size=8, successors=2, fine_peak=0.9, seed=0)
METHODS = ("ar", "sd", "ssd", "pcg")
VERIFIERS = ("verify", "standard_verify", "ssd_verify")
#: The parts of a run's decoding time, in the order printed.
PARTS = ("drafting", "target passes", "verification", "cache rollback", "other")


def pair(config: ToyPair, models: str | None, save: str | None) -> tuple[Any, Any, float]:
    """(target, draft, training seconds)."""
    if models:
        from transformers import AutoModelForCausalLM

        load = AutoModelForCausalLM.from_pretrained
        return (load(Path(models) / "target", local_files_only=True).eval(),
                load(Path(models) / "draft", local_files_only=True).eval(), 0.0)
    start = time.perf_counter()
    target, draft = config.train(LANGUAGE)
    seconds = time.perf_counter() - start
    if save:
        target.save_pretrained(Path(save) / "target")
        draft.save_pretrained(Path(save) / "draft")
    return target, draft, seconds


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously; a timer must not stop before it)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------------------- instrumentation
@dataclass
class Timings:
    """Seconds spent in each part of one instrumented run's decoding loop, and the model passes one by one."""

    parts: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PARTS[:-1], 0.0))
    draft_passes: list[float] = field(default_factory=list)
    target_passes: list[float] = field(default_factory=list)
    active: bool = False


@contextlib.contextmanager
def instrumented(target: Any, device: torch.device) -> Iterator[Timings]:
    """Time the loop's parts from outside while the context is open: each model pass
    (``_CachedModel.forward``), the draft's block (``_Loop._draft``: its passes and its sampling), cache
    rollback (``_CachedModel.keep_last`` and ``select``) and pcg_core's verify callables, only inside
    ``_Loop.run`` (the time ``DecodeStats.seconds`` counts; prefill is outside it)."""
    timings = Timings()

    def timed(function: Callable[..., Any], record: Callable[[Any, float], None]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not timings.active:
                return function(*args, **kwargs)
            synchronize(device)
            start = time.perf_counter()
            result = function(*args, **kwargs)
            synchronize(device)
            record(args[0] if args else None, time.perf_counter() - start)
            return result

        return wrapper

    def add(part: str) -> Callable[[Any, float], None]:
        def record(_: Any, seconds: float) -> None:
            timings.parts[part] += seconds

        return record

    def model_pass(stream: Any, seconds: float) -> None:
        if stream.model is target:
            timings.parts["target passes"] += seconds
            timings.target_passes.append(seconds)
        else:
            timings.draft_passes.append(seconds)  # inside _draft: counted there, as drafting

    run = _decode._Loop.run

    def timed_run(loop: Any) -> Any:
        synchronize(device)  # prefill, queued in the loop's constructor, must not leak into its timer
        timings.active = True
        try:
            return run(loop)
        finally:
            timings.active = False

    with contextlib.ExitStack() as stack:
        patch = stack.enter_context
        patch(mock.patch.object(_decode._Loop, "run", timed_run))
        patch(mock.patch.object(_decode._Loop, "_draft", timed(_decode._Loop._draft, add("drafting"))))
        patch(mock.patch.object(_decode._CachedModel, "forward", timed(_decode._CachedModel.forward, model_pass)))
        for name in ("keep_last", "select"):
            method = getattr(_decode._CachedModel, name)
            patch(mock.patch.object(_decode._CachedModel, name, timed(method, add("cache rollback"))))
        for name in VERIFIERS:
            patch(mock.patch.object(pcg_core, name, timed(getattr(pcg_core, name), add("verification"))))
        yield timings


@contextlib.contextmanager
def synchronized_start(device: torch.device) -> Iterator[None]:
    """On CUDA, wait for the prefill passes (queued asynchronously in the loop's constructor) before the loop
    starts its timer; its timer stops after the last block, which reads its tokens back to the host (a
    synchronization). On the CPU there is nothing to wait for and nothing is wrapped."""
    if device.type != "cuda":
        yield
        return
    run = _decode._Loop.run

    def synchronized_run(loop: Any) -> Any:
        synchronize(device)
        return run(loop)

    with mock.patch.object(_decode._Loop, "run", synchronized_run):
        yield


# ---------------------------------------------------------------------------- statistics and printing
def spread(values: list[float], fmt: str) -> str:
    """``median [min–max]``."""
    return f"{format(statistics.median(values), fmt)} [{format(min(values), fmt)}–{format(max(values), fmt)}]"


def load() -> str:
    """The machine's 1-minute load average over its CPU count (timings on a shared machine vary with it)."""
    if not hasattr(os, "getloadavg"):
        return "load unknown"
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pair", choices=sorted(TOY_PAIRS), default="sized")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--seeds", type=int, default=5, help="decoding seeds (each its own prompts)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each seed and method, interleaved; the fastest counts")
    parser.add_argument("--gamma", type=int, default=3)
    parser.add_argument("--theta", type=float, default=0.5)
    parser.add_argument("--beta", type=float, default=0.3)
    parser.add_argument("--models", default=None, help="load DIR/target and DIR/draft instead of training")
    parser.add_argument("--save", default=None, help="save the trained pair to DIR/target and DIR/draft")
    parser.add_argument("--reference", choices=("decoder", "recompute"), default="decoder")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is fastest for tiny models)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    config = TOY_PAIRS[args.pair]
    theta = args.theta
    target, draft, trained = pair(config, args.models, args.save)
    target, draft = target.to(device), draft.to(device)
    start, stop = LAYOUT.speech_range
    purity = neighbour_purity(target.get_input_embeddings().weight.detach()[start:stop].cpu(),
                              torch.arange(stop - start) // LANGUAGE.cluster_size)
    groups = groups_from_model(target, LAYOUT, theta=theta).to(device)
    sizes = {name: sum(p.numel() for p in model.parameters()) / 1e6 for name, model in (("target", target),
                                                                                        ("draft", draft))}
    source = f"loaded from {args.models}" if args.models else f"trained in {trained:.1f} s"
    print(f"toy pair {config.name!r}: target {target.config.num_hidden_layers}×{target.config.hidden_size} "
          f"({sizes['target']:.2f} M parameters), draft {draft.config.num_hidden_layers}×{draft.config.hidden_size} "
          f"({sizes['draft']:.3f} M), {source}; neighbour purity {purity:.3f}; groups θ={theta}: mean size "
          f"{float(groups.sizes()[start:stop].double().mean()):.2f}")
    print(f"{args.rows} rows × {args.max_new_tokens} tokens, γ={args.gamma}, {args.seeds} seeds × fastest of "
          f"{args.repeats} runs, device "
          f"{args.device}, {torch.get_num_threads()} thread(s); {load()}")

    def decode(method: str, prompts: torch.Tensor, seed: int, tokens: int, monitor: Monitor | None) -> Any:
        synchronize(device)
        with synchronized_start(device):
            out = generate(target, draft, prompts, method=method, groups=groups, gamma=args.gamma, beta=args.beta,
                           max_new_tokens=tokens, eos_token_id=None,
                           generator=torch.Generator(device).manual_seed(seed), monitor=monitor,
                           reference=args.reference)
        synchronize(device)
        return out.stats

    warm = LANGUAGE.sample(args.rows, 6, torch.Generator().manual_seed(10_000)).to(device)
    for method in METHODS:
        decode(method, warm, 9, min(16, args.max_new_tokens), None)

    stats: dict[str, list[Any]] = defaultdict(list)
    verdicts: dict[str, list[Any]] = defaultdict(list)
    timings: dict[str, list[tuple[Timings, Any]]] = defaultdict(list)
    for seed in range(args.seeds):
        prompts = LANGUAGE.sample(args.rows, 6, torch.Generator().manual_seed(seed)).to(device)
        order = METHODS[seed % len(METHODS):] + METHODS[: seed % len(METHODS)]
        best: dict[str, Any] = {}
        best_timed: dict[str, tuple[Timings, Any]] = {}
        for repeat in range(args.repeats):  # the same seed decodes the same tokens: only the clock differs
            for method in order:
                monitor = Monitor(seed=seed) if repeat == 0 else None
                run = decode(method, prompts, 1 + seed, args.max_new_tokens, monitor)
                if monitor is not None:
                    verdicts[method].append(monitor.result())
                if method not in best or run.seconds < best[method].seconds:
                    best[method] = run
                with instrumented(target, device) as timed:  # once more, instrumented, for the cost model
                    again = decode(method, prompts, 1 + seed, args.max_new_tokens, None)
                if method not in best_timed or again.seconds < best_timed[method][1].seconds:
                    best_timed[method] = (timed, again)
        for method in METHODS:
            stats[method].append(best[method])
            timings[method].append(best_timed[method])

    # ------------------------------------------------------------------ the table
    speed = {m: [s.tokens_per_second for s in stats[m]] for m in METHODS}
    speedup = {m: [a / b for a, b in zip(speed[m], speed["ar"], strict=True)] for m in METHODS}
    print()
    header = (f"{'method':<9} {'tok/call':>8} {'acc/block':>9} {'acc.rate':>8} {'tok/s median [min–max]':>24} "
              f"{'speedup vs AR':>20}  monitors (runs that pass; worst adjusted p)")
    print(header)
    print("-" * len(header))
    for method in METHODS:
        runs = stats[method]
        name = f"ssd({args.beta:g})" if method == "ssd" else method
        accepted = "-" if method == "ar" else f"{statistics.median(s.mean_accepted_per_block for s in runs):.3f}"
        rate = "-" if method == "ar" else f"{statistics.median(s.acceptance_rate for s in runs):.3f}"
        passed = sum(r.passed for r in verdicts[method])
        worst = min(min(s.adjusted_pvalue for s in r.streams) for r in verdicts[method])
        verdict = f"{'PASS' if passed == len(runs) else 'FAIL'}: {passed}/{len(runs)} pass (worst p {worst:.2g})"
        print(f"{name:<9} {statistics.median(s.tokens_per_target_call for s in runs):>8.3f} {accepted:>9} "
              f"{rate:>8} {spread(speed[method], '.1f'):>24} {spread(speedup[method], '.2f') + 'x':>20}  {verdict}")
    ratio = [a / b for a, b in zip(speed["pcg"], speed["sd"], strict=True)]
    print(f"PCG / SD tokens/s: {spread(ratio, '.2f')}x")

    # ------------------------------------------------------------------ the cost model
    speculative = METHODS[1:]

    def passes(methods: tuple[str, ...], kind: str) -> list[float]:
        return [t for m in methods for timed, _ in timings[m] for t in getattr(timed, kind)]

    def seconds(method: str) -> float:
        return float(sum(run.seconds for _, run in timings[method]))

    draft_cost = statistics.fmean(passes(speculative, "draft_passes"))
    target_one = statistics.fmean(passes(("ar",), "target_passes"))
    target_block = statistics.fmean(passes(speculative, "target_passes"))
    block = args.gamma * draft_cost + target_block
    print()
    print(f"cost per forward pass (mean over the instrumented runs): draft D = {ms(draft_cost)} (1 token/row), "
          f"target T(1) = {ms(target_one)} (AR, 1 token/row), T({args.gamma + 1}) = {ms(target_block)} (a block's "
          f"γ+1 tokens/row)")
    print(f"cost ratio target/draft per token: T(1)/D = {target_one / draft_cost:.1f}x; "
          f"T({args.gamma + 1})/T(1) = {target_block / target_one:.2f}; a block's passes γ·D + T(γ+1) = {ms(block)}")
    print("block model: a block emits τ tokens for γ·D + T(γ+1), AR one token for T(1), so the speedup is")
    print("  τ·T(1)/(γ·D + T(γ+1)); τ per row = 1 + accepted drafts; τ per pass = tokens per row / batched passes")
    print("  (the batch waits for its slowest row); 'instrumented' = the instrumented runs' own speedup (their")
    print("  time outside the model passes included)")
    print(f"{'method':<9} {'τ/row':>6} {'τ/pass':>6} {'predicted (τ/row)':>17} {'predicted (τ/pass)':>18} "
          f"{'instrumented':>12} {'measured':>20}")
    for method in speculative:
        tau_row = statistics.median(s.tokens_per_target_call for s in stats[method])
        tokens = sum(run.new_tokens / args.rows for _, run in timings[method])
        tau_pass = tokens / len(passes((method,), "target_passes"))
        instrumented_speedup = seconds("ar") / seconds(method)
        name = f"ssd({args.beta:g})" if method == "ssd" else method
        print(f"{name:<9} {tau_row:>6.3f} {tau_pass:>6.3f} {tau_row * target_one / block:>16.2f}x "
              f"{tau_pass * target_one / block:>17.2f}x {instrumented_speedup:>11.2f}x "
              f"{spread(speedup[method], '.2f') + 'x':>20}")

    # ------------------------------------------------------------------ where the time goes
    print()
    print("where the decoding time goes (instrumented runs, all seeds; other = sampling q, bookkeeping, the rest)")
    print(f"{'method':<9} {'seconds':>8} {'vs plain':>8}  " + "  ".join(f"{p:>18}" for p in PARTS))
    for method in METHODS:
        total = seconds(method)
        parts = {p: sum(timed.parts[p] for timed, _ in timings[method]) for p in PARTS[:-1]}
        parts["other"] = total - sum(parts.values())
        plain = sum(s.seconds for s in stats[method])
        name = f"ssd({args.beta:g})" if method == "ssd" else method
        cells = "  ".join(f"{parts[p] * 1e3:>9.0f} ms {parts[p] / total:>4.0%}" for p in PARTS)
        print(f"{name:<9} {total:>8.3f} {total / plain:>7.2f}x  {cells}")
    print(f"at the end: {load()}")
    runs = timings["pcg"]
    share = [100 * timed.parts["verification"] / run.seconds for timed, run in runs]
    passes_share = [100 * sum(timed.draft_passes) / timed.parts["drafting"] for timed, _ in runs]
    per_block = sum(timed.parts["verification"] for timed, _ in runs) / len(passes(("pcg",), "target_passes"))
    print(f"PCG per seed: verification (pcg_core verify) {spread(share, '.1f')} % of the decoding time, "
          f"{ms(per_block)} per block; the draft's passes are {spread(passes_share, '.0f')} % of drafting (the rest "
          f"is sampling x_i ~ p_i)")
    outside = {m: 1 - (sum(passes((m,), "draft_passes")) + sum(passes((m,), "target_passes"))) / seconds(m)
               for m in METHODS}
    print("time outside the model passes (sampling, verification, rollback, the rest): "
          + ", ".join(f"{m} {outside[m]:.1%}" for m in METHODS))

if __name__ == "__main__":
    main()
