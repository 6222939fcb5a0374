"""Time the gate's verdict on the reference sampler: per budget and master seed, in-process and isolated.

Two ways of running the same verdict are timed, each on every ``--budgets`` × ``--seeds``:

* ``in-process``: ``run_gate`` on the reference port in this process (torch on ``--threads`` threads);
* ``isolated``: ``pcg-verify check --budget B --seed S`` as a fresh process, the command line's default
  (the port in a worker process): what a user waits for, interpreter and imports included.

Wall-clock seconds and CPU seconds are printed side by side (in-process: this process, all threads;
isolated: the command and every process it waited for, the worker included): on a busy machine the wall
time grows, the CPU time does not. ``--busy K`` keeps K other processes spinning during the measurement
(a shared CI runner's neighbours). Prints a markdown table, one row per run, then, with several seeds, the
median and the range per budget and way.

    python benchmarks/bench_gate.py [--budgets standard thorough] [--seeds 0 1 2] [--ways in-process isolated]
                                    [--threads 1] [--busy 0]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from pcg_verify import run_gate
from pcg_verify.budgets import BUDGETS

WAYS = ("in-process", "isolated")


@dataclass(frozen=True)
class Timing:
    """One verdict: what it said and what it cost."""

    budget: str
    seed: int
    way: str
    verdict: str
    cases: int
    tests: int
    wall: float
    cpu: float


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


def in_process(budget: str, seed: int, threads: int) -> Timing:
    """``run_gate`` on the reference port here: wall seconds and this process's CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    report = run_gate(budget=budget, seed=seed, threads=threads)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return Timing(budget, seed, "in-process", str(report.verdict), len(report.cases), len(report.tests), wall, cpu)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def isolated(budget: str, seed: int, threads: int) -> Timing:
    """``pcg-verify check`` (its default: the port in a worker) as a fresh process: wall seconds and the CPU
    seconds of the command and every process it waited for."""
    with tempfile.TemporaryDirectory(prefix="bench-gate-") as scratch:
        path = Path(scratch) / "report.json"
        command = [sys.executable, "-m", "pcg_verify", "check", "--budget", budget, "--seed", str(seed),
                   "--threads", str(threads), "--json", str(path)]
        wall, cpu = time.perf_counter(), _children_cpu()
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        wall, cpu = time.perf_counter() - wall, _children_cpu() - cpu
        if not path.exists():
            raise RuntimeError(f"{' '.join(command)} exited {done.returncode} without a report:\n{done.stderr}")
        report = json.loads(path.read_text())
    return Timing(budget, seed, "isolated", report["verdict"], len(report["cases"]), len(report["tests"]), wall, cpu)


RUNNERS: dict[str, Callable[[str, int, int], Timing]] = {"in-process": in_process, "isolated": isolated}


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def table(budgets: list[str], seeds: list[int], ways: list[str], threads: int) -> list[Timing]:
    """Run and print one row per (budget, seed, way), as each finishes; return the timings."""
    print(_row("budget", "seed", "way", "verdict", "cases", "tests", "wall s", "CPU s"))
    print(_row(*["---"] * 8))
    timings = []
    for budget in budgets:
        for seed in seeds:
            for way in ways:
                t = RUNNERS[way](budget, seed, threads)
                timings.append(t)
                print(_row(t.budget, t.seed, t.way, t.verdict, t.cases, t.tests, f"{t.wall:.1f}", f"{t.cpu:.1f}"),
                      flush=True)
    return timings


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f})"


def summary(timings: list[Timing]) -> None:
    """Median and range of the wall and CPU seconds per (budget, way), over the seeds."""
    print()
    print(_row("budget", "way", "seeds", "verdicts", "wall s median (min–max)", "CPU s median (min–max)"))
    print(_row(*["---"] * 6))
    for key in dict.fromkeys((t.budget, t.way) for t in timings):
        mine = [t for t in timings if (t.budget, t.way) == key]
        verdicts = ", ".join(f"{v} {sum(t.verdict == v for t in mine)}" for v in dict.fromkeys(t.verdict for t in mine))
        print(_row(*key, len(mine), verdicts, _spread([t.wall for t in mine]), _spread([t.cpu for t in mine])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", nargs="+", default=["standard", "thorough"], choices=list(BUDGETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], metavar="SEED", help="master seeds (default 0)")
    parser.add_argument("--ways", nargs="+", default=list(WAYS), choices=WAYS, help="(default: both)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the gate (default 1)")
    parser.add_argument("--busy", type=int, default=0, help="spinning processes during the run (default 0)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"reference port, torch threads {args.threads}, {args.busy} busy process(es), "
          f"{os.cpu_count()} CPU(s) on this machine\n")
    with busy(args.busy):
        timings = table(args.budgets, args.seeds, args.ways, args.threads)
    if len(args.seeds) > 1:
        summary(timings)


if __name__ == "__main__":
    main()
