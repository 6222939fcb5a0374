"""Opening a port: the top of :mod:`pcg_verify.ports`, and the one way the gate and the plugin get one.

:func:`open_port` turns what a user gives (a callable, an import path, a
loose file, ``exec:CMD ARGS…``) into a :class:`LoadedPort`: the callable the
gate calls, the name reports give it, the spec that reloads it, and the child
process it owns, if any (an isolated worker or a pcg-port program), which
:meth:`LoadedPort.close` ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType

from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_core.validation import check_int
from pcg_verify._options import DEFAULT_CALL_TIMEOUT
from pcg_verify.ports._contract import Port
from pcg_verify.ports._exec import EXEC_PREFIX, ExecPort
from pcg_verify.ports._imports import check_import_spec, import_callable
from pcg_verify.ports._process import ProcessPort
from pcg_verify.ports._worker import IsolatedPort

__all__ = ["LoadedPort", "load_port", "open_port"]


def load_port(spec: str) -> Port:
    """Import ``package.module:function`` (or ``path/to/file.py:function``) and return the callable.

    The attribute may be dotted (``module:namespace.function``). Raises
    :class:`InvalidArgumentError` naming what could not be found. ``exec:CMD ARGS…``
    starts a program speaking the pcg-port protocol (:class:`~pcg_verify.ports.ExecPort`,
    docs/protocol.md) and checks its handshake; its caller owns it (``close()`` it).
    """
    if isinstance(spec, str) and spec.startswith(EXEC_PREFIX):
        return ExecPort.from_spec(spec).ready()
    return import_callable(spec)


@dataclass(frozen=True)
class LoadedPort:
    """A port, the name reports give it, the spec that reloads it (None for an anonymous callable), and the
    child process this object owns (None when the port runs here, or its caller owns its process)."""

    function: Port
    name: str
    spec: str | None
    owned: ProcessPort | None = None

    def close(self) -> None:
        """End the owned child process, if any (a port given as an object is its owner's to close)."""
        if self.owned is not None:
            self.owned.close()

    def __enter__(self) -> LoadedPort:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def open_port(port: Port | str, *, port_name: str | None = None, isolate: bool = False,
              call_timeout: float = DEFAULT_CALL_TIMEOUT, deadline: float | None = None,
              threads: int = 1, keep_going: bool = False) -> LoadedPort:
    """The port the gate calls, started and checked before any case runs; close it (or use ``with``).

    Parameters
    ----------
    port : callable or str
        A port, or where to load one: ``package.module:function``,
        ``path/to/file.py:function``, or ``exec:CMD ARGS…`` (a program
        speaking the pcg-port protocol, which runs in its own process).
    port_name : str, optional
        How reports name the port (default: the spec, or the callable's qualname).
    isolate : bool
        Run a Python port given by spec in a worker process
        (:class:`~pcg_verify.ports.IsolatedPort`); ``exec:`` programs are
        processes already and get no worker around them.
    call_timeout, deadline : float
        Seconds one call may take, and the whole run (from now), in a worker
        or a program.
    threads : int
        torch threads in a worker.
    keep_going : bool
        In a worker or a program: after a call timed out, keep calling it
        (by default later calls fail at once, naming the hang).

    Raises
    ------
    InvalidArgumentError, InvalidTypeError
        When the port cannot be loaded or started (the gate cannot run).
    """
    if port_name is not None and not isinstance(port_name, str):
        raise InvalidTypeError("port_name", port_name, "must be a str or None")
    if isinstance(port, str) and port.startswith(EXEC_PREFIX):
        program = ExecPort.from_spec(port, call_timeout=call_timeout, deadline=deadline, keep_going=keep_going)
        return _started(program, port_name or port, port)
    if isinstance(port, str) and isolate:
        worker = IsolatedPort(check_import_spec(port), call_timeout=call_timeout, deadline=deadline,
                              keep_going=keep_going, threads=check_int("threads", threads, minimum=1))
        return _started(worker, port_name or port, port)
    if isinstance(port, str):
        return LoadedPort(import_callable(port), port_name or port, port)
    if not callable(port):
        raise InvalidTypeError("port", port, "must be a callable or an import path 'package.module:function'")
    if isolate:
        raise InvalidArgumentError("isolate", isolate, "needs the port as an import path (the worker loads it)",
                                   "pass 'package.module:function' or 'path/to/file.py:function'")
    if isinstance(port, ProcessPort):  # its spec re-runs it; one that cannot start stops the gate here
        return LoadedPort(port.ready(), port_name or port.spec, port.spec)
    spec = _spec_of(port)
    return LoadedPort(port, port_name or spec or str(getattr(port, "__qualname__", None) or repr(port)), spec)


def _started(child: ProcessPort, name: str, spec: str) -> LoadedPort:
    try:
        child.start()
    except BaseException:
        child.close()
        raise
    return LoadedPort(child, name, spec, owned=child)


def _spec_of(port: Port) -> str | None:
    """``module:qualname`` when importing it gives back this very callable, else None."""
    module, qualname = getattr(port, "__module__", None), getattr(port, "__qualname__", None)
    if not (isinstance(module, str) and isinstance(qualname, str)) or "<" in qualname or module == "__main__":
        return None
    candidate = f"{module}:{qualname}"
    try:
        return candidate if import_callable(candidate) is port else None
    except (InvalidArgumentError, InvalidTypeError):
        return None
