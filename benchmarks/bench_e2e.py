"""End-to-end decoding on the toy trained pair: AR, SD, SSD(0.3) and PCG, with the monitors' verdicts.

Trains the pair of tests/e2e (a target and a smaller draft on the synthetic speech-token language with
hidden acoustic clusters; seeded) or loads it from ``--models DIR`` (``DIR/target``, ``DIR/draft``, written
by ``--save DIR``), then prints one row per method: tokens per target call, mean accepted drafts per block,
acceptance rate, tokens/s and speedup vs AR, and the monitors' verdict (family-wise false-positive rate
1e-3 per run). SSD is not exact, so its monitors may fail: that is what they are for.

    python benchmarks/bench_e2e.py [--device cpu|cuda] [--rows 16] [--max-new-tokens 64] [--gamma 3]
                                   [--theta 0.5] [--models DIR | --save DIR] [--reference decoder|recompute]
                                   [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from pcg_verify.e2e import Monitor, SpeechLayout, generate, groups_from_model
from pcg_verify.e2e._toy import ToyLanguage, neighbour_purity, tiny_llama, train_lm

LAYOUT = SpeechLayout(vocab_size=8 + 128, speech_offset=8, num_speech=128, speech_start_id=1, speech_end_id=2)
LANGUAGE = ToyLanguage(LAYOUT, clusters=16, cluster_size=8, successors=2, fine_peak=0.9, seed=0)


def pair(models: str | None, save: str | None) -> tuple[torch.nn.Module, torch.nn.Module, float]:
    """(target, draft, training seconds)."""
    if models:
        from transformers import AutoModelForCausalLM

        load = AutoModelForCausalLM.from_pretrained
        return (load(Path(models) / "target", local_files_only=True).eval(),
                load(Path(models) / "draft", local_files_only=True).eval(), 0.0)
    start = time.perf_counter()
    target = train_lm(tiny_llama(LAYOUT.vocab_size, hidden_size=64, layers=2, heads=4, seed=3), LANGUAGE,
                      steps=300, seed=4)
    draft = train_lm(tiny_llama(LAYOUT.vocab_size, hidden_size=16, layers=1, heads=2, seed=5), LANGUAGE,
                     steps=100, seed=6)
    seconds = time.perf_counter() - start
    if save:
        target.save_pretrained(Path(save) / "target")
        draft.save_pretrained(Path(save) / "draft")
    return target, draft, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--gamma", type=int, default=3)
    parser.add_argument("--theta", type=float, default=0.5)
    parser.add_argument("--beta", type=float, default=0.3)
    parser.add_argument("--models", default=None, help="load DIR/target and DIR/draft instead of training")
    parser.add_argument("--save", default=None, help="save the trained pair to DIR/target and DIR/draft")
    parser.add_argument("--reference", choices=("decoder", "recompute"), default="decoder")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is fastest for tiny models)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    target, draft, trained = pair(args.models, args.save)
    target, draft = target.to(args.device), draft.to(args.device)
    start, stop = LAYOUT.speech_range
    purity = neighbour_purity(target.get_input_embeddings().weight.detach()[start:stop].cpu(),
                              torch.arange(stop - start) // LANGUAGE.cluster_size)
    groups = groups_from_model(target, LAYOUT, theta=args.theta).to(args.device)
    prompts = LANGUAGE.sample(args.rows, 6, torch.Generator().manual_seed(0)).to(args.device)
    print(f"toy pair: target 2×64, draft 1×16, trained in {trained:.1f} s; neighbour purity {purity:.3f}; "
          f"groups θ={args.theta}: mean size {float(groups.sizes()[start:stop].double().mean()):.2f}; "
          f"{args.rows} rows × {args.max_new_tokens} tokens, γ={args.gamma}, device {args.device}")
    header = (f"{'method':<9} {'tok/call':>9} {'acc/block':>10} {'acc.rate':>9} {'tok/s':>9} {'speedup':>8}  "
              "monitors (labels p, accepts p; adjusted)")
    print(header)
    print("-" * len(header))
    ar_speed = None
    for method in ("ar", "sd", "ssd", "pcg"):
        monitor = Monitor(seed=0)
        generate(target, draft, prompts, method=method, groups=groups, gamma=args.gamma, beta=args.beta,
                 max_new_tokens=4, eos_token_id=None, generator=torch.Generator(args.device).manual_seed(9))  # warm-up
        out = generate(target, draft, prompts, method=method, groups=groups, gamma=args.gamma, beta=args.beta,
                       max_new_tokens=args.max_new_tokens, eos_token_id=None,
                       generator=torch.Generator(args.device).manual_seed(1), monitor=monitor,
                       reference=args.reference)
        stats, result = out.stats, monitor.result()
        ar_speed = ar_speed or stats.tokens_per_second
        pvalues = ", ".join(f"{s.adjusted_pvalue:.2g}" for s in result.streams)
        name = f"ssd({args.beta:g})" if method == "ssd" else method
        accepted = "-" if method == "ar" else f"{stats.mean_accepted_per_block:.3f}"
        rate = "-" if method == "ar" else f"{stats.acceptance_rate:.3f}"
        print(f"{name:<9} {stats.tokens_per_target_call:>9.3f} {accepted:>10} {rate:>9} "
              f"{stats.tokens_per_second:>9.1f} {stats.tokens_per_second / ar_speed:>7.2f}x  "
              f"{'PASS' if result.passed else 'FAIL'} ({pvalues})")


if __name__ == "__main__":
    main()
