"""Coverage by design: every pair of coverage values meets in a reached, tested case on every master seed.

The proof has two halves, each checked here:

1. **The arrays** (combinatorics, exact): for every master seed, the standard
   budget's covering array covers every allowed pair of values of
   :data:`DIMENSIONS` (:func:`required_pairs`). Checked on 200 master seeds
   here; ``benchmarks/bench_coverage.py`` checks thousands.
2. **The cases** (read back off the tensors): a designed case has exactly the
   values of its point (:func:`measured` reads them off the built case, not the
   recipe), and at its planned replicates its tested position's residual and its
   bonus are each expected ``min_test_samples`` times over (p = q before and
   after the tested position, whose design acceptance lies in [0.3, 0.8]).
   Checked on every case of whole master seeds here (each seed one item, so
   xdist spreads them); the benchmark checks 50 seeds.

Nothing here is random beyond the fixed seeds: the outcomes are deterministic.
"""

from __future__ import annotations

import numpy as np
import pytest

from pcg_verify._plan import plan_gate
from pcg_verify.budgets import BUDGETS, PROCEDURE
from pcg_verify.cases._design import (
    DIMENSIONS,
    FAMILY_POINTS,
    allowed,
    covered_pairs,
    covering_array,
    designed_case,
    expected_observations,
    measured,
    required_pairs,
)
from pcg_verify.cases._families import design_acceptance

STANDARD = BUDGETS["standard"]


def test_the_dimensions_table_is_the_one_the_docs_show() -> None:
    assert dict(DIMENSIONS) == {
        "layout": ("small", "unaligned", "codec", "llasa"), "gamma": ("1", "2", "8", "9", "16"),
        "calls": ("one_row", "few_rows", "stacked", "decode_loop"),
        "dtype": ("float64", "float32", "float16", "bfloat16"),
        "mass": ("concentrated", "spread", "near_one_hot", "light_draft"), "weights": ("equal", "stored"),
        "groups": ("windows", "clusters", "hubs"), "memory": ("contiguous", "strided"), "tested": ("first", "last"),
    }
    assert not allowed("mass", "spread", "layout", "small") and allowed("mass", "spread", "layout", "codec")
    assert len(required_pairs()) > 300


@pytest.mark.parametrize("first", range(0, 200, 50))
def test_every_allowed_pair_is_covered_on_every_master_seed(first: int) -> None:
    for seed in range(first, first + 50):
        rows = covering_array(seed, size=STANDARD.designed)
        assert len(rows) == STANDARD.designed
        assert [dict(r) for r in rows[: len(FAMILY_POINTS)]] == [dict(p) for p in FAMILY_POINTS]
        missing = required_pairs() - covered_pairs(rows)
        assert not missing, (seed, sorted(missing)[:5])
        assert all(allowed(a, r[a], b, r[b]) for r in rows for a in DIMENSIONS for b in DIMENSIONS if a != b)


def test_the_arrays_differ_between_master_seeds() -> None:
    assert covering_array(0, size=STANDARD.designed) != covering_array(1, size=STANDARD.designed)


@pytest.mark.parametrize("seed", [0, 7])
def test_built_cases_have_their_values_and_reach_their_tested_laws(seed: int) -> None:
    plan = plan_gate(STANDARD, seed)
    designed = [(i, c) for i, c in enumerate(plan.cases) if c.design]
    assert len(designed) == STANDARD.designed
    points = []
    for index, case in designed:
        point = dict(case.design)
        assert measured(case) == point, (index, case.description)
        points.append(point)
        acceptance = design_acceptance(case.groups, case.draft_probs, case.target_probs[:, :-1])  # [B, γ]
        tested = 0 if point["tested"] == "first" else case.gamma - 1
        others = np.delete(acceptance, tested, axis=1)
        assert np.allclose(others, 1.0, atol=2e-2), (index, others.min())  # p = q (rows round to the dtype)
        a = acceptance[:, tested]
        assert ((0.3 <= a) & (a <= 0.8)).all(), (index, a)
        residual, bonus = expected_observations(case, plan.samples_per_row[index])
        assert min(residual, bonus) >= PROCEDURE.min_test_samples, (index, residual, bonus)
    assert not required_pairs() - covered_pairs(points)


def test_a_designed_case_is_rebuilt_from_its_params() -> None:
    point = dict(covering_array(3)[5])
    case = designed_case(point, 11)
    again = designed_case(**case.params())
    assert case.description == again.description
    assert bool((case.target_probs == again.target_probs).all()) and bool((case.draft_probs == again.draft_probs).all())
