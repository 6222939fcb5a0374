"""Rare input faults end as clear errors (issue 7), in one table; and inputs that look odd but are fine.

Each row of :data:`FAULTS` is (what is wrong, how it is made, expected error
type, message fragments): the call must raise that pcg_core error, whose
message starts with ``name=`` for the argument it blames and contains every
fragment (the value, the rule and, where one helps, the hint).

Outside the table: an explicit ``sum_tolerance`` accepts float32 rows cast to
float64; non-contiguous inputs (transposed views, slices, expanded rows) give
exactly the results of their contiguous copies. Device mismatches (CUDA
against CPU) are checked by ``benchmarks/check_cuda.py`` where a GPU exists.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from pcg_core import (
    Groups,
    InvalidArgumentError,
    InvalidTypeError,
    PCGError,
    coarse_probs,
    draft_only_verify,
    group_masses,
    groups_from_labels,
    ssd_verify,
    standard_verify,
    verify,
)
from pcg_core.validation import check_probs

V = 6
GROUPS = groups_from_labels([0, 0, 1, 1, 2, 2])
#: The Llasa vocabulary size: a float32 softmax over it drifts from 1 by a few 1e-6 once cast to float64.
LLASA_V = 193_800

VERIFIERS: dict[str, Callable[..., Any]] = {
    "verify": verify,
    "standard_verify": standard_verify,
    "ssd_verify": lambda *a, **k: ssd_verify(*a, tolerance=0.3, **k),
    "draft_only_verify": draft_only_verify,
}


def uniform(*shape: int, dtype: torch.dtype = torch.float64, device: str = "cpu") -> torch.Tensor:
    return torch.full(shape, 1.0 / shape[-1], dtype=dtype, device=device)


def block(batch: int = 2, gamma: int = 2, **overrides: Any) -> dict[str, Any]:
    """Valid verify arguments for [B, γ] blocks over V = 6, with ``overrides``."""
    args: dict[str, Any] = {
        "draft_tokens": torch.arange(batch * gamma).reshape(batch, gamma) % V,
        "draft_probs": uniform(batch, gamma, V),
        "target_probs": uniform(batch, gamma + 1, V),
        "groups": GROUPS,
        "generator": torch.Generator().manual_seed(0),
    }
    args.update(overrides)
    return args


def upcast_softmax(batch: int, positions: int, seed: int) -> torch.Tensor:
    """float32 softmax rows over LLASA_V ids, cast to float64 with ``.double()`` (rows off by ~7e-6)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.softmax(3 * torch.randn(batch, positions, LLASA_V, generator=gen), -1).double()


