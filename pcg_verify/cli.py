"""``pcg-verify`` (also ``python -m pcg_verify``): the gate on the command line.

    pcg-verify check [PORT | --exec "CMD ARGS…"] [--budget quick|standard|thorough] [--seed N]
                     [--singleton-groups] [--case I] [--json PATH|-]
                     [--in-process] [--call-timeout S] [--deadline S] [--threads N] [--report DIR]
    pcg-verify report DIR
    pcg-verify list
    pcg-verify bugs [--budget B] [--seed S] [--json PATH] [--report DIR] [--only NAME…] [--workers N] [--list]
    pcg-verify e2e --target DIR [--draft DIR] --method ar|sd|ssd|pcg [--theta T] [--top-k-groups K] [--gamma G]
                   [--temperature T] [--top-k K] [--top-p P] [--beta B] [--device cpu|cuda] [--prompts FILE]
                   [--max-new-tokens N] [--seed S] [--groups-cache PATH] [--speech-offset O --num-speech N]
                   [--reference decoder|recompute] [--ignore-eos] [--no-baseline] [--report DIR] [--json PATH]
    pcg-verify tts --libritts DIR --target DIR --draft DIR --codec DIR [--methods ar,sd,ssd,pcg] [--n 500] …
                   (the paper's TTS table; pcg_verify.tts, docs/tts.md)

Exit codes: 0 pass, 1 the port is wrong, 2 the gate could not run (usage
error, a port that cannot be loaded, an unwritable output path, a budget that
cannot keep its promise), 3 the gate itself failed (a defect of the gate, or
too little memory for it: never a verdict on the port), 4 too slow (nothing
failed in the cases that finished, but a port call ran past --call-timeout or
the run past --deadline: the unfinished cases are untested; never a pass, and
not a verdict that the port is wrong), 130 interrupted (Ctrl-C), 143
terminated (SIGTERM); no report is written after 3, 130 or 143.
``e2e`` decodes with a Hugging Face target/draft pair (docs/e2e.md): 0 when
every run's monitors pass, 1 when one fails, 2 on a usage error.

The port runs in a worker process by default: whatever it does (raise, exit,
crash, hang, write garbage) ends as a verdict of its case, never as the
gate's exit status. ``--in-process`` calls it directly (faster to start; a
port that kills its process then takes the gate with it). A port in any
language is a program speaking the pcg-port protocol (docs/protocol.md):
``exec:CMD ARGS…`` as PORT, or ``--exec "CMD ARGS…"``; it is its own process,
so no worker is put around it.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from pcg_core.atomic import writable_path, write_text_atomic
from pcg_core.errors import InvalidArgumentError, PCGError
from pcg_verify._commands import (
    EXIT_FAIL,
    EXIT_GATE_ERROR,
    EXIT_INTERRUPTED,
    EXIT_PASS,
    EXIT_TOO_SLOW,
    EXIT_USAGE,
    REQUIRED_ADDRESS_SPACE_MB,
    address_space_shortfall,
    print_out,
    run_command,
)
from pcg_verify._options import (
    BUDGET_NAMES,
    GATE_OPTIONS,
    REFERENCE_PORT,
    check_gate_options,
    check_port_spec,
    gate_kwargs,
)
from pcg_verify.e2e._arguments import add_decoding_arguments
from pcg_verify.tts._cli import add_parser as add_tts_parser

__all__ = ["EXIT_FAIL", "EXIT_GATE_ERROR", "EXIT_INTERRUPTED", "EXIT_PASS", "EXIT_TOO_SLOW", "EXIT_USAGE",
           "build_parser", "main", "run_command"]

_CHECK_EXAMPLES = f"""\
examples:
  pcg-verify check                                     # the reference sampler ({REFERENCE_PORT})
  pcg-verify check mypackage.sampler:pcg_port --budget thorough --json report.json
  pcg-verify check --report reports/reference          # results.json + index.html; `pcg-verify report DIR` re-renders
  pcg-verify check ./my_port.py:verify_block           # a loose file, by path
  pcg-verify check --exec "./my_sampler --device cuda" # a program speaking the pcg-port protocol
  pcg-verify check exec:"./my_sampler --device cuda"   # the same, as a PORT spec
  pcg-verify check myengine.sd:rejection_sampler --singleton-groups   # plain speculative decoding
  pcg-verify check pcg_verify.bugs:mutants.dense_shared_uniform       # a planted bug: exits 1
  pcg-verify check PORT --budget standard --seed 0 --case 7           # replay one case (failures print this)
  pcg-verify check ./slow_port.py:verify --call-timeout 600           # a slow port: see "slow ports" below

