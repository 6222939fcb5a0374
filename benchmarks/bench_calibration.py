"""Null calibration of the gate at every budget, families included: how often it fails a correct port.

For each budget, the gate runs on the reference port over ``--seeds`` master
seeds (``--first-seed`` onward). The table gives, per budget: runs, failures
(declared ≤ the family-wise rate 1e-3), runs with a stage-2 retry (declared
≤ tail_safety_factor · suspicious_rate = 1e-2), and the share of stage-1
position-0 group-label p-values (row 0 of each case) below 0.05 (declared
0.05), each with its exact one-sided binomial p-value against the declared
rate, and the wall time. The test suite runs a shorter version
(tests/statistical/test_calibration.py).

    python benchmarks/bench_calibration.py [--budgets quick standard thorough] [--seeds 200] [--first-seed 10000]
"""

from __future__ import annotations

import argparse
import time

import torch
from scipy import stats

from pcg_verify import PROCEDURE, run_gate
from pcg_verify.budgets import BUDGETS


def tail(count: int, trials: int, rate: float) -> float:
    """One-sided exact binomial p-value of ≥ count events in ``trials`` at ``rate``."""
    return float(stats.binom.sf(count - 1, trials, rate)) if trials else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", nargs="+", default=list(BUDGETS), choices=list(BUDGETS))
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--first-seed", type=int, default=10_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    suspicious_rate = PROCEDURE.tail_safety_factor * PROCEDURE.suspicious_rate
    print(f"reference port, seeds {args.first_seed}…{args.first_seed + args.seeds - 1}, one torch thread\n")
    print("| budget | runs | failures (p) | retried runs (p) | position-0 p < 0.05 (p) | wall s |")
    print("|---|---|---|---|---|---|")
    for name in args.budgets:
        started = time.perf_counter()
        failures = retried = small = pvalues = 0
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            report = run_gate(budget=name, seed=seed)
            failures += not report.passed
            retried += bool(report.retried_cases)
            zero = [t.pvalue for t in report.tests
                    if t.stage == 1 and t.category == "guarantee" and t.position == 0 and t.row == 0]
            pvalues += len(zero)
            small += sum(p < 0.05 for p in zero)
        runs = args.seeds
        print(f"| {name} | {runs} | {failures} ({tail(failures, runs, PROCEDURE.family_false_positive_rate):.3g}) "
              f"| {retried} ({tail(retried, runs, suspicious_rate):.3g}) "
              f"| {small}/{pvalues} ({tail(small, pvalues, 0.05):.3g}) | {time.perf_counter() - started:.0f} |",
              flush=True)


if __name__ == "__main__":
    main()
