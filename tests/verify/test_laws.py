"""The exact laws of docs/laws.md against plain-loop enumerations of the algorithm.

Math follows the paper: q is the target, p the draft. The oracles below walk
the algorithm's branches (x ~ p, K ~ w[·, x], accept with min(1, Q_c/P_c),
else the residual) token by token in plain Python, sharing nothing with
:mod:`pcg_verify.laws` but the group container.
"""

from __future__ import annotations

import doctest
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import FrozenInstanceError
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pcg_core import Groups
from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_core.validation import SUM_TOLERANCE
from pcg_verify import laws
from pcg_verify.laws import (
    DEFAULT_SUM_TOLERANCE,
    _block,
    _common,
    _joint,
    _ssd,
    acceptance_probability,
    block_law,
    coarse_distribution,
    joint_law,
    ssd_acceptance_probability,
    ssd_token_law,
    thinning_trials_law,
    token_acceptance_probability,
)

EXACT = 1e-12
Weights = dict[tuple[int, int], float]  # (group k, token t) -> w[k, t]


# --------------------------------------------------------------------------- case generation
def random_groups(rng: np.random.Generator, vocab_size: int, num_groups: int, weighted: bool) -> Groups:
    """Random overlapping subsets covering every token; equal or random positive weights."""
    members: list[list[int]] = []
    for _ in range(num_groups):
        size = int(rng.integers(1, vocab_size + 1))
        members.append(sorted(int(t) for t in rng.choice(vocab_size, size=size, replace=False)))
    covered = {t for group in members for t in group}
    for t in range(vocab_size):
        if t not in covered:
            members[int(rng.integers(num_groups))].append(t)
    ptr = np.cumsum([0] + [len(group) for group in members])
    flat = np.array([t for group in members for t in group], dtype=np.int64)
    weights = rng.uniform(0.05, 2.0, size=flat.size) if weighted else None
    return Groups.from_memberships(vocab_size, ptr, flat, weights)


def random_probs(rng: np.random.Generator, vocab_size: int, with_zeros: bool) -> np.ndarray:
    """A Dirichlet draw, optionally with exact zeros (at least one entry stays positive)."""
    probs = rng.dirichlet(np.full(vocab_size, 0.7))
    if with_zeros and vocab_size > 1:
        zeros = rng.random(vocab_size) < 0.4
        zeros[int(rng.integers(vocab_size))] = False
        probs[zeros] = 0.0
    return np.asarray(probs / probs.sum(), dtype=np.float64)


@st.composite
def cases(draw: st.DrawFn, max_vocab: int = 6, max_groups: int = 5) -> tuple[np.ndarray, np.ndarray, Groups]:
    """(draft_probs, target_probs, groups) on a tiny vocabulary, with zeros, equal laws and weights."""
    vocab_size = draw(st.integers(1, max_vocab))
    num_groups = draw(st.integers(1, max_groups))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    groups = random_groups(rng, vocab_size, num_groups, weighted=draw(st.booleans()))
    draft = random_probs(rng, vocab_size, with_zeros=draw(st.booleans()))
    if draw(st.booleans()):
        target = draft.copy()
    else:
        target = random_probs(rng, vocab_size, with_zeros=draw(st.booleans()))
    return draft, target, groups


def weights_of(groups: Groups) -> Weights:
    ptr = groups.group_ptr.tolist()
    members = groups.group_members.long().tolist()
    weights = groups.group_weights.tolist()
    return {(k, members[m]): weights[m] for k in range(groups.num_groups) for m in range(ptr[k], ptr[k + 1])}


def singletons(vocab_size: int) -> Groups:
    return Groups.from_memberships(vocab_size, np.arange(vocab_size + 1), np.arange(vocab_size))


def one_group(vocab_size: int) -> Groups:
    return Groups.from_memberships(vocab_size, np.array([0, vocab_size]), np.arange(vocab_size))