@functools.cache
def pair_groups(vocab: int) -> Groups:
    """Groups {0, 1}, {2, 3}, ... over ``vocab`` ids (built once)."""
    return groups_from_labels(torch.arange(vocab) // 2)


def upcast_block(**overrides: Any) -> dict[str, Any]:
    """One drafted position over LLASA_V ids with float32 softmax rows cast to float64."""
    draft, target = upcast_softmax(1, 1, seed=1), upcast_softmax(1, 2, seed=2)
    args = {"draft_tokens": draft[0].argmax(-1, keepdim=True), "draft_probs": draft, "target_probs": target,
            "groups": pair_groups(LLASA_V), "generator": torch.Generator().manual_seed(0)}
    args.update(overrides)
    return args


def with_row(tensor: torch.Tensor, index: tuple[int, ...], row: list[float]) -> torch.Tensor:
    out = tensor.clone()
    out[index] = torch.tensor(row, dtype=tensor.dtype)
    return out


def row(what: str, call: Callable[[], Any], error: type[PCGError], fragments: tuple[str, ...]) -> Any:
    """One row of the fault table: what is wrong, how it is made, the error type, message fragments."""
    return pytest.param(call, error, fragments, id=what)


def ids(*shape: int, device: str = "cpu") -> torch.Tensor:
    return torch.zeros(shape, dtype=torch.int64, device=device)


BAD_VALUE, BAD_TYPE = InvalidArgumentError, InvalidTypeError
HUGE = [1e308] * V  # each value is finite, the float64 row sum is inf
OFF_BY_1E3 = [0.2, 0.2, 0.2, 0.2, 0.1, 0.101]
META = "is a meta tensor: it has a shape but no values"
UPCAST_HINT = "usually float32 probabilities cast with .double(); pass the float32 rows as they are"
RENORMALISE = "renormalise them in float64: probs / probs.sum(-1, keepdim=True)"

# (what is wrong, how it is made, expected error type, message fragments)
FAULTS: list[Any] = [
    # ------------------------------------------------------------------ item 12: float32 rows cast to float64
    *[row(f"{name}-float32-softmax-cast-to-float64", lambda fn=fn: fn(**upcast_block()), BAD_VALUE,
          ("_probs=<Tensor shape=(1, ", "each row must sum to 1 within 1e-06 for torch.float64", UPCAST_HINT,
           "probs / probs.sum(-1, keepdim=True)", "sum_tolerance="))
      for name, fn in VERIFIERS.items()],
    row("float32-rows-off-by-1e-3",
        lambda: verify(**block(target_probs=with_row(uniform(2, 3, V, dtype=torch.float32), (1, 2), OFF_BY_1E3))),
        BAD_VALUE, ("target_probs=", "within 0.0001 for torch.float32; row (1, 2) sums to 1.00", RENORMALISE)),
    row("explicit-tolerance-gets-the-general-hint", lambda: verify(**upcast_block(), sum_tolerance=1e-7),
        BAD_VALUE, ("draft_probs=", "within 1e-07 for torch.float64", RENORMALISE)),
    row("sum-tolerance-negative", lambda: verify(**block(), sum_tolerance=-1e-6),
        BAD_VALUE, ("sum_tolerance=-1e-06: must lie >= 0",)),
    row("sum-tolerance-one", lambda: standard_verify(**block(), sum_tolerance=1.0),
        BAD_VALUE, ("sum_tolerance=1.0: must be < 1 (a tolerance of 1 accepts rows that sum to 0)",)),
    row("sum-tolerance-nan", lambda: ssd_verify(**block(), tolerance=0.1, sum_tolerance=float("nan")),
        BAD_VALUE, ("sum_tolerance=nan: must be finite",)),
    row("sum-tolerance-bool", lambda: draft_only_verify(**block(), sum_tolerance=True),
        BAD_TYPE, ("sum_tolerance=True: must be a real number, not a bool",)),
    row("sum-tolerance-string", lambda: verify(**block(), sum_tolerance="1e-4"),
        BAD_TYPE, ("sum_tolerance='1e-4': must be a real number",)),
    # ------------------------------------------------------------------ item 14: rows whose sum overflows
    row("float64-target-row-overflows", lambda: verify(**block(target_probs=with_row(uniform(2, 3, V), (0, 1), HUGE))),
        BAD_VALUE, ("target_probs=", "row (0, 1) sums to inf (the sum overflows: values must be probabilities)")),
    row("float64-draft-row-overflows",
        lambda: standard_verify(**block(draft_probs=with_row(uniform(2, 2, V), (1, 0), HUGE))),
        BAD_VALUE, ("draft_probs=", "row (1, 0) sums to inf (the sum overflows")),
    row("float32-row-sum-overflows-float32",
        lambda: verify(**block(draft_probs=uniform(2, 2, V, dtype=torch.float32),
                               target_probs=with_row(uniform(2, 3, V, dtype=torch.float32), (1, 1), [3e38] * V))),
        BAD_VALUE, ("target_probs=", "row (1, 1) sums to 1.8e+39")),
    row("numpy-row-overflows", lambda: check_probs("probs", np.array([[0.5, 0.5], [1e308, 1e308]])),
        BAD_VALUE, ("probs=", "row (1,) sums to inf (the sum overflows")),
    row("numpy-single-row-overflows", lambda: check_probs("probs", np.full(3, 1e308)),
        BAD_VALUE, ("probs=", "it sums to inf")),
    # ------------------------------------------------------------------ item 14: meta tensors and devices
    *[row(f"{name}-meta-probabilities",
          lambda fn=fn: fn(**block(draft_probs=uniform(2, 2, V, device="meta"),
                                   target_probs=uniform(2, 3, V, device="meta"))),
          BAD_VALUE, ("draft_probs=", META, "create it on a real device"))
      for name, fn in VERIFIERS.items()],
    row("meta-everything",
        lambda: verify(**block(draft_tokens=ids(2, 2, device="meta"), draft_probs=uniform(2, 2, V, device="meta"),
                               target_probs=uniform(2, 3, V, device="meta"))),
        BAD_VALUE, ("draft_tokens=", META)),
    row("meta-target-only", lambda: verify(**block(target_probs=uniform(2, 3, V, device="meta"))),
        BAD_VALUE, ("target_probs=", META)),
    row("meta-with-unchecked-values",
        lambda: verify(**block(target_probs=uniform(2, 3, V, device="meta")), check_inputs=False),
        BAD_VALUE, ("target_probs=", META)),
    row("meta-check-probs", lambda: check_probs("probs", uniform(2, V, device="meta")), BAD_VALUE, ("probs=", META)),
    row("meta-coarse-probs", lambda: coarse_probs(uniform(2, V, device="meta"), GROUPS), BAD_VALUE, ("probs=", META)),
    row("meta-group-masses", lambda: group_masses(uniform(2, V, device="meta"), GROUPS, ids(2, 1)),
        BAD_VALUE, ("probs=", META)),
    # ------------------------------------------------------------------ item 14: a shape conflict blames the odd one
    row("draft-tokens-gamma-disagrees", lambda: verify(**block(gamma=4, draft_tokens=ids(2, 3))),
        BAD_VALUE, ("draft_tokens=<Tensor shape=(2, 3)",
                    "must have shape [2, 4] to match draft_probs [2, 4, 6] and target_probs [2, 5, 6]")),
    row("draft-tokens-batch-disagrees", lambda: standard_verify(**block(draft_tokens=ids(3, 2))),
        BAD_VALUE, ("draft_tokens=<Tensor shape=(3, 2)", "must have shape [2, 2] to match")),
    row("draft-probs-gamma-disagrees", lambda: verify(**block(draft_probs=uniform(2, 4, V))),
        BAD_VALUE, ("draft_probs=<Tensor shape=(2, 4, 6)",
                    "must have shape [2, 2, 6] to match draft_tokens [2, 2] and target_probs [2, 3, 6]")),
    row("target-probs-without-bonus", lambda: verify(**block(target_probs=uniform(2, 2, V))),
        BAD_VALUE, ("target_probs=", "must have shape [2, 3, 6] to match draft_tokens [2, 2] and draft_probs [2, 2, 6]",
                    "target_probs [B, gamma+1, V] must agree")),
    row("all-three-disagree", lambda: verify(**block(draft_probs=uniform(3, 3, V), target_probs=uniform(4, 6, V))),
        BAD_VALUE, ("draft_probs=",
                    "must have shape [2, 2, 6] to match draft_tokens [2, 2] and target_probs [4, 6, 6]")),
    row("vocabularies-disagree", lambda: verify(**block(target_probs=uniform(2, 3, V + 1))),
        BAD_VALUE, ("target_probs=", "must have shape [2, 3, 6] to match")),
    row("empty-vocabulary",
        lambda: standard_verify(**block(draft_probs=torch.zeros(2, 2, 0), target_probs=torch.zeros(2, 3, 0))),
        BAD_VALUE, ("draft_probs=", "needs V >= 1")),
    row("2d-target-probs", lambda: verify(**block(target_probs=uniform(2, V))),
        BAD_VALUE, ("target_probs=", "must be a tensor of shape [B, gamma+1, V]")),
]


@pytest.mark.parametrize(("call", "error", "fragments"), FAULTS)
def test_input_fault(call: Callable[[], Any], error: type[PCGError], fragments: tuple[str, ...]) -> None:
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert isinstance(info.value, ValueError if error is BAD_VALUE else TypeError)
    assert message.startswith(f"{info.value.name}="), message  # type: ignore[attr-defined]
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


# ---------------------------------------------------------------------------- odd but valid inputs
@pytest.mark.parametrize("name", list(VERIFIERS))
def test_explicit_sum_tolerance_accepts_cast_float32_rows(name: str) -> None:
    """The float64 rows refused in FAULTS pass with sum_tolerance=1e-4, and so do the float32 rows as they are."""
    args = upcast_block()
    drift = float((args["target_probs"].sum(-1) - 1).abs().max())
    assert 1e-6 < drift < 1e-4  # off for float64, fine for the float32 rows they came from
    assert VERIFIERS[name](**args, sum_tolerance=1e-4).tokens.shape == (1, 2)
    as_float32 = {**args, "draft_probs": args["draft_probs"].float(), "target_probs": args["target_probs"].float()}
    assert VERIFIERS[name](**as_float32).tokens.shape == (1, 2)


def noncontiguous(tensor: torch.Tensor, how: str) -> torch.Tensor:
    """A non-contiguous tensor equal to ``tensor`` [B, P, V], made ``how``."""
    if how == "transposed":
        return tensor.permute(2, 1, 0).contiguous().permute(2, 1, 0)
    if how == "sliced":
        wide = torch.zeros(2 * tensor.shape[0], tensor.shape[1], tensor.shape[2] + 3, dtype=tensor.dtype)
        wide[::2, :, 1 : 1 + tensor.shape[2]] = tensor
        return wide[::2, :, 1 : 1 + tensor.shape[2]]
    return tensor[:1].expand(tensor.shape[0], -1, -1)  # "expanded": stride 0 over B


@pytest.mark.parametrize("how", ["transposed", "sliced", "expanded"])
@pytest.mark.parametrize(("name", "options"), [("verify", {}), ("verify", {"residual": "exact"}),
                                               ("verify", {"max_thinning_trials": 1}), ("standard_verify", {}),
                                               ("ssd_verify", {}), ("draft_only_verify", {})])
def test_noncontiguous_inputs_give_the_contiguous_result(how: str, name: str, options: dict[str, Any]) -> None:
    gen = torch.Generator().manual_seed(5)
    batch, gamma = 64, 3
    draft = torch.softmax(torch.randn(batch, gamma, V, generator=gen, dtype=torch.float64), -1)
    target = torch.softmax(2 * torch.randn(batch, gamma + 1, V, generator=gen, dtype=torch.float64), -1)
    if how == "expanded":
        draft, target = draft[:1].expand(batch, -1, -1).contiguous(), target[:1].expand(batch, -1, -1).contiguous()
    tokens = torch.multinomial(draft.reshape(-1, V), 1, generator=gen).reshape(batch, gamma)
    odd_draft, odd_target = noncontiguous(draft, how), noncontiguous(target, how)
    odd_tokens = tokens.T.contiguous().T
    assert not (odd_draft.is_contiguous() or odd_target.is_contiguous() or odd_tokens.is_contiguous())
    assert torch.equal(odd_draft, draft) and torch.equal(odd_target, target)
    fn = VERIFIERS[name]
    out = fn(tokens, draft, target, GROUPS, generator=torch.Generator().manual_seed(9), **options)
    odd = fn(odd_tokens, odd_draft, odd_target, GROUPS, generator=torch.Generator().manual_seed(9), **options)
    for field in ("tokens", "group_ids", "num_accepted", "thinning_trials", "exact_residual"):
        assert torch.equal(getattr(odd, field), getattr(out, field)), field
    assert name == "draft_only_verify" or bool((out.num_accepted < gamma).any())  # the residual ran
