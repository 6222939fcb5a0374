"""The reference sampler, and a second independent port, pass the gate at every budget.

Error rate: each run fails a correct port with probability ≤ 1e-3 (the gate's
declared family-wise rate); seeds are fixed, so these verdicts are
deterministic and never flaky. Times are printed, not asserted (benchmarks/
measures speed).
"""

from __future__ import annotations

import pytest

from pcg_verify import BUDGETS, PROCEDURE, run_gate
from pcg_verify.bugs import equivalents


@pytest.mark.parametrize("budget", [pytest.param(b, marks=[pytest.mark.slow(seconds=145)] if b == "thorough" else [])
                                    for b in sorted(BUDGETS)])
def test_reference_passes_every_budget(budget: str) -> None:
    report = run_gate(budget=budget, seed=0)
    assert report.passed, report.summary()
    assert {v.verdict for v in report.categories.values()} == {"pass"}, report.summary()
    assert report.family_false_positive_rate == PROCEDURE.family_false_positive_rate <= 1e-3
    print(f"{budget}: {report.elapsed_seconds:.1f} s, {len(report.tests)} tests")


@pytest.mark.parametrize("residual", ["exact"])
def test_reference_with_the_exact_residual_passes(residual: str) -> None:
    from functools import partial

    from pcg_core import verify

    port = partial(verify, residual=residual)
    # the drawn cases: the designed cases' engine scale is the reference's own, run at every budget above
    assert run_gate(port, budget=BUDGETS["standard"].drawn_only(), seed=1, port_name="verify(residual='exact')").passed


def test_an_independent_dense_port_passes() -> None:
    report = run_gate(equivalents.dense_port, budget="standard", seed=0, port_name="dense")
    assert report.passed, report.summary()


def test_standard_sd_passes_with_singleton_groups() -> None:
    report = run_gate("pcg_verify.ports:standard_port", budget="standard", seed=0, singleton_only=True)
    assert report.passed, report.summary()
