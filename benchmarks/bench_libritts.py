"""The paper's TTS table (AR, SD, SSD(β), PCG(θ)) with timings, from local checkpoints or on tiny models.

Real checkpoints (docs/tts.md gives the directory layout), e.g. 20 cases on a GPU::

    python benchmarks/bench_libritts.py --libritts /data/LibriTTS --target /ckpt/Llasa-8B \\
        --draft /ckpt/llasa-draft-3l --codec /ckpt/xcodec2 --n 20 --device cuda --dtype bfloat16 \\
        --asr transformers:/ckpt/hubert-large-ls960-ft --speaker wavlm:/ckpt/wavlm-base-plus-sv \\
        --report reports/tts

Tiny random models (every stage runs for real; the numbers time the machinery, not speech quality), on
the LibriVox clips of Debian's pocketsphinx-testdata arranged as LibriTTS when ``--libritts`` is not given::

    python benchmarks/bench_libritts.py --tiny --n 2 --max-new-tokens 32 --groups fsq      # CPU
    python benchmarks/bench_libritts.py --tiny --n 4 --device cuda --groups target         # GPU

Prints the table, then seconds per stage (loading, groups, the table), and writes ``--report DIR``
(results.json, index.html, table.md) when asked. Exit 0 when every exact method's monitors pass.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PACKAGED = Path("/usr/share/pocketsphinx/test/data")


def packaged_libritts(root: Path) -> Path:
    """The pocketsphinx-testdata clips as a LibriTTS-shaped folder (speaker 1001: LibriVox, 1002: cards)."""
    line = re.compile(r"<s>\s*(?P<text>.*?)\s*</s>\s*\((?P<id>[^)]+)\)")
    for speaker, folder, listing in (("1001", "librivox", "transcription"), ("1002", "cards", "cards.transcription")):
        source = PACKAGED / folder / listing
        if not source.is_file():
            sys.exit(f"{source} is missing: apt-get install -y pocketsphinx-testdata, or pass --libritts DIR")
        chapter = root / "test-clean" / speaker / "1"
        chapter.mkdir(parents=True, exist_ok=True)
        for i, match in enumerate(m for m in map(line.match, source.read_text("utf-8").splitlines()) if m):
            stem = f"{speaker}_1_{i:06d}_000000"
            shutil.copyfile(PACKAGED / folder / f"{match['id']}.wav", chapter / f"{stem}.wav")
            (chapter / f"{stem}.normalized.txt").write_text(match["text"] + "\n", "utf-8")
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="tiny random models and a small random codec")
    parser.add_argument("--libritts", metavar="DIR", default=None)
    parser.add_argument("--subset", default="test-clean")
    parser.add_argument("--target", metavar="DIR")
    parser.add_argument("--draft", metavar="DIR")
    parser.add_argument("--codec", metavar="DIR")
    parser.add_argument("--semantic", metavar="DIR", default=None)
    parser.add_argument("--speech-offset", type=int, default=None)
    parser.add_argument("--n", type=int, default=20, help="cases (default: 20; the paper: 500)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", default="ar,sd,ssd,pcg")
    parser.add_argument("--groups", choices=("target", "codec", "fsq"), default="target",
                        help="PCG's groups: target embeddings (the paper's), codec code vectors (the ablation), or "
                             "FSQ-prefix labels (tiny CPU runs: embedding groups over 65,536 ids take ~20 s on a CPU)")
    parser.add_argument("--theta", type=float, default=0.4)
    parser.add_argument("--top-k-groups", type=int, default=None)
    parser.add_argument("--groups-cache", default=None)
    parser.add_argument("--gamma", type=int, default=3)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--beta", type=float, default=0.3)
    parser.add_argument("--max-new-tokens", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--max-prompt-seconds", type=float, default=None)
    parser.add_argument("--asr", default="bundled")
    parser.add_argument("--asr-device", default="cpu", help="faster-whisper on CUDA needs cuBLAS; cpu is safe")
    parser.add_argument("--speaker", default="resemblyzer")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32")
    parser.add_argument("--swap", action="store_true")
    parser.add_argument("--report", metavar="DIR", default=None)
    args = parser.parse_args()

    import torch

    from pcg_verify.e2e import SamplingConfig
    from pcg_verify.tts import (
        TTSSettings,
        format_table,
        fsq_prefix_groups,
        run_swap_test,
        run_table,
        sample_cases,
        scan_libritts,
        write_table_report,
    )
    from pcg_verify.tts._system import build_groups, load_system, tiny_system

    timings: dict[str, float] = {}
    start = time.perf_counter()
    if args.tiny:
        system = tiny_system(seed=args.seed, device=args.device, asr=args.asr, speaker=args.speaker,
                             asr_device=args.asr_device)
    else:
        if not (args.target and args.draft and args.codec and args.libritts):
            parser.error("--target, --draft, --codec and --libritts are required without --tiny")
        system = load_system(target=args.target, draft=args.draft, codec=args.codec, semantic=args.semantic,
                             asr=args.asr, speaker=args.speaker, device=args.device, dtype=args.dtype,
                             speech_offset=args.speech_offset, asr_device=args.asr_device)
    timings["load models"] = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(args.libritts) if args.libritts else packaged_libritts(Path(scratch))
        sample = sample_cases(scan_libritts(root, subset=args.subset), args.n, seed=args.seed,
                              max_prompt_seconds=args.max_prompt_seconds)
        methods = tuple(m for m in args.methods.split(",") if m)
        start = time.perf_counter()
        if args.groups == "fsq":
            groups, info = fsq_prefix_groups(system.prompter.layout), {"description": "FSQ prefix groups of 16"}
            theta = None
        else:
            groups, info = build_groups(system, source=args.groups, theta=args.theta, top_k=args.top_k_groups,
                                        cache=args.groups_cache)
            theta = args.theta
        timings["groups"] = time.perf_counter() - start
        settings = TTSSettings(methods=methods, gamma=args.gamma, beta=args.beta, seed=args.seed,
                               max_new_tokens=args.max_new_tokens, batch_size=args.batch_size,
                               sampling=SamplingConfig(temperature=args.temperature))
        start = time.perf_counter()
        table = run_table(sample.cases, system, settings, groups=groups, theta=theta, group_info=info,
                          progress=lambda line: print(f"  {line}", flush=True))
        timings["table"] = time.perf_counter() - start
        if args.swap:
            start = time.perf_counter()
            table = dataclasses.replace(table, swap=run_swap_test(sample.cases, system, groups, seed=args.seed))
            timings["swap test"] = time.perf_counter() - start
    device = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    print(f"\n{'tiny random models' if args.tiny else args.target} on {device}, {len(sample.cases)} case(s)\n")
    print(format_table(table))
    for row in table.rows:
        print(f"{row.label:<12} decode {row.stats['seconds']:.2f} s, {row.stats['new_tokens']} tokens, "
              f"{row.stats['target_calls']} target calls")
    print("stages: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items()))
    if args.report:
        print(f"report page: {write_table_report(args.report, table, command=' '.join(['python', *sys.argv]))}")
    return 0 if table.passed else 1


if __name__ == "__main__":
    sys.exit(main())
