"""The gate's case generators: validity, bounds, replay, coverage and shrinking."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import find, given, settings
from hypothesis import strategies as st

from pcg_core import Groups, InvalidArgumentError, InvalidTypeError
from pcg_verify.strategies import (
    DISTRIBUTION_KINDS,
    GROUP_KINDS,
    RELATIONS,
    TILE_UNALIGNED_SIZES,
    Case,
    build_case,
    cases,
    distribution_pairs,
    distributions,
    draw_case,
    group_structures,
    vocab_sizes,
)

FAST = settings(deadline=None, derandomize=True, database=None, max_examples=30)
FIND = settings(deadline=None, derandomize=True, database=None, max_examples=200)


# ---------------------------------------------------------------------------- shared checks
def assert_probability_vector(probs: np.ndarray, size: int) -> None:
    assert probs.dtype == np.float64 and probs.shape == (size,)
    assert np.all(np.isfinite(probs)) and np.all(probs >= 0)
    assert abs(probs.sum() - 1.0) <= 1e-12
    assert probs.max() > 0


def support(probs: np.ndarray) -> set[int]:
    return set(np.flatnonzero(probs > 0).tolist())


def assert_relation(relation: str, draft: np.ndarray, target: np.ndarray) -> None:
    if relation == "equal":
        assert np.array_equal(draft, target)
    elif relation == "close":
        assert support(draft) == support(target)
    elif relation == "disjoint":
        assert not support(draft) & support(target)
    elif relation == "partial_overlap":
        assert support(draft) & support(target) and support(draft) != support(target)
    elif relation == "reversed":
        assert np.array_equal(draft, target[::-1])
        assert np.all(np.diff(target) <= 0)
    elif relation == "swapped_in_group":
        assert np.array_equal(np.sort(draft), np.sort(target))


def assert_covering_groups(groups: Groups, size: int) -> None:
    assert isinstance(groups, Groups) and groups.vocab_size == size
    groups.validate()
    assert bool((groups.groups_per_token() >= 1).all())


def assert_valid_case(case: Case) -> None:
    size, batch, gamma = case.vocab_size, case.batch, case.gamma
    assert case.draft_probs.dtype == torch.float64 and case.target_probs.dtype == torch.float64
    assert tuple(case.draft_probs.shape) == (batch, gamma, size)
    assert tuple(case.target_probs.shape) == (batch, gamma + 1, size)
    for rows in (case.draft_probs.reshape(-1, size).numpy(), case.target_probs.reshape(-1, size).numpy()):
        for row in rows:
            assert_probability_vector(row, size)
    assert_covering_groups(case.groups, size)
    for b in range(batch):
        for i in range(gamma):
            assert_relation(case.relation, case.draft_probs[b, i].numpy(), case.target_probs[b, i].numpy())
    assert f"V={size}" in case.description and f"B={batch}" in case.description


# ---------------------------------------------------------------------------- distributions
@FAST
@given(distributions(vocab_sizes(max_value=40)))
def test_distributions_are_probability_vectors(probs: np.ndarray) -> None:
    assert_probability_vector(probs, probs.size)


@pytest.mark.parametrize("kind", DISTRIBUTION_KINDS)
def test_each_distribution_kind(kind: str) -> None:
    @FAST
    @given(distributions(st.integers(2, 24), kind=kind))
    def check(probs: np.ndarray) -> None:
        assert_probability_vector(probs, probs.size)
        if kind == "uniform":
            assert np.allclose(probs, 1.0 / probs.size, rtol=0, atol=1e-15)
        elif kind == "peaked":
            assert probs.max() >= 0.9
        elif kind == "sparse":
            assert np.count_nonzero(probs == 0) >= 1

    check()


@FAST
@given(st.data())
def test_min_zeros_is_respected(data: st.DataObject) -> None:
    size = data.draw(st.integers(5, 20))
    kind = data.draw(st.sampled_from(DISTRIBUTION_KINDS))
    probs = data.draw(distributions(size, kind=kind, min_zeros=4))
    assert_probability_vector(probs, size)
    assert np.count_nonzero(probs == 0) >= 4


# ---------------------------------------------------------------------------- pairs
@pytest.mark.parametrize("relation", RELATIONS)
def test_each_relation_holds(relation: str) -> None:
    @FAST
    @given(distribution_pairs(st.integers(2, 24), relation=relation))
    def check(pair: tuple[np.ndarray, np.ndarray]) -> None:
        draft, target = pair
        assert_probability_vector(draft, draft.size)
        assert_probability_vector(target, draft.size)
        assert_relation(relation, draft, target)

    check()


# ---------------------------------------------------------------------------- groups
@pytest.mark.parametrize("kind", GROUP_KINDS)
def test_each_group_kind_is_valid(kind: str) -> None:
    @FAST
    @given(group_structures(vocab_sizes(max_value=30), kind=kind))
    def check(groups: Groups) -> None:
        size = groups.vocab_size
        assert_covering_groups(groups, size)
        degrees = groups.groups_per_token()
        if kind == "singletons":
            assert bool((groups.sizes() == 1).all()) and groups.num_groups == size
        elif kind == "all":
            assert groups.num_groups == 1 and groups.max_group_size == size
        elif kind == "partition":
            assert bool((degrees == 1).all())
        elif kind == "hub":
            assert int(degrees.max()) == groups.num_groups
        elif kind == "topk":
            assert 2 <= groups.max_group_size <= 5
        elif kind == "uneven_weights":
            assert groups.weights_kind == "stored"

    check()


@FAST
@given(group_structures(st.integers(2, 30), max_group_size=3))
def test_max_group_size_is_respected(groups: Groups) -> None:
    assert_covering_groups(groups, groups.vocab_size)
    assert groups.max_group_size <= 3


def test_group_kinds_overlap_somewhere() -> None:
    overlapping = find(group_structures(st.integers(2, 30), kind="threshold"),
                       lambda g: int(g.groups_per_token().max()) >= 2, settings=FIND)
    assert overlapping.vocab_size >= 2


# ---------------------------------------------------------------------------- vocab sizes
@FAST
@given(vocab_sizes(min_value=3, max_value=7))
def test_vocab_sizes_respect_bounds(size: int) -> None:
    assert 3 <= size <= 7


def test_tile_unaligned_sizes_are_reachable_and_shrink_away() -> None:
    big = find(vocab_sizes(tile_unaligned=True), lambda v: v > 64, settings=FIND)
    assert big == TILE_UNALIGNED_SIZES[0]
    assert find(vocab_sizes(tile_unaligned=True), lambda v: True, settings=FIND) == 2


# ---------------------------------------------------------------------------- cases
@FAST
@given(cases())
def test_cases_are_valid(case: Case) -> None:
    assert_valid_case(case)
    summary = json.loads(json.dumps(case.to_dict()))
    assert summary["vocab_size"] == case.vocab_size and summary["seed"] == case.seed


@FAST
@given(cases(min_vocab=5, max_vocab=9, min_gamma=2, max_gamma=3, min_batch=2, max_batch=2,
             group_kinds=["hub", "topk"], relations=["disjoint", "reversed"]))
def test_case_bounds_are_respected(case: Case) -> None:
    assert_valid_case(case)
    assert 5 <= case.vocab_size <= 9 and 2 <= case.gamma <= 3 and case.batch == 2
    assert case.group_kind in ("hub", "topk") and case.relation in ("disjoint", "reversed")


@FAST
@given(cases(singleton_only=True))
def test_singleton_only_cases(case: Case) -> None:
    assert_valid_case(case)
    assert bool((case.groups.sizes() == 1).all())


@FAST
@given(cases(max_vocab=12))
def test_case_params_rebuild_the_case(case: Case) -> None:
    again = build_case(**case.params())
    assert torch.equal(again.draft_probs, case.draft_probs)
    assert torch.equal(again.target_probs, case.target_probs)
    assert again.description == case.description


def test_draw_case_is_deterministic() -> None:
    for seed in (0, 17, 2**40 + 3):
        first, second = draw_case(seed), draw_case(seed)
        assert torch.equal(first.draft_probs, second.draft_probs)
        assert torch.equal(first.target_probs, second.target_probs)
        assert torch.equal(first.groups.group_members, second.groups.group_members)
        assert first.description == second.description
        assert_valid_case(first)


@pytest.mark.parametrize("start", [0, 5, 1000])
def test_twelve_consecutive_seeds_cover_every_name(start: int) -> None:
    drawn = [draw_case(seed, max_vocab=10, max_batch=2) for seed in range(start, start + 12)]
    for case in drawn:
        assert_valid_case(case)
        assert 2 <= case.vocab_size <= 10 and 1 <= case.batch <= 2
    assert {case.group_kind for case in drawn} == set(GROUP_KINDS)
    assert {case.relation for case in drawn} == set(RELATIONS)
    assert {case.distribution_kind for case in drawn} == set(DISTRIBUTION_KINDS)


def test_draw_case_respects_bounds_and_subsets() -> None:
    for seed in range(20):
        case = draw_case(seed, min_vocab=4, max_vocab=6, min_gamma=3, max_gamma=3, min_batch=2,
                         max_batch=3, relations=["close"], singleton_only=True)
        assert 4 <= case.vocab_size <= 6 and case.gamma == 3 and 2 <= case.batch <= 3
        assert case.relation == "close" and case.group_kind == "singletons"


# ---------------------------------------------------------------------------- shrinking
def test_cases_shrink_to_small_examples() -> None:
    found = find(cases(), lambda case: case.gamma >= 2, settings=FIND)
    assert (found.vocab_size, found.batch, found.gamma) == (2, 1, 2)
    assert found.group_kind == GROUP_KINDS[0] and found.relation == RELATIONS[0]
    overlapping = find(cases(min_vocab=3), lambda case: case.groups.max_groups_per_token >= 2, settings=FIND)
    assert (overlapping.vocab_size, overlapping.batch, overlapping.gamma) == (3, 1, 1)


# ---------------------------------------------------------------------------- tile-unaligned sizes
@pytest.mark.parametrize("group_kind", ["threshold", "partition"])
def test_tile_unaligned_case_builds_quickly(group_kind: str) -> None:
    start = time.perf_counter()
    case = build_case(0, vocab_size=8193, gamma=1, batch=1, group_kind=group_kind,
                      relation="reversed", distribution_kind="dirichlet")
    elapsed = time.perf_counter() - start
    assert_valid_case(case)
    assert elapsed < 20.0


# ---------------------------------------------------------------------------- invalid arguments
INVALID: list[tuple[Callable[..., Any], dict[str, Any], type[Exception], str]] = [
    (vocab_sizes, {"min_value": 10, "max_value": 3}, InvalidArgumentError, "min_value=10"),
    (vocab_sizes, {"min_value": 1}, InvalidArgumentError, "min_value=1"),
    (distributions, {"vocab_size": 1}, InvalidArgumentError, "vocab_size=1"),
    (distributions, {"vocab_size": 4, "kind": "gaussian"}, InvalidArgumentError, "kind='gaussian'"),
    (distributions, {"vocab_size": 4, "min_zeros": 4}, InvalidArgumentError, "min_zeros=4"),
    (distributions, {"vocab_size": 4, "min_zeros": -1}, InvalidArgumentError, "min_zeros=-1"),
    (distribution_pairs, {"vocab_size": 4, "relation": "opposite"}, InvalidArgumentError,
     "relation='opposite'"),
    (group_structures, {"vocab_size": 4, "kind": "clusters"}, InvalidArgumentError, "kind='clusters'"),
    (group_structures, {"vocab_size": 4, "max_group_size": 1}, InvalidArgumentError, "max_group_size=1"),
    (group_structures, {"vocab_size": 8, "kind": "all", "max_group_size": 4}, InvalidArgumentError,
     "max_group_size=4"),
    (cases, {"min_vocab": 5, "max_vocab": 4}, InvalidArgumentError, "min_vocab=5"),
    (cases, {"min_vocab": 1}, InvalidArgumentError, "min_vocab=1"),
    (cases, {"min_gamma": 0}, InvalidArgumentError, "min_gamma=0"),
    (cases, {"min_batch": 3, "max_batch": 2}, InvalidArgumentError, "min_batch=3"),
    (cases, {"group_kinds": ["nope"]}, InvalidArgumentError, "group_kinds='nope'"),
    (cases, {"group_kinds": "singletons"}, InvalidTypeError, "group_kinds='singletons'"),
    (cases, {"relations": []}, InvalidArgumentError, "relations=[]"),
    (cases, {"distribution_kinds": ["normal"]}, InvalidArgumentError, "distribution_kinds='normal'"),
    (cases, {"singleton_only": True, "group_kinds": ["partition"]}, InvalidArgumentError, "group_kinds="),
    (cases, {"max_gamma": 2.5}, InvalidTypeError, "max_gamma=2.5"),
    (draw_case, {"seed": -1}, InvalidArgumentError, "seed=-1"),
    (draw_case, {"seed": 0, "max_vocab": 1}, InvalidArgumentError, "max_vocab=1"),
    (build_case, {"seed": 0, "vocab_size": 4, "gamma": 1, "batch": 1, "group_kind": "all",
                  "relation": "equal", "distribution_kind": "zipf"}, InvalidArgumentError,
     "distribution_kind='zipf'"),
]


@pytest.mark.parametrize(("function", "kwargs", "error", "message"), INVALID,
                         ids=[f"{row[0].__name__}-{row[3]}" for row in INVALID])
def test_invalid_arguments(function: Callable[..., Any], kwargs: dict[str, Any], error: type[Exception],
                           message: str) -> None:
    with pytest.raises(error) as info:
        function(**kwargs)
    assert message in str(info.value)


def test_invalid_drawn_vocab_size_is_reported() -> None:
    with pytest.raises(InvalidArgumentError, match="vocab_size=1"):
        find(distributions(st.just(1)), lambda probs: True, settings=FIND)
    with pytest.raises(InvalidArgumentError, match="min_zeros=3"):
        find(distributions(st.just(3), min_zeros=3), lambda probs: True, settings=FIND)
