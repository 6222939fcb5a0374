"""What the input checks cost next to one read of the inputs, and verify / standard SD with and without them.

Llasa layout of :mod:`bench_verify` (193,800 ids, top-K groups of size 140 over
65,536 speech ids), γ = 3, float32 probabilities from :func:`bench_verify.inputs`.
For B ∈ {1, 8, 64} the table gives CPU ms per call (``time.process_time``,
calls interleaved across the columns; best of ``--repeats`` calls after a
warm-up, the least disturbed figure on a shared machine, and the median in
brackets):

- one read: ``draft_probs.sum() + target_probs.sum()``, the floor for any check;
- checks: :func:`pcg_core.validation.check_verify_inputs` alone;
- ``verify`` and ``standard_verify`` with and without ``check_inputs``;
- transformers' ``_speculative_sampling`` (standard speculative decoding, one
  row per call, so it is looped over the B rows; it takes logits, so it is
  given ``log`` of the same probabilities and its two softmaxes are part of its
  time), or ``n/a`` with the installed version when it is absent.

    python benchmarks/bench_checks.py [--batches 1 8 64] [--repeats 30] [--threads 1]
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from bench_verify import LLASA_VOCAB, add_threads_argument, inputs, llasa_groups

from pcg_core import standard_verify, verify
from pcg_core.validation import check_verify_inputs


def timed(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, tuple[float, float]]:
    """(best, median) CPU seconds per call of each function, after one warm-up call each.

    The calls are interleaved (one of each per round), so every function sees
    the same machine load, and timed with ``time.process_time``: on a shared
    machine the time a process waits for a core is not its own cost.
    """
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.process_time()
            fn()
            times[name].append(time.process_time() - start)
    return {name: (min(values), statistics.median(values)) for name, values in times.items()}


def hf_speculative_sampling() -> tuple[Callable[..., Any] | None, str]:
    """transformers' ``_speculative_sampling`` (its module moved between versions) and the version."""
    try:
        transformers = importlib.import_module("transformers")
    except ImportError:
        return None, "not installed"
    for module in ("transformers.generation.utils", "transformers.generation.candidate_generator",
                   "transformers.generation"):
        try:
            fn = getattr(importlib.import_module(module), "_speculative_sampling", None)
        except ImportError:
            continue
        if fn is not None:
            return fn, str(transformers.__version__)
    return None, str(transformers.__version__)


def hf_loop(fn: Callable[..., Any], tokens: torch.Tensor, draft_logits: torch.Tensor,
            target_logits: torch.Tensor) -> None:
    """transformers' standard speculative sampling, one batch row per call (its API takes B = 1)."""
    gamma = tokens.shape[1]
    for b in range(tokens.shape[0]):
        fn(tokens[b : b + 1], draft_logits[b : b + 1], gamma, target_logits[b : b + 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--gamma", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=30)
    add_threads_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    groups = llasa_groups()
    hf, hf_version = hf_speculative_sampling()
    hf_name = f"transformers {hf_version} _speculative_sampling" + ("" if hf else ": n/a")
    print(f"V = {LLASA_VOCAB}, γ = {args.gamma}, float32, torch {torch.__version__}, torch threads: "
          f"{torch.get_num_threads()}, {hf_name}; CPU ms per call, best of {args.repeats} (median)\n")
    print("| B | one read | checks | checks / read | verify | verify, no checks | verify / read "
          "| standard SD | standard SD, no checks | transformers SD (B calls) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for batch in args.batches:
        tokens, draft, target = inputs(batch, args.gamma, seed=batch)
        gen = torch.Generator().manual_seed(1)
        cells = {
            "read": lambda draft=draft, target=target: draft.sum() + target.sum(),
            "checks": partial(check_verify_inputs, tokens, draft, target, gen),
            "verify": partial(verify, tokens, draft, target, groups, generator=gen),
            "verify-": partial(verify, tokens, draft, target, groups, generator=gen, check_inputs=False),
            "sd": partial(standard_verify, tokens, draft, target, generator=gen),
            "sd-": partial(standard_verify, tokens, draft, target, generator=gen, check_inputs=False),
        }
        if hf is not None:
            cells["hf"] = partial(hf_loop, hf, tokens, draft.log(), target.log())
        ms = {name: (1e3 * best, 1e3 * median) for name, (best, median) in timed(cells, args.repeats).items()}
        text = {name: f"{best:.2f} ({median:.2f})" for name, (best, median) in ms.items()}
        print(f"| {batch} | {text['read']} | {text['checks']} | {ms['checks'][0] / ms['read'][0]:.1f} | "
              f"{text['verify']} | {text['verify-']} | {ms['verify'][0] / ms['read'][0]:.1f} | {text['sd']} | "
              f"{text['sd-']} | {text.get('hf', 'n/a')} |")


if __name__ == "__main__":
    main()
