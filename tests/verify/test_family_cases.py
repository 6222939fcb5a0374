"""Case families and call patterns: coverage by design on every seed, engine-like rows, the calls a port sees.

Nothing here is statistical: every case is a deterministic function of its seed,
and every call the gate makes is recorded by a spy around the reference port.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np
import pytest
import torch
from family_budgets import STANDARD_FAMILIES, THOROUGH_FAMILIES

from pcg_core import SUM_TOLERANCE, verify
from pcg_core.errors import InvalidArgumentError
from pcg_verify import Budget
from pcg_verify._call_patterns import (
    DETERMINISM_ROWS,
    REPLAY_CALLS,
    determinism_rows,
    pattern_test_count,
    pooled_test_count,
    relabelled_groups,
    replay_case,
)
from pcg_verify._experiment import call_inputs, call_sizes, draft_tokens_for, row_laws
from pcg_verify._row_joint import row_joint_test_count
from pcg_verify._spread import spread_test_count
from pcg_verify.budgets import BUDGETS
from pcg_verify.cases._families import (
    ACCEPTANCE_RANGE,
    DIMENSIONS,
    FAMILIES,
    LLASA_SPEECH_OFFSET,
    coverage,
    design_acceptance,
    family_case,
    label_cells,
)
from pcg_verify.checks import gate_case, plan_gate, run_case

SMALL = ("unaligned", "single_row")
#: The named engine budgets with the families in place of their designed cases (tests/family_budgets.py).
ENGINE_BUDGETS = {"standard": STANDARD_FAMILIES, "thorough": THOROUGH_FAMILIES}
#: The quick budget with the families at a small sample cap: the family machinery at little cost.
QUICK_FAMILIES = dataclasses.replace(BUDGETS["quick"], name="quick-families", cases=8 + len(FAMILIES),
                                     families=tuple(FAMILIES), family_samples_per_row=400)


def budget_cases(budget: Budget, seed: int) -> list[Any]:
    return [gate_case(budget, seed, i) for i in range(budget.cases)]


# ---------------------------------------------------------------------------- coverage by design
def test_standard_and_thorough_carry_designed_cases_and_quick_none() -> None:
    assert [n for n, b in BUDGETS.items() if b.designed] == ["standard", "thorough"]
    assert all(not b.families for b in BUDGETS.values()) and BUDGETS["quick"].designed == 0
    for name, spec in ENGINE_BUDGETS.items():  # the families' budgets keep the named budgets' drawn cases
        assert spec.drawn == BUDGETS[name].drawn and spec.designed == 0


@pytest.mark.parametrize("budget", sorted(ENGINE_BUDGETS))
def test_every_budget_lists_every_family_in_its_last_cases(budget: str) -> None:
    spec = ENGINE_BUDGETS[budget]
    assert spec.families == tuple(FAMILIES)
    drawn = spec.cases - len(spec.families)
    for offset, name in enumerate(spec.families):
        assert gate_case(spec, 5, drawn + offset).family == name
    assert gate_case(spec, 5, drawn - 1).family == ""


@pytest.mark.parametrize("budget", sorted(ENGINE_BUDGETS))
def test_seed_0_of_every_budget_covers_every_dimension(budget: str) -> None:
    covered = coverage(budget_cases(ENGINE_BUDGETS[budget], 0))
    assert set(covered) == set(DIMENSIONS)
    assert all(covered.values()), [d for d, ok in covered.items() if not ok]


@pytest.mark.slow
@pytest.mark.parametrize("budget", sorted(ENGINE_BUDGETS))
def test_every_master_seed_covers_every_dimension(budget: str) -> None:
    # The families fix every dimension; the seed moves only ids, masses and memberships.
    for seed in [1, 2, 3, 17, 255, 1000, 65_537, 2**40 + 3]:
        covered = coverage(budget_cases(ENGINE_BUDGETS[budget], seed))
        assert all(covered.values()), (seed, [d for d, ok in covered.items() if not ok])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_case_rejects_at_every_position(name: str) -> None:
    for seed in range(12):
        case = family_case(name, seed)
        acceptance = design_acceptance(case.groups, case.draft_probs, case.target_probs[:, :-1])
        assert acceptance.shape == (case.batch, case.gamma)
        assert ACCEPTANCE_RANGE[0] <= acceptance.min() and acceptance.max() <= ACCEPTANCE_RANGE[1], (seed, acceptance)
        # the exact laws agree: a_i = 1 − TV(P_c, Q_c) ≤ 0.8, so the residual runs
        for law in row_laws(case):
            assert np.all(law.acceptance <= ACCEPTANCE_RANGE[1] + 1e-3)


def test_the_llasa_layout_and_the_codec_vocabulary_are_as_engines_have_them() -> None:
    llasa = family_case("llasa", 0)
    assert llasa.vocab_size == 193_800 and llasa.groups.num_groups > 65_535
    assert llasa.groups.group_members.dtype == torch.int32 and llasa.groups.token_groups.dtype == torch.int32
    text = llasa.groups.groups_per_token()[:LLASA_SPEECH_OFFSET]
    assert bool((text == 1).all())
    speech_groups = llasa.groups.token_groups[llasa.groups.token_ptr[LLASA_SPEECH_OFFSET]:].long()
    assert int(speech_groups.min()) >= LLASA_SPEECH_OFFSET  # text groups hold no speech id
    assert llasa.target_probs.dtype == torch.bfloat16
    codec = family_case("codec", 0)
    assert codec.vocab_size == 65_536 and codec.groups.group_members.dtype == torch.uint16
    assert bool((codec.target_probs[..., 65_535] > 0).all())  # the top id 0xFFFF at every position
    assert codec.groups.max_groups_per_token >= 256 and codec.groups.max_group_size >= 4096
    assert 100 <= codec.groups.nnz / codec.groups.num_groups <= 200


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_rows_are_softmax_outputs_in_their_dtype(name: str) -> None:
    case = family_case(name, 3)
    dtype = FAMILIES[name].dtype
    assert case.draft_probs.dtype == case.target_probs.dtype == dtype
    tolerance = SUM_TOLERANCE[str(dtype).removeprefix("torch.")]
    for rows in (case.draft_probs, case.target_probs):
        sums = rows.double().sum(-1)
        assert float((sums - 1).abs().max()) <= tolerance
        # all the mass on a few dozen ids, the rest exactly 0 (the codec's thin spread aside: below 2e-5 each)
        assert int((rows >= 2e-5).sum(-1).max()) <= 64
        thin = ((rows > 0) & (rows < 2e-5)).sum(-1)
        if name == "codec" and rows is case.target_probs:
            assert int(thin[:, [0, -1]].min()) >= 16_384 and int(thin[:, 1:-1].max()) == 0
        else:
            assert int(thin.max()) == 0
    assert label_cells(case) < 2_000
    assert case.params() == {"family": name, "seed": 3}
    again = family_case(name, 3)
    assert torch.equal(again.draft_probs, case.draft_probs) and torch.equal(again.target_probs, case.target_probs)


def test_the_unaligned_family_alternates_its_two_sizes_and_keeps_mass_on_the_last_id() -> None:
    sizes = {family_case("unaligned", seed).vocab_size for seed in (0, 1)}
    assert sizes == {4097, 8193}
    for seed in (0, 1):
        case = family_case("unaligned", seed)
        assert bool((case.target_probs[:, :, -1] > 0).all())


# ---------------------------------------------------------------------------- the calls a port sees
def test_call_sizes_follow_the_cycle_and_keep_whole_replicates() -> None:
    case = family_case("unaligned", 0)
    assert call_sizes(case, 2 * 10) == [2, 4, 6, 2, 4, 2]
    assert call_sizes(family_case("single_row", 0), 3) == [1, 1, 1]
    drawn = gate_case(BUDGETS["quick"], 0, 0)
    assert all(size % drawn.batch == 0 for size in call_sizes(drawn, drawn.batch * 40_000))


def test_non_contiguous_inputs_survive_the_gates_copies() -> None:
    case = family_case("unaligned", 0)
    drafts = draft_tokens_for(case, 3, np.random.default_rng(0))
    tokens, draft_probs, target_probs = call_inputs(case, drafts)
    for tensor in (tokens, draft_probs, target_probs):
        assert not tensor.is_contiguous() and not tensor.clone().is_contiguous()
    assert torch.equal(draft_probs, case.draft_probs.repeat(3, 1, 1))


class Spy:
    """The reference port, recording how each call looked."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor,
                 groups: Any, *, generator: torch.Generator) -> Any:
        self.calls.append({"rows": draft_tokens.shape[0], "dtype": draft_probs.dtype,
                           "contiguous": draft_probs.is_contiguous() and target_probs.is_contiguous(),
                           "groups": id(groups), "index_dtype": groups.group_members.dtype,
                           "num_groups": groups.num_groups, "members": groups.group_members[:8].clone()})
        return verify(draft_tokens, draft_probs, target_probs, groups, generator=generator)


