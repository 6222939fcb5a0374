"""The gate's procedure: both stages check structure, case seeds never collide, verdicts read right.

Seeds are fixed, so every verdict here is deterministic; where a test relies on
the reference passing, that holds with probability ≥ 1 − 1e-3 per run (the
declared family-wise rate) and was checked for the seeds used.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
import torch

from pcg_verify import BUDGETS, PROCEDURE, Budget, Category, Procedure, Verdict, run_gate
from pcg_verify.bugs import dense_port
from pcg_verify.cases import case_seed
from pcg_verify.checks import gate_case, plan_gate, run_case
from pcg_verify.ports import reference_port
from pcg_verify.report import MAX_LISTED_FAILURES

#: The standard budget's drawn cases: what these tests of the procedure need, without the family cases' cost.
STANDARD_DRAWN = BUDGETS["standard"].drawn_only()


class _BreaksWhenRowZeroIsRerunAlone:
    """Correct, except that a row-alone call larger than the first one (stage 2 has 4x the samples)
    pads with 0 instead of -1: the defect only a re-run in stage 2 shows."""

    def __init__(self) -> None:
        self.first_alone_rows: int | None = None

    def __call__(self, draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor,
                 groups: Any, *, generator: torch.Generator) -> Any:
        out = reference_port(draft_tokens, draft_probs, target_probs, groups, generator=generator)
        alone = bool((draft_probs == draft_probs[:1]).all())
        rows = draft_tokens.shape[0]
        if not alone:
            return out
        if self.first_alone_rows is None:
            self.first_alone_rows = rows
        if rows <= self.first_alone_rows:
            return out
        return torch.where(out.tokens < 0, 0, out.tokens), out.group_ids, out.num_accepted


def _alone_case(budget: Budget, seed: int) -> int:
    return min(plan_gate(budget, seed).alone_cases)


def test_structure_broken_only_in_the_stage_2_row_alone_rerun_fails() -> None:
    budget = BUDGETS["quick"]
    index = _alone_case(budget, 0)
    everything_retried = Procedure(suspicious_rate=1.0)  # every case with a test goes to stage 2
    report = run_gate(_BreaksWhenRowZeroIsRerunAlone(), budget=budget, seed=0, case=index,
                      procedure=everything_retried)
    assert report.retried_cases == (index,)
    structure = report.categories[Category.STRUCTURE]
    assert structure.verdict == Verdict.FAIL, report.summary()
    assert "row 0 alone" in structure.failures[0] and "stage 2" in structure.failures[0]
    assert not report.passed


def test_run_case_checks_structure_of_every_run_in_stage_2() -> None:
    plan = plan_gate(BUDGETS["quick"], 0, procedure=Procedure(suspicious_rate=1.0))
    index = min(plan.alone_cases)
    result = run_case(_BreaksWhenRowZeroIsRerunAlone(), plan, index)
    assert result.retried
    assert len(result.structure) == 1 and "row 0 alone" in result.structure[0] and "stage 2" in result.structure[0]


def test_decisions_are_local_to_each_case() -> None:
    # The whole run and each case run alone reach the same decisions on every test.
    whole = run_gate("pcg_verify.bugs:mutants.dense_shared_uniform", budget="quick", seed=4)
    for index in range(BUDGETS["quick"].cases):
        alone = run_gate("pcg_verify.bugs:mutants.dense_shared_uniform", budget="quick", seed=4, case=index)
        mine = [t for t in whole.tests if t.case_index == index]
        assert [(t.pvalue, t.adjusted_pvalue, t.rejected) for t in alone.tests] == [
            (t.pvalue, t.adjusted_pvalue, t.rejected) for t in mine]


def test_case_seeds_never_collide_across_master_seeds_and_a_large_budget() -> None:
    # A budget of 5,000 cases under 200 master seeds: 10^6 (seed, case) pairs, all distinct.
    seeds = {case_seed(master, index) for master in range(200) for index in range(5_000)}
    assert len(seeds) == 200 * 5_000
    huge = dataclasses.replace(BUDGETS["quick"], cases=5_000)
    for master, index in [(0, 64), (1, 0), (3, 4_999)]:
        assert gate_case(huge, master, index).seed == case_seed(master, index)
    # Today's stride-64 scheme put (seed 0, case 64) and (seed 1, case 0) on one case.
    assert gate_case(huge, 0, 64).seed != gate_case(huge, 1, 0).seed


def test_the_family_wise_rate_is_computed_from_the_rule() -> None:
    assert PROCEDURE.family_false_positive_rate == pytest.approx(5 * 1e-4 + (5 * 2e-3) * (5 * 1e-2))
    stricter = Procedure(direct_rate=1e-5, suspicious_rate=1e-4, retry_rate=1e-3)
    assert stricter.family_false_positive_rate == pytest.approx(5e-5 + 5e-4 * 5e-3)


def test_a_plain_probability_bug_is_not_blamed_on_batch_invariance() -> None:
    report = run_gate(lambda *a, **k: dense_port(*a, **k, bug="residual_from_draft"), budget=STANDARD_DRAWN, seed=0)
    assert report.categories[Category.GUARANTEE].verdict == Verdict.FAIL
    assert report.categories[Category.BATCH_INVARIANCE].verdict != Verdict.FAIL, report.summary()


def test_a_port_reading_another_row_is_blamed_where_the_full_batch_passes() -> None:
    # batch_rows_mixed is wrong in a full batch and right when the row is alone: never batch_invariance.
    report = run_gate(lambda *a, **k: dense_port(*a, **k, bug="batch_rows_mixed"), budget=STANDARD_DRAWN, seed=0)
    assert report.categories[Category.GUARANTEE].verdict == Verdict.FAIL
    assert report.categories[Category.BATCH_INVARIANCE].verdict != Verdict.FAIL


def test_untested_categories_are_named_in_the_verdict_line() -> None:
    def unlabelled(*args: Any, **kwargs: Any) -> Any:
        out = reference_port(*args, **kwargs)
        return out.tokens, None, out.num_accepted

    report = run_gate(unlabelled, budget="quick", seed=0, case=1)
    first = report.summary().splitlines()[0]
    assert first.startswith("pcg-verify: PASS (")
    assert "untested: guarantee" in first, first


def test_long_failure_lists_say_how_many_were_cut() -> None:
    report = run_gate("pcg_verify.bugs:mutants.dense_padding_zero", budget=STANDARD_DRAWN, seed=0)
    failures = report.categories[Category.STRUCTURE].failures
    assert len(failures) > MAX_LISTED_FAILURES
    assert f"… and {len(failures) - MAX_LISTED_FAILURES} more" in report.summary()


def test_pass_messages_say_what_the_numbers_are() -> None:
    report = run_gate(budget="quick", seed=0)
    message = report.categories[Category.GUARANTEE].message
    assert "most sensitive detects TV ≥" in message and "least sensitive" in message


def test_the_json_report_is_strict_versioned_and_utf8() -> None:
    report = run_gate(budget="quick", seed=0, case=0)
    text = report.to_json()
    assert "Infinity" not in text and "NaN" not in text and '"inf"' not in text
    data = json.loads(text)
    assert data["schema_version"] == 2
    assert "γ" in text or "≥" in text  # not ASCII-escaped
    assert data["procedure"]["family_false_positive_rate"] == pytest.approx(1e-3)
    assert data["procedure"]["attribution_rate"] == pytest.approx(5 * (1e-4 + 1e-2))


def test_replay_lines_of_an_anonymous_callable_are_python_calls() -> None:
    report = run_gate(lambda *a, **k: dense_port(*a, **k, bug="padding_zero"), budget="quick", seed=0)
    line = report.categories[Category.STRUCTURE].failures[0]
    assert "Reproduce: pcg_verify.run_gate(" in line and "budget='quick', seed=0, case=" in line
