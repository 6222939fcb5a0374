"""``pcg-verify tts``: the paper's table from local checkpoints and a local LibriTTS copy.

    pcg-verify tts --libritts DIR --target DIR --draft DIR --codec DIR [--semantic DIR] [--speech-offset O]
                   [--subset test-clean] [--n 500] [--seed 0] [--methods ar,sd,ssd,pcg]
                   [--theta 0.4] [--top-k-groups K] [--groups-from target|codec] [--groups-cache PATH]
                   [--gamma 3] [--temperature 0.8] [--top-k K] [--top-p P] [--beta 0.3]
                   [--max-new-tokens 1500] [--batch-size 1] [--min-seconds S] [--max-seconds S]
                   [--max-prompt-seconds S] [--asr bundled|whisper:DIR|transformers:DIR]
                   [--speaker resemblyzer|wavlm:DIR] [--device cpu|cuda] [--dtype float32|bfloat16|float16]
                   [--swap] [--swap-fraction F] [--audio-dir DIR] [--report DIR] [--json PATH]

Exit codes: 0 when the monitors of every exact method (AR, SD, PCG) pass,
1 when one fails (SSD's verdict is reported, not required: it is not exact),
2 on a usage error (a missing directory or package included), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Add the ``tts`` subcommand to ``pcg-verify``'s subparsers."""
    from pcg_verify.e2e._arguments import add_decoding_arguments

    tts = subparsers.add_parser(
        "tts", help="the paper's TTS table: LibriTTS cross-sentence cloning with X-codec2, WER/CER, similarity",
        description="Decode LibriTTS cross-sentence cases with AR, SD, SSD(β) and PCG(θ) (pcg_verify.e2e's loop, "
                    "monitors on every verified position), decode the speech with X-codec2, and print the table: "
                    "speedup, WER, CER, speaker similarity, acceptance, monitors' verdict. Everything loads from "
                    "local paths (docs/tts.md gives the layout).")
    tts.add_argument("--libritts", required=True, metavar="DIR", help="LibriTTS folder (or one subset folder)")
    tts.add_argument("--subset", default="test-clean", help="subset folder under --libritts (default: test-clean)")
    tts.add_argument("--target", required=True, metavar="DIR", help="Llasa target (model + tokenizer directory)")
    tts.add_argument("--draft", required=True, metavar="DIR", help="draft model sharing the target's vocabulary")
    tts.add_argument("--codec", required=True, metavar="DIR", help="X-codec2 checkpoint directory")
    tts.add_argument("--semantic", metavar="DIR", default=None,
                     help="local w2v-bert-2.0 directory (when the codec checkpoint lacks semantic_model.* weights)")
    tts.add_argument("--speech-offset", type=int, default=None, metavar="O",
                     help="id of speech token 0 (default: the tokenizer's <|s_0|>, else Llasa's 128264)")
    tts.add_argument("--n", type=int, default=500, help="test cases drawn (default: 500, the paper's)")
    tts.add_argument("--seed", type=int, default=0, help="seeds the sample, the decoding and the monitors")
    tts.add_argument("--methods", default="ar,sd,ssd,pcg", help="comma-separated subset of ar,sd,ssd,pcg")
    add_decoding_arguments(tts, temperature=0.8, temperature_help=", the paper's")
    tts.add_argument("--groups-from", choices=("target", "codec"), default="target",
                     help="target input embeddings (the paper's) or the codec's code vectors (the ablation)")
    tts.add_argument("--max-new-tokens", type=int, default=1500, metavar="N", help="(default: 1500 = 30 s)")
    tts.add_argument("--batch-size", type=int, default=1, help="rows decoded together (default: 1)")
    tts.add_argument("--min-seconds", type=float, default=0.0, help="shortest target utterance")
    tts.add_argument("--max-seconds", type=float, default=None, help="longest target utterance")
    tts.add_argument("--max-prompt-seconds", type=float, default=None, help="longest prompt utterance")
    tts.add_argument("--asr", default="bundled", help="bundled | whisper:DIR | transformers:DIR (default: bundled)")
    tts.add_argument("--speaker", default="resemblyzer", help="resemblyzer | wavlm:DIR (default: resemblyzer)")
    tts.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32",
                     help="the language models' dtype (default: float32)")
    tts.add_argument("--swap", action="store_true", help="also run the within-group swap stress test")
    tts.add_argument("--swap-fraction", type=float, default=1.0, help="share of tokens offered for swapping")
    tts.add_argument("--audio-dir", metavar="DIR", default=None, help="write METHOD/ID.wav for every output")
    tts.add_argument("--report", metavar="DIR", default=None,
                     help="write DIR/results.json, DIR/index.html and DIR/table.md")
    tts.add_argument("--json", metavar="PATH", default=None, help="write the results envelope as JSON")


