"""The call clauses of the port contract: results a caller keeps stay valid, and a decode loop's one generator.

Ports from tests/verify/call_ports.py (the reference sampler with one fault in how it is called) run on a
decode-loop case — one generator, seeded once, for every call, and rows per call cycling 3, 1, 4, 2 —
in-process and in an isolated worker (``IsolatedPort``, the CLI's default for Python ports). The
structural checks are exact and never fail a correct port; the statistical assertions are seeded (the
same counts on every run) and their error rates are stated where they are made.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from pcg_verify import _plan as plan_module
from pcg_verify._call_patterns import pooled_test_count, pooled_tests
from pcg_verify._experiment import Observations, call_inputs, draft_tokens_for, observe, row_laws
from pcg_verify._plan import plan_gate
from pcg_verify.budgets import BUDGETS, PROCEDURE
from pcg_verify.cases import Case
from pcg_verify.cases._families import family_case
from pcg_verify.checks import run_case, run_gate
from pcg_verify.ports import IsolatedPort, KeptResults, PortProtocolError, call_port
from pcg_verify.ports._imports import import_callable

PORTS = Path(__file__).with_name("call_ports.py")
REFERENCE = "pcg_verify.ports:reference_port"
SAMPLES = 400  # ~160 calls of the cycle (3, 1, 4, 2), ~80 consecutive-call pairs
OWNERSHIP = r"results of call \d+ changed during call \d+"
NOT_ADVANCED = "left its generator unchanged"


def _spec(name: str) -> str:
    return REFERENCE if name == "reference" else f"{PORTS}:{name}"


@pytest.fixture(scope="module")
def loop_case() -> Case:
    return dataclasses.replace(family_case("single_row", 1), decode_loop=True, call_rows=(3, 1, 4, 2))


@pytest.fixture(params=[False, True], ids=["in_process", "isolated"])
def open_port(request: pytest.FixtureRequest) -> Iterator[Any]:
    """``open_port(name)``: a port of call_ports.py (or the reference) in-process or in a worker (one per name)."""
    started: dict[str, IsolatedPort] = {}

    def make(name: str) -> Any:
        if not request.param:
            return import_callable(_spec(name))
        if name not in started:
            started[name] = IsolatedPort(_spec(name))
        return started[name]

    yield make
    for port in started.values():
        port.stop()


def _observe(port: Any, case: Case, seed: int = 5) -> Observations:
    return observe(port, case, row_laws(case), samples_per_row=SAMPLES, seed=seed)


def _pooled(obs: Observations, case: Case) -> list[Any]:
    return pooled_tests(obs, row_laws(case), case_index=0, stage=1, per_test_level=1e-5, false_negative_rate=0.01,
                        procedure=PROCEDURE)


def test_a_port_returning_static_buffers_breaks_the_ownership_clause(open_port: Any) -> None:
    family = family_case("single_row", 1)  # one-row calls, a fresh generator each: any schedule checks it
    for case in (family, dataclasses.replace(family, decode_loop=True, call_rows=(3, 1, 4, 2))):
        obs = _observe(open_port("static_buffers"), case)
        assert obs.violation_count == 1
        assert re.match(OWNERSHIP, obs.violations[0]), obs.violations[0]
        assert "stay valid and unchanged after later calls" in obs.violations[0]


def test_a_port_that_never_advances_the_generator_fails_a_decode_loop(open_port: Any, loop_case: Case) -> None:
    obs = _observe(open_port("initial_seed_stream"), loop_case)
    assert obs.violation_count == 1 and NOT_ADVANCED in obs.violations[0]
    # With a fresh generator per call the same port is exact: only the decode loop exposes it.
    fresh = _observe(open_port("initial_seed_stream"), dataclasses.replace(loop_case, decode_loop=False))
    assert fresh.violation_count == 0


def test_the_reference_passes_the_decode_loop_and_isolation_changes_nothing(loop_case: Case) -> None:
    inside = _observe(import_callable(REFERENCE), loop_case)
    worker = IsolatedPort(REFERENCE)
    try:
        isolated = _observe(worker, loop_case)
    finally:
        worker.stop()
    assert inside.violation_count == isolated.violation_count == 0
    # The worker advances the caller's generator exactly as in-process: the same draws, call after call.
    assert inside.call_pairs is not None and isolated.call_pairs is not None
    assert (inside.call_pairs == isolated.call_pairs).all() and inside.call_pairs.sum() >= 70
    for a, b in zip(inside.rows, isolated.rows, strict=True):
        assert (a.accepted_length == b.accepted_length).all() and (a.tokens == b.tokens).all()
    tests = _pooled(inside, loop_case)
    assert len(tests) == pooled_test_count(loop_case) == pooled_test_count(family_case("single_row", 1)) + 1
    # Seeded; a correct port gives p ≤ 1e-6 in one of these 4 tests with probability ≤ 4e-6.
    assert min(t.pvalue for t in tests) > 1e-6


def test_a_port_that_advances_but_replays_fails_the_consecutive_call_law(loop_case: Case) -> None:
    obs = _observe(import_callable(_spec("advances_but_replays")), loop_case)
    assert obs.violation_count == 0  # structurally sound: it advances the generator
    pair = next(t for t in _pooled(obs, loop_case) if "calls 2s, 2s+1" in t.law)
    # Seeded (p ≈ 2e-7 at this seed): row 0 of every call reuses the first call's uniforms, so consecutive
    # calls' accepted lengths are far from independent.
    assert pair.pvalue < 1e-5 and pair.category == "batch_invariance"


def test_the_plan_counts_the_consecutive_call_test_of_every_decode_loop_case(monkeypatch: pytest.MonkeyPatch) -> None:
    budget = BUDGETS["quick"]
    base = plan_gate(budget, 0).planned_tests
    drawn = plan_module.gate_case
    monkeypatch.setattr(plan_module, "gate_case", lambda *a, **k: dataclasses.replace(drawn(*a, **k),
                                                                                     decode_loop=True))
    assert plan_gate(budget, 0).planned_tests == base + budget.cases


def test_kept_results_name_the_call_and_the_cell_that_changed() -> None:
    kept = KeptResults("of a test")
    buffer = torch.zeros(2, 3, dtype=torch.int64)
    kept.after_call((buffer, None, torch.zeros(2, dtype=torch.int64)))
    kept.after_call((torch.ones(2, 3, dtype=torch.int64), None, torch.zeros(2, dtype=torch.int64)))
    buffer[1, 2] = 7
    with pytest.raises(PortProtocolError, match=r"results of call 0 changed during call 2 \(of a test\): "
                       r"tokens\[1, 2\] was 0, now 7"):
        kept.after_call((buffer, None, torch.zeros(2, dtype=torch.int64)))


def test_call_port_takes_a_generator_or_a_seed() -> None:
    case = family_case("single_row", 1)
    inputs = (*call_inputs(case, draft_tokens_for(case, 2, np.random.default_rng(0))), case.groups)
    generator = torch.Generator().manual_seed(3)
    before = generator.get_state()
    by_generator = call_port(import_callable(REFERENCE), *inputs, generator)
    assert not torch.equal(before, generator.get_state())  # the port advanced the caller's generator
    by_seed = call_port(import_callable(REFERENCE), *inputs, 3)
    assert torch.equal(by_generator.tokens, by_seed.tokens)
    with pytest.raises(TypeError, match="generator"):
        call_port(import_callable(REFERENCE), *inputs, 3.0)  # type: ignore[arg-type]


def test_the_gate_runs_a_decode_loop_case_end_to_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """run_case on a plan whose single_row case is a decode loop: the reference passes with the consecutive-call
    test among its tests; a port that never advances the generator is a structure failure of that case."""
    budget = dataclasses.replace(BUDGETS["quick"], name="quick-loop", cases=2, families=("single_row",),
                                 family_samples_per_row=400)
    drawn = plan_module.gate_case

    def loop_case(*args: Any, **kwargs: Any) -> Case:
        case = drawn(*args, **kwargs)
        return dataclasses.replace(case, decode_loop=True, call_rows=(3, 1, 4, 2)) if case.family else case

    monkeypatch.setattr(plan_module, "gate_case", loop_case)
    plan = plan_gate(budget, 0)
    assert plan.cases[1].decode_loop
    passed = run_case(import_callable(REFERENCE), plan, 1)
    assert not passed.structure and passed.determinism is None
    assert any("calls 2s, 2s+1 of a decode loop" in t.law for t in passed.tests)
    # Seeded; the reference fails a test at the plan's level (adjusted p ≤ 1e-4) with probability ≤ 1e-3.
    assert not passed.rejected
    failed = run_case(import_callable(_spec("initial_seed_stream")), plan, 1)
    assert failed.structure and NOT_ADVANCED in failed.structure[0]


def test_every_case_of_a_quick_run_keeps_the_ownership_clause_across_its_experiments() -> None:
    """Quick cases make one stacked call per experiment; the case's one KeptResults spans its experiments and
    the determinism calls, so static buffers fail every case (they passed every check before)."""
    report = run_gate(_spec("static_buffers"), budget="quick", seed=0)
    assert report.categories["structure"].verdict == "fail"
    failures = report.categories["structure"].failures
    assert len(failures) == BUDGETS["quick"].cases
    assert all(re.search(r"results of call \d+ changed during call \d+ \(of case \d+\)", f) for f in failures)
