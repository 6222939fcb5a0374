"""Ports: the implementations under test, and how the gate talks to them.

A port is a callable with the port contract (``docs/port-contract.md``)::

    port(draft_tokens, draft_probs, target_probs, groups, *, generator)
        -> object with .tokens, .group_ids (or None), .num_accepted
           or a tuple (tokens, group_ids, num_accepted)

Modules, each importing only those listed before it:

* ``_contract`` — the contract's types, in-process containment, the
  ownership clause (:class:`KeptResults`) and :func:`call_port`, the one way
  the gate calls a port;
* ``_process``, ``_wire`` — child processes waited on with limits, the
  :class:`ProcessPort` base of both transports, the pcg-port protocol's bytes;
* ``_imports`` — importing a Python port by name;
* ``_worker``, ``_exec`` — the transports: a Python port in an isolated worker
  (:class:`IsolatedPort`), a program in any language over a pipe (:class:`ExecPort`);
* ``_builtin`` — pcg_core's samplers as ports (the reference and the baselines);
* ``_loading`` — :func:`open_port`, what the gate and the pytest plugin call once.

Math follows the paper: q is the target, p the draft.
"""

from __future__ import annotations

from pcg_verify._options import REFERENCE_PORT
from pcg_verify.ports._builtin import reference_port, ssd_port, standard_port
from pcg_verify.ports._contract import (
    DEFAULT_CALL_TIMEOUT,
    KeptResults,
    Port,
    PortOutput,
    PortProtocolError,
    PortTooSlow,
    call_port,
    copy_groups,
    describe_exception,
    run_contained,
)
from pcg_verify.ports._exec import EXEC_PREFIX, ExecPort, parse_exec_spec
from pcg_verify.ports._loading import LoadedPort, load_port, open_port
from pcg_verify.ports._process import ProcessPort
from pcg_verify.ports._worker import IsolatedPort

__all__ = [
    "DEFAULT_CALL_TIMEOUT",
    "EXEC_PREFIX",
    "REFERENCE_PORT",
    "ExecPort",
    "IsolatedPort",
    "KeptResults",
    "LoadedPort",
    "Port",
    "PortOutput",
    "PortProtocolError",
    "PortTooSlow",
    "ProcessPort",
    "call_port",
    "copy_groups",
    "describe_exception",
    "load_port",
    "open_port",
    "parse_exec_spec",
    "reference_port",
    "run_contained",
    "ssd_port",
    "standard_port",
]
