"""Size and render time of the reliability report (pcg_verify.reliability).

Runs the gate in-process on the reference sampler and on a planted bug, then
writes each report and prints one markdown table: the gate's time, the page's
and the JSON's size, how many plots and check rows the page holds, and the
render time (``render_html`` from results.json, median of ``--repeats``
renders after a first one that pays matplotlib's import).

    python benchmarks/bench_report.py                   # standard budget
    python benchmarks/bench_report.py --budget quick    # a few seconds
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from pcg_verify import run_gate
from pcg_verify.reliability import gate_results, load_results, render_html, write_report

PORTS = ("pcg_verify.ports:reference_port", "pcg_verify.bugs:mutants.dense_shared_uniform")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="standard", choices=("quick", "standard", "thorough"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"budget {args.budget}, seed 0, torch threads {args.threads}, python {sys.version.split()[0]}")
    print("| port | verdict | gate s | tests | plots | index.html KiB | results.json KiB | first render s | "
          "render s (median) |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for port in PORTS:
            started = time.perf_counter()
            report = run_gate(port, budget=args.budget, seed=0, threads=args.threads)
            gate_s = time.perf_counter() - started
            directory = Path(tmp) / port.replace(":", "_")
            started = time.perf_counter()
            page = write_report(directory, gate_results(report))
            first = time.perf_counter() - started
            results = load_results(directory)
            times = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                html = render_html(results)
                times.append(time.perf_counter() - started)
            plots = html.count('<svg class="plot"')
            print(f"| {port} | {report.verdict} | {gate_s:.1f} | {len(report.tests)} | {plots} | "
                  f"{page.stat().st_size / 1024:.0f} | {(directory / 'results.json').stat().st_size / 1024:.0f} | "
                  f"{first:.2f} | {statistics.median(times):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