def run(args: argparse.Namespace, out: Callable[[str], None] = print) -> int:
    """Run ``pcg-verify tts`` with parsed ``args``; return the exit code (module docstring)."""
    from pcg_core.errors import PCGError
    from pcg_verify._commands import run_command

    command = getattr(args, "command_line", None)
    return run_command(lambda: _run(args, out, command), errors=(PCGError, OSError, ImportError))


def _run(args: argparse.Namespace, out: Callable[[str], None], command: str | None) -> int:
    from pcg_core.atomic import writable_path, write_text_atomic
    from pcg_verify._commands import EXIT_FAIL, EXIT_PASS
    from pcg_verify.e2e import SamplingConfig
    from pcg_verify.reliability import check_report_directory, results_json
    from pcg_verify.tts._libritts import sample_cases, scan_libritts
    from pcg_verify.tts._pipeline import TTSSettings, run_swap_test, run_table
    from pcg_verify.tts._report import format_table, table_results, write_table_report
    from pcg_verify.tts._system import build_groups, load_system

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    settings = TTSSettings(methods=methods, gamma=args.gamma, beta=args.beta, max_new_tokens=args.max_new_tokens,
                           batch_size=args.batch_size, seed=args.seed,
                           sampling=SamplingConfig(args.temperature, args.top_k, args.top_p))
    if args.report:
        check_report_directory(args.report, "--report")
    if args.json:
        writable_path("--json", args.json)
    index = scan_libritts(args.libritts, subset=args.subset)
    sample = sample_cases(index, args.n, seed=args.seed, min_seconds=args.min_seconds, max_seconds=args.max_seconds,
                          max_prompt_seconds=args.max_prompt_seconds)
    out(f"{len(sample.cases)} case(s) drawn from {sample.eligible} eligible in {index.root} "
        f"({len(index.skipped)} file(s) skipped)")
    system = load_system(target=args.target, draft=args.draft, codec=args.codec, semantic=args.semantic,
                         asr=args.asr, speaker=args.speaker, device=args.device, dtype=args.dtype,
                         speech_offset=args.speech_offset)
    groups: Any = None
    info: dict[str, Any] = {}
    if "pcg" in methods or args.swap:
        groups, info = build_groups(system, source=args.groups_from, theta=args.theta, top_k=args.top_k_groups,
                                    cache=args.groups_cache)
        out(f"groups: {info['description']}: {info['num_groups']} groups")
    table = run_table(sample.cases, system, settings, groups=groups, theta=args.theta, group_info=info,
                      audio_dir=args.audio_dir, progress=out)
    if args.swap:
        import dataclasses

        table = dataclasses.replace(table, swap=run_swap_test(sample.cases, system, groups,
                                                              fraction=args.swap_fraction, seed=args.seed))
    out(format_table(table).rstrip("\n"))
    for row in table.rows:
        out(f"{row.label}: " + row.monitor.summary())
    if args.report:
        out(f"report page: {write_table_report(args.report, table, command=command)}")
    if args.json:
        write_text_atomic(args.json, results_json(table_results(table, command=command)))
        out(f"results written to {args.json}")
    return EXIT_PASS if table.passed else EXIT_FAIL
