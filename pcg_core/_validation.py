"""Input checks shared by every verification entry point (one helper per rule).

Math follows the paper: q is the target, p the draft.
"""

from __future__ import annotations

from typing import Any

import torch

from pcg_core._errors import InvalidArgumentError, InvalidTypeError
from pcg_core._groups import Groups

__all__ = ["SUM_TOLERANCE", "check_generator", "check_groups", "check_verify_inputs", "sum_tolerance"]

#: |Σ_t probs[..., t] − 1| allowed per row, by dtype. Low-precision rows from a
#: softmax over ~200k ids drift by a few 1e-3; float64 rows should be exact.
SUM_TOLERANCE: dict[torch.dtype, float] = {
    torch.float64: 1e-6,
    torch.float32: 1e-4,
    torch.float16: 2e-2,
    torch.bfloat16: 2e-2,
}


def sum_tolerance(dtype: torch.dtype) -> float:
    """The row-sum tolerance for ``dtype`` (see :data:`SUM_TOLERANCE`)."""
    return SUM_TOLERANCE[dtype]


def _check_probs(name: str, probs: Any, shape: tuple[int, ...]) -> None:
    if not isinstance(probs, torch.Tensor):
        raise InvalidTypeError(name, probs, "must be a torch.Tensor")
    if probs.dtype not in SUM_TOLERANCE:
        raise InvalidTypeError(name, probs, f"dtype must be one of {sorted(map(str, SUM_TOLERANCE))}")
    if tuple(probs.shape) != shape:
        raise InvalidArgumentError(name, probs, f"must have shape {list(shape)}")
    # Two passes: NaN or +inf make a row sum non-finite; -inf is caught as negative.
    sums = probs.sum(-1, dtype=torch.float64)
    if not bool(torch.isfinite(sums).all()):
        where = tuple(int(i) for i in (~torch.isfinite(probs)).nonzero()[0])
        raise InvalidArgumentError(name, probs, f"must be finite; element {where} is {probs[where].item()}")
    if bool(probs.amin() < 0):
        where = tuple(int(i) for i in (probs < 0).nonzero()[0])
        raise InvalidArgumentError(name, probs, f"must be >= 0; element {where} is {probs[where].item()}")
    tol = sum_tolerance(probs.dtype)
    err = (sums - 1.0).abs()
    if bool((err > tol).any()):
        row = tuple(int(i) for i in (err > tol).nonzero()[0])
        raise InvalidArgumentError(
            name, probs,
            f"each row must sum to 1 within {tol:g} for {probs.dtype}; row {row} sums to {float(sums[row]):.9g}",
        )


def check_groups(groups: Any, vocab_size: int, device: torch.device) -> None:
    """``groups`` is a :class:`Groups` for ``vocab_size`` ids on ``device``."""
    if not isinstance(groups, Groups):
        raise InvalidTypeError("groups", groups, "must be a pcg_core.Groups")
    if groups.vocab_size != vocab_size:
        raise InvalidArgumentError(
            "groups", groups, f"was built for vocab_size={groups.vocab_size}, but the probabilities have V={vocab_size}"
        )
    if groups.device != device:
        raise InvalidArgumentError(
            "groups", groups, f"lives on {groups.device}, the probabilities on {device}", f"call groups.to('{device}')"
        )


def check_generator(generator: Any, device: torch.device) -> None:
    """``generator`` is a torch.Generator for ``device``."""
    if not isinstance(generator, torch.Generator):
        raise InvalidTypeError("generator", generator, "must be a torch.Generator (all randomness comes from it)")
    if generator.device.type != device.type:
        raise InvalidArgumentError(
            "generator", generator, f"is for {generator.device}, the probabilities live on {device}"
        )


def check_verify_inputs(
    draft_tokens: Any, draft_probs: Any, target_probs: Any, generator: Any, *, full: bool = True
) -> tuple[int, int, int]:
    """Validate the SPEC §5 inputs; return (B, γ, V).

    ``full=False`` skips the O(B·γ·V) value checks (finite, non-negative,
    rows sum to 1) for callers that guarantee them; shapes, dtypes, ranges and
    the draft tokens' own probabilities are always checked.
    """
    if not isinstance(draft_tokens, torch.Tensor):
        raise InvalidTypeError("draft_tokens", draft_tokens, "must be a torch.Tensor")
    if draft_tokens.dtype != torch.int64:
        raise InvalidTypeError("draft_tokens", draft_tokens, "dtype must be torch.int64")
    if draft_tokens.dim() != 2:
        raise InvalidArgumentError("draft_tokens", draft_tokens, "must have shape [B, gamma]")
    batch, gamma = draft_tokens.shape
    if batch < 1 or gamma < 1:
        raise InvalidArgumentError("draft_tokens", draft_tokens, "needs B >= 1 and gamma >= 1")
    if not isinstance(draft_probs, torch.Tensor):
        raise InvalidTypeError("draft_probs", draft_probs, "must be a torch.Tensor")
    if draft_probs.dim() != 3:
        raise InvalidArgumentError("draft_probs", draft_probs, "must be a tensor of shape [B, gamma, V]")
    vocab = int(draft_probs.shape[-1])
    if full:
        _check_probs("draft_probs", draft_probs, (batch, gamma, vocab))
        _check_probs("target_probs", target_probs, (batch, gamma + 1, vocab))
    else:
        for name, probs, shape in (("draft_probs", draft_probs, (batch, gamma, vocab)),
                                   ("target_probs", target_probs, (batch, gamma + 1, vocab))):
            if not isinstance(probs, torch.Tensor) or tuple(probs.shape) != shape:
                raise InvalidArgumentError(name, probs, f"must be a tensor of shape {list(shape)}")
            if probs.dtype not in SUM_TOLERANCE:
                raise InvalidTypeError(name, probs, f"dtype must be one of {sorted(map(str, SUM_TOLERANCE))}")
    device = draft_probs.device
    for name, tensor in (("draft_tokens", draft_tokens), ("target_probs", target_probs)):
        if tensor.device != device:
            raise InvalidArgumentError(name, tensor, f"is on {tensor.device}, draft_probs on {device}")
    bad = (draft_tokens < 0) | (draft_tokens >= vocab)
    if bool(bad.any()):
        b, i = (int(v) for v in bad.nonzero()[0])
        raise InvalidArgumentError(
            "draft_tokens", draft_tokens,
            f"ids must lie in [0, V={vocab}); draft_tokens[{b},{i}]={int(draft_tokens[b, i])}",
        )
    own = draft_probs.gather(-1, draft_tokens.unsqueeze(-1)).squeeze(-1)
    if bool((own <= 0).any()):
        b, i = (int(v) for v in (own <= 0).nonzero()[0])
        raise InvalidArgumentError(
            "draft_tokens", draft_tokens,
            f"each drafted token must have draft probability > 0; draft_tokens[{b},{i}]={int(draft_tokens[b, i])} "
            f"has draft_probs {float(own[b, i])}",
            "draft tokens must be sampled from draft_probs",
        )
    check_generator(generator, device)
    return int(batch), int(gamma), vocab
