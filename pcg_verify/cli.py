"""``pcg-verify`` (also ``python -m pcg_verify``): the gate on the command line.

    pcg-verify check [PORT] [--budget quick|standard|thorough] [--seed N]
                     [--singleton-groups] [--case I] [--json PATH]
    pcg-verify list

Exit codes: 0 pass, 1 the port is wrong, 2 the gate could not run (usage
error, a port that cannot be loaded, a budget that cannot keep its promise).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from pcg_core.atomic import write_text_atomic
from pcg_core.errors import PCGError
from pcg_verify.budgets import BUDGETS, PROCEDURE
from pcg_verify.ports import REFERENCE_PORT

__all__ = ["EXIT_FAIL", "EXIT_PASS", "EXIT_USAGE", "build_parser", "main"]

EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

_CHECK_EXAMPLES = f"""\
examples:
  pcg-verify check                                     # the reference sampler ({REFERENCE_PORT})
  pcg-verify check mypackage.sampler:pcg_port --budget thorough --json report.json
  pcg-verify check ./my_port.py:verify_block           # a loose file, by path
  pcg-verify check myengine.sd:rejection_sampler --singleton-groups   # plain speculative decoding
  pcg-verify check pcg_verify.planted:dense.shared_uniform            # a planted bug: exits 1
  pcg-verify check PORT --budget standard --seed 0 --case 7           # replay one case (failures print this)

exit codes: 0 pass, 1 the port is wrong, 2 the gate could not run
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
    check.add_argument("--json", metavar="PATH", default=None, help="write the JSON report here (atomically)")
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
    from pcg_verify.checks import run_gate

    try:
        report = run_gate(args.port, budget=args.budget, seed=args.seed, singleton_only=args.singleton_groups,
                          case=args.case)
    except PCGError as error:
        print(f"pcg-verify: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        path = write_text_atomic(args.json, report.to_json())
    _print(report.summary() + (f"\nreport written to {path}" if args.json else ""))
    return EXIT_PASS if report.passed else EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
