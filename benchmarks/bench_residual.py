"""Time the residual of a rejected position at paper scale: thinning against the exact residual.

Llasa layout of :mod:`bench_verify` (193,800 ids, top-K groups of size 140 over
the 65,536 speech ids, singletons elsewhere), γ = 3, float32 rows. Every row is
rejected at position 0: the drafted token x lies only in groups with Q_c = 0
(the target puts no mass on the members of x's groups).

- adversarial rows: the draft equals the target except that a mass δ (1e-6 by
  default) moves from the target's most likely token to x, so
  TV(P_c, Q_c) = δ and thinning (keep rate δ per proposal) gives up after
  ``max_thinning_trials`` = 1024 proposals and falls back to the exact residual;
- typical rows: the draft is the noisy softmax of :func:`bench_verify.inputs`
  (TV(P_c, Q_c) of a few tenths), where thinning succeeds within a few proposals.

For B ∈ {1, 8, 64} the table gives CPU ms per ``verify`` call and per rejected row
with the default residual (thinning, falling back to exact) and with
``residual="exact"``, and the peak RSS increase of each call (the high-water
mark is reset before each call through ``/proc/self/clear_refs``).

    python benchmarks/bench_residual.py [--batches 1 8 64] [--repeats 3] [--threads 1] [--delta 1e-6]
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
from bench_verify import LLASA_VOCAB, add_threads_argument, inputs, llasa_groups

from pcg_core import Groups, verify


def rejecting_inputs(
    groups: Groups, batch: int, gamma: int, delta: float | None, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(draft_tokens, draft_probs, target_probs) whose rows are all rejected at position 0.

    ``delta=None`` keeps the noisy draft of :func:`inputs` (typical TV); a float
    makes the draft at position 0 the target with mass ``delta`` moved to x.
    """
    tokens, draft, target = inputs(batch, gamma, seed)
    gen = torch.Generator().manual_seed(seed + 1)
    speech = torch.arange(128_264, 128_264 + 65_536)
    x = speech[torch.randint(speech.numel(), (batch,), generator=gen)]
    for b in range(batch):
        # Z = ∪_{k ∋ x} G_k: with q = 0 on Z, every group of x has Q_c = 0 and x is always rejected.
        zone = torch.cat([groups.members_of(int(k)) for k in groups.groups_of(int(x[b]))]).long()
        row = target[b, 0].double()
        row[zone] = 0.0
        target[b, 0] = (row / row.sum()).float()
        if delta is None:
            continue
        draft[b, 0] = target[b, 0]
        top = int(target[b, 0].argmax())
        draft[b, 0, top] -= delta
        draft[b, 0, x[b]] = delta
    tokens[:, 0] = x
    return tokens, draft, target


def reset_peak_rss() -> bool:
    """Reset the process's RSS high-water mark (Linux ≥ 4.0); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def rss_mb(field: str) -> float:
    """``VmRSS`` or ``VmHWM`` of this process in MB, from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(fn: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    """(median CPU seconds per call, peak RSS increase in MB over the calls, last result); one warm-up call.

    CPU time (``time.process_time``): on a shared machine the time a process
    waits for a core is not its own cost.
    """
    fn()
    resettable = reset_peak_rss()
    before = rss_mb("VmRSS")
    times, out = [], None
    for _ in range(repeats):
        start = time.process_time()
        out = fn()
        times.append(time.process_time() - start)
    peak = rss_mb("VmHWM") - before if resettable else float("nan")
    return statistics.median(times), peak, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--gamma", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--delta", type=float, default=1e-6, help="TV(P_c, Q_c) of the adversarial rows")
    add_threads_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    groups = llasa_groups()
    print(f"V = {LLASA_VOCAB}, {groups!r}, γ = {args.gamma}, float32, δ = {args.delta:g}, "
          f"torch threads: {torch.get_num_threads()}, CPU ms, median of {args.repeats} calls\n")
    print("| B | rows | mean trials | exact fallbacks | thinning (ms) | per row | exact (ms) | per row "
          "| exact / thinning | peak RSS + thinning (MB) | peak RSS + exact (MB) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for batch in args.batches:
        for label, delta in (("adversarial", args.delta), ("typical", None)):
            tokens, draft, target = rejecting_inputs(groups, batch, args.gamma, delta, seed=batch)
            gen = torch.Generator().manual_seed(1)
            call = partial(verify, tokens, draft, target, groups, generator=gen)
            thin, thin_rss, out = measure(call, args.repeats)
            assert bool((out.num_accepted == 0).all()), "every row must be rejected at position 0"
            exact, exact_rss, _ = measure(partial(call, residual="exact"), args.repeats)
            print(f"| {batch} | {label} | {out.thinning_trials.double().mean():.0f} | "
                  f"{int(out.exact_residual.sum())}/{batch} | {thin * 1e3:.1f} | {thin * 1e3 / batch:.2f} | "
                  f"{exact * 1e3:.1f} | {exact * 1e3 / batch:.2f} | {exact / thin:.2f} | "
                  f"{thin_rss:.0f} | {exact_rss:.0f} |")


if __name__ == "__main__":
    main()
