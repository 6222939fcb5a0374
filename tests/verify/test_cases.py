"""The gate's seeded case factory: validity, replay, coverage, case seeds, and its import surface.

Nothing here is statistical: every case is a deterministic function of its seed.
The Hypothesis strategies over this factory are tested in ``test_strategies.py``
(which imports the shared checks below).
"""

from __future__ import annotations

import importlib
import inspect
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

from pcg_core import Groups
from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_verify.cases import (
    DISTRIBUTION_KINDS,
    GROUP_KINDS,
    RELATIONS,
    Case,
    build_case,
    case_seed,
    draw_case,
    split_case_seed,
)

REPO = Path(__file__).resolve().parents[2]


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


def assert_same_case(first: Case, second: Case) -> None:
    assert torch.equal(first.draft_probs, second.draft_probs)
    assert torch.equal(first.target_probs, second.target_probs)
    assert torch.equal(first.groups.group_members, second.groups.group_members)
    assert first.description == second.description and first.params() == second.params()


# ---------------------------------------------------------------------------- draw_case
def test_draw_case_is_deterministic() -> None:
    for seed in (0, 17, 2**40 + 3):
        first, second = draw_case(seed), draw_case(seed)
        assert_same_case(first, second)
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


def test_draw_case_params_rebuild_the_case() -> None:
    for seed in range(16):
        case = draw_case(seed, max_vocab=12)
        assert_same_case(build_case(**case.params()), case)


# ---------------------------------------------------------------------------- cycle_index and big seeds
@pytest.mark.parametrize("master", [0, 42, 2**70 + 1])
def test_consecutive_cycle_indices_cover_every_name(master: int) -> None:
    drawn = [draw_case(case_seed(master, j), cycle_index=j, max_vocab=10, max_batch=2) for j in range(12)]
    for j, case in enumerate(drawn):
        assert_valid_case(case)
        assert case.group_kind == GROUP_KINDS[j % len(GROUP_KINDS)]
        assert case.relation == RELATIONS[j % len(RELATIONS)]
        assert case.distribution_kind == DISTRIBUTION_KINDS[j % len(DISTRIBUTION_KINDS)]
    assert len({case.seed for case in drawn}) == len(drawn)


def test_cycle_index_only_moves_the_names() -> None:
    for seed in (3, 1000, 2**65):
        assert_same_case(draw_case(seed, cycle_index=seed), draw_case(seed))
        plain, shifted = draw_case(seed), draw_case(seed, cycle_index=seed + 1)
        assert (shifted.vocab_size, shifted.gamma, shifted.batch) == (plain.vocab_size, plain.gamma, plain.batch)
        assert shifted.group_kind == GROUP_KINDS[(seed + 1) % len(GROUP_KINDS)]


@pytest.mark.parametrize("seed", [2**32, 2**63, 2**64 + 7, 2**200 + 5])
def test_big_seeds_build_replay_and_serialise(seed: int) -> None:
    case = draw_case(seed, max_vocab=8)
    assert_valid_case(case)
    assert type(case.seed) is int and case.seed == seed
    summary = json.loads(json.dumps(case.to_dict()))
    assert summary["seed"] == seed and summary["params"]["seed"] == seed
    assert_same_case(build_case(**summary["params"]), case)


def test_numpy_integer_seeds_are_plain_ints() -> None:
    for seed in (np.int64(9), np.uint64(2**64 - 1), np.int32(4)):
        case = draw_case(seed, cycle_index=np.uint8(3), max_vocab=6)
        assert type(case.seed) is int and case.seed == int(seed)
        assert_same_case(case, draw_case(int(seed), cycle_index=3, max_vocab=6))


# ---------------------------------------------------------------------------- case seeds (Cantor pairing)
def test_case_seeds_never_collide() -> None:
    # Masters 0..999 × cases 0..9999: 10⁷ seeds by case_seed's formula, vectorised in int64.
    masters = np.arange(1000, dtype=np.int64)[:, None]
    indices = np.arange(10_000, dtype=np.int64)[None, :]
    diagonal = masters + indices
    seeds = diagonal * (diagonal + 1) // 2 + indices  # [1000, 10000]
    ordered = np.sort(seeds, axis=None)  # (np.unique is ~50× slower here)
    assert bool((np.diff(ordered) > 0).all())
    # case_seed is that formula: on a strided subgrid and the corners.
    for master in [*range(0, 1000, 37), 999]:
        for index in [*range(0, 10_000, 499), 9999]:
            assert case_seed(master, index) == int(seeds[master, index])


def test_split_case_seed_inverts_case_seed() -> None:
    rng = random.Random(20240611)
    for bits in (1, 8, 31, 32, 53, 63, 64, 65, 128, 256, 1000):
        for _ in range(50):
            master, index = rng.getrandbits(bits), rng.getrandbits(rng.randint(1, bits))
            seed = case_seed(master, index)
            assert type(seed) is int and split_case_seed(seed) == (master, index)
            value = rng.getrandbits(2 * bits)
            assert case_seed(*split_case_seed(value)) == value
    # Onto: every natural below 10⁴ is the seed of exactly one pair.
    assert [case_seed(*split_case_seed(value)) for value in range(10_000)] == list(range(10_000))


