"""Time one ``verify`` call for PCG and for standard speculative decoding on the Llasa layout.

Llasa-style vocabulary: 193,800 ids, 65,536 speech ids at offset 128,264 with
top-K groups (K = 140, so the average group size is 140), every other id a
singleton group. γ = 3, B ∈ {1, 8, 64}, float32 probabilities concentrated on
the speech ids (a temperature-0.8 softmax of random logits; the draft is the
target's logits plus noise). Prints a markdown table.

The groups take about a minute to build; they are cached in
``benchmarks/.cache/`` (git-ignored by the ``.gitignore`` written inside it)
and reloaded by every benchmark that imports :func:`llasa_groups`. torch runs
on ``--threads`` threads (1 by default), printed in the table header.

    python benchmarks/bench_verify.py [--batches 1 8 64] [--repeats 20] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch

from pcg_core import Groups, groups_from_topk, standard_verify, verify

LLASA_VOCAB = 193_800
SPEECH_START = 128_264
SPEECH_IDS = 65_536
CACHE = Path(__file__).resolve().parent / ".cache"


def llasa_groups(k: int = 140, dim: int = 32, seed: int = 0) -> Groups:
    """Top-K groups over the speech ids of a random clustered embedding, singletons elsewhere.

    Cached in ``benchmarks/.cache/`` (the builder checks the embedding digest
    and the parameters when it reloads, so a stale file is an error, not a
    silent mismatch).
    """
    gen = torch.Generator().manual_seed(seed)
    centers = torch.randn(SPEECH_IDS // 64, dim, generator=gen)
    emb = centers.repeat_interleave(64, 0) + 0.5 * torch.randn(SPEECH_IDS, dim, generator=gen)
    CACHE.mkdir(exist_ok=True)
    (CACHE / ".gitignore").write_text("*\n")
    return groups_from_topk(emb, k, token_range=(SPEECH_START, SPEECH_START + SPEECH_IDS), vocab_size=LLASA_VOCAB,
                            cache=CACHE / f"llasa_topk{k}_dim{dim}_seed{seed}.npz")


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--threads`` option shared by the benchmarks (torch intra-op threads, 1 by default)."""
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")


def inputs(batch: int, gamma: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(draft_tokens [B, γ], draft_probs [B, γ, V], target_probs [B, γ+1, V]) in float32."""
    gen = torch.Generator().manual_seed(seed)
    logits = torch.full((batch, gamma + 1, LLASA_VOCAB), -30.0)
    speech = slice(SPEECH_START, SPEECH_START + SPEECH_IDS)
    logits[..., speech] = 3.0 * torch.randn(batch, gamma + 1, SPEECH_IDS, generator=gen)
    target = torch.softmax(logits / 0.8, -1)
    noisy = logits[:, :gamma] + 1.0 * torch.randn(batch, gamma, LLASA_VOCAB, generator=gen)
    draft = torch.softmax(noisy / 0.8, -1)
    tokens = torch.multinomial(draft.reshape(-1, LLASA_VOCAB), 1, generator=gen).reshape(batch, gamma)
    return tokens, draft, target


def timed(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--gamma", type=int, default=3)
    parser.add_argument("--k", type=int, default=140, help="group size of the top-K groups")
    parser.add_argument("--dim", type=int, default=32, help="embedding dimension used to build the groups")
    parser.add_argument("--repeats", type=int, default=20)
    add_threads_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    start = time.perf_counter()
    groups = llasa_groups(args.k, args.dim, seed=0)
    build = time.perf_counter() - start
    speech_sizes = groups.sizes()[groups.sizes() > 1].double()
    print(f"groups: {groups!r}; speech groups average size {speech_sizes.mean():.1f}, "
          f"built or loaded in {build:.1f} s; torch threads: {torch.get_num_threads()}\n")
    print("| B | γ | PCG verify (ms) | standard SD (ms) | PCG / SD | PCG accepted/γ | SD accepted/γ |")
    print("|---|---|---|---|---|---|---|")
    for batch in args.batches:
        tokens, draft, target = inputs(batch, args.gamma, seed=batch)
        gen = torch.Generator().manual_seed(1)
        pcg = timed(partial(verify, tokens, draft, target, groups, generator=gen), args.repeats)
        sd = timed(partial(standard_verify, tokens, draft, target, generator=gen), args.repeats)
        pcg_acc = torch.stack([verify(tokens, draft, target, groups, generator=gen).num_accepted
                               for _ in range(20)]).double().mean() / args.gamma
        sd_acc = torch.stack([standard_verify(tokens, draft, target, generator=gen).num_accepted
                              for _ in range(20)]).double().mean() / args.gamma
        print(f"| {batch} | {args.gamma} | {pcg * 1e3:.2f} | {sd * 1e3:.2f} | {pcg / sd:.2f} | "
              f"{pcg_acc:.3f} | {sd_acc:.3f} |")


if __name__ == "__main__":
    main()