# --------------------------------------------------------------------------- the oracle
def enumerate_step(
    draft: list[float], target: list[float], weights: Weights, num_groups: int, vocab_size: int,
    residual: str = "thinning",
) -> tuple[dict[tuple[int, int], float], dict[tuple[int, int], float]]:
    """Pr(accept, k, t) and Pr(reject, k, t) by walking the algorithm's branches.

    ``residual="thinning"`` is the paper's loop (y ~ q, k ~ w[·, y], keep with
    [1 − P_c(k)/Q_c(k)]_+, repeat: the kept pair follows one trial's law
    conditioned on keeping); ``"exact"`` draws k from R_c, then t from q(t | k).
    """
    coarse_draft = [0.0] * num_groups
    coarse_target = [0.0] * num_groups
    for (k, t), w in weights.items():
        coarse_draft[k] += w * draft[t]
        coarse_target[k] += w * target[t]
    accepted: dict[tuple[int, int], float] = defaultdict(float)
    rejected: dict[tuple[int, int], float] = defaultdict(float)
    reject_mass = 0.0
    for x in range(vocab_size):
        if draft[x] == 0.0:
            continue
        for k in range(num_groups):
            if (k, x) not in weights:
                continue
            branch = draft[x] * weights[(k, x)]  # Pr(x, K = k)
            keep = min(1.0, coarse_target[k] / coarse_draft[k])
            accepted[(k, x)] += branch * keep
            reject_mass += branch * (1.0 - keep)
    if residual == "thinning":
        trial = {}
        for (k, y), w in weights.items():
            if coarse_target[k] > 0.0:
                trial[(k, y)] = target[y] * w * max(0.0, 1.0 - coarse_draft[k] / coarse_target[k])
        total = sum(trial.values())
        if total > 0.0:
            for cell, mass in trial.items():
                rejected[cell] += reject_mass * mass / total
    else:
        excess = [max(0.0, coarse_target[k] - coarse_draft[k]) for k in range(num_groups)]
        total = sum(excess)
        for (k, t), w in weights.items():
            if total > 0.0 and coarse_target[k] > 0.0:
                rejected[(k, t)] += reject_mass * (excess[k] / total) * (w * target[t] / coarse_target[k])
    return accepted, rejected


def enumerate_block(
    drafts: np.ndarray, targets: np.ndarray, groups: Groups
) -> tuple[list[float], list[list[float]], list[float]]:
    """Pr(A = j), the unconditional label law of each slot, and the bonus token's slot law."""
    gamma, vocab_size = drafts.shape
    num_groups = groups.num_groups
    weights = weights_of(groups)
    steps = [enumerate_step(drafts[i].tolist(), targets[i].tolist(), weights, num_groups, vocab_size)
             for i in range(gamma)]
    length = [0.0] * (gamma + 1)
    slot_labels = [[0.0] * num_groups for _ in range(gamma + 1)]
    bonus = [0.0] * vocab_size

    def walk(i: int, mass: float) -> None:
        if i == gamma:
            length[gamma] += mass
            for (k, t), w in weights.items():
                slot_labels[gamma][k] += mass * targets[gamma][t] * w
            for t in range(vocab_size):
                bonus[t] += mass * targets[gamma][t]
            return
        accepted, rejected = steps[i]
        for (k, _), branch in accepted.items():
            slot_labels[i][k] += mass * branch
            walk(i + 1, mass * branch)
        for (k, _), branch in rejected.items():
            slot_labels[i][k] += mass * branch
            length[i] += mass * branch

    walk(0, 1.0)
    return length, slot_labels, bonus


