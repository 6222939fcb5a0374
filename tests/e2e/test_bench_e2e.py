"""benchmarks/bench_e2e.py's instrumentation: it times every part of the loop from outside, leaves the decoding
unchanged, and is gone when its context closes (it wraps private names of the loop, so a refactor that
renames them fails here, not in a benchmark run)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch
from e2e_pairs import Pair

import pcg_core
from pcg_verify.e2e import _decode, generate, groups_from_model

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_e2e.py"


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("bench_e2e", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


@pytest.mark.parametrize("method", ["ar", "sd", "pcg"])
def test_instrumentation_times_each_part_and_changes_nothing(bench: ModuleType, tiny_pair: Pair,
                                                             method: str) -> None:
    groups = groups_from_model(tiny_pair.target, tiny_pair.layout, theta=0.3)
    start, stop = tiny_pair.layout.speech_range
    prompts = torch.randint(start, stop, (4, 5), generator=torch.Generator().manual_seed(0))
    originals = (_decode._Loop.run, _decode._Loop._draft, _decode._CachedModel.forward,
                 _decode._CachedModel.keep_last, pcg_core.verify, pcg_core.standard_verify)

    def decode() -> _decode.Generation:
        return generate(tiny_pair.target, tiny_pair.draft, prompts, method=method, groups=groups, gamma=3,
                        max_new_tokens=20, eos_token_id=None, generator=torch.Generator().manual_seed(1))

    plain = decode()
    with bench.instrumented(tiny_pair.target, torch.device("cpu")) as timed:
        again = decode()
    assert again.sequences == plain.sequences  # same seed, same tokens: the wrappers only read clocks
    assert (_decode._Loop.run, _decode._Loop._draft, _decode._CachedModel.forward, _decode._CachedModel.keep_last,
            pcg_core.verify, pcg_core.standard_verify) == originals

    # Prefill is outside the loop's timed run, so every pass counted is a decoding pass (a pass over the
    # 4 rows counts 4 target calls; rows leave the batch when they reach the length limit).
    blocks = len(timed.target_passes)
    assert again.stats.target_calls / 4 <= blocks <= again.stats.target_calls
    assert sum(timed.parts.values()) <= again.stats.seconds
    assert timed.parts["target passes"] > 0
    if method == "ar":
        assert timed.draft_passes == [] and timed.parts["drafting"] == timed.parts["verification"] == 0
    else:
        assert len(timed.draft_passes) == 3 * blocks
        assert timed.parts["verification"] > 0 and timed.parts["cache rollback"] > 0
        assert sum(timed.draft_passes) <= timed.parts["drafting"]


def test_on_cuda_the_loop_start_and_every_timer_synchronize(bench: ModuleType, tiny_pair: Pair,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The CUDA path without a GPU: the models run on the CPU, the benchmark is told the device is CUDA, and
    its synchronize is recorded instead of called."""
    calls: list[str] = []
    monkeypatch.setattr(bench, "synchronize", lambda device: calls.append(device.type))
    cuda = torch.device("cuda")
    groups = groups_from_model(tiny_pair.target, tiny_pair.layout, theta=0.3)
    start, stop = tiny_pair.layout.speech_range
    prompts = torch.randint(start, stop, (2, 5), generator=torch.Generator().manual_seed(0))

    def decode() -> _decode.Generation:
        return generate(tiny_pair.target, tiny_pair.draft, prompts, method="pcg", groups=groups, gamma=3,
                        max_new_tokens=12, eos_token_id=None, generator=torch.Generator().manual_seed(1))

    with bench.synchronized_start(cuda):
        decode()
    assert calls == ["cuda"]  # once, before the loop starts its timer (prefill is queued before it)

    calls.clear()
    with bench.instrumented(tiny_pair.target, cuda) as timed, bench.synchronized_start(cuda):
        decode()
    blocks = len(timed.target_passes)
    # Each timed part synchronizes before and after: every model pass, and per block the drafting, the
    # verification and at least the two rollbacks; the loop's start twice (both wrappers).
    parts = len(timed.draft_passes) + blocks + 4 * blocks
    assert set(calls) == {"cuda"}
    assert len(calls) >= 2 + 2 * parts
