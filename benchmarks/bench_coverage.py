"""Coverage by design over many master seeds: every pair of coverage values in a reached, tested case.

For each master seed the standard budget's plan is built (no port is called): its designed cases are read
back off their tensors (:func:`pcg_verify.cases._design.measured`), the pairs they cover are compared with
every allowed pair, and each case's expected observations of its tested residual and of its bonus at the
planned sample size are compared with ``min_test_samples``. Prints one row per seed and a summary:

    python benchmarks/bench_coverage.py [--budget standard] [--seeds 50] [--first-seed 0]

Exit status 1 when any seed misses a pair or has a case whose tested laws are not reached often enough.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

import torch

from pcg_verify._plan import plan_gate
from pcg_verify.budgets import BUDGETS, PROCEDURE
from pcg_verify.cases._design import covered_pairs, expected_observations, measured, required_pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="standard", choices=[n for n, b in BUDGETS.items() if b.designed])
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--first-seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    budget, required = BUDGETS[args.budget], required_pairs()
    print(f"budget {budget.name}: {budget.designed} designed cases per seed, {len(required)} allowed pairs")
    print("| seed | pairs covered | llasa / codec / unaligned / small cases | fewest tested residuals | "
          "fewest bonuses | mismatched values | s |")
    print("|---|---|---|---|---|---|---|")
    bad = 0
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        started = time.perf_counter()
        plan = plan_gate(budget, seed)
        points, residuals, bonuses, mismatched = [], [], [], 0
        for index, case in enumerate(plan.cases):
            if not case.design:
                continue
            point = measured(case)
            mismatched += point != dict(case.design)
            points.append(point)
            residual, bonus = expected_observations(case, plan.samples_per_row[index])
            residuals.append(residual)
            bonuses.append(bonus)
        covered = len(required & covered_pairs(points))
        layouts = Counter(p["layout"] for p in points)
        ok = covered == len(required) and not mismatched and min(residuals + bonuses) >= PROCEDURE.min_test_samples
        bad += not ok
        print(f"| {seed} | {covered}/{len(required)} | {layouts['llasa']} / {layouts['codec']} / "
              f"{layouts['unaligned']} / {layouts['small']} | {min(residuals):.0f} | {min(bonuses):.0f} | "
              f"{mismatched} | {time.perf_counter() - started:.1f} |", flush=True)
    print(f"{args.seeds - bad} of {args.seeds} master seeds cover every pair in reached, tested cases "
          f"(≥ {PROCEDURE.min_test_samples} expected observations of each tested residual and bonus)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