slow ports: a port that verifies row by row may need minutes per call on the largest calls (up to 16,384
  rows or 2^24 probabilities each). A call past --call-timeout (default 60 s), or the run past --deadline
  (default: none), leaves its case unfinished: the verdict is TOO SLOW (exit 4), the unfinished cases are
  listed as untested, never failed. Re-run with a larger --call-timeout and without --deadline (or a larger
  one); --keep-going keeps calling after a timeout instead of skipping the later cases. See docs/gate.md.

exit codes: 0 pass, 1 the port is wrong, 2 the gate could not run, 3 the gate itself failed,
            4 too slow (not a pass; nothing failed in the cases that finished), 130 interrupted,
            143 terminated
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
    check.add_argument("port", nargs="?", default=None,
                       help="package.module:function, path/to/file.py:function or exec:CMD ARGS... "
                            f"(default: {REFERENCE_PORT})")
    check.add_argument("--exec", metavar="'CMD ARGS...'", default=None,
                       help="gate a program in any language that speaks the pcg-port protocol on stdin/stdout "
                            "(docs/protocol.md); the same as PORT exec:CMD ARGS...")
    check.add_argument("--case", type=int, default=None, help="run only this case index (failures print it)")
    check.add_argument("--json", metavar="PATH", default=None,
                       help="write the JSON report here (atomically; '-' writes it to stdout and the summary to "
                            "stderr); checked before the run")
    check.add_argument("--report", metavar="DIR", default=None,
                       help="write the reliability report: DIR/results.json and DIR/index.html (atomically; "
                            "checked before the run); prints the page's path")
    for option in GATE_OPTIONS:  # the options the pytest plugin has too, as --pcg-NAME
        check.add_argument(f"--{option.name}", **option.add_argument_kwargs())
    report = commands.add_parser("report", help="render DIR/index.html again from DIR/results.json",
                                 description="Render the reliability report's page from its results.json alone "
                                             "(written by 'pcg-verify check ... --report DIR') and print its path.")
    report.add_argument("directory", metavar="DIR", help="a report directory holding results.json")
    commands.add_parser("list", help="print the budgets and the bug catalogue",
                        description="Print each budget (cases, the TV each test detects, the family-wise "
                                    "false-positive rate), each mutant of pcg_verify.bugs with its bug class and "
                                    "the categories expected to kill it, and the equivalents the gate must pass.")
    bugs = commands.add_parser(
        "bugs", help="the mutation score: the gate on every planted mutant and equivalent (pcg_verify.bugs)",
        description="Run the gate on every mutant of pcg_verify.bugs.CATALOGUE (each must fail, in one of its "
                    "declared categories) and every equivalent (each must pass); print mutant, bug class, "
                    "killed?, by which category, p-value, samples. Exit 0 only when every mutant is killed and "
                    "every equivalent passes, 1 otherwise, 2 on a usage error.")
    bugs.add_argument("--budget", default="standard", choices=BUDGET_NAMES, help="(default: standard)")
    bugs.add_argument("--seed", type=int, default=0, help="the gate's master seed (default: 0)")
    bugs.add_argument("--json", metavar="PATH", default=None, help="write the score table as JSON (atomically)")
    bugs.add_argument("--only", nargs="+", metavar="NAME", default=None, help="score only these entries")
    bugs.add_argument("--workers", type=int, default=1, help="processes to spread the entries over (default: 1)")
    bugs.add_argument("--report", metavar="DIR", default=None,
                      help="write the reliability report: DIR/results.json and DIR/index.html with the score "
                           "table (atomically; checked before the run)")
    bugs.add_argument("--list", action="store_true", help="print the catalogue and run nothing")
    _add_e2e(commands)
    add_tts_parser(commands)
    return parser


