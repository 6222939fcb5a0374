"""Every invalid argument of the public pcg_core API, in one table.

Each row is (call, error type, argument name, rule fragment): the error must be
of that type and its message must start with ``name=`` and state the rule.
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
    coarse_probs,
    draft_only_verify,
    group_masses,
    groups_from_labels,
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
     BAD_VALUE, "target_probs", "must be a tensor of shape [2, 3, 4]"),
    ("unchecked-values-still-check-ranges",
     {"draft_tokens": torch.tensor([[0, 9], [2, 3]]), "check_inputs": False},
     BAD_VALUE, "draft_tokens", "ids must lie in [0, V=4)"),
]

BAD_TOLERANCES = [-0.1, 1.5, float("nan"), float("inf"), "0.3", True, None]
BAD_TRIALS = [-1, 1.5, True, "8"]


def table() -> list[Any]:
    rows: list[Any] = []
    for fname, fn in VERIFIERS.items():
        for case_id, overrides, error, name, fragment in COMMON:
            rows.append(pytest.param(lambda fn=fn, o=overrides: fn(**verify_args(**o)), error, name, fragment,
                                     id=f"{fname}-{case_id}"))
    rows += [
        pytest.param(lambda: verify(**verify_args(), residual="greedy"), BAD_VALUE, "residual",
                     "must be 'thinning' or 'exact'", id="verify-bad-residual"),
        *[pytest.param(lambda t=t: verify(**verify_args(), max_thinning_trials=t), BAD_VALUE,
                       "max_thinning_trials", "must be an int >= 0", id=f"verify-max-thinning-trials-{t!r}")
          for t in BAD_TRIALS],
        *[pytest.param(lambda b=b: ssd_verify(**verify_args(), tolerance=b), BAD_VALUE, "tolerance",
                       "must be a float in [0, 1]", id=f"ssd-tolerance-{b!r}") for b in BAD_TOLERANCES],
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
        ("zero-vocab", (0, ptr, members), "vocab_size", "must be a positive int"),
        ("bool-vocab", (True, ptr, members), "vocab_size", "must be a positive int"),
        ("float-vocab", (4.0, ptr, members), "vocab_size", "must be a positive int"),
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
    rows.append(pytest.param(
        lambda: Groups.from_memberships(V, ptr, np.array([0.7, 1.2, 2.9, 3.1])),
        BAD_TYPE, "group_members", "", id="from-memberships-float-members"))
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