# --------------------------------------------------------------------------- the joint law
@settings(derandomize=True, deadline=None, max_examples=200)
@given(cases())
def test_joint_law_matches_the_enumerated_algorithm(case: tuple[np.ndarray, np.ndarray, Groups]) -> None:
    draft, target, groups = case
    law = joint_law(draft, target, groups)
    weights = weights_of(groups)
    for residual in ("thinning", "exact"):
        accepted, rejected = enumerate_step(
            draft.tolist(), target.tolist(), weights, groups.num_groups, groups.vocab_size, residual
        )
        cells = list(zip(law.group_of.tolist(), law.token_of.tolist(), strict=True))
        np.testing.assert_allclose(law.accept, [accepted.get(c, 0.0) for c in cells], rtol=0, atol=EXACT)
        np.testing.assert_allclose(law.reject, [rejected.get(c, 0.0) for c in cells], rtol=0, atol=EXACT)
    assert len(set(cells)) == law.nnz == groups.nnz


@given(cases())
def test_group_exactness_and_acceptance(case: tuple[np.ndarray, np.ndarray, Groups]) -> None:
    draft, target, groups = case
    law = joint_law(draft, target, groups)
    coarse_draft, coarse_target = coarse_distribution(draft, groups), coarse_distribution(target, groups)
    np.testing.assert_allclose(law.coarse_target, coarse_target, rtol=0, atol=EXACT)
    np.testing.assert_allclose(law.group_law(), coarse_target, rtol=0, atol=EXACT)  # the theorem
    excess = np.maximum(coarse_target - coarse_draft, 0.0)
    np.testing.assert_allclose(law.accepted_group_joint(), np.minimum(coarse_draft, coarse_target), atol=EXACT)
    np.testing.assert_allclose(law.rejected_group_joint(), excess, rtol=0, atol=EXACT)
    pcg = acceptance_probability(draft, target, groups)
    assert pcg == pytest.approx(1 - 0.5 * np.abs(coarse_draft - coarse_target).sum(), abs=EXACT)
    assert pcg == pytest.approx(law.acceptance_probability(), abs=EXACT)
    assert pcg >= token_acceptance_probability(draft, target) - EXACT
    assert law.cells().sum() == pytest.approx(1.0, abs=EXACT)
    assert law.cells().shape == (2 * groups.nnz,)
    # Impossible tokens stay impossible: exact zeros, not rounding noise.
    assert np.all(law.accept[draft[law.token_of] == 0] == 0)
    assert np.all(law.reject[target[law.token_of] == 0] == 0)
    assert np.all(law.token_law()[(draft == 0) & (target == 0)] == 0)


@given(cases())
def test_within_group_law_and_conditional_entropy(case: tuple[np.ndarray, np.ndarray, Groups]) -> None:
    draft, target, groups = case
    law = joint_law(draft, target, groups)
    within = law.within_group_token_law()
    per_group = np.bincount(law.group_of, weights=within, minlength=groups.num_groups)
    live = law.coarse_target > 0
    np.testing.assert_allclose(per_group[live], 1.0, atol=EXACT)
    assert np.all(per_group[~live] == 0)
    sizes = groups.sizes().numpy()
    entropy = law.conditional_entropy()
    assert -EXACT <= entropy <= float((law.coarse_target * np.log(sizes)).sum()) + EXACT
    assert law.within_group_total_variation(within) == pytest.approx(0.0, abs=EXACT)
    # Collapsing each group onto its first member keeps Q_c but moves the within-group law.
    collapsed = np.zeros(law.nnz)
    collapsed[groups.group_ptr[:-1].numpy()] = 1.0
    gap = law.within_group_total_variation(collapsed)
    assert 0.0 <= gap <= 1.0 + EXACT
    if entropy > 1e-9:
        assert gap > 0.0


def test_within_group_variability_of_the_limits() -> None:
    rng = np.random.default_rng(11)
    draft, target = rng.dirichlet(np.ones(7)), rng.dirichlet(np.ones(7))
    assert joint_law(draft, target, singletons(7)).conditional_entropy() == 0.0
    # One group holding everything: the emitted token is the draft, K is constant.
    entropy = joint_law(draft, target, one_group(7)).conditional_entropy()
    assert entropy == pytest.approx(float(-(draft * np.log(draft)).sum()), abs=EXACT)