def _add_e2e(commands: Any) -> None:
    e2e = commands.add_parser(
        "e2e", help="speculative decoding of a Hugging Face target/draft pair with the guarantee monitors",
        description="Decode with AR, SD, SSD(β) or PCG (plus AR as the speed baseline), monitor every verified "
                    "position (randomized PIT of the emitted groups and of the accept bits, exact KS tests, "
                    "Bonferroni; family-wise false-positive rate 1e-3 per run) and print tokens/s, speedup vs AR, "
                    "tokens per target call, accepted drafts per block, acceptance rate and the verdicts. "
                    "Models load from local directories only. See docs/e2e.md.")
    e2e.add_argument("--target", required=True, metavar="DIR", help="the target model (save_pretrained directory)")
    e2e.add_argument("--draft", metavar="DIR", default=None, help="the draft model (not needed for --method ar)")
    e2e.add_argument("--method", required=True, choices=("ar", "sd", "ssd", "pcg"))
    add_decoding_arguments(e2e, temperature=1.0)
    e2e.add_argument("--prompts", metavar="FILE", default=None,
                     help="one prompt per line, token ids separated by spaces or commas (default: 4 seeded prompts "
                          "of speech ids)")
    e2e.add_argument("--max-new-tokens", type=int, default=64, metavar="N", help="(default: 64)")
    e2e.add_argument("--seed", type=int, default=0, help="seeds the decoding and the monitors (default: 0)")
    e2e.add_argument("--speech-offset", type=int, default=None, metavar="O",
                     help="id of speech token 0 (default: Llasa's 128264 when the vocabulary is that large, "
                          "else the whole vocabulary is grouped)")
    e2e.add_argument("--num-speech", type=int, default=None, metavar="N", help="speech tokens (with --speech-offset)")
    e2e.add_argument("--reference", choices=("decoder", "recompute"), default="decoder",
                     help="the monitors' q: the loop's own rows, or a fresh no-cache pass per block (audits caches)")
    e2e.add_argument("--ignore-eos", action="store_true", help="decode every row to --max-new-tokens")
    e2e.add_argument("--no-baseline", action="store_true", help="skip the AR baseline run (no speedup)")
    e2e.add_argument("--report", metavar="DIR", default=None,
                     help="write the reliability report: DIR/results.json and DIR/index.html")
    e2e.add_argument("--json", metavar="PATH", default=None, help="write the results envelope as JSON")


