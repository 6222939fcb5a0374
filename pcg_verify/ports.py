"""Ports: the implementations under test, and how the gate talks to them.

A port is a callable with the port contract (``docs/port-contract.md``)::

    port(draft_tokens, draft_probs, target_probs, groups, *, generator)
        -> object with .tokens, .group_ids (or None), .num_accepted
           or a tuple (tokens, group_ids, num_accepted)

Math follows the paper: q is the target, p the draft.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
import shlex
import sys
import textwrap
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import torch

from pcg_core import Groups, ssd_verify, standard_verify, verify
from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_verify.budgets import BUDGETS, Budget

__all__ = [
    "REFERENCE_PORT",
    "LoadedPort",
    "Port",
    "PortOutput",
    "PortProtocolError",
    "call_port",
    "copy_groups",
    "describe_exception",
    "load_port",
    "reference_port",
    "replay_line",
    "resolve_port",
    "run_contained",
    "ssd_port",
    "standard_port",
]

#: Import path of the default port: pcg_core's reference sampler.
REFERENCE_PORT = "pcg_verify.ports:reference_port"


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


def _import_module(spec: str, module_name: str) -> ModuleType:
    """Import a dotted module, or a ``.py`` file by path (the working directory is importable, as in pytest)."""
    if module_name.endswith(".py") or os.sep in module_name or "/" in module_name:
        path = Path(module_name)
        if not path.is_file():
            raise InvalidArgumentError("port", spec, f"no file {str(path)!r}",
                                       "give package.module:function or path/to/file.py:function")
        name = f"_pcg_port_{path.stem}_{abs(hash(str(path.resolve()))):x}"
        if name in sys.modules:
            return sys.modules[name]
        loader_spec = importlib.util.spec_from_file_location(name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise InvalidArgumentError("port", spec, f"{str(path)!r} cannot be loaded as a Python module")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[name] = module
        try:
            loader_spec.loader.exec_module(module)
        except KeyboardInterrupt:
            del sys.modules[name]
            raise
        except BaseException as error:  # SyntaxError, SystemExit, anything its top level raises
            del sys.modules[name]
            raise _import_error(spec, str(path), error) from error
        return module
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        hint = ("a loose file is given by its path: path/to/file.py:function"
                if error.name == module_name.split(".")[0] else None)
        raise InvalidArgumentError("port", spec, f"module {module_name!r} cannot be imported ({error})",
                                   hint) from error
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # SyntaxError, SystemExit, anything its top level raises
        raise _import_error(spec, module_name, error) from error


def _import_error(spec: str, what: str, error: BaseException) -> InvalidArgumentError:
    lines = traceback.format_exception(error)
    tail = "".join(lines[-TRACEBACK_LINES - 1:]).rstrip()
    return InvalidArgumentError("port", spec, f"importing {what!r} raised {type(error).__name__}: {error}",
                                f"the port's module must import cleanly; traceback tail:\n{tail}")


def load_port(spec: str) -> Port:
    """Import ``package.module:function`` (or ``path/to/file.py:function``) and return the callable.

    The attribute may be dotted (``module:namespace.function``). Raises
    :class:`InvalidArgumentError` naming what could not be found. ``exec:CMD ARGS…``
    starts a program speaking the pcg-port protocol (:class:`pcg_verify.external.ExecPort`,
    docs/protocol.md) and checks its handshake.
    """
    if isinstance(spec, str) and spec.startswith("exec:"):
        from pcg_verify.external import ExecPort  # lazy: pcg_verify.external imports this module

        return ExecPort.from_spec(spec).ready()
    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.partition(":")[::2]):
        raise InvalidArgumentError("port", spec, "must be 'package.module:function' or 'path/to/file.py:function'")
    module_name, _, attribute = spec.partition(":")
    target: Any = _import_module(spec, module_name)
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise InvalidArgumentError("port", spec, f"{module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise InvalidTypeError("port", spec, "must name a callable")
    return target  # type: ignore[no-any-return]


@dataclass(frozen=True)
class LoadedPort:
    """A port, the name reports give it, and the spec that reloads it (None for an anonymous callable)."""

    function: Port
    name: str
    spec: str | None

    def replay(self, *, budget: Budget, seed: int, case: int, singleton_only: bool) -> str:
        """What re-runs one case alone (:func:`replay_line`)."""
        return replay_line(self.spec, self.name, budget=budget, seed=seed, case=case, singleton_only=singleton_only)


def replay_line(spec: str | None, name: str, *, budget: Budget, seed: int, case: int, singleton_only: bool) -> str:
    """What re-runs one case alone: a shell line when the port (``spec``) and the budget have names
    there, else the Python call."""
    named_budget = BUDGETS.get(budget.name) == budget
    if spec is not None and named_budget:
        extra = " --singleton-groups" if singleton_only else ""
        return f"pcg-verify check {shlex.quote(spec)} --budget {budget.name} --seed {seed} --case {case}{extra}"
    port = repr(spec) if spec is not None else name
    budget_arg = repr(budget.name) if named_budget else f"Budget(...{budget.name})"
    extra = ", singleton_only=True" if singleton_only else ""
    return f"pcg_verify.run_gate({port}, budget={budget_arg}, seed={seed}, case={case}{extra})"


def resolve_port(port: Port | str, port_name: str | None = None) -> LoadedPort:
    """Load ``port`` if it is a spec; find a spec that reloads a callable when one exists."""
    if port_name is not None and not isinstance(port_name, str):
        raise InvalidTypeError("port_name", port_name, "must be a str or None")
    if isinstance(port, str):
        return LoadedPort(load_port(port), port_name or port, port)
    if not callable(port):
        raise InvalidTypeError("port", port, "must be a callable or an import path 'package.module:function'")
    from pcg_verify.external import ExecPort  # lazy: pcg_verify.external imports this module

    if isinstance(port, ExecPort):  # its spec re-runs it; a program that cannot start stops the gate here
        return LoadedPort(port.ready(), port_name or port.spec, port.spec)
    spec: str | None = None
    module, qualname = getattr(port, "__module__", None), getattr(port, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str) and "<" not in qualname and module != "__main__":
        candidate = f"{module}:{qualname}"
        try:
            spec = candidate if load_port(candidate) is port else None
        except (InvalidArgumentError, InvalidTypeError):
            spec = None
    name = port_name or spec or str(qualname or repr(port))
    return LoadedPort(port, name, spec)


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


#: Traceback lines of a port's own exception kept in a failure message.
TRACEBACK_LINES = 6
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