@pytest.mark.slow
@pytest.mark.parametrize("name", SMALL)
def test_the_port_gets_small_engine_like_calls_and_changed_groups(name: str) -> None:
    spec = QUICK_FAMILIES
    plan = plan_gate(spec, 0)
    index = spec.cases - len(spec.families) + spec.families.index(name)
    spy = Spy()
    result = run_case(spy, plan, index)
    assert not result.structure and result.determinism is None and not result.rejected
    family = FAMILIES[name]
    rows = {c["rows"] for c in spy.calls}
    assert set(family.call_rows) <= rows  # 1-row calls, or calls of 2, 4 and 6 rows
    assert max(rows) >= min(DETERMINISM_ROWS, determinism_rows(plan.cases[index]))  # the large determinism calls
    assert {c["dtype"] for c in spy.calls} == {family.dtype}
    assert not any(c["contiguous"] for c in spy.calls)
    assert len({c["groups"] for c in spy.calls[:50]}) > 1  # a fresh Groups object for the calls
    # the alternating-groups experiment: two structures of equal shapes, one after the other
    distinct = {tuple(c["members"].tolist()) for c in spy.calls}
    assert len(distinct) == 2
    tests = result.tests
    assert any(f"one input under {REPLAY_CALLS} seeds" in t.law for t in tests)
    assert any("groups alternated" in t.law and "structure 1" in t.law for t in tests)
    assert any("first row of every call" in t.law for t in tests)