# --------------------------------------------------------------------------- limiting cases
@given(cases())
def test_singleton_groups_are_standard_speculative_decoding(
    case: tuple[np.ndarray, np.ndarray, Groups],
) -> None:
    draft, target, _ = case
    groups = singletons(draft.size)
    law = joint_law(draft, target, groups)
    np.testing.assert_allclose(law.token_law(), target, rtol=0, atol=EXACT)
    standard = token_acceptance_probability(draft, target)
    assert acceptance_probability(draft, target, groups) == pytest.approx(standard, abs=EXACT)
    assert law.acceptance_probability() == pytest.approx(standard, abs=EXACT)
    np.testing.assert_allclose(ssd_token_law(draft, target, 0.0), target, rtol=0, atol=EXACT)
    assert ssd_acceptance_probability(draft, target, 0.0) == pytest.approx(standard, abs=EXACT)


@given(cases())
def test_one_covering_group_is_draft_only(case: tuple[np.ndarray, np.ndarray, Groups]) -> None:
    draft, target, _ = case
    groups = one_group(draft.size)
    law = joint_law(draft, target, groups)
    assert acceptance_probability(draft, target, groups) == pytest.approx(1.0, abs=EXACT)
    np.testing.assert_allclose(law.token_law(), draft, rtol=0, atol=EXACT)
    np.testing.assert_allclose(law.reject, 0.0, atol=EXACT)
    # SSD with β = 1 also accepts every draft.
    np.testing.assert_allclose(ssd_token_law(draft, target, 1.0), draft, rtol=0, atol=EXACT)


@given(cases())
def test_equal_laws_never_reject(case: tuple[np.ndarray, np.ndarray, Groups]) -> None:
    draft, _, groups = case
    law = joint_law(draft, draft.copy(), groups)
    assert np.all(law.reject == 0.0)
    assert law.acceptance_probability() == pytest.approx(1.0, abs=EXACT)
    assert acceptance_probability(draft, draft, groups) == pytest.approx(1.0, abs=EXACT)
    np.testing.assert_allclose(law.token_law(), draft, rtol=0, atol=EXACT)
    thinning = thinning_trials_law(draft, draft, groups, max_trials=5)
    assert thinning.keep_probability == 0.0
    assert thinning.fallback == 1.0
    assert thinning.expected_trials == math.inf
    assert thinning.expected_capped_trials == 5.0


def test_ssd_is_inexact_for_positive_tolerance() -> None:
    draft, target = np.array([0.7, 0.2, 0.1]), np.array([0.1, 0.3, 0.6])
    law = ssd_token_law(draft, target, 0.3)
    assert law.sum() == pytest.approx(1.0, abs=EXACT)
    assert 0.5 * np.abs(law - target).sum() > 0.1
    assert ssd_acceptance_probability(draft, target, 0.3) > token_acceptance_probability(draft, target)


# --------------------------------------------------------------------------- block laws
@st.composite
def blocks(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, Groups]:
    gamma = draw(st.integers(2, 3))
    vocab_size = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    groups = random_groups(rng, vocab_size, draw(st.integers(1, 3)), weighted=draw(st.booleans()))
    zeros = draw(st.booleans())
    drafts = np.stack([random_probs(rng, vocab_size, zeros) for _ in range(gamma)])
    targets = np.stack([random_probs(rng, vocab_size, zeros) for _ in range(gamma + 1)])
    if draw(st.booleans()):
        targets[0] = drafts[0]
    return drafts, targets, groups