def test_case_seed_accepts_numpy_integers() -> None:
    seed = case_seed(np.int64(42), np.uint32(17))
    assert type(seed) is int and seed == 1787 and split_case_seed(np.uint64(seed)) == (42, 17)


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
BUILD = {"seed": 0, "vocab_size": 4, "gamma": 1, "batch": 1, "group_kind": "all", "relation": "equal",
         "distribution_kind": "uniform"}
INVALID: list[tuple[Callable[..., Any], dict[str, Any], type[Exception], str]] = [
    (draw_case, {"seed": -1}, InvalidArgumentError, "seed=-1"),
    (draw_case, {"seed": 2.0}, InvalidTypeError, "seed=2.0"),
    (draw_case, {"seed": True}, InvalidTypeError, "seed=True"),
    (draw_case, {"seed": 0, "cycle_index": -1}, InvalidArgumentError, "cycle_index=-1"),
    (draw_case, {"seed": 0, "cycle_index": 1.5}, InvalidTypeError, "cycle_index=1.5"),
    (draw_case, {"seed": 0, "max_vocab": 1}, InvalidArgumentError, "max_vocab=1"),
    (draw_case, {"seed": 0, "min_vocab": 5, "max_vocab": 4}, InvalidArgumentError, "min_vocab=5"),
    (draw_case, {"seed": 0, "min_gamma": 0}, InvalidArgumentError, "min_gamma=0"),
    (draw_case, {"seed": 0, "min_batch": 3, "max_batch": 2}, InvalidArgumentError, "min_batch=3"),
    (draw_case, {"seed": 0, "max_gamma": 2.5}, InvalidTypeError, "max_gamma=2.5"),
    (draw_case, {"seed": 0, "group_kinds": ["nope"]}, InvalidArgumentError, "group_kinds='nope'"),
    (draw_case, {"seed": 0, "group_kinds": "singletons"}, InvalidTypeError, "group_kinds='singletons'"),
    (draw_case, {"seed": 0, "relations": []}, InvalidArgumentError, "relations=[]"),
    (draw_case, {"seed": 0, "distribution_kinds": ["normal"]}, InvalidArgumentError,
     "distribution_kinds='normal'"),
    (draw_case, {"seed": 0, "singleton_only": True, "group_kinds": ["partition"]}, InvalidArgumentError,
     "group_kinds="),
    (draw_case, {"seed": 0, "singleton_only": 1}, InvalidTypeError, "singleton_only=1"),
    (build_case, {**BUILD, "distribution_kind": "zipf"}, InvalidArgumentError, "distribution_kind='zipf'"),
    (build_case, {**BUILD, "group_kind": "clusters"}, InvalidArgumentError, "group_kind='clusters'"),
    (build_case, {**BUILD, "relation": "opposite"}, InvalidArgumentError, "relation='opposite'"),
    (build_case, {**BUILD, "vocab_size": 1}, InvalidArgumentError, "vocab_size=1"),
    (build_case, {**BUILD, "gamma": 0}, InvalidArgumentError, "gamma=0"),
    (build_case, {**BUILD, "batch": np.float64(2.0)}, InvalidTypeError, "batch="),
    (case_seed, {"master_seed": -1, "index": 0}, InvalidArgumentError, "master_seed=-1"),
    (case_seed, {"master_seed": 0, "index": -2}, InvalidArgumentError, "index=-2"),
    (case_seed, {"master_seed": 1.0, "index": 0}, InvalidTypeError, "master_seed=1.0"),
    (split_case_seed, {"seed": -1}, InvalidArgumentError, "seed=-1"),
    (split_case_seed, {"seed": "7"}, InvalidTypeError, "seed='7'"),
]


@pytest.mark.parametrize(("function", "kwargs", "error", "message"), INVALID,
                         ids=[f"{row[0].__name__}-{row[3]}" for row in INVALID])
def test_invalid_arguments(function: Callable[..., Any], kwargs: dict[str, Any], error: type[Exception],
                           message: str) -> None:
    with pytest.raises(error) as info:
        function(**kwargs)
    assert message in str(info.value)


# ---------------------------------------------------------------------------- import surface
def test_cases_do_not_import_hypothesis() -> None:
    code = (
        "import sys\n"
        "import pcg_verify.cases\n"
        "pcg_verify.cases.draw_case(3)\n"
        "loaded = sorted(name for name in sys.modules if name.split('.')[0] == 'hypothesis')\n"
        "sys.exit(f'hypothesis loaded: {loaded[:3]}' if loaded else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]


def _is_public_name(module: ModuleType, name: str, value: Any) -> bool:
    """Defined in ``module`` or, for a package, re-exported from one of its private modules; never a module.

    (A module that merely imports a name from a sibling, as strategies imports ``Case``, does not
    re-export it.)"""
    if name.startswith("_") or inspect.ismodule(value):
        return False
    origin = getattr(value, "__module__", None)
    if origin is None:  # constants (tuples, ints) carry no origin: they belong to the module
        return True
    is_package = hasattr(module, "__path__")
    private = is_package and origin.startswith(module.__name__ + "._")
    return origin == module.__name__ or private


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: SCREAMING_CASE, then CamelCase, then the rest."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


@pytest.mark.parametrize("name", ["pcg_verify.cases", "pcg_verify.cases.strategies"])
def test_all_is_the_sorted_public_names(name: str) -> None:
    module = importlib.import_module(name)
    public = sorted((key for key, value in vars(module).items() if _is_public_name(module, key, value)),
                    key=_isort_key)
    assert list(module.__all__) == public
    for key in module.__all__:
        assert getattr(module, key) is not None
