"""The sampler's inputs: a group structure, a generator, and a whole verification block.

Part of :mod:`pcg_core.validation`. torch and the group structure are
imported inside the functions that receive them, so importing this module
(and the validation façade) loads neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pcg_core._rows import (
    SUM_TOLERANCE,
    check_has_values,
    check_probs,
    check_sum_tolerance,
    dtype_name,
    raise_tensor_fault,
    tensor_fault_flag,
)
from pcg_core.errors import InvalidArgumentError, InvalidTypeError

if TYPE_CHECKING:
    import torch

    from pcg_core._groups import Groups

__all__ = ["check_generator", "check_groups", "check_verify_inputs"]


def check_groups(groups: Any, *, vocab_size: int | None = None, device: Any = None) -> Groups:
    """``groups`` is a :class:`pcg_core.Groups`, built for ``vocab_size`` ids and living on ``device``.

    Only the type, V and the device are checked (O(1)); :meth:`Groups.validate`
    checks the structure itself.
    """
    from pcg_core._groups import Groups

    if not isinstance(groups, Groups):
        raise InvalidTypeError("groups", groups, "must be a pcg_core.Groups")
    if vocab_size is not None and groups.vocab_size != vocab_size:
        raise InvalidArgumentError(
            "groups", groups, f"was built for vocab_size={groups.vocab_size}, but the probabilities have V={vocab_size}"
        )
    if device is not None and groups.device != _device(device):
        raise InvalidArgumentError(
            "groups", groups, f"lives on {groups.device}, the probabilities on {device}", f"call groups.to('{device}')"
        )
    return groups


def check_generator(generator: Any, device: Any) -> torch.Generator:
    """``generator`` is a :class:`torch.Generator` for the device type of ``device``."""
    import torch

    if not isinstance(generator, torch.Generator):
        raise InvalidTypeError("generator", generator, "must be a torch.Generator (all randomness comes from it)")
    if generator.device.type != _device(device).type:
        raise InvalidArgumentError(
            "generator", generator, f"is for {generator.device}, the probabilities live on {device}"
        )
    return generator


def _device(device: Any) -> torch.device:
    import torch

    return device if isinstance(device, torch.device) else torch.device(device)


def check_verify_inputs(
    draft_tokens: Any, draft_probs: Any, target_probs: Any, generator: Any, *, full: bool = True,
    sum_tolerance: Any = None,
) -> tuple[int, int, int]:
    """Check the inputs of the port contract (docs/port-contract.md); return (B, γ, V).

    ``draft_tokens`` int64 [B, γ], ``draft_probs`` float [B, γ, V],
    ``target_probs`` float [B, γ+1, V], all on one (real) device, and a
    generator for it. ``full=False`` skips the O(B·γ·V) value checks of
    :func:`check_probs` (finite, non-negative, rows sum to 1 within
    ``sum_tolerance``, see :func:`check_sum_tolerance`) for callers that
    guarantee them; shapes, dtypes, devices, id ranges and the draft tokens'
    own probabilities (> 0, or the draft could not have sampled them) are
    always checked. A shape conflict blames the argument that disagrees with
    the other two. Cost: two reads of the probabilities and one device sync;
    the offending element is located only after a check fails.
    """
    import torch

    atol = check_sum_tolerance(sum_tolerance)
    if not isinstance(draft_tokens, torch.Tensor):
        raise InvalidTypeError("draft_tokens", draft_tokens, "must be a torch.Tensor")
    if draft_tokens.dtype != torch.int64:
        raise InvalidTypeError("draft_tokens", draft_tokens, "dtype must be torch.int64")
    if draft_tokens.dim() != 2:
        raise InvalidArgumentError("draft_tokens", draft_tokens, "must have shape [B, gamma]")
    if draft_tokens.shape[0] < 1 or draft_tokens.shape[1] < 1:
        raise InvalidArgumentError("draft_tokens", draft_tokens, "needs B >= 1 and gamma >= 1")
    for name, probs in (("draft_probs", draft_probs), ("target_probs", target_probs)):
        if not isinstance(probs, torch.Tensor):
            raise InvalidTypeError(name, probs, "must be a torch.Tensor")
        check_probs(name, probs, values=False)
    batch, gamma, vocab = _block_shape(draft_tokens, draft_probs, target_probs)
    device = draft_probs.device
    inputs = (("draft_tokens", draft_tokens), ("draft_probs", draft_probs), ("target_probs", target_probs))
    for name, tensor in inputs:
        check_has_values(name, tensor)
    for name, tensor in inputs:
        if tensor.device != device:
            raise InvalidArgumentError(
                name, tensor, f"is on {tensor.device}, draft_probs on {device}",
                f"put every input on one device, e.g. {name}.to('{device}')",
            )
    check_generator(generator, device)

    # One sync for every value rule; the diagnosis below runs only when one fails.
    ids_off = (draft_tokens < 0) | (draft_tokens >= vocab)  # [B, γ]
    own = draft_probs.gather(-1, draft_tokens.clamp(0, vocab - 1).unsqueeze(-1)).squeeze(-1)  # p(x)   [B, γ]
    faults = [ids_off.any(), ~(own > 0).all()]
    tols = {name: SUM_TOLERANCE[dtype_name(x.dtype)] if atol is None else atol
            for name, x in (("draft_probs", draft_probs), ("target_probs", target_probs))}
    if full:
        faults += [tensor_fault_flag(draft_probs, tols["draft_probs"]),
                   tensor_fault_flag(target_probs, tols["target_probs"])]
    if not bool(torch.stack(faults).any()):
        return batch, gamma, vocab
    if full:
        for name, x in (("draft_probs", draft_probs), ("target_probs", target_probs)):
            if bool(tensor_fault_flag(x, tols[name])):
                raise_tensor_fault(name, x, tols[name], atol is not None)
    if bool(ids_off.any()):
        b, i = (int(v) for v in ids_off.nonzero()[0])
        raise InvalidArgumentError(
            "draft_tokens", draft_tokens,
            f"ids must lie in [0, V={vocab}); draft_tokens[{b},{i}]={int(draft_tokens[b, i])}",
        )
    b, i = (int(v) for v in (~(own > 0)).nonzero()[0])
    raise InvalidArgumentError(
        "draft_tokens", draft_tokens,
        f"each drafted token must have draft probability > 0; draft_tokens[{b},{i}]={int(draft_tokens[b, i])} "
        f"has draft_probs {float(own[b, i])}",
        "draft tokens must be sampled from draft_probs",
    )


def _block_shape(
    draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor
) -> tuple[int, int, int]:
    """(B, γ, V) from [B, γ], [B, γ, V] and [B, γ+1, V]; a conflict blames the odd one out.

    B and γ are each given by all three arguments: where two agree, the third
    is wrong; where all three differ, draft_tokens' reading is taken. V is
    given by the two probability tensors, and target_probs is blamed.
    """
    named = {"draft_tokens": draft_tokens, "draft_probs": draft_probs, "target_probs": target_probs}
    for name in ("draft_probs", "target_probs"):
        if named[name].dim() != 3:
            positions = "gamma" if name == "draft_probs" else "gamma+1"
            raise InvalidArgumentError(name, named[name], f"must be a tensor of shape [B, {positions}, V]")
    shapes = {name: [int(size) for size in tensor.shape] for name, tensor in named.items()}
    # Each argument's reading of (B, γ): target_probs holds γ + 1 positions.
    readings = {
        "draft_tokens": tuple(shapes["draft_tokens"]),
        "draft_probs": tuple(shapes["draft_probs"][:2]),
        "target_probs": (shapes["target_probs"][0], shapes["target_probs"][1] - 1),
    }
    batch, gamma = readings["draft_tokens"]
    culprit = None
    for axis in (0, 1):
        values = [reading[axis] for reading in readings.values()]
        if len(set(values)) == 1:
            continue
        majority = [v for v in values if values.count(v) == 2]
        if not majority:
            culprit = "draft_probs"
            break
        culprit = next(name for name, reading in readings.items() if reading[axis] != majority[0])
        batch, gamma = (majority[0], gamma) if axis == 0 else (batch, majority[0])
        break
    vocab = shapes["draft_probs"][2]
    if culprit is None and shapes["target_probs"][2] != vocab:
        culprit = "target_probs"
    if culprit is None:
        if vocab < 1:
            raise InvalidArgumentError("draft_probs", draft_probs, "needs V >= 1 (one entry per token id)")
        return batch, gamma, vocab
    wanted = {"draft_tokens": [batch, gamma], "draft_probs": [batch, gamma, vocab],
              "target_probs": [batch, gamma + 1, vocab]}[culprit]
    others = " and ".join(f"{name} {shapes[name]}" for name in named if name != culprit)
    raise InvalidArgumentError(
        culprit, named[culprit], f"must have shape {wanted} to match {others}",
        "draft_tokens [B, gamma], draft_probs [B, gamma, V] and target_probs [B, gamma+1, V] must agree",
    )