@settings(derandomize=True, deadline=None, max_examples=60)
@given(blocks())
def test_block_law_matches_the_enumerated_block(case: tuple[np.ndarray, np.ndarray, Groups]) -> None:
    drafts, targets, groups = case
    gamma = drafts.shape[0]
    law = block_law(drafts, targets, groups)
    assert law.gamma == gamma
    assert law.accepted_length.sum() == pytest.approx(1.0, abs=EXACT)
    for j in range(gamma + 1):
        at_least = float(np.prod(law.acceptance[:j]))
        assert law.accepted_length[j:].sum() == pytest.approx(at_least, abs=EXACT)
        assert law.reach[j] == pytest.approx(at_least, abs=EXACT)
    for i in range(gamma):
        a_i = acceptance_probability(drafts[i], targets[i], groups)
        assert law.acceptance[i] == pytest.approx(a_i, abs=EXACT)
        np.testing.assert_allclose(law.group_law(i), coarse_distribution(targets[i], groups), atol=EXACT)
    np.testing.assert_allclose(law.group_law(gamma), coarse_distribution(targets[gamma], groups), atol=EXACT)
    np.testing.assert_allclose(law.token_law(gamma), targets[gamma], rtol=0, atol=0)
    np.testing.assert_allclose(law.emitted_length_law(), np.concatenate([[0.0], law.accepted_length]))

    length, slot_labels, bonus = enumerate_block(drafts, targets, groups)
    np.testing.assert_allclose(law.accepted_length, length, rtol=0, atol=EXACT)
    for i in range(gamma + 1):
        np.testing.assert_allclose(law.slot_group_law(i), slot_labels[i], rtol=0, atol=EXACT)
    np.testing.assert_allclose(law.slot_token_law(gamma), bonus, rtol=0, atol=EXACT)


# --------------------------------------------------------------------------- thinning
@given(cases(), st.integers(1, 40))
def test_thinning_trials_law(case: tuple[np.ndarray, np.ndarray, Groups], max_trials: int) -> None:
    draft, target, groups = case
    law = thinning_trials_law(draft, target, groups, max_trials=max_trials)
    keep = law.keep_probability
    assert keep == pytest.approx(1.0 - acceptance_probability(draft, target, groups), abs=EXACT)
    assert law.max_trials == max_trials
    assert law.kept_at[0] == 0.0
    assert law.kept_at.sum() + law.fallback == pytest.approx(1.0, abs=EXACT)
    trials = np.arange(max_trials + 1)
    capped = float((trials * law.kept_at).sum() + max_trials * law.fallback)
    assert law.expected_capped_trials == pytest.approx(capped, rel=1e-12, abs=EXACT)
    if keep > 0:
        assert law.expected_trials == pytest.approx(1.0 / keep, rel=1e-12)
        np.testing.assert_allclose(law.kept_at[1:], (1 - keep) ** trials[:-1] * keep, rtol=1e-12, atol=EXACT)


def test_thinning_mean_approaches_the_untruncated_mean() -> None:
    draft, target = np.array([0.6, 0.3, 0.1]), np.array([0.2, 0.3, 0.5])
    groups = Groups.from_memberships(3, np.array([0, 2, 3]), np.array([0, 1, 2]))
    law = thinning_trials_law(draft, target, groups, max_trials=2000)
    assert law.keep_probability == pytest.approx(0.4, abs=EXACT)
    assert law.fallback < 1e-300
    assert (np.arange(2001) * law.kept_at).sum() == pytest.approx(law.expected_trials, rel=1e-12)
    assert law.expected_capped_trials == pytest.approx(2.5, rel=1e-12)


# --------------------------------------------------------------------------- inputs and scale
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
def test_torch_inputs_of_any_float_dtype(dtype: torch.dtype) -> None:
    draft = torch.tensor([0.5, 0.25, 0.25], dtype=dtype)
    target = torch.tensor([0.125, 0.125, 0.75], dtype=dtype)
    groups = Groups.from_memberships(3, np.array([0, 2, 3]), np.array([0, 1, 2]))
    assert joint_law(draft, target, groups).acceptance_probability() == 0.5