def _list() -> str:
    from pcg_verify.budgets import BUDGETS, PROCEDURE
    from pcg_verify.bugs import CATALOGUE, EQUIVALENTS

    rate = PROCEDURE.family_false_positive_rate
    lines = ["budgets (power ≥ 1 − false_negative_rate to detect the TV at every position-0 label test; "
             f"family-wise false-positive rate {rate:g}):",
             f"  {'name':<9} {'cases':>5} {'TV':>6} {'power':>6} {'V ≤':>5} {'γ ≤':>4} {'B ≤':>4}  unaligned V"]
    for b in BUDGETS.values():
        lines.append(f"  {b.name:<9} {b.cases:>5} {b.discrepancy:>6g} {1 - b.false_negative_rate:>6g} "
                     f"{b.max_vocab:>5} {b.max_gamma:>4} {b.max_batch:>4}  {b.unaligned_vocab or '-'}")
    lines.append("bugs (pcg-verify check pcg_verify.bugs:mutants.NAME; each must fail in one of the categories "
                 "listed last; pcg-verify bugs scores them all):")
    lines += [f"  {m.name:<32} {m.bug_class:<52} {', '.join(map(str, m.expected))}" for m in CATALOGUE.values()]
    lines.append("equivalents (pcg-verify check pcg_verify.bugs:equivalents.NAME; each must pass):")
    lines += [f"  {m.name:<32} {m.bug_class}" for m in EQUIVALENTS.values()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pcg-verify`` console script; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse exits 2 on usage errors and 0 on --help
        return int(exit_.code or 0)
    shortfall = address_space_shortfall()
    if shortfall is not None:  # before torch or scipy is imported: they would hang or die without a word
        print(f"pcg-verify: gate error: {shortfall}", file=sys.stderr)
        return EXIT_GATE_ERROR
    if args.command == "list":
        print_out(_list())
        return EXIT_PASS
    if args.command == "report":
        return _rerender(args.directory)
    args.command_line = "pcg-verify " + shlex.join(sys.argv[1:] if argv is None else argv)
    if args.command == "bugs":
        from pcg_verify.bugs._score import bugs_command

        return run_command(lambda: bugs_command(
            budget=args.budget, seed=args.seed, json_path=args.json, only=args.only, workers=args.workers,
            list_only=args.list, out=print_out, report_dir=args.report, command=args.command_line))
    if args.command == "e2e":
        from pcg_verify.e2e._harness import e2e_command

        return run_command(lambda: e2e_command(args, print_out, args.command_line), errors=(PCGError, OSError),
                           import_message="e2e needs transformers ({}); pip install 'pcg-verify[e2e]'")
    if args.command == "tts":
        from pcg_verify.tts._cli import run as run_tts

        return run_tts(args, print_out)
    return run_command(lambda: _check(args), errors=())


def _rerender(directory: str) -> int:
    from pcg_verify.reliability import rerender

    try:
        print_out(str(rerender(directory)))
    except (PCGError, OSError) as error:
        print(f"pcg-verify: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_PASS


def _write_report(args: argparse.Namespace, report: Any) -> str:
    """Write the --report directory; the page's path (raises OSError or PCGError when it cannot)."""
    from pcg_verify.reliability import gate_results, write_report

    return str(write_report(args.report, gate_results(report, command=args.command_line)))


def _port_spec(args: argparse.Namespace) -> str:
    """PORT, or ``exec:`` and ``--exec``'s command, or the reference sampler when neither is given (an
    empty one, as an unset ``$PORT`` gives, is an error, never the reference)."""
    if args.exec is not None and args.port is not None:
        raise InvalidArgumentError("--exec", args.exec, f"comes instead of PORT, and PORT {args.port!r} was given too")
    if args.exec is not None:
        return "exec:" + check_port_spec("--exec", args.exec)
    return REFERENCE_PORT if args.port is None else check_port_spec("PORT", args.port)


def _check_outputs(args: argparse.Namespace) -> None:
    """--json and --report can be written (an empty path is an error): checked before the run, by creating."""
    if args.json is not None and args.json != "-":
        writable_path("--json", args.json)
    if args.report is not None:
        from pcg_verify.reliability import check_report_directory

        check_report_directory(args.report, "--report")


def _exit_status(report: Any) -> int:
    """0 pass, 1 fail, 4 too slow (:class:`~pcg_verify.report.Verdict`)."""
    return {"pass": EXIT_PASS, "too_slow": EXIT_TOO_SLOW}.get(str(report.verdict), EXIT_FAIL)


def _check(args: argparse.Namespace) -> int:
    from pcg_verify.checks import run_gate
    from pcg_verify.reliability._progress import progress_bar

    to_stdout = args.json == "-"
    values = {o.name: getattr(args, o.name.replace("-", "_")) for o in GATE_OPTIONS}
    try:
        check_gate_options(values)
        spec = _port_spec(args)
        _check_outputs(args)
        with progress_bar("pcg-verify: cases") as progress:
            report = run_gate(spec, case=args.case, progress=progress, **gate_kwargs(values))
    except PCGError as error:
        print(f"pcg-verify: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError:
        print(f"pcg-verify: gate error: the gate ran out of memory (it needs about {REQUIRED_ADDRESS_SPACE_MB} MB "
              "per process)", file=sys.stderr)
        return EXIT_GATE_ERROR
    except Exception:  # a defect of the gate itself: never a pass, never "the port is wrong"
        print("pcg-verify: gate error: internal error (please report it):\n" + traceback.format_exc(),
              file=sys.stderr)
        return EXIT_GATE_ERROR
    status = _exit_status(report)
    page = ""
    if args.report is not None:
        try:
            page = _write_report(args, report)
        except (PCGError, OSError) as error:  # the directory was checked, but a disk can still fill up
            print(report.summary(), file=sys.stderr)
            print(f"pcg-verify: error: --report={args.report!r}: {error}", file=sys.stderr)
            return EXIT_USAGE
    if to_stdout:
        print_out(report.to_json().rstrip("\n"))
        print(report.summary() + (f"\nreport page: {page}" if page else ""), file=sys.stderr)
        return status
    written = f"\nreport page: {page}" if page else ""
    if args.json:
        try:
            written += f"\nreport written to {write_text_atomic(args.json, report.to_json())}"
        except OSError as error:  # the path was checked, but a disk can still fill up
            print_out(report.summary())
            print(f"pcg-verify: error: --json={args.json!r}: {error}", file=sys.stderr)
            return EXIT_USAGE
    print_out(report.summary() + written)
    return status


if __name__ == "__main__":
    sys.exit(main())
