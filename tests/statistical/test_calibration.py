"""Null calibration: on the reference port the gate fails as rarely as it declares.

Items (each a run of the gate on the reference port over fixed master seeds):
150 seeds at the quick budget; 2 × 10 seeds at the standard budget's drawn
cases; 2 × 4 seeds of the four engine family cases (run alone, with
``case=``; each family case rejects at every position, so its tests see the
residual); 2 × 1 seed of the standard budget's 32 designed cases (a covering
array at engine scale). Three counts per item are compared with their declared
rates by exact one-sided binomial tests, each at level 1e-3 (so this file wrongly
fails a correctly calibrated gate with probability ≤ 7 · 3 · 1e-3 = 2.1e-2;
the seeds are fixed, so its outcome is deterministic):

- gate failures, declared ≤ PROCEDURE.family_false_positive_rate = 1e-3;
- runs flagged suspicious at stage 1 (a retry), declared ≤ tail_safety_factor · suspicious_rate = 1e-2;
- stage-1 position-0 group-label p-values below 0.05 (row 0 of each case, so
  the p-values are independent), declared ≤ 0.05.

These items are a smoke test of the calibration that CI can afford (about
fifteen minutes of CPU); the calibration itself (every budget, ≥ 200 seeds each,
designed cases included) is ``benchmarks/bench_calibration.py``, hours on two cores.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from family_budgets import STANDARD_FAMILIES
from scipy import stats

from pcg_verify import PROCEDURE, run_gate
from pcg_verify.budgets import BUDGETS, Budget
from pcg_verify.report import GateReport

pytestmark = pytest.mark.slow  # minutes: kept out of the fast tiers (-m 'not slow')

LEVEL = 1e-3
STANDARD = BUDGETS["standard"]
#: The standard budget's drawn cases alone (the same cases and seeds; m counts only them).
STANDARD_DRAWN = STANDARD.drawn_only()
#: The standard budget's designed cases alone: its covering array of every master seed, m counting only them.
STANDARD_DESIGNED = dataclasses.replace(STANDARD, name="standard-designed", cases=STANDARD.designed,
                                        unaligned_vocab=None)


def _not_too_many(count: int, trials: int, rate: float) -> float:
    """One-sided exact binomial p-value of seeing ≥ count events at ``rate``."""
    return float(stats.binom.sf(count - 1, trials, rate))


def _family_runs(seed: int) -> list[GateReport]:
    return [run_gate(budget=STANDARD_FAMILIES, seed=seed, case=i)
            for i in range(STANDARD_FAMILIES.drawn, STANDARD_FAMILIES.cases)]


def _runs(budget: str, seed: int) -> list[GateReport]:
    if budget == "standard-families":
        return _family_runs(seed)
    named = {"standard-drawn": STANDARD_DRAWN, "standard-designed": STANDARD_DESIGNED}
    return [run_gate(budget=named.get(budget) or BUDGETS[budget], seed=seed)]


def _item(budget: str, master_seeds: range, min_pvalues: int, seconds: int) -> object:
    return pytest.param(budget, master_seeds, min_pvalues, marks=pytest.mark.slow(seconds=seconds))


@pytest.mark.parametrize(("budget", "master_seeds", "min_pvalues"), [
    _item("quick", range(1000, 1150), 400, 90), _item("standard-drawn", range(2000, 2010), 100, 80),
    _item("standard-drawn", range(2100, 2110), 100, 80), _item("standard-families", range(3000, 3004), 16, 70),
    _item("standard-families", range(3004, 3008), 16, 70), _item("standard-designed", range(3100, 3101), 24, 90),
    _item("standard-designed", range(3101, 3102), 24, 90)])
def test_null_calibration(budget: str, master_seeds: range, min_pvalues: int) -> None:
    failures = suspicious = runs = 0
    label_pvalues = []
    for seed in master_seeds:
        for report in _runs(budget, seed):
            runs += 1
            failures += not report.passed
            suspicious += bool(report.retried_cases)
            label_pvalues += [t.pvalue for t in report.tests
                              if t.stage == 1 and t.category == "guarantee" and t.position == 0 and t.row == 0]
    small = int(np.sum(np.array(label_pvalues) < 0.05))
    print(f"{budget}: {runs} runs: {failures} failures, {suspicious} suspicious; "
          f"{small}/{len(label_pvalues)} position-0 p-values < 0.05")
    assert runs >= (1 if budget == "standard-designed" else 10)  # a designed run holds 32 engine-scale cases
    assert _not_too_many(failures, runs, PROCEDURE.family_false_positive_rate) > LEVEL, failures
    suspicious_rate = PROCEDURE.tail_safety_factor * PROCEDURE.suspicious_rate
    assert _not_too_many(suspicious, runs, suspicious_rate) > LEVEL, suspicious
    assert len(label_pvalues) >= min_pvalues
    assert _not_too_many(small, len(label_pvalues), 0.05) > LEVEL, small


def test_the_drawn_budget_keeps_the_standard_cases() -> None:
    assert isinstance(STANDARD_DRAWN, Budget) and STANDARD_DRAWN.families == ()
    assert STANDARD_DRAWN.name == "standard-drawn" and BUDGETS["quick"].drawn_only() is BUDGETS["quick"]
    from pcg_verify.checks import gate_case

    for index in (0, STANDARD_DRAWN.cases - 1):  # the same seeds, the unaligned last drawn case included
        assert gate_case(STANDARD_DRAWN, 5, index).to_dict() == gate_case(STANDARD, 5, index).to_dict()
