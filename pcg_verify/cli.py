"""``pcg-verify``: the gate on the command line.

    pcg-verify check [PORT] [--budget quick|standard|thorough] [--seed N]
                     [--groups any|singleton] [--case I] [--json PATH]

PORT is an import path ``package.module:function`` (default: the reference
sampler). Exit codes: 0 pass, 1 fail, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from pcg_core._atomic import write_text_atomic
from pcg_core._errors import InvalidArgumentError, InvalidTypeError
from pcg_verify._options import GATE_OPTIONS
from pcg_verify.checks import run_gate
from pcg_verify.ports import REFERENCE_PORT

__all__ = ["build_parser", "main"]

EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pcg-verify", description="The calibrated statistical gate for PCG ports.")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="run the gate on a port",
                                description="Run every check of the gate on PORT and print the verdict.")
    check.add_argument("port", nargs="?", default=REFERENCE_PORT,
                       help=f"import path package.module:function (default: {REFERENCE_PORT})")
    for option in GATE_OPTIONS:
        check.add_argument(f"--{option.name}", type=option.type, default=option.default,
                           choices=option.choices, help=option.help)
    check.add_argument("--json", metavar="PATH", default=None, help="write the JSON report here (atomically)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pcg-verify`` console script; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse exits 2 on usage errors and 0 on --help
        return int(exit_.code or 0)
    try:
        report = run_gate(args.port, budget=args.budget, seed=args.seed, groups=args.groups, case=args.case)
    except (InvalidArgumentError, InvalidTypeError) as error:
        print(f"pcg-verify: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        path = write_text_atomic(args.json, json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n")
    try:
        print(report.summary())
        if args.json:
            print(f"report written to {path}")
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into `head`: the verdict is the exit code
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_PASS if report.passed else EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