def test_low_precision_inputs_need_a_tolerance_and_are_not_renormalised() -> None:
    draft = np.array([0.5, 0.25, 0.251], dtype=np.float16)  # sums to 1.001 in float16
    groups = singletons(3)
    with pytest.raises(InvalidArgumentError, match="within 1e-06 for float16"):
        coarse_distribution(draft, groups)
    coarse = coarse_distribution(draft, groups, sum_tolerance=SUM_TOLERANCE["float16"])
    np.testing.assert_array_equal(coarse, draft.astype(np.float64))
    assert DEFAULT_SUM_TOLERANCE == SUM_TOLERANCE["float64"] == 1e-6


def test_laws_are_read_only() -> None:
    law = joint_law(np.array([0.5, 0.5]), np.array([0.25, 0.75]), singletons(2))
    with pytest.raises(ValueError, match="read-only"):
        law.accept[0] = 1.0
    with pytest.raises(FrozenInstanceError):
        law.vocab_size = 3  # type: ignore[misc]


def test_large_vocabulary_stays_sparse() -> None:
    vocab_size = 200_000
    tokens = np.arange(vocab_size)
    # Overlapping pairs and triples: every token sits in two groups, nnz = 2V.
    pair_ptr = np.arange(0, vocab_size + 1, 2)
    triple_ptr = np.append(np.arange(0, vocab_size, 3), vocab_size)
    ptr = np.concatenate([pair_ptr, vocab_size + triple_ptr[1:]])
    groups = Groups.from_memberships(vocab_size, ptr, np.concatenate([tokens, tokens]))
    rng = np.random.default_rng(5)
    draft, target = rng.dirichlet(np.ones(vocab_size)), rng.dirichlet(np.ones(vocab_size))
    start = time.perf_counter()
    law = joint_law(draft, target, groups)
    elapsed = time.perf_counter() - start
    np.testing.assert_allclose(law.group_law(), coarse_distribution(target, groups), rtol=0, atol=EXACT)
    assert law.cells().sum() == pytest.approx(1.0, abs=1e-10)
    assert elapsed < 5.0


