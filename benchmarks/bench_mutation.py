"""The mutation score of the gate, and the mutable reference's speed at paper scale.

1. The mutation-score table: the gate (``--budget``, ``--seed``) run on every
   mutant of ``pcg_verify.bugs.CATALOGUE`` (each must be killed, in one of its
   declared categories) and every equivalent of ``EQUIVALENTS`` (each must
   pass), with the total wall time. The same table as ``pcg-verify bugs``.
2. ``--scale``: ms per call of the unmutated reference (``pcg_verify.bugs:reference``)
   and of pcg_core's ``verify`` on the Llasa layout of :mod:`bench_verify`
   (193,800 ids, 65,536 top-140 speech groups plus singletons, so > 65,535
   groups and 32-bit indices), float32 softmax inputs, for each B and γ given,
   with the share of rows that ended in a rejection.

    python benchmarks/bench_mutation.py [--budget standard] [--seed 0] [--workers 1] [--only NAME ...]
    python benchmarks/bench_mutation.py --scale [--batches 1 64 1024] [--gammas 3 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import torch
from bench_verify import add_threads_argument, inputs, llasa_groups, timed

from pcg_core import verify
from pcg_verify.budgets import BUDGETS
from pcg_verify.bugs import mutation_score, reference


def score_table(budget: str, seed: int, workers: int, only: list[str] | None) -> None:
    started = time.perf_counter()
    score = mutation_score(budget, seed, names=only, workers=workers)
    print(score.table())
    print(f"wall time of the whole score: {time.perf_counter() - started:.1f} s")


def scale_table(batches: list[int], gammas: list[int], repeats: int) -> None:
    groups = llasa_groups()
    print(f"Llasa layout: V={groups.vocab_size}, M={groups.num_groups}, nnz={groups.nnz}, "
          f"index dtype {groups.group_members.dtype}, max group {groups.max_group_size}, "
          f"max N(t) {groups.max_groups_per_token}")
    print(f"{'B':>6} {'γ':>3} {'bugs.reference ms':>18} {'pcg_core.verify ms':>19} {'rejected rows':>14}")
    for gamma in gammas:
        for batch in batches:
            args = (*inputs(batch, gamma, seed=batch + gamma), groups)
            rejected = float((reference(*args, generator=torch.Generator().manual_seed(0))[2] < gamma).double().mean())
            ours = timed(partial(reference, *args, generator=torch.Generator().manual_seed(0)), repeats)
            core = timed(partial(verify, *args, generator=torch.Generator().manual_seed(0)), repeats)
            print(f"{batch:>6} {gamma:>3} {1e3 * ours:>18.1f} {1e3 * core:>19.1f} {rejected:>14.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", default="standard", choices=sorted(BUDGETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1, help="processes for the score (default 1)")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME", help="score only these entries")
    parser.add_argument("--scale", action="store_true", help="time the reference at paper scale instead")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64, 1024])
    parser.add_argument("--gammas", type=int, nargs="+", default=[3, 8])
    parser.add_argument("--repeats", type=int, default=3)
    add_threads_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.scale:
        scale_table(args.batches, args.gammas, args.repeats)
    else:
        score_table(args.budget, args.seed, args.workers, args.only)


if __name__ == "__main__":
    main()
