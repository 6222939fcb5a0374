"""Speed and memory of the group builders at the paper's scale (docs/algorithm.md).

Builds clustered random embeddings whose threshold groups have a chosen
average size (θ calibrated on a row sample), builds the groups with the
threshold rule (and the top-K rule at a smaller size), saves them, reads
them back with ``Groups.load(validate=True)`` (every invariant, O(nnz)) and
``validate=False`` (format only), and prints one markdown table.

    python benchmarks/bench_groups.py                      # V=65536, D=2048, ~140 per group
    python benchmarks/bench_groups.py --quick              # a few seconds
    python benchmarks/bench_groups.py --load-only          # load at paper scale without building (~30 s)

``--load-only`` skips the embeddings: random groups of the same V and
average size (9.2 M memberships at the defaults), with equal weights (what
the builders write by default: only the indices are stored and checked) and
with stored weights (both weight arrays checked too).

Each case runs in a fresh process, so its peak RSS (``ru_maxrss``) is its own;
it includes the embedding (V·D·4 bytes) and the interpreter with torch.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pcg_core import Groups, groups_from_threshold, groups_from_topk


def clustered_embeddings(vocab: int, dim: int, seed: int, cluster_size: int = 250) -> torch.Tensor:
    """float32 [vocab, dim]: ``center[c(t)] + σ_t · noise``, σ_t ~ U(0.5, 2).

    Tokens of one cluster have cosine ≈ 1/√((1+σ_t²)(1+σ_t'²)), so groups
    overlap in nested, uneven ways; tokens of different clusters have cosine
    ≈ 0 ± 1/√dim. Generated in row chunks to hold one copy only.
    """
    gen = torch.Generator().manual_seed(seed)
    num_clusters = max(1, vocab // cluster_size)
    centers = torch.randn(num_clusters, dim, generator=gen)
    assignment = torch.randint(num_clusters, (vocab,), generator=gen)
    spread = 0.5 + 1.5 * torch.rand(vocab, generator=gen)
    out = torch.empty(vocab, dim)
    for lo in range(0, vocab, 4096):
        hi = min(lo + 4096, vocab)
        noise = torch.randn(hi - lo, dim, generator=gen)
        out[lo:hi] = centers[assignment[lo:hi]] + spread[lo:hi, None] * noise
    return out


def calibrate_theta(emb: torch.Tensor, avg_size: float, seed: int, sample: int = 1024) -> float:
    """θ such that a seeded sample of rows has ``avg_size`` tokens with cos ≥ θ on average (self included)."""
    gen = torch.Generator().manual_seed(seed + 1)
    rows = torch.randperm(emb.shape[0], generator=gen)[: min(sample, emb.shape[0])]
    norms = emb.norm(dim=1)  # no normalised copy: it would double the peak RSS
    cap = min(emb.shape[0], int(20 * avg_size))
    best = []
    for lo in range(0, rows.numel(), 256):
        chunk = rows[lo : lo + 256]
        sims = (emb[chunk] / norms[chunk, None]) @ emb.T / norms[None, :]
        best.append(torch.topk(sims, cap, dim=1).values.reshape(-1))
    pooled = torch.cat(best)
    target = round(avg_size * rows.numel())
    return float(torch.topk(pooled, target).values[-1])


def npz_member_bytes(path: Path) -> dict[str, int]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename.removesuffix(".npy"): info.file_size for info in archive.infolist()}


def load_seconds(path: Path, repeats: int = 3) -> tuple[str, str]:
    """Best of ``repeats`` of Groups.load with validate=True and with validate=False: "wall s (CPU s)".

    CPU seconds are shown too: on a shared machine they move much less than wall time.
    """
    best = {flag: [float("inf"), float("inf")] for flag in (True, False)}
    for _ in range(repeats):
        for validate in (True, False):
            start, cpu_start = time.perf_counter(), time.process_time()
            Groups.load(path, validate=validate)
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            best[validate] = [min(best[validate][0], wall), min(best[validate][1], cpu)]
    checked, trusted = (f"{wall:.3f} ({cpu:.3f})" for wall, cpu in (best[True], best[False]))
    return checked, trusted


def random_groups(vocab: int, avg_size: float, seed: int, stored: bool) -> Groups:
    """V groups of ``round(avg_size)`` distinct random members each (every token covered whp)."""
    rng = np.random.default_rng(seed)
    size = round(avg_size)
    steps = rng.integers(1, max(2, vocab // size), size=(vocab, size))  # cumulative steps < V: distinct members
    members = (np.arange(vocab)[:, None] * 7 + np.cumsum(steps, axis=1)) % vocab
    ptr = np.arange(vocab + 1, dtype=np.int64) * size
    missing = np.setdiff1d(np.arange(vocab), members)  # whatever no group reached becomes a singleton
    ptr = np.concatenate([ptr, ptr[-1] + 1 + np.arange(missing.size)])
    flat = np.concatenate([members.reshape(-1), missing])
    weights = rng.uniform(0.5, 2.0, flat.size) if stored else None
    return Groups.from_memberships(vocab, ptr, flat, weights)


def run_load_case(case: dict[str, Any]) -> dict[str, Any]:
    """Load cost only, on random groups (no embeddings), meant to run in its own process."""
    torch.set_num_threads(case["threads"])
    groups = random_groups(case["vocab"], case["avg_size"], case["seed"], case["stored"])
    with tempfile.TemporaryDirectory() as tmp:
        path = groups.save(Path(tmp) / "groups.npz")
        checked, trusted = load_seconds(path)
        file_bytes = path.stat().st_size
    return {"weights": groups.weights_kind, "V": case["vocab"], "groups": groups.num_groups, "nnz": groups.nnz,
            "file_mb": file_bytes / 2**20, "load_checked": checked, "load_trusted": trusted}


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    """One measurement, meant to run in its own process."""
    torch.set_num_threads(case["threads"])
    emb = clustered_embeddings(case["vocab"], case["dim"], case["seed"])
    theta = calibrate_theta(emb, case["avg_size"], case["seed"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "groups.npz"
        start, cpu_start = time.perf_counter(), time.process_time()
        if case["rule"] == "threshold":
            groups = groups_from_threshold(emb, theta, block_size=case["block_size"])
            setting = f"θ={theta:.4f}"
        else:
            k = round(case["avg_size"])
            groups = groups_from_topk(emb, k, block_size=case["block_size"])
            setting = f"k={k}"
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        groups.save(path)
        sizes = npz_member_bytes(path)
        file_bytes = path.stat().st_size
        load_checked, load_trusted = load_seconds(path)
    group_sizes = groups.sizes().double()
    return {
        "rule": case["rule"], "V": case["vocab"], "D": case["dim"], "setting": setting,
        "avg": float(group_sizes.mean()), "max": int(group_sizes.max()), "groups": groups.num_groups,
        "nnz": groups.nnz, "seconds": seconds, "cpu_seconds": cpu_seconds,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "emb_mb": emb.numel() * emb.element_size() / 2**20,
        "nbytes_mb": groups.nbytes / 2**20,
        "fwd_mb": (sizes["group_members"] + sizes["group_ptr"]) / 2**20,
        "rev_mb": (sizes["token_groups"] + sizes["token_ptr"]) / 2**20,
        "file_mb": file_bytes / 2**20,
        "load_checked": load_checked, "load_trusted": load_trusted,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vocab", type=int, default=65536)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--avg-size", type=float, default=140.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--topk-vocab", type=int, default=16384, help="V of the top-K case")
    parser.add_argument("--block-size", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="V=4096, D=256, top-K at V=2048")
    parser.add_argument("--load-only", action="store_true", help="time Groups.load on random groups of V ids")
    args = parser.parse_args(argv)
    if args.quick:
        args.vocab, args.dim, args.topk_vocab = 4096, 256, 2048
    context = multiprocessing.get_context("spawn")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    header = (f"torch {torch.__version__}, numpy {np.__version__}, {args.threads} threads on {os.cpu_count()} cores "
              f"(load {load}), block_size={args.block_size}, seed={args.seed}\n")
    if args.load_only:
        rows = []
        for stored in (False, True):
            case = {"vocab": args.vocab, "avg_size": args.avg_size, "seed": args.seed, "stored": stored,
                    "threads": args.threads}
            with context.Pool(1) as pool:
                rows.append(pool.apply(run_load_case, (case,)))
        print(header)
        print("| weights | V | groups | nnz | file MB | load s (CPU s), validate=True "
              "| load s (CPU s), validate=False |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r['weights']} | {r['V']} | {r['groups']} | {r['nnz']} | {r['file_mb']:.1f} | "
                  f"{r['load_checked']} | {r['load_trusted']} |")
        return 0
    common = {"dim": args.dim, "avg_size": args.avg_size, "seed": args.seed,
              "block_size": args.block_size, "threads": args.threads}
    cases = [
        {"rule": "threshold", "vocab": args.vocab, **common},
        {"rule": "topk", "vocab": args.topk_vocab, **common},
    ]
    rows = []
    for case in cases:
        with context.Pool(1) as pool:
            rows.append(pool.apply(run_case, (case,)))
    print(header)
    print("| rule | V | D | θ / k | avg size | max size | groups | nnz | build s (CPU s) | peak RSS MB "
          "(incl. embedding) | Groups.nbytes MB | file: members+ptr MB | file: token_groups+ptr MB "
          "| load s (CPU s), validate=True / False |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['rule']} | {r['V']} | {r['D']} | {r['setting']} | {r['avg']:.1f} | {r['max']} | "
              f"{r['groups']} | {r['nnz']} | {r['seconds']:.1f} ({r['cpu_seconds']:.0f}) | "
              f"{r['rss_mb']:.0f} ({r['emb_mb']:.0f}) | "
              f"{r['nbytes_mb']:.1f} | {r['fwd_mb']:.1f} | {r['rev_mb']:.1f} | "
              f"{r['load_checked']} / {r['load_trusted']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
