"""The port contract as the gate calls it: the bottom of :mod:`pcg_verify.ports`.

A port is a callable with the port contract (``docs/port-contract.md``)::

    port(draft_tokens, draft_probs, target_probs, groups, *, generator)
        -> object with .tokens, .group_ids (or None), .num_accepted
           or a tuple (tokens, group_ids, num_accepted)

This module holds the contract's types (:class:`Port`, :class:`PortOutput`,
:class:`PortProtocolError`), in-process containment (:func:`run_contained`),
the output-ownership clause (:class:`KeptResults`: a call's results stay valid
and unchanged after later calls) and :func:`call_port`, the one way the gate
calls a port, with a fresh generator (a seed) or the caller's own (a decode
loop passes one generator to every call). Every transport
(an isolated worker, a program over a pipe) is a :class:`Port` built on it;
loading a port by name sits on top (:mod:`pcg_verify.ports._loading`).

Math follows the paper: q is the target, p the draft.
"""

from __future__ import annotations

import dataclasses
import textwrap
import traceback
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from pcg_core import Groups
from pcg_core.errors import InvalidTypeError
from pcg_verify._options import DEFAULT_CALL_TIMEOUT

__all__ = [
    "DEFAULT_CALL_TIMEOUT",
    "KEPT_CALLS",
    "TRACEBACK_LINES",
    "KeptResults",
    "Port",
    "PortOutput",
    "PortProtocolError",
    "PortTooSlow",
    "call_port",
    "copy_groups",
    "describe_exception",
    "generator_for",
    "normalise_output",
    "printable",
    "run_contained",
]

#: Traceback lines of a port's own exception kept in a failure message.
TRACEBACK_LINES = 6
#: Calls whose results :class:`KeptResults` keeps and compares after every later call: enough for a port
#: with one static buffer per call size to be caught over a cycle of up to this many sizes.
KEPT_CALLS = 8


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


#: Integer dtypes of each floating-point element size: the bits of a float tensor, compared exactly.
_BITS = {2: torch.int16, 4: torch.int32, 8: torch.int64}


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether ``a`` and ``b`` have the same shape, dtype and bits (−0.0 ≠ 0.0; a NaN equals its own copy).

    Floating tensors are compared as integers of their width (a view, any strides): exact, and several
    times faster than ``torch.equal`` on float16/bfloat16.
    """
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.is_floating_point() and a.element_size() in _BITS:
        bits = _BITS[a.element_size()]
        return torch.equal(a.view(bits), b.view(bits))
    return torch.equal(a, b)


def _changed_groups(original: Groups, handed: Groups) -> str | None:
    if (handed.vocab_size, handed.num_groups) != (original.vocab_size, original.num_groups):
        return "vocab_size/num_groups"
    for name in _ARRAYS:
        if not same_bits(getattr(original, name), getattr(handed, name)):
            return name
    return None


def generator_for(generator: torch.Generator | int) -> torch.Generator:
    """``generator`` itself, or a fresh CPU generator seeded with it when it is an int (a seed)."""
    if isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, int) and not isinstance(generator, bool):
        return torch.Generator().manual_seed(generator)
    raise InvalidTypeError("generator", generator, "must be a torch.Generator or an int seed")


def run_contained(port: Port, draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor,
                  groups: Groups, generator: torch.Generator | int, *, handed_groups: Groups | None = None) -> Any:
    """Call ``port`` on copies of the inputs with ``generator`` (an int: a fresh CPU generator seeded with
    it; a generator is handed as it is, and the port advances it); return what the port returned.

    ``handed_groups`` is the copy of ``groups`` handed to the port (default a fresh :func:`copy_groups`):
    a decode loop hands one copy to every call, as an engine passes one ``Groups`` object to every step.

    Every way a port can fail on the call becomes :class:`PortProtocolError`
    with the evidence: an exception of its own (``SystemExit`` included: a
    port that exits is never a pass) or inputs it wrote into.
    ``KeyboardInterrupt`` is the user's and propagates.
    """
    handed = (draft_tokens.clone(), draft_probs.clone(), target_probs.clone(),
              copy_groups(groups) if handed_groups is None else handed_groups)
    generator = generator_for(generator)
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
        if not same_bits(copy, original):
            raise PortProtocolError(f"the port wrote into its input {name} (inputs are read-only)")
    changed = _changed_groups(groups, handed[3])
    if changed:
        raise PortProtocolError(f"the port changed its input groups ({changed}; inputs are read-only)")
    return result


_OUTPUTS = ("tokens", "group_ids", "num_accepted")


def _result_tensors(result: Any) -> dict[str, torch.Tensor]:
    """The tensors among a port's raw outputs (a 3-tuple or an object with the three attributes), by name."""
    if isinstance(result, tuple):
        values = result if len(result) == len(_OUTPUTS) else ()
    elif all(hasattr(result, name) for name in _OUTPUTS):
        values = tuple(getattr(result, name) for name in _OUTPUTS)
    else:
        values = ()
    return {name: value for name, value in zip(_OUTPUTS, values, strict=False) if isinstance(value, torch.Tensor)}


