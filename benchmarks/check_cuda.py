"""GPU check (run where a CUDA device exists; CI has none): CUDA agrees with the CPU.

Prints a table: group builders on CUDA give the same group family as on the
CPU, the gate passes the reference sampler running on CUDA (the port moves
the batch to the GPU and seeds a CUDA generator from the gate's generator),
and inputs split between CUDA and the CPU end in a clear error naming the
argument on the wrong device. Exits 1 when a row fails.

    python benchmarks/check_cuda.py [--budget quick]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch

from pcg_core import Groups, InvalidArgumentError, groups_from_labels, groups_from_threshold, groups_from_topk, verify
from pcg_verify import run_gate


def family(groups: Groups) -> list[tuple[int, ...]]:
    return sorted(tuple(groups.members_of(k).tolist()) for k in range(groups.num_groups))


def cuda_reference_port(draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor,
                        groups: Groups, *, generator: torch.Generator) -> Any:
    """The reference sampler on CUDA; its generator is seeded from the gate's CPU generator."""
    device = torch.device("cuda")
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    cuda_generator = torch.Generator(device).manual_seed(seed)
    out = verify(draft_tokens.to(device), draft_probs.to(device), target_probs.to(device), groups.to(device),
                 generator=cuda_generator)
    return out.tokens.cpu(), out.group_ids.cpu() if out.group_ids is not None else None, out.num_accepted.cpu()


def device_mismatches() -> list[tuple[str, bool]]:
    """(what, the error names the argument and the devices) for inputs split between CUDA and the CPU."""
    v, groups = 6, groups_from_labels([0, 0, 1, 1, 2, 2])

    def block(device: str = "cpu", **overrides: Any) -> dict[str, Any]:
        args = {"draft_tokens": torch.zeros(2, 2, dtype=torch.int64, device=device),
                "draft_probs": torch.full((2, 2, v), 1 / v, dtype=torch.float64, device=device),
                "target_probs": torch.full((2, 3, v), 1 / v, dtype=torch.float64, device=device),
                "groups": groups.to(device), "generator": torch.Generator(device).manual_seed(0)}
        return {**args, **overrides}

    cases = [
        ("target on cuda, draft on cpu", block(target_probs=block("cuda")["target_probs"]),
         ("target_probs=", "is on cuda:0, draft_probs on cpu")),
        ("tokens on cuda, probs on cpu", block(draft_tokens=block("cuda")["draft_tokens"]),
         ("draft_tokens=", "is on cuda:0, draft_probs on cpu")),
        ("probs on cuda, groups on cpu", block("cuda", groups=groups),
         ("groups=", "lives on cpu, the probabilities on cuda:0")),
        ("probs on cuda, generator for cpu", block("cuda", generator=torch.Generator().manual_seed(0)),
         ("generator=", "is for cpu, the probabilities live on cuda:0")),
    ]
    out = []
    for what, args, fragments in cases:
        try:
            verify(**args)
            out.append((what, False))
        except InvalidArgumentError as error:
            out.append((what, all(f in str(error) for f in fragments) and str(error).startswith(fragments[0])))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", default="quick")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("check_cuda.py needs a CUDA device")
    gen = torch.Generator().manual_seed(0)
    emb = torch.randn(4097, 64, generator=gen)
    print("| check | result | seconds |")
    print("|---|---|---|")
    for name, build in (("threshold θ=0.3", lambda e: groups_from_threshold(e, 0.3, block_size=1024)),
                        ("top-k k=7", lambda e: groups_from_topk(e, 7, block_size=1024))):
        start = time.perf_counter()
        same = family(build(emb.cuda())) == family(build(emb))
        print(f"| {name}: CUDA family == CPU family | {same} | {time.perf_counter() - start:.1f} |")
    failed = False
    for what, clear in device_mismatches():
        print(f"| {what}: clear error | {clear} | - |")
        failed |= not clear
    report = run_gate(cuda_reference_port, budget=args.budget, seed=0, port_name="cuda_reference_port")
    print(f"| gate on the CUDA reference ({args.budget}) | {report.verdict} | {report.elapsed_seconds:.1f} |")
    if failed or not report.passed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
