"""Time the gate's verdict on the reference sampler at every budget, and the share of each family case.

For each budget, ``run_gate`` on the reference port (in-process, torch on
``--threads`` threads, 1 by default) gives the wall-clock and CPU time of a
whole verdict; then the plan is rebuilt and each family case is run alone
(``run_case``), so the table also shows what the engine-scale families cost.
CPU time (this process, all threads) is printed next to wall time: on a busy
machine the wall time grows, the CPU time does not. ``--busy K`` keeps K
other processes spinning during the measurement (a shared CI runner's
neighbours). Prints a markdown table.

    python benchmarks/bench_gate.py [--budgets quick standard thorough] [--seed 0] [--threads 1] [--busy 0]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import torch

from pcg_verify import run_gate
from pcg_verify.budgets import BUDGETS
from pcg_verify.checks import plan_gate, run_case
from pcg_verify.ports import reference_port

T = TypeVar("T")


def timed(function: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, float, float]:
    """``function(*args, **kwargs)``, its wall-clock seconds and this process's CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - wall, time.process_time() - cpu


def _spin() -> None:
    while True:
        pass


@contextlib.contextmanager
def busy(processes: int) -> Iterator[None]:
    """``processes`` spinning processes for the duration of the block."""
    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(processes)]
    for spinner in spinners:
        spinner.start()
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.terminate()
            spinner.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", nargs="+", default=list(BUDGETS), choices=list(BUDGETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--busy", type=int, default=0, help="spinning processes during the run (default 0)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"reference port, master seed {args.seed}, torch threads {args.threads}, "
          f"{args.busy} busy process(es)\n")
    with busy(args.busy):
        table(args)


def table(args: argparse.Namespace) -> None:
    print("| budget | cases | tests | verdict | wall s | CPU s | " + " | ".join(
        f"{name} wall/CPU s" for name in BUDGETS["standard"].families) + " |")
    print("|---" * (6 + len(BUDGETS["standard"].families)) + "|")
    for name in args.budgets:
        budget = BUDGETS[name]
        report, wall, cpu = timed(run_gate, budget=name, seed=args.seed, threads=args.threads)
        plan = plan_gate(budget, args.seed)
        drawn = budget.cases - len(budget.families)
        shares = []
        for index in range(drawn, budget.cases):
            _, case_wall, case_cpu = timed(run_case, reference_port, plan, index)
            shares.append(f"{case_wall:.1f} / {case_cpu:.1f}")
        shares += ["–"] * (len(BUDGETS["standard"].families) - len(shares))  # quick has no family case
        verdict, tests = ("pass" if report.passed else "FAIL"), len(report.tests)
        print(f"| {name} | {budget.cases} | {tests} | {verdict} | {wall:.1f} | {cpu:.1f} | " + " | ".join(shares)
              + " |", flush=True)


if __name__ == "__main__":
    main()