def _first_change(kept: torch.Tensor, copy: torch.Tensor) -> str | None:
    """Where ``kept`` no longer equals ``copy`` (its value when returned): ``[i, j] was a, now b``."""
    if kept.shape != copy.shape or kept.dtype != copy.dtype:
        return f" was {copy.dtype} {list(copy.shape)}, now {kept.dtype} {list(kept.shape)}"
    if torch.equal(kept, copy):
        return None
    where = (kept != copy).nonzero()[0].tolist()
    index = ", ".join(str(i) for i in where)
    return f"[{index}] was {copy[tuple(where)].item()}, now {kept[tuple(where)].item()}"


class KeptResults:
    """The output-ownership clause: a call's results stay valid and unchanged after later calls.

    A caller keeps results across steps (a decode loop appends them to its sequences after the next
    step has run), so a port may not hand out buffers it overwrites on a later call (static buffers,
    as with CUDA-graph capture) without copying. :meth:`after_call` keeps the result tensors of the
    last :data:`KEPT_CALLS` calls as returned (on their device, the port's own storage) with a private
    copy of each, and compares them all after every call: O(KEPT_CALLS · B · (γ+1)) a call.

    ``where`` names the sequence of calls in the message (e.g. ``"of this experiment"``).
    """

    def __init__(self, where: str, window: int = KEPT_CALLS) -> None:
        self.where = where
        self.calls = 0
        self._kept: deque[tuple[int, dict[str, tuple[torch.Tensor, torch.Tensor]]]] = deque(maxlen=window)

    def after_call(self, result: Any) -> None:
        """Check every kept result after the call that returned ``result``, then keep ``result``.

        Raises :class:`PortProtocolError` naming the clause when a kept result changed.
        """
        call, self.calls = self.calls, self.calls + 1
        for earlier, tensors in self._kept:
            for name, (kept, copy) in tensors.items():
                change = _first_change(kept, copy)
                if change is not None:
                    self._kept.clear()  # reported once
                    raise PortProtocolError(
                        f"results of call {earlier} changed during call {call} ({self.where}): {name}{change} "
                        "(a port's results stay valid and unchanged after later calls: a caller keeps them "
                        "across steps; return tensors the port never writes again, e.g. a copy of a static "
                        "buffer)")
        self._kept.append((call, {name: (value, value.detach().clone())
                                  for name, value in _result_tensors(result).items()}))


def call_port(
    port: Port,
    draft_tokens: torch.Tensor,
    draft_probs: torch.Tensor,
    target_probs: torch.Tensor,
    groups: Groups,
    generator: torch.Generator | int,
    *,
    kept: KeptResults | None = None,
    handed_groups: Groups | None = None,
) -> PortOutput:
    """:func:`run_contained` (``generator``: a generator the port advances, or an int seeding a fresh one),
    then the output contract (:func:`normalise_output`) and, with ``kept``, the ownership clause
    (:meth:`KeptResults.after_call`): every failure is a :class:`PortProtocolError`."""
    result = run_contained(port, draft_tokens, draft_probs, target_probs, groups, generator,
                           handed_groups=handed_groups)
    batch, gamma = draft_tokens.shape
    try:
        out = normalise_output(result, int(batch), int(gamma))
    except PortProtocolError:
        raise
    except Exception as error:  # an output object whose attributes themselves fail
        raise PortProtocolError(f"the port's output could not be read: {type(error).__name__}: {error}") from error
    if kept is not None:
        kept.after_call(result)
    return out