# ---------------------------------------------------------------------------- the experiments' inputs
def test_the_replay_input_is_fixed_yet_drawn_from_the_draft() -> None:
    case = family_case("single_row", 1)
    fixed = replay_case(case, 640)
    assert fixed.batch == 1 and fixed.call_rows == (640 // REPLAY_CALLS,)
    assert bool(((fixed.draft_probs == 0) | (fixed.draft_probs == 1)).all())
    assert torch.equal(fixed.draft_probs.double().sum(-1), torch.ones(1, case.gamma, dtype=torch.float64))
    drafts = draft_tokens_for(fixed, 50, np.random.default_rng(0))
    assert bool((drafts == drafts[0]).all())  # every call gets the same input


def test_relabelled_groups_have_the_same_shapes_and_other_members() -> None:
    case = family_case("unaligned", 0)
    other = relabelled_groups(case.groups, np.random.default_rng(0))
    for name in ("group_ptr", "group_members", "group_weights", "token_ptr", "token_groups", "token_weights"):
        mine, theirs = getattr(case.groups, name), getattr(other, name)
        assert mine.shape == theirs.shape and mine.dtype == theirs.dtype, name
    assert torch.equal(case.groups.sizes(), other.sizes())
    assert not torch.equal(case.groups.group_members, other.group_members)


def test_the_plan_counts_every_new_test_in_its_bonferroni_level() -> None:
    spec = QUICK_FAMILIES
    plan = plan_gate(spec, 0)
    expected = sum(c.batch * (2 * (c.gamma + 1) + 2) + pooled_test_count(c) + row_joint_test_count(c)
                   + pattern_test_count(c) for c in plan.cases)
    expected += sum(plan.cases[i].gamma + 1 for i in plan.alone_cases)
    expected += sum(spread_test_count(c.vocab_size, functools.partial(plan.laws_of, i))
                    for i, c in enumerate(plan.cases))
    assert plan.planned_tests == expected
    assert plan.per_test_level == pytest.approx(plan.procedure.direct_rate / expected)
    assert [pattern_test_count(c) > 0 for c in plan.cases[-4:]] == [n in SMALL for n in spec.families]
    drawn = spec.cases - len(spec.families)
    assert all(n <= spec.family_samples_per_row for n in plan.samples_per_row[drawn:])


def test_family_cases_under_singleton_groups() -> None:
    case = family_case("codec", 2, singleton_only=True)
    assert case.groups.max_group_size == 1 and case.groups.num_groups == case.vocab_size
    assert float(design_acceptance(case.groups, case.draft_probs, case.target_probs[:, :-1]).max()) <= 0.8


# ---------------------------------------------------------------------------- invalid arguments
@pytest.mark.parametrize(("make", "message"), [
    (lambda: family_case("nope", 0), "family='nope'"),
    (lambda: family_case("codec", -1), "seed=-1"),
    (lambda: dataclasses.replace(BUDGETS["quick"], families=("nope",)), "families="),
    (lambda: dataclasses.replace(BUDGETS["quick"], families="codec"), "families='codec'"),
    (lambda: dataclasses.replace(QUICK_FAMILIES, cases=3), "cases=3"),
    (lambda: dataclasses.replace(BUDGETS["quick"], family_samples_per_row=0), "family_samples_per_row=0"),
])
def test_bad_family_arguments_are_refused(make: Any, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message.replace("(", r"\(").replace("[", r"\[")):
        make()
