"""Every invalid argument of the public pcg_core API, in one table.

Each row is (call, error type, argument name, rule fragment): the error must be
of that type and its message must start with ``name=`` and state the rule.
A second table runs every integer (and real) parameter of every public
function with numpy scalars, which must be accepted and give the same result
as Python numbers, and with a float and a bool, which are type errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from pcg_core import (
    Groups,
    InvalidArgumentError,
    InvalidTypeError,
    VerifyResult,
    coarse_probs,
    draft_only_verify,
    group_masses,
    groups_from_labels,
    groups_from_threshold,
    groups_from_topk,
    singleton_groups,
    ssd_verify,
    standard_verify,
    verify,
)

V, B, GAMMA = 4, 2, 2
GROUPS = groups_from_labels([0, 0, 1, 1])
OTHER_V = groups_from_labels([0, 0, 1, 1, 2])


def uniform(*shape: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.full(shape, 1.0 / shape[-1], dtype=dtype)


def with_value(tensor: torch.Tensor, index: tuple[int, ...], value: float) -> torch.Tensor:
    out = tensor.clone()
    out[index] = value
    return out


def verify_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "draft_tokens": torch.tensor([[0, 1], [2, 3]]),
        "draft_probs": uniform(B, GAMMA, V),
        "target_probs": uniform(B, GAMMA + 1, V),
        "groups": GROUPS,
        "generator": torch.Generator().manual_seed(0),
    }
    args.update(overrides)
    return args


def off_by(delta: float, dtype: torch.dtype) -> torch.Tensor:
    """Target rows in ``dtype`` where row (1, 0) sums to 1 + delta."""
    return with_value(uniform(B, GAMMA + 1, V), (1, 0, 0), 0.25 + delta).to(dtype)


VERIFIERS: dict[str, Callable[..., Any]] = {
    "verify": verify,
    "standard_verify": standard_verify,
    "ssd_verify": lambda *a, **k: ssd_verify(*a, tolerance=0.3, **k),
    "draft_only_verify": draft_only_verify,
}

BAD_VALUE, BAD_TYPE = InvalidArgumentError, InvalidTypeError

# (id, overrides, error, name, fragment): shared by every verifier.
COMMON: list[tuple[str, dict[str, Any], type[Exception], str, str]] = [
    ("float-draft-tokens", {"draft_tokens": torch.tensor([[0.0, 1.0], [2.0, 3.0]])}, BAD_TYPE,
     "draft_tokens", "dtype must be torch.int64"),
    ("int32-draft-tokens", {"draft_tokens": torch.tensor([[0, 1], [2, 3]], dtype=torch.int32)}, BAD_TYPE,
     "draft_tokens", "dtype must be torch.int64"),
    ("list-draft-tokens", {"draft_tokens": [[0, 1], [2, 3]]}, BAD_TYPE, "draft_tokens",
     "must be a torch.Tensor"),
    ("1d-draft-tokens", {"draft_tokens": torch.tensor([0, 1])}, BAD_VALUE, "draft_tokens",
     "must have shape [B, gamma]"),
    ("empty-block", {"draft_tokens": torch.zeros(2, 0, dtype=torch.int64)}, BAD_VALUE, "draft_tokens",
     "needs B >= 1 and gamma >= 1"),
    ("2d-draft-probs", {"draft_probs": uniform(B, V)}, BAD_VALUE, "draft_probs",
     "must be a tensor of shape [B, gamma, V]"),
    ("draft-probs-wrong-batch", {"draft_probs": uniform(B + 1, GAMMA, V)}, BAD_VALUE, "draft_probs",
     "must have shape [2, 2, 4]"),
    ("target-probs-without-bonus", {"target_probs": uniform(B, GAMMA, V)}, BAD_VALUE, "target_probs",
     "must have shape [2, 3, 4]"),
    ("target-probs-wrong-vocab", {"target_probs": uniform(B, GAMMA + 1, V + 1)}, BAD_VALUE,
     "target_probs", "must have shape [2, 3, 4]"),
    ("int-draft-probs", {"draft_probs": torch.ones(B, GAMMA, V, dtype=torch.int64)}, BAD_TYPE,
     "draft_probs", "dtype must be one of"),
    ("numpy-target-probs", {"target_probs": np.full((B, GAMMA + 1, V), 0.25)}, BAD_TYPE, "target_probs",
     "must be a torch.Tensor"),
    ("nan-target", {"target_probs": with_value(uniform(B, GAMMA + 1, V), (1, 2, 3), float("nan"))},
     BAD_VALUE, "target_probs", "must be finite; element (1, 2, 3) is nan"),
    ("inf-draft", {"draft_probs": with_value(uniform(B, GAMMA, V), (0, 1, 2), float("inf"))},
     BAD_VALUE, "draft_probs", "must be finite; element (0, 1, 2) is inf"),
    ("negative-target", {"target_probs": with_value(uniform(B, GAMMA + 1, V), (0, 0, 1), -0.25)},
     BAD_VALUE, "target_probs", "must be >= 0; element (0, 0, 1) is -0.25"),
    ("float64-row-sum", {"target_probs": off_by(1e-5, torch.float64)}, BAD_VALUE, "target_probs",
     "each row must sum to 1 within 1e-06 for torch.float64; row (1, 0) sums to"),
    ("float32-row-sum", {"target_probs": off_by(1e-3, torch.float32)}, BAD_VALUE, "target_probs",
     "within 0.0001 for torch.float32"),
    ("bfloat16-row-sum", {"target_probs": off_by(0.0625, torch.bfloat16)}, BAD_VALUE, "target_probs",
     "within 0.02 for torch.bfloat16"),
    ("draft-token-too-large", {"draft_tokens": torch.tensor([[0, 1], [2, 4]])}, BAD_VALUE,
     "draft_tokens", "ids must lie in [0, V=4); draft_tokens[1,1]=4"),
    ("negative-draft-token", {"draft_tokens": torch.tensor([[-1, 1], [2, 3]])}, BAD_VALUE,
     "draft_tokens", "ids must lie in [0, V=4); draft_tokens[0,0]=-1"),
    ("draft-token-with-zero-probability",
     {"draft_probs": with_value(with_value(uniform(B, GAMMA, V), (1, 0, 2), 0.0), (1, 0, 3), 0.5)},
     BAD_VALUE, "draft_tokens", "draft_tokens[1,0]=2 has draft_probs 0.0"),
    ("groups-for-another-vocabulary", {"groups": OTHER_V}, BAD_VALUE, "groups",
     "was built for vocab_size=5, but the probabilities have V=4"),
    ("groups-not-groups", {"groups": "singletons"}, BAD_TYPE, "groups", "must be a pcg_core.Groups"),
    ("generator-int", {"generator": 0}, BAD_TYPE, "generator", "must be a torch.Generator"),
    ("generator-none", {"generator": None}, BAD_TYPE, "generator", "must be a torch.Generator"),
    ("unchecked-values-still-check-shapes", {"target_probs": uniform(B, GAMMA, V), "check_inputs": False},
     BAD_VALUE, "target_probs", "must have shape [2, 3, 4]"),
    ("unchecked-values-still-check-types", {"target_probs": np.full((B, GAMMA + 1, V), 0.25), "check_inputs": False},
     BAD_TYPE, "target_probs", "must be a torch.Tensor"),
    ("check-inputs-not-bool", {"check_inputs": 1}, BAD_TYPE, "check_inputs", "must be a bool"),
    ("unchecked-values-still-check-ranges",
     {"draft_tokens": torch.tensor([[0, 9], [2, 3]]), "check_inputs": False},
     BAD_VALUE, "draft_tokens", "ids must lie in [0, V=4)"),
]

# (value, error, rule fragment)
BAD_TOLERANCES = [
    (-0.1, BAD_VALUE, "must lie in [0, 1] (the SSD β)"), (1.5, BAD_VALUE, "must lie in [0, 1] (the SSD β)"),
    (float("nan"), BAD_VALUE, "must be finite"), (float("inf"), BAD_VALUE, "must be finite"),
    ("0.3", BAD_TYPE, "must be a real number"), (True, BAD_TYPE, "must be a real number, not a bool"),
    (None, BAD_TYPE, "must be a real number"),
]
BAD_TRIALS = [
    (-1, BAD_VALUE, "must be an integer >= 0"), (1.5, BAD_TYPE, "must be an integer"),
    (True, BAD_TYPE, "must be an integer, not a bool"), ("8", BAD_TYPE, "must be an integer"),
]


def table() -> list[Any]:
    rows: list[Any] = []
    for fname, fn in VERIFIERS.items():
        for case_id, overrides, error, name, fragment in COMMON:
            rows.append(pytest.param(lambda fn=fn, o=overrides: fn(**verify_args(**o)), error, name, fragment,
                                     id=f"{fname}-{case_id}"))
    rows += [
        pytest.param(lambda: verify(**verify_args(), residual="greedy"), BAD_VALUE, "residual",
                     "must be one of 'thinning', 'exact'", id="verify-bad-residual"),
        *[pytest.param(lambda t=t: verify(**verify_args(), max_thinning_trials=t), error,
                       "max_thinning_trials", fragment, id=f"verify-max-thinning-trials-{t!r}")
          for t, error, fragment in BAD_TRIALS],
        *[pytest.param(lambda b=b: ssd_verify(**verify_args(), tolerance=b), error, "tolerance",
                       fragment, id=f"ssd-tolerance-{b!r}") for b, error, fragment in BAD_TOLERANCES],
        # coarse_probs
        pytest.param(lambda: coarse_probs(torch.ones(V, dtype=torch.int64), GROUPS), BAD_TYPE, "probs",
                     "must be a floating torch.Tensor", id="coarse-int-probs"),
        pytest.param(lambda: coarse_probs([0.25] * V, GROUPS), BAD_TYPE, "probs",
                     "must be a floating torch.Tensor", id="coarse-list-probs"),
        pytest.param(lambda: coarse_probs(uniform(3, V + 1), GROUPS), BAD_VALUE, "probs",
                     "last dimension must be V=4", id="coarse-wrong-vocab"),
        pytest.param(lambda: coarse_probs(uniform(V), None), BAD_TYPE, "groups",
                     "must be a pcg_core.Groups", id="coarse-groups-none"),
        # group_masses
        pytest.param(lambda: group_masses(uniform(1, V), GROUPS, torch.tensor([[2]])), BAD_VALUE,
                     "group_ids", "ids must lie in [0, M=2)", id="masses-id-too-large"),
        pytest.param(lambda: group_masses(uniform(1, V), GROUPS, torch.tensor([[-1]])), BAD_VALUE,
                     "group_ids", "ids must lie in [0, M=2)", id="masses-negative-id"),
        pytest.param(lambda: group_masses(uniform(2, V), GROUPS, torch.tensor([[0]])), BAD_VALUE,
                     "group_ids", "must have shape [R, S]", id="masses-rows-disagree"),
        pytest.param(lambda: group_masses(uniform(1, V + 1), GROUPS, torch.tensor([[0]])), BAD_VALUE,
                     "probs", "last dimension must be V=4", id="masses-wrong-vocab"),
        pytest.param(lambda: group_masses(uniform(1, V), GROUPS, torch.tensor([[0.0]])), BAD_TYPE,
                     "group_ids", "", id="masses-float-ids"),
        pytest.param(lambda: group_masses(uniform(1, V), GROUPS, [[0]]), BAD_TYPE, "group_ids", "",
                     id="masses-list-ids"),
        pytest.param(lambda: group_masses(uniform(V), GROUPS, torch.tensor([[0]])), BAD_VALUE,
                     "probs", "", id="masses-1d-probs"),
    ]
    # Groups.from_memberships
    ptr, members = np.array([0, 2, 4]), np.array([0, 1, 2, 3])
    ids, positive = "ids must lie in [0, vocab_size=4)", "weights must be finite and > 0"
    offsets = "must be non-decreasing offsets from 0 to len(group_members)"
    for case_id, args, name, fragment in [
        ("zero-vocab", (0, ptr, members), "vocab_size", "must be an integer >= 1"),
        ("ptr-not-from-zero", (V, np.array([1, 2, 4]), members), "group_ptr", offsets),
        ("ptr-short-of-nnz", (V, np.array([0, 2, 3]), members), "group_ptr", offsets),
        ("ptr-decreasing", (V, np.array([0, 3, 2, 4]), members), "group_ptr", offsets),
        ("ptr-2d", (V, ptr[None], members), "group_ptr", offsets),
        ("empty-group", (V, np.array([0, 0, 4]), members), "group_ptr", "every group must have at least one"),
        ("member-too-large", (V, ptr, np.array([0, 1, 2, 4])), "group_members", ids),
        ("negative-member", (V, ptr, np.array([-1, 1, 2, 3])), "group_members", ids),
        ("duplicate-member", (V, ptr, np.array([1, 1, 2, 3])), "group_members",
         "group 0 lists token 1 twice"),
        ("uncovered-token", (V, ptr, np.array([0, 1, 2, 1])), "group_members",
         "every token must belong to a group; 1 do not, e.g. token 3"),
        ("weights-wrong-shape", (V, ptr, members, np.ones(3)), "group_weights",
         "must have shape [nnz] = [4]"),
        ("zero-weight", (V, ptr, members, np.array([1.0, 0.0, 1.0, 1.0])), "group_weights", positive),
        ("negative-weight", (V, ptr, members, np.array([1.0, -1.0, 1.0, 1.0])), "group_weights", positive),
        ("nan-weight", (V, ptr, members, np.array([1.0, np.nan, 1.0, 1.0])), "group_weights", positive),
    ]:
        call = lambda a=args: Groups.from_memberships(*a)  # noqa: E731
        rows.append(pytest.param(call, BAD_VALUE, name, fragment, id=f"from-memberships-{case_id}"))
    rows += [
        pytest.param(lambda: Groups.from_memberships(V, ptr, np.array([0.7, 1.2, 2.9, 3.1])),
                     BAD_TYPE, "group_members", "must hold integers", id="from-memberships-float-members"),
        pytest.param(lambda: Groups.from_memberships(True, ptr, members), BAD_TYPE, "vocab_size",
                     "must be an integer, not a bool", id="from-memberships-bool-vocab"),
        pytest.param(lambda: Groups.from_memberships(4.0, ptr, members), BAD_TYPE, "vocab_size",
                     "must be an integer", id="from-memberships-float-vocab"),
        pytest.param(lambda: GROUPS.members_of(2), BAD_VALUE, "k", "must be an integer in [0, 1]",
                     id="members-of-past-the-end"),
        pytest.param(lambda: GROUPS.groups_of(-1), BAD_VALUE, "t", "must be an integer in [0, 3]",
                     id="groups-of-negative"),
        pytest.param(lambda: groups_from_labels([]), BAD_VALUE, "labels", "is empty", id="labels-empty"),
    ]
    return rows


@pytest.mark.parametrize(("call", "error", "name", "fragment"), table())
def test_invalid_argument(call: Callable[[], Any], error: type[Exception], name: str, fragment: str) -> None:
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert message.startswith(f"{name}="), message
    assert fragment in message, message
    assert info.value.name == name  # type: ignore[attr-defined]
    assert isinstance(info.value, ValueError if error is BAD_VALUE else TypeError)


@pytest.mark.parametrize(
    ("dtype", "delta"), [(torch.float64, 2e-7), (torch.float32, 2e-5), (torch.bfloat16, 1 / 256)], ids=str
)
def test_rows_within_the_dtype_tolerance_are_accepted(dtype: torch.dtype, delta: float) -> None:
    target = off_by(delta, dtype)
    assert float((target.double().sum(-1) - 1).abs().max()) > 0  # really off, but within tolerance
    out = verify(**verify_args(draft_probs=uniform(B, GAMMA, V, dtype=dtype), target_probs=target))
    assert out.tokens.shape == (B, GAMMA + 1)


# ---------------------------------------------------------------------------- numbers of every kind
EMB = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [-1.0, 0.2], [0.5, 0.5]], dtype=torch.float64)
PTR, MEMBERS = np.array([0, 2, 4]), np.array([0, 1, 2, 3])
REJECTING = {"draft_probs": torch.tensor([[[1.0, 0.0, 0.0, 0.0]]] * B, dtype=torch.float64).expand(B, GAMMA, V),
             "target_probs": torch.tensor([[[0.0, 0.0, 0.5, 0.5]]] * B, dtype=torch.float64).expand(B, GAMMA + 1, V),
             "draft_tokens": torch.zeros(B, GAMMA, dtype=torch.int64)}


def _verify_trials(n: Any) -> Any:
    return verify(**verify_args(**REJECTING), max_thinning_trials=n)


# (id, call taking the value, a valid value, the argument's name in errors). Every int parameter of the
# public API is listed; token_range is checked element by element.
INT_PARAMETERS: list[tuple[str, Callable[[Any], Any], int, str]] = [
    ("singleton_groups-vocab_size", lambda n: singleton_groups(n), 5, "vocab_size"),
    ("from_memberships-vocab_size", lambda n: Groups.from_memberships(n, PTR, MEMBERS), 4, "vocab_size"),
    ("members_of-k", lambda n: GROUPS.members_of(n), 1, "k"),
    ("groups_of-t", lambda n: GROUPS.groups_of(n), 3, "t"),
    ("threshold-block_size", lambda n: groups_from_threshold(EMB, 0.5, block_size=n), 4, "block_size"),
    ("threshold-max_group_size", lambda n: groups_from_threshold(EMB, 0.5, max_group_size=n), 2, "max_group_size"),
    ("threshold-vocab_size", lambda n: groups_from_threshold(EMB, 0.5, vocab_size=n), 6, "vocab_size"),
    ("threshold-token_range-start",
     lambda n: groups_from_threshold(EMB[:4], 0.5, token_range=(n, 6), vocab_size=8), 2, "token_range[0]"),
    ("threshold-token_range-stop",
     lambda n: groups_from_threshold(EMB[:4], 0.5, token_range=(2, n), vocab_size=8), 6, "token_range[1]"),
    ("threshold-token_range-vocab_size",
     lambda n: groups_from_threshold(EMB[:4], 0.5, token_range=(2, 6), vocab_size=n), 8, "vocab_size"),
    ("topk-k", lambda n: groups_from_topk(EMB, n), 2, "k"),
    ("topk-block_size", lambda n: groups_from_topk(EMB, 2, block_size=n), 4, "block_size"),
    ("topk-vocab_size", lambda n: groups_from_topk(EMB, 2, vocab_size=n), 6, "vocab_size"),
    ("topk-token_range-start", lambda n: groups_from_topk(EMB[:4], 2, token_range=(n, 6), vocab_size=8), 2,
     "token_range[0]"),
    ("topk-token_range-stop", lambda n: groups_from_topk(EMB[:4], 2, token_range=(2, n), vocab_size=8), 6,
     "token_range[1]"),
    ("verify-max_thinning_trials", _verify_trials, 3, "max_thinning_trials"),
]

# The same for the real parameters: numpy reals (and ints) are accepted, a bool is a type error.
REAL_PARAMETERS: list[tuple[str, Callable[[Any], Any], float, str]] = [
    ("threshold-theta", lambda x: groups_from_threshold(EMB, x), 0.5, "theta"),
    ("topk-min_similarity", lambda x: groups_from_topk(EMB, 3, min_similarity=x), 0.5, "min_similarity"),
    ("ssd-tolerance", lambda x: ssd_verify(**verify_args(**REJECTING), tolerance=x), 0.25, "tolerance"),
]


def fingerprint(result: Any) -> Any:
    """What must not depend on the Python or numpy type of a number argument."""
    if isinstance(result, Groups):
        return result.group_ptr.tolist(), result.group_members.tolist(), result.group_weights.tolist(), \
            dict(result.params)
    if isinstance(result, VerifyResult):
        return result.tokens.tolist(), result.num_accepted.tolist(), result.thinning_trials.tolist()
    return result.tolist()


@pytest.mark.parametrize("kind", [np.int64, np.int32, np.uint16], ids=lambda kind: kind.__name__)
@pytest.mark.parametrize(("call", "value", "name"), [pytest.param(*row[1:], id=row[0]) for row in INT_PARAMETERS])
def test_numpy_integers_are_integers(call: Callable[[Any], Any], value: int, name: str, kind: type) -> None:
    assert fingerprint(call(kind(value))) == fingerprint(call(value))


@pytest.mark.parametrize("bad", [2.0, np.float64(2.0), True, np.bool_(True)], ids=repr)
@pytest.mark.parametrize(("call", "value", "name"), [pytest.param(*row[1:], id=row[0]) for row in INT_PARAMETERS])
def test_floats_and_bools_are_not_integers(call: Callable[[Any], Any], value: int, name: str, bad: Any) -> None:
    with pytest.raises(InvalidTypeError) as info:
        call(bad)
    assert str(info.value).startswith(f"{name}="), str(info.value)
    assert "must be an integer" in str(info.value)
    assert info.value.name == name


@pytest.mark.parametrize("kind", [np.float64, np.float32], ids=lambda kind: kind.__name__)
@pytest.mark.parametrize(("call", "value", "name"), [pytest.param(*row[1:], id=row[0]) for row in REAL_PARAMETERS])
def test_numpy_reals_are_reals(call: Callable[[Any], Any], value: float, name: str, kind: type) -> None:
    # The values are exact in float32, so every kind gives the same float.
    assert fingerprint(call(kind(value))) == fingerprint(call(value))


@pytest.mark.parametrize(("call", "value", "name"), [pytest.param(*row[1:], id=row[0]) for row in REAL_PARAMETERS])
def test_bools_are_not_reals(call: Callable[[Any], Any], value: float, name: str) -> None:
    with pytest.raises(InvalidTypeError) as info:
        call(True)
    assert str(info.value).startswith(f"{name}=True: must be a real number, not a bool")