@pytest.mark.parametrize("module", [_joint, _block, _ssd], ids=lambda module: module.__name__)
def test_docstring_examples_run(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def isort_order(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 gives ``__all__``: CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def test_facade_all_is_the_sorted_public_names() -> None:
    public = [
        name for name, value in vars(laws).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    ]
    assert laws.__all__ == sorted(public, key=isort_order)
    assert laws.DEFAULT_SUM_TOLERANCE is _common.DEFAULT_SUM_TOLERANCE


# --------------------------------------------------------------------------- invalid arguments
G3 = Groups.from_memberships(3, np.array([0, 2, 3]), np.array([0, 1, 2]))
P3 = np.array([0.5, 0.25, 0.25])
Q3 = np.array([0.125, 0.125, 0.75])
BLOCK = block_law(np.stack([P3, P3]), np.stack([Q3, Q3, Q3]), G3)
JOINT = joint_law(P3, Q3, G3)

INVALID: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("list input", lambda: coarse_distribution([0.5, 0.5, 0.0], G3), InvalidTypeError, "numpy.ndarray"),
    ("int ndarray", lambda: coarse_distribution(np.array([1, 0, 0]), G3), InvalidTypeError,
     "dtype must be one of"),
    ("int tensor", lambda: coarse_distribution(torch.tensor([1, 0, 0]), G3), InvalidTypeError,
     "dtype must be one of"),
    ("2-D vector", lambda: coarse_distribution(P3[None], G3), InvalidArgumentError, "must have shape [*]"),
    ("empty vector", lambda: coarse_distribution(np.zeros(0), G3), InvalidArgumentError, "V >= 1"),
    ("nan", lambda: coarse_distribution(np.array([np.nan, 0.5, 0.5]), G3), InvalidArgumentError, "finite"),
    ("inf", lambda: joint_law(P3, np.array([np.inf, 0.0, 0.0]), G3), InvalidArgumentError, "target_probs="),
    ("negative", lambda: coarse_distribution(np.array([-0.1, 0.6, 0.5]), G3), InvalidArgumentError, ">= 0"),
    ("sum", lambda: acceptance_probability(np.array([0.5, 0.5, 0.1]), Q3, G3), InvalidArgumentError,
     "sums to 1.1"),
    ("groups type", lambda: joint_law(P3, Q3, "groups"),  # type: ignore[arg-type]
     InvalidTypeError, "pcg_core.Groups"),
    ("groups vocab", lambda: joint_law(np.full(4, 0.25), np.full(4, 0.25), G3), InvalidArgumentError,
     "vocab_size=3"),
    ("vocab mismatch", lambda: joint_law(P3, np.full(4, 0.25), G3), InvalidArgumentError,
     "draft_probs has V=3"),
    ("token vocab mismatch", lambda: token_acceptance_probability(P3, np.full(4, 0.25)), InvalidArgumentError,
     "has V=4"),
    ("sum_tolerance negative", lambda: joint_law(P3, Q3, G3, sum_tolerance=-1.0), InvalidArgumentError,
     "sum_tolerance"),
    ("sum_tolerance bool", lambda: coarse_distribution(P3, G3, sum_tolerance=True), InvalidTypeError,
     "sum_tolerance"),
    ("sum_tolerance inf", lambda: coarse_distribution(P3, G3, sum_tolerance=math.inf), InvalidArgumentError,
     "finite"),
    ("block list", lambda: block_law([[0.5, 0.5]], np.stack([Q3, Q3]), G3), InvalidTypeError,
     "numpy.ndarray"),
    ("block 1-D draft", lambda: block_law(P3, np.stack([Q3, Q3]), G3), InvalidArgumentError, "[gamma, V]"),
    ("block gamma 0", lambda: block_law(np.zeros((0, 3)), Q3[None], G3), InvalidArgumentError, "gamma >= 1"),
    ("block target rows", lambda: block_law(np.stack([P3, P3]), np.stack([Q3, Q3]), G3), InvalidArgumentError,
     "must have shape [3, *]"),
    ("block row sum", lambda: block_law(np.stack([P3, P3 / 2]), np.stack([Q3, Q3, Q3]), G3),
     InvalidArgumentError, "sums to 0.5"),
    ("block position", lambda: BLOCK.group_law(3), InvalidArgumentError, "position=3: must be an integer in [0, 2]"),
    ("block position type", lambda: BLOCK.slot_token_law(1.0),  # type: ignore[arg-type]
     InvalidTypeError, "must be an integer"),
    ("max_trials 0", lambda: thinning_trials_law(P3, Q3, G3, max_trials=0), InvalidArgumentError,
     "max_trials=0: must be an integer >= 1"),
    ("max_trials bool", lambda: thinning_trials_law(P3, Q3, G3, max_trials=True), InvalidTypeError,
     "not a bool"),
    ("max_trials float", lambda: thinning_trials_law(P3, Q3, G3, max_trials=2.0),  # type: ignore[arg-type]
     InvalidTypeError, "must be an integer"),
    ("ssd beta high", lambda: ssd_token_law(P3, Q3, 1.5), InvalidArgumentError, "SSD β"),
    ("ssd beta nan", lambda: ssd_acceptance_probability(P3, Q3, math.nan), InvalidArgumentError, "finite"),
    ("ssd beta bool", lambda: ssd_token_law(P3, Q3, True), InvalidTypeError, "tolerance="),
    ("within shape", lambda: JOINT.within_group_total_variation(np.ones(2)), InvalidArgumentError,
     "[nnz] = [3]"),
]


@pytest.mark.parametrize(("call", "error", "fragment"), [case[1:] for case in INVALID],
                         ids=[case[0] for case in INVALID])
def test_invalid_arguments(call: Callable[[], Any], error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as caught:
        call()
    assert fragment in str(caught.value)
