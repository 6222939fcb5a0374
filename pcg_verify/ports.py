"""Ports: the implementations under test, and how the gate talks to them.

A port is a callable with the SPEC §5 contract::

    port(draft_tokens, draft_probs, target_probs, groups, *, generator)
        -> object with .tokens, .group_ids (or None), .num_accepted
           or a tuple (tokens, group_ids, num_accepted)

Math follows the paper: q is the target, p the draft.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from pcg_core import Groups, ssd_verify, standard_verify, verify
from pcg_core._errors import InvalidArgumentError, InvalidTypeError

__all__ = [
    "REFERENCE_PORT",
    "Port",
    "PortOutput",
    "PortProtocolError",
    "call_port",
    "load_port",
    "reference_port",
    "ssd_port",
    "standard_port",
]

#: Import path of the default port: pcg_core's reference sampler.
REFERENCE_PORT = "pcg_verify.ports:reference_port"


class Port(Protocol):
    """The SPEC §5 port contract."""

    def __call__(
        self,
        draft_tokens: torch.Tensor,
        draft_probs: torch.Tensor,
        target_probs: torch.Tensor,
        groups: Groups,
        *,
        generator: torch.Generator,
    ) -> Any: ...


class PortProtocolError(AssertionError):
    """A port returned something that breaks the output contract (a structural failure)."""


@dataclass(frozen=True)
class PortOutput:
    """A port's outputs, normalised to int64 CPU tensors.

    tokens int64 [B, γ+1], group_ids int64 [B, γ+1] or None, num_accepted int64 [B].
    """

    tokens: torch.Tensor
    group_ids: torch.Tensor | None
    num_accepted: torch.Tensor


def reference_port(
    draft_tokens: torch.Tensor,
    draft_probs: torch.Tensor,
    target_probs: torch.Tensor,
    groups: Groups,
    *,
    generator: torch.Generator,
) -> Any:
    """pcg_core's :func:`~pcg_core.verify` with its defaults (thinning residual)."""
    return verify(draft_tokens, draft_probs, target_probs, groups, generator=generator)


def standard_port(
    draft_tokens: torch.Tensor,
    draft_probs: torch.Tensor,
    target_probs: torch.Tensor,
    groups: Groups,
    *,
    generator: torch.Generator,
) -> Any:
    """pcg_core's standard speculative decoding; labels drawn as k ~ w[·, t].

    Token-exact, so it keeps the group guarantee for any groups, but its joint
    law differs from PCG's reference (it accepts less): gate it with
    ``--groups singleton`` to check it as a plain speculative sampler.
    """
    return standard_verify(draft_tokens, draft_probs, target_probs, groups, generator=generator)


def ssd_port(
    draft_tokens: torch.Tensor,
    draft_probs: torch.Tensor,
    target_probs: torch.Tensor,
    groups: Groups,
    *,
    generator: torch.Generator,
) -> Any:
    """pcg_core's SSD tolerance rule with β = 0.3 (the paper's setting); inexact at every level."""
    return ssd_verify(draft_tokens, draft_probs, target_probs, groups, generator=generator, tolerance=0.3)


def load_port(spec: str) -> Callable[..., Any]:
    """Import ``package.module:function`` and return the callable.

    Raises :class:`InvalidArgumentError` naming what could not be found.
    """
    if not isinstance(spec, str) or spec.count(":") != 1:
        raise InvalidArgumentError("port", spec, "must be an import path 'package.module:function'")
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise InvalidArgumentError("port", spec, f"module {module_name!r} cannot be imported ({error})") from error
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise InvalidArgumentError("port", spec, f"{module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise InvalidTypeError("port", spec, "must name a callable")
    return target  # type: ignore[no-any-return]


def _as_int_tensor(name: str, value: Any, shape: tuple[int, ...]) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise PortProtocolError(f"port output {name} must be a torch.Tensor, got {type(value).__name__}")
    if value.dtype != torch.int64:
        raise PortProtocolError(f"port output {name} must have dtype torch.int64, got {value.dtype}")
    if tuple(value.shape) != shape:
        raise PortProtocolError(f"port output {name} must have shape {list(shape)}, got {list(value.shape)}")
    return value.detach().cpu()


def normalise_output(result: Any, batch: int, gamma: int) -> PortOutput:
    """Accept an object with attributes or a 3-tuple; check dtypes and shapes."""
    if isinstance(result, tuple):
        if len(result) != 3:
            raise PortProtocolError(f"a port returning a tuple must return 3 items, got {len(result)}")
        tokens, group_ids, num_accepted = result
    elif all(hasattr(result, name) for name in ("tokens", "group_ids", "num_accepted")):
        tokens, group_ids, num_accepted = result.tokens, result.group_ids, result.num_accepted
    else:
        raise PortProtocolError(
            "a port must return an object with tokens, group_ids, num_accepted or a tuple in that order, "
            f"got {type(result).__name__}"
        )
    return PortOutput(
        tokens=_as_int_tensor("tokens", tokens, (batch, gamma + 1)),
        group_ids=None if group_ids is None else _as_int_tensor("group_ids", group_ids, (batch, gamma + 1)),
        num_accepted=_as_int_tensor("num_accepted", num_accepted, (batch,)),
    )


def call_port(
    port: Callable[..., Any],
    draft_tokens: torch.Tensor,
    draft_probs: torch.Tensor,
    target_probs: torch.Tensor,
    groups: Groups,
    seed: int,
) -> PortOutput:
    """Call ``port`` with a CPU generator seeded with ``seed``; normalise its output."""
    generator = torch.Generator().manual_seed(seed)
    result = port(draft_tokens, draft_probs, target_probs, groups, generator=generator)
    batch, gamma = draft_tokens.shape
    return normalise_output(result, int(batch), int(gamma))
