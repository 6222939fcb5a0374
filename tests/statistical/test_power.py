"""Power: every mutant of the dense port fails the standard budget, in the category that must catch it.

Each is a realistic mistake in an otherwise correct, independent dense port
(the catalogue's ``dense_*`` mutants of pcg_verify.bugs; the category that must
catch it is the first it declares). The gate is designed so that each position-0 test
detects a total-variation discrepancy ≥ 0.05 with power ≥ 0.99; the seeds are
fixed, so these verdicts are deterministic. The bugs run on the standard
budget's drawn cases (``Budget.drawn_only``: the cases whose power promise is
stated above, and which catch every one of them); one bug also runs the whole
budget, family cases included, from its command-line spec.
"""

from __future__ import annotations

import pytest

from pcg_verify import run_gate
from pcg_verify.budgets import BUDGETS
from pcg_verify.bugs import CATALOGUE, mutant_port
from pcg_verify.ports import ssd_port

pytestmark = pytest.mark.slow  # minutes: kept out of the fast tiers (-m 'not slow')

STANDARD_DRAWN = BUDGETS["standard"].drawn_only()
DENSE_MUTANTS = sorted(name for name, m in CATALOGUE.items() if m.base == "dense")
STATISTICAL_BUGS = [n for n in DENSE_MUTANTS if CATALOGUE[n].expected[0] in ("guarantee", "conformance")]


@pytest.mark.parametrize("bug", DENSE_MUTANTS)
def test_every_dense_mutant_fails_the_standard_budget(bug: str) -> None:
    # The drawn cases alone catch every one; one also runs the whole budget from its CLI spec.
    whole = bug == "dense_shared_uniform"
    report = run_gate(f"pcg_verify.bugs:mutants.{bug}", budget="standard" if whole else STANDARD_DRAWN, seed=0)
    assert not report.passed, f"{bug} passed the gate:\n{report.summary()}"
    expected = CATALOGUE[bug].expected[0]
    assert report.categories[expected].verdict == "fail", report.summary()
    failures = [f for cat in report.categories.values() for f in cat.failures]
    replay = (f"Reproduce: pcg-verify check pcg_verify.bugs:mutants.{bug} --budget standard " if whole else
              f"Reproduce: pcg_verify.run_gate('pcg_verify.bugs:mutants.{bug}', budget=Budget(...standard-drawn)")
    assert failures and all(replay in f for f in failures), failures[:2]


def test_changing_only_the_within_group_token_passes_the_guarantee_and_fails_conformance() -> None:
    report = run_gate(mutant_port("dense_within_group_token_choice"), budget=STANDARD_DRAWN, seed=0)
    assert report.categories["guarantee"].verdict == "pass", report.summary()
    assert report.categories["structure"].verdict == "pass", report.summary()
    assert report.categories["conformance"].verdict == "fail", report.summary()
    # The collapse is visible in the measured intra-group variability.
    assert report.variability["observed_conditional_entropy_nats"] < report.variability[
        "reference_conditional_entropy_nats"]


def test_the_ssd_tolerance_rule_breaks_the_guarantee() -> None:
    report = run_gate(ssd_port, budget=STANDARD_DRAWN, seed=0)
    assert report.categories["guarantee"].verdict == "fail", report.summary()


@pytest.mark.parametrize("seed", [1])
@pytest.mark.parametrize("bug", STATISTICAL_BUGS)
def test_statistical_bugs_fail_under_other_master_seeds(bug: str, seed: int) -> None:
    assert not run_gate(mutant_port(bug), budget=STANDARD_DRAWN, seed=seed).passed
