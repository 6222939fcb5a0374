"""``pcg-verify`` (also ``python -m pcg_verify``): the gate on the command line.

    pcg-verify check [PORT] [--budget quick|standard|thorough] [--seed N]
                     [--singleton-groups] [--case I] [--json PATH|-]
                     [--in-process] [--call-timeout S] [--deadline S] [--threads N]
    pcg-verify list

Exit codes: 0 pass, 1 the port is wrong, 2 the gate could not run (usage
error, a port that cannot be loaded, an unwritable output path, a budget that
cannot keep its promise), 130 interrupted (Ctrl-C; no report is written).

The port runs in a worker process by default: whatever it does (raise, exit,
crash, hang, write garbage) ends as a verdict of its case, never as the
gate's exit status. ``--in-process`` calls it directly (faster to start; a
port that kills its process then takes the gate with it).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from pcg_core.atomic import writable_path, write_text_atomic
from pcg_core.errors import PCGError
from pcg_verify._isolation import DEFAULT_CALL_TIMEOUT
from pcg_verify.budgets import BUDGETS, PROCEDURE
from pcg_verify.ports import REFERENCE_PORT

__all__ = ["EXIT_FAIL", "EXIT_INTERRUPTED", "EXIT_PASS", "EXIT_USAGE", "build_parser", "main"]

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

_CHECK_EXAMPLES = f"""\
examples:
  pcg-verify check                                     # the reference sampler ({REFERENCE_PORT})
  pcg-verify check mypackage.sampler:pcg_port --budget thorough --json report.json
  pcg-verify check ./my_port.py:verify_block           # a loose file, by path
  pcg-verify check myengine.sd:rejection_sampler --singleton-groups   # plain speculative decoding
  pcg-verify check pcg_verify.planted:dense.shared_uniform            # a planted bug: exits 1
  pcg-verify check PORT --budget standard --seed 0 --case 7           # replay one case (failures print this)

exit codes: 0 pass, 1 the port is wrong, 2 the gate could not run, 130 interrupted
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pcg-verify", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="The calibrated statistical gate for ports of PCG (Principled Coarse-Grained acceptance).",
        epilog="run 'pcg-verify check --help' for worked examples")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "check", help="run the gate on a port", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run every check of the gate on PORT and print the verdict.", epilog=_CHECK_EXAMPLES)
    check.add_argument("port", nargs="?", default=REFERENCE_PORT,
                       help="package.module:function or path/to/file.py:function "
                            f"(default: {REFERENCE_PORT})")
    check.add_argument("--budget", default="standard", choices=sorted(BUDGETS),
                       help="how hard to look: cases, promised discrepancy, sample caps (default: standard)")
    check.add_argument("--seed", type=int, default=0,
                       help="master seed; every case, experiment and retry seed is derived from it (default: 0)")
    check.add_argument("--singleton-groups", action="store_true",
                       help="every case uses singleton groups, so a plain speculative sampler can be gated")
    check.add_argument("--case", type=int, default=None, help="run only this case index (failures print it)")
    check.add_argument("--json", metavar="PATH", default=None,
                       help="write the JSON report here (atomically; '-' writes it to stdout and the summary to "
                            "stderr); checked before the run")
    check.add_argument("--in-process", action="store_true",
                       help="call the port in this process instead of an isolated worker")
    check.add_argument("--call-timeout", type=float, default=DEFAULT_CALL_TIMEOUT, metavar="S",
                       help=f"seconds one port call may take in the worker (default: {DEFAULT_CALL_TIMEOUT:g})")
    check.add_argument("--deadline", type=float, default=None, metavar="S",
                       help="seconds the whole run may take in the worker (default: none)")
    check.add_argument("--threads", type=int, default=1, metavar="N",
                       help="torch threads for the gate and the port (default: 1, fastest for the gate's small "
                            "tensors and immune to a busy machine)")
    commands.add_parser("list", help="print the budgets and the planted bugs",
                        description="Print each budget (cases, the TV each test detects, the family-wise "
                                    "false-positive rate) and each planted bug with the category that must "
                                    "catch it.")
    return parser


def _list() -> str:
    from pcg_verify.planted import PLANTED_BUGS

    rate = PROCEDURE.family_false_positive_rate
    lines = ["budgets (power ≥ 1 − false_negative_rate to detect the TV at every position-0 label test; "
             f"family-wise false-positive rate {rate:g}):",
             f"  {'name':<9} {'cases':>5} {'TV':>6} {'power':>6} {'V ≤':>5} {'γ ≤':>4} {'B ≤':>4}  unaligned V"]
    for b in BUDGETS.values():
        lines.append(f"  {b.name:<9} {b.cases:>5} {b.discrepancy:>6g} {1 - b.false_negative_rate:>6g} "
                     f"{b.max_vocab:>5} {b.max_gamma:>4} {b.max_batch:>4}  {b.unaligned_vocab or '-'}")
    lines.append("planted bugs (pcg-verify check pcg_verify.planted:dense.NAME; each must fail in its category):")
    lines += [f"  {bug.name:<26} {bug.caught_by:<12} {bug.description}" for bug in PLANTED_BUGS.values()]
    return "\n".join(lines)


def _print(text: str) -> None:
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into `head`: the verdict is the exit code
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pcg-verify`` console script; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse exits 2 on usage errors and 0 on --help
        return int(exit_.code or 0)
    if args.command == "list":
        _print(_list())
        return EXIT_PASS
    try:
        return _check(args)
    except KeyboardInterrupt:
        print("pcg-verify: interrupted; no report written", file=sys.stderr)
        return EXIT_INTERRUPTED


def _progress(stage: int, done: int, total: int) -> None:
    end = "\n" if done == total else ""
    print(f"\rpcg-verify: stage {stage}: case {done}/{total}", end=end, file=sys.stderr, flush=True)


def _check(args: argparse.Namespace) -> int:
    from pcg_verify.checks import run_gate

    to_stdout = args.json == "-"
    try:
        if args.json and not to_stdout:
            writable_path("--json", args.json)
        report = run_gate(args.port, budget=args.budget, seed=args.seed, singleton_only=args.singleton_groups,
                          case=args.case, isolate=not args.in_process, call_timeout=args.call_timeout,
                          deadline=args.deadline, threads=args.threads,
                          progress=_progress if sys.stderr.isatty() else None)
    except PCGError as error:
        print(f"pcg-verify: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except Exception:  # a defect of the gate itself: never a pass, never "the port is wrong"
        print("pcg-verify: internal error (please report it):\n" + traceback.format_exc(), file=sys.stderr)
        return EXIT_USAGE
    status = EXIT_PASS if report.passed else EXIT_FAIL
    if to_stdout:
        _print(report.to_json().rstrip("\n"))
        print(report.summary(), file=sys.stderr)
        return status
    written = ""
    if args.json:
        try:
            written = f"\nreport written to {write_text_atomic(args.json, report.to_json())}"
        except OSError as error:  # the path was checked, but a disk can still fill up
            _print(report.summary())
            print(f"pcg-verify: error: --json={args.json!r}: {error}", file=sys.stderr)
            return EXIT_USAGE
    _print(report.summary() + written)
    return status


if __name__ == "__main__":
    sys.exit(main())
