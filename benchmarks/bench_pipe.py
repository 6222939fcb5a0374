"""What the pcg-port protocol costs: the gate's calls in-process against the same calls through a pipe.

Three ports run the gate at one budget (standard by default):

* **in-process**: pcg_core's reference sampler, called directly;
* **pipe, Python**: ``examples/ports/python_port.py``, the *same* algorithm
  (pcg_core.verify under the same seeds) behind the protocol;
* **pipe, C**: ``examples/ports/pcg_port.c``, built here with ``cc -O2``.

The first two run **paired**: every call the gate makes is served by both, in
alternating order, and their outputs are checked to be identical; so the
difference of their times per call is the protocol's overhead per call
(encoding, two pipe copies of every array, decoding, the checks), measured
call by call under the same machine load. "ms per call" is the time the gate
waits for one call; a port's "total gate time" is the run's time less the
time spent in the other port of its pair. Prints a markdown table; torch runs
on one thread, as in the gate.

    python benchmarks/bench_pipe.py [--budget standard] [--seed 0]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from pcg_verify import run_gate
from pcg_verify.ports import ExecPort, reference_port

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "ports"


class Timed:
    """A port wrapper that records how long each call took and how many probability bytes it carried."""

    def __init__(self, port: Callable[..., Any]) -> None:
        self.port = port
        self.seconds: list[float] = []
        self.bytes = 0

    def __call__(self, draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor,
                 groups: Any, *, generator: torch.Generator) -> Any:
        started = time.perf_counter()
        out = self.port(draft_tokens, draft_probs, target_probs, groups, generator=generator)
        self.seconds.append(time.perf_counter() - started)
        self.bytes += draft_probs.nbytes + target_probs.nbytes
        return out


class Paired:
    """Serve every call with two ports (alternating which goes first); require identical outputs."""

    def __init__(self, first: Callable[..., Any], second: Callable[..., Any]) -> None:
        self.ports = (Timed(first), Timed(second))

    def __call__(self, draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor,
                 groups: Any, *, generator: torch.Generator) -> Any:
        seed, outputs = generator.initial_seed(), {}
        order = (0, 1) if len(self.ports[0].seconds) % 2 == 0 else (1, 0)
        for i in order:
            outputs[i] = tuple(self.ports[i](draft_tokens, draft_probs, target_probs, groups,
                                             generator=torch.Generator().manual_seed(seed)))
        if not all(torch.equal(a, b) for a, b in zip(outputs[0], outputs[1], strict=True)):
            raise SystemExit("bench_pipe: the two ports of a pair disagree: not the same algorithm")
        return outputs[0]


def row(name: str, timed: Timed, total: float, verdict: str) -> dict[str, Any]:
    calls = len(timed.seconds)
    return {"port": name, "verdict": verdict, "calls": calls, "ms": 1000 * sum(timed.seconds) / calls,
            "mb": timed.bytes / calls / 1e6, "port_s": sum(timed.seconds), "total": total}


def build_c_port(folder: Path) -> Path:
    compiler = shutil.which("cc")
    if compiler is None:
        raise SystemExit("bench_pipe: needs a C compiler on PATH as `cc`")
    output = folder / "pcg_port"
    subprocess.run([compiler, "-O2", "-std=c11", "-o", str(output), str(EXAMPLES / "pcg_port.c")], check=True)
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="standard")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        c_port = build_c_port(Path(folder))
        with ExecPort([sys.executable, str(EXAMPLES / "python_port.py")]) as python_pipe:
            python_pipe.start()  # the interpreter's start-up is not a per-call cost
            pair = Paired(reference_port, python_pipe)
            started = time.perf_counter()
            verdict = run_gate(pair, budget=args.budget, seed=args.seed).verdict
            total = time.perf_counter() - started
        in_process, piped = pair.ports
        rows = [row("in-process (pcg_core reference)", in_process, total - sum(piped.seconds), verdict),
                row("pipe, Python example (same algorithm)", piped, total - sum(in_process.seconds), verdict)]
        with ExecPort([str(c_port)]) as c_pipe:
            c_pipe.start()
            timed = Timed(c_pipe)
            started = time.perf_counter()
            verdict = run_gate(timed, budget=args.budget, seed=args.seed).verdict
            rows.append(row("pipe, C example", timed, time.perf_counter() - started, verdict))
    print(f"gate at budget {args.budget!r}, seed {args.seed}, torch threads 1\n")
    print("| port | verdict | calls | MB of probabilities per call | mean ms per call | time in the port (s) "
          "| total gate time (s) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['port']} | {r['verdict']} | {r['calls']} | {r['mb']:.2f} | {r['ms']:.2f} | {r['port_s']:.2f} "
              f"| {r['total']:.2f} |")
    differences = sorted(1000 * (b - a) for a, b in zip(in_process.seconds, piped.seconds, strict=True))
    median = differences[len(differences) // 2]
    print(f"\nprotocol overhead per call (Python pipe − in-process, paired, same algorithm and seeds): "
          f"mean {rows[1]['ms'] - rows[0]['ms']:.2f} ms, median {median:.2f} ms "
          f"({(rows[1]['ms'] - rows[0]['ms']) / rows[0]['ms']:+.0%} of an in-process call)")


if __name__ == "__main__":
    main()
