"""Null calibration of the gate at every budget, families included: how often it fails a correct port.

For each budget, the gate runs on the reference port over ``--seeds`` master
seeds (``--first-seed`` onward). The table gives, per budget: runs, failures
(declared ≤ the family-wise rate 1e-3), runs with a stage-2 retry (declared
≤ tail_safety_factor · suspicious_rate = 1e-2), and the share of stage-1
position-0 group-label p-values (row 0 of each case) below 0.05 (declared
0.05), each with its exact one-sided binomial p-value against the declared
rate, and the wall time. The test suite runs a shorter version
(tests/statistical/test_calibration.py).

**Attribution** (``--port NAME``, a catalogue mutant or equivalent): the same
runs on a port that is wrong in some categories only; the table then counts,
per category, the runs in which that category failed. For a category whose
laws the port keeps exactly, the count is a null count again (declared ≤ 1e-3:
the gate's Holm adjustment controls the family-wise rate under any mix of
true and false laws); e.g. ``residual_token_mode`` keeps every group label
exact and changes only the token inside the group (conformance).

Runs take minutes to hours, so every seed's record can be appended to a JSON
Lines log (``--log PATH``; a re-run skips the seeds already there) and logs of
runs on several processes or days merged into one table (``--merge PATH…``):

    python benchmarks/bench_calibration.py [--budgets quick standard thorough] [--seeds 200] [--first-seed 10000]
                                           [--port NAME] [--log PATH]
    python benchmarks/bench_calibration.py --merge LOG [LOG …]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import torch
from scipy import stats

from pcg_verify import PROCEDURE, run_gate
from pcg_verify.budgets import BUDGETS
from pcg_verify.bugs import mutant_port
from pcg_verify.report import Category


def tail(count: int, trials: int, rate: float) -> float:
    """One-sided exact binomial p-value of ≥ count events in ``trials`` at ``rate``."""
    return float(stats.binom.sf(count - 1, trials, rate)) if trials else float("nan")


def one_run(budget: str, seed: int, port: str) -> dict[str, Any]:
    """The record of one gate run: verdict, failed categories, retry, position-0 label p-values."""
    started = time.perf_counter()
    # "reference" is pcg_core's sampler (the gate's default port), not the catalogue's unmutated base
    report = (run_gate(budget=budget, seed=seed) if port == "reference"
              else run_gate(mutant_port(port), budget=budget, seed=seed, port_name=port))
    zero = [t.pvalue for t in report.tests
            if t.stage == 1 and t.category == "guarantee" and t.position == 0 and t.row == 0]
    return {"budget": budget, "seed": seed, "port": port, "passed": report.passed,
            "failed": sorted(str(c) for c, v in report.categories.items() if v.verdict == "fail"),
            "retried": bool(report.retried_cases), "position0_pvalues": len(zero),
            "position0_small": sum(p < 0.05 for p in zero), "seconds": time.perf_counter() - started}


def read_log(path: str) -> list[dict[str, Any]]:
    """Records of a log (one JSON object per line; a torn last line of an interrupted run is ignored)."""
    if not os.path.exists(path):
        return []
    records = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def table(records: Iterable[dict[str, Any]]) -> str:
    """One row per (port, budget): the null counts, or per-category failure counts for a mutant."""
    groups: dict[tuple[str, str], dict[int, dict[str, Any]]] = defaultdict(dict)
    for r in records:
        groups[(r["port"], r["budget"])][r["seed"]] = r  # a seed run twice counts once
    suspicious_rate = PROCEDURE.tail_safety_factor * PROCEDURE.suspicious_rate
    rate = PROCEDURE.family_false_positive_rate
    lines = ["| port | budget | runs | seeds | failures (p) | retried runs (p) | position-0 p < 0.05 (p) "
             "| failed, by category | core s per run |", "|---|---|---|---|---|---|---|---|---|"]
    for (port, budget), by_seed in sorted(groups.items()):
        runs = list(by_seed.values())
        n = len(runs)
        failures = sum(not r["passed"] for r in runs)
        retried = sum(r["retried"] for r in runs)
        small = sum(r["position0_small"] for r in runs)
        pvalues = sum(r["position0_pvalues"] for r in runs)
        per_category = {str(c): sum(str(c) in r["failed"] for r in runs) for c in Category}
        categories = ", ".join(f"{c} {k} ({tail(k, n, rate):.2g})" for c, k in per_category.items())
        lines.append(
            f"| {port} | {budget} | {n} | {min(by_seed)}…{max(by_seed)} | {failures} ({tail(failures, n, rate):.3g}) "
            f"| {retried} ({tail(retried, n, suspicious_rate):.3g}) | {small}/{pvalues} "
            f"({tail(small, pvalues, 0.05):.3g}) | {categories} | {sum(r['seconds'] for r in runs) / n:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", nargs="+", default=list(BUDGETS), choices=list(BUDGETS))
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--first-seed", type=int, default=10_000)
    parser.add_argument("--port", default="reference",
                        help="'reference' (pcg_core's sampler) or a catalogue mutant or equivalent")
    parser.add_argument("--log", help="append each seed's record to this JSON Lines file; skip seeds already in it")
    parser.add_argument("--merge", nargs="+", metavar="LOG", help="print the table of these logs and exit")
    args = parser.parse_args()
    if args.merge:
        print(table(r for path in args.merge for r in read_log(path)))
        return
    torch.set_num_threads(1)
    mutant_port(args.port)  # an unknown name fails here, before any run
    done = {(r["port"], r["budget"], r["seed"]) for r in read_log(args.log)} if args.log else set()
    records = [r for r in read_log(args.log) if r["port"] == args.port] if args.log else []
    print(f"port {args.port}, seeds {args.first_seed}…{args.first_seed + args.seeds - 1}, one torch thread\n")
    for name in args.budgets:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            if (args.port, name, seed) in done:
                continue
            record = one_run(name, seed, args.port)
            records.append(record)
            if args.log:  # one line per seed, flushed: an interrupted run keeps every finished seed
                with open(args.log, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(record) + "\n")
                    handle.flush()
                    os.fsync(handle.fileno())
    print(table(records))


if __name__ == "__main__":
    main()
