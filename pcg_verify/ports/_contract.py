"""The port contract as the gate calls it: the bottom of :mod:`pcg_verify.ports`.

A port is a callable with the port contract (``docs/port-contract.md``)::

    port(draft_tokens, draft_probs, target_probs, groups, *, generator)
        -> object with .tokens, .group_ids (or None), .num_accepted
           or a tuple (tokens, group_ids, num_accepted)

This module holds the contract's types (:class:`Port`, :class:`PortOutput`,
:class:`PortProtocolError`), in-process containment (:func:`run_contained`)
and :func:`call_port`, the one way the gate calls a port. Every transport
(an isolated worker, a program over a pipe) is a :class:`Port` built on it;
loading a port by name sits on top (:mod:`pcg_verify.ports._loading`).

Math follows the paper: q is the target, p the draft.
"""

from __future__ import annotations

import dataclasses
import textwrap
import traceback
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from pcg_core import Groups
from pcg_verify._options import DEFAULT_CALL_TIMEOUT

__all__ = [
    "DEFAULT_CALL_TIMEOUT",
    "TRACEBACK_LINES",
    "Port",
    "PortOutput",
    "PortProtocolError",
    "PortTooSlow",
    "call_port",
    "copy_groups",
    "describe_exception",
    "normalise_output",
    "printable",
    "run_contained",
]

#: Traceback lines of a port's own exception kept in a failure message.
TRACEBACK_LINES = 6


class Port(Protocol):
    """The port contract: what the gate calls."""

    def __call__(
        self,
        draft_tokens: torch.Tensor,
        draft_probs: torch.Tensor,
        target_probs: torch.Tensor,
        groups: Groups,
        *,
        generator: torch.Generator,
    ) -> Any: ...


def printable(text: str) -> str:
    """``text`` with every control character but newline and tab written as an escape (``\\x1b``): a
    port's own words (its exception, its stderr, its ``ERROR`` line) reach terminals, JSON and HTML, and
    must never move a cursor, clear a screen or set a window title there."""
    return text.translate(_ESCAPES)


#: Every C0 and C1 control character (and DEL) but newline and tab, mapped to its backslash escape.
_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)] if chr(c) not in "\n\t"}


class PortProtocolError(AssertionError):
    """A port returned something that breaks the output contract (a structural failure).

    Its message may quote the port (its exception, stderr, refusal): it is made :func:`printable`.
    """

    def __init__(self, message: str) -> None:
        super().__init__(printable(message))


class PortTooSlow(PortProtocolError):
    """The port did not answer in time: a call ran past the per-call limit, or the run's deadline passed.

    Not evidence that the port is wrong (a correct port that is merely slow, and one that hangs, read the
    same): the gate reports the case as unfinished, **too slow**, never as a structure or law failure.
    """


@dataclass(frozen=True)
class PortOutput:
    """A port's outputs, normalised to int64 CPU tensors.

    tokens int64 [B, γ+1], group_ids int64 [B, γ+1] or None, num_accepted int64 [B].
    """

    tokens: torch.Tensor
    group_ids: torch.Tensor | None
    num_accepted: torch.Tensor


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


_ARRAYS = ("group_ptr", "group_members", "group_weights", "token_ptr", "token_groups", "token_weights")


def describe_exception(error: BaseException) -> str:
    """``Type: message`` and the last lines of the traceback, for a verdict's evidence."""
    if isinstance(error, SystemExit):
        head = f"the port called sys.exit({error.code!r})"
    else:
        head = f"the port raised {type(error).__name__}: {error}"
    lines = traceback.format_exception(error)
    tail = "".join(lines[-TRACEBACK_LINES - 1:-1]).rstrip() if len(lines) > 1 else ""
    return head if not tail else f"{head}\n{textwrap.indent(tail, '        ')}"


def copy_groups(groups: Groups) -> Groups:
    """A deep copy a port may do anything with."""
    return dataclasses.replace(groups, params=dict(groups.params),
                               **{name: getattr(groups, name).clone() for name in _ARRAYS})


def _changed_groups(original: Groups, handed: Groups) -> str | None:
    if (handed.vocab_size, handed.num_groups) != (original.vocab_size, original.num_groups):
        return "vocab_size/num_groups"
    for name in _ARRAYS:
        a, b = getattr(original, name), getattr(handed, name)
        if a.shape != b.shape or a.dtype != b.dtype or not torch.equal(a, b):
            return name
    return None


def run_contained(port: Port, draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor,
                  groups: Groups, seed: int) -> Any:
    """Call ``port`` on copies of the inputs with a CPU generator seeded with ``seed``; return what it returned.

    Every way a port can fail on the call becomes :class:`PortProtocolError`
    with the evidence: an exception of its own (``SystemExit`` included: a
    port that exits is never a pass) or inputs it wrote into.
    ``KeyboardInterrupt`` is the user's and propagates.
    """
    handed = (draft_tokens.clone(), draft_probs.clone(), target_probs.clone(), copy_groups(groups))
    generator = torch.Generator().manual_seed(seed)
    try:
        result = port(*handed, generator=generator)
    except KeyboardInterrupt:
        raise
    except PortProtocolError:
        raise
    except BaseException as error:  # every other failure of the port is a verdict, SystemExit included
        raise PortProtocolError(describe_exception(error)) from error
    for name, original, copy in zip(("draft_tokens", "draft_probs", "target_probs"), (draft_tokens, draft_probs,
                                    target_probs), handed[:3], strict=True):
        if copy.shape != original.shape or not torch.equal(copy, original):
            raise PortProtocolError(f"the port wrote into its input {name} (inputs are read-only)")
    changed = _changed_groups(groups, handed[3])
    if changed:
        raise PortProtocolError(f"the port changed its input groups ({changed}; inputs are read-only)")
    return result


def call_port(
    port: Port,
    draft_tokens: torch.Tensor,
    draft_probs: torch.Tensor,
    target_probs: torch.Tensor,
    groups: Groups,
    seed: int,
) -> PortOutput:
    """:func:`run_contained`, then the output contract (:func:`normalise_output`): every failure is a
    :class:`PortProtocolError`."""
    result = run_contained(port, draft_tokens, draft_probs, target_probs, groups, seed)
    batch, gamma = draft_tokens.shape
    try:
        return normalise_output(result, int(batch), int(gamma))
    except PortProtocolError:
        raise
    except Exception as error:  # an output object whose attributes themselves fail
        raise PortProtocolError(f"the port's output could not be read: {type(error).__name__}: {error}") from error
