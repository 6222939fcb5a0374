"""The Hypothesis strategies over the case factory: validity, bounds, coverage and shrinking.

The seeded factory itself (draw_case, build_case, case seeds) is tested in ``test_cases.py``,
whose validity checks these tests share.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import find, given, settings
from hypothesis import strategies as st
from test_cases import assert_covering_groups, assert_probability_vector, assert_relation, assert_valid_case

from pcg_core import Groups
from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_verify.cases import DISTRIBUTION_KINDS, GROUP_KINDS, RELATIONS, TILE_UNALIGNED_SIZES, Case, build_case
from pcg_verify.cases.strategies import cases, distribution_pairs, distributions, group_structures, vocab_sizes

FAST = settings(deadline=None, derandomize=True, database=None, max_examples=30)
FIND = settings(deadline=None, derandomize=True, database=None, max_examples=200)


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


def test_numpy_integer_sizes_are_accepted() -> None:
    probs = find(distributions(np.int64(4), min_zeros=np.int32(1)), lambda probs: True, settings=FIND)
    assert_probability_vector(probs, 4)
    assert find(group_structures(np.uint16(5)), lambda groups: True, settings=FIND).vocab_size == 5


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


# ---------------------------------------------------------------------------- shrinking
def test_cases_shrink_to_small_examples() -> None:
    found = find(cases(), lambda case: case.gamma >= 2, settings=FIND)
    assert (found.vocab_size, found.batch, found.gamma) == (2, 1, 2)
    assert found.group_kind == GROUP_KINDS[0] and found.relation == RELATIONS[0]
    overlapping = find(cases(min_vocab=3), lambda case: case.groups.max_groups_per_token >= 2, settings=FIND)
    assert (overlapping.vocab_size, overlapping.batch, overlapping.gamma) == (3, 1, 1)


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
    (cases, {"singleton_only": "yes"}, InvalidTypeError, "singleton_only='yes'"),
    (group_structures, {"vocab_size": 4.0}, InvalidTypeError, "vocab_size=4.0"),
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
