"""Null calibration: on the reference port the gate fails as rarely as it declares.

Over 400 independent master seeds at the quick budget, and 200 at the standard
budget (two items of 100, so that xdist runs them side by side), three counts
per item are compared with their declared rates by exact one-sided binomial
tests, each at level 1e-3 (so this file wrongly fails a correctly calibrated
gate with probability ≤ 9e-3; the seeds are fixed, so its outcome is
deterministic):

- gate failures, declared ≤ PROCEDURE.family_false_positive_rate = 1e-3;
- runs flagged suspicious at stage 1 (a retry), declared ≤ tail_safety_factor · suspicious_rate = 1e-2;
- position-0 group-label p-values below 0.05, declared ≤ 0.05 (one per case, so
  the p-values are independent).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from pcg_verify import PROCEDURE, run_gate

pytestmark = pytest.mark.slow  # minutes: kept out of the fast tiers (-m 'not slow')

LEVEL = 1e-3


def _not_too_many(count: int, trials: int, rate: float) -> float:
    """One-sided exact binomial p-value of seeing ≥ count events at ``rate``."""
    return float(stats.binom.sf(count - 1, trials, rate))


@pytest.mark.parametrize(("budget", "master_seeds"), [
    ("quick", range(1000, 1400)), ("standard", range(2000, 2100)), ("standard", range(2100, 2200))])
def test_null_calibration(budget: str, master_seeds: range) -> None:
    failures = suspicious = 0
    label_pvalues = []
    for seed in master_seeds:
        report = run_gate(budget=budget, seed=seed)
        failures += not report.passed
        suspicious += bool(report.retried_cases)
        label_pvalues += [t.pvalue for t in report.tests
                          if t.stage == 1 and t.category == "guarantee" and t.position == 0 and t.row == 0]
    runs = len(master_seeds)
    small = int(np.sum(np.array(label_pvalues) < 0.05))
    print(f"{budget}: {runs} runs: {failures} failures, {suspicious} suspicious; "
          f"{small}/{len(label_pvalues)} position-0 p-values < 0.05")
    assert runs >= 100
    assert _not_too_many(failures, runs, PROCEDURE.family_false_positive_rate) > LEVEL, failures
    suspicious_rate = PROCEDURE.tail_safety_factor * PROCEDURE.suspicious_rate
    assert _not_too_many(suspicious, runs, suspicious_rate) > LEVEL, suspicious
    assert len(label_pvalues) >= 1000
    assert _not_too_many(small, len(label_pvalues), 0.05) > LEVEL, small
