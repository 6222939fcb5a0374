"""Ports in any language: a program that speaks the pcg-port protocol over stdin and stdout.

Math follows the paper: q is the target, p the draft. docs/protocol.md is the
protocol's specification; this module is the gate's side of it.

:class:`ExecPort` has the port contract (``docs/port-contract.md``), so the
gate calls it like any port; like the isolated worker it is a
:class:`~pcg_verify.ports._process.ProcessPort` (start, limits, stderr tail
and stop are written there once). It runs **one** long-lived process per gate
run, sends each distinct groups object once (``GROUPS`` with an id, then
requests that name the id; ids exercise the protocol's structure-id clause:
:class:`StructureIds`, :func:`decoy_groups`), sends each request a seed drawn
from the caller's generator (:func:`seed_of`), and turns everything the
program does instead of a well-formed answer into a
:class:`~pcg_verify.ports.PortProtocolError` (a structural failure of the
case), naming it:

* it **crashed**: its exit status or signal and its last stderr lines;
* it did not answer within ``call_timeout`` seconds (or the run's
  ``deadline`` passed): it is killed;
* a **malformed** response (not the header the protocol defines, an
  unknown or repeated array, a missing ``tokens`` or ``num_accepted``);
* **wrong shapes or dtypes** (every output is int64: ``tokens [B, γ+1]``,
  ``group_ids [B, γ+1]``, ``num_accepted [B]``);
* **ids out of range** (a token outside ``[-1, V)``, a label outside
  ``[-1, M)``, ``num_accepted`` outside ``[0, γ]``);
* an ``ERROR`` line, the program's own refusal.

After any failure but the last the process is killed (its stream can no
longer be trusted) and the next call starts a fresh one, so one bad case
never poisons the next. A failure to start the **first** time (the program
is missing, exits, stays silent or sends a bad handshake) raises
:class:`~pcg_core.errors.InvalidArgumentError`: the gate could not run.

Spec strings: ``exec:CMD ARGS…`` (split like a POSIX shell, with
:func:`shlex.split`) loads an ExecPort wherever a port spec is accepted
(``pcg-verify check 'exec:./pcg_port --flag'``, ``--exec './pcg_port
--flag'``, :func:`~pcg_verify.ports.open_port`, ``run_gate``).
"""

from __future__ import annotations

import collections
import contextlib
import random
import shlex
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from pcg_core import Groups
from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_core.validation import check_groups, check_verify_inputs
from pcg_verify._options import DEFAULT_CALL_TIMEOUT
from pcg_verify.ports._contract import PortProtocolError
from pcg_verify.ports._process import PipeClosed, PipeProcess, PipeTimeout, ProcessPort, StartError, describe_exit
from pcg_verify.ports._wire import (
    ID_LOW_BITS,
    MAGIC,
    MAX_LINE,
    MAX_LIVE_GROUPS,
    PROTOCOL_VERSION,
    Hello,
    WireError,
    groups_frames,
    parse_array_header,
    parse_hello,
    payload_size,
    request_frames,
    wire_groups,
)

__all__ = ["DEFAULT_EXEC_START_TIMEOUT", "EXEC_PREFIX", "STRUCTURE_ID_CLAUSE", "ExecPort", "StructureIds",
           "decoy_groups", "parse_exec_spec"]

#: A port spec starting with this runs a program: ``exec:CMD ARGS…``.
EXEC_PREFIX = "exec:"
#: Seconds a fresh process may take to send its handshake.
DEFAULT_EXEC_START_TIMEOUT = 30.0
#: Seconds a process that closed its stdout gets to exit before it is killed (its status is then reported).
_EXIT_WAIT = 5.0
_OUTPUTS = ("tokens", "group_ids", "num_accepted")
#: The low bits every structure id ends in (any value would do; not 0, so that ids are visibly not counters).
_ID_LOW = 0x2A6D
#: The weight (before renormalisation per token) of a decoy's small groups: its labels are ``M`` almost surely.
_DECOY_WEIGHT = 2.0**-20
#: What a program may assume about structure ids (docs/protocol.md, "Structure ids"), quoted when it breaks it.
STRUCTURE_ID_CLAUSE = (f"docs/protocol.md, 'Structure ids': a program keeps every live structure under its whole "
                       f"gid (ids are large and not sequential, reused after FREE, freed in any order, up to "
                       f"{MAX_LIVE_GROUPS} live at once)")


def parse_exec_spec(spec: str) -> list[str]:
    """``exec:CMD ARGS…`` → the argument vector, split with :func:`shlex.split`.

    >>> parse_exec_spec("exec:./pcg_port --seed-offset 3")
    ['./pcg_port', '--seed-offset', '3']
    """
    if not isinstance(spec, str) or not spec.startswith(EXEC_PREFIX):
        raise InvalidArgumentError("port", spec, f"an external port spec starts with {EXEC_PREFIX!r}")
    return _argv("port", spec, spec[len(EXEC_PREFIX):])


def _argv(name: str, value: str, command: str) -> list[str]:
    """``command`` split like a shell line; errors blame ``name=value`` (the spec, or the command itself)."""
    try:
        argv = shlex.split(command)
    except ValueError as error:  # an unclosed quote
        raise InvalidArgumentError(name, value, f"cannot be split like a shell line: {error}") from None
    if not argv:
        raise InvalidArgumentError(name, value, "names no program", "give CMD ARGS..., e.g. exec:./pcg_port")
    return argv


def seed_of(generator: torch.Generator) -> int:
    """The request's 64-bit seed, drawn from ``generator``, which it advances as an in-process port would.

    A fresh generator (its state is still that of ``manual_seed(initial_seed())``) gives its own seed, so
    a port gets exactly the seed the gate chose (the gate hands every call a fresh generator); a used one
    gives 63 random bits drawn from it. Either way one draw advances it: a caller that passes one
    generator to every call of a decode loop sends a new seed each call, and the same sequence again
    when it replays from the same seed.
    """
    seed = int(generator.initial_seed())
    fresh = torch.Generator(device=generator.device).manual_seed(seed)
    untouched = torch.equal(generator.get_state(), fresh.get_state())
    drawn = int(torch.randint(0, 2**63 - 1, (1,), generator=generator, device=generator.device).item())
    return seed if untouched else drawn


class StructureIds:
    """Structure ids as docs/protocol.md allows them, so a program that assumes more fails.

    A fresh id is ``(r << ID_LOW_BITS) | _ID_LOW`` with ``r`` 46 random bits (a fixed stream per port, so
    a run's ids are the same every time): large, not sequential, and equal modulo ``2**ID_LOW_BITS``.
    An id given back (after its ``FREE``) is the next one taken, for a different structure.
    """

    def __init__(self, seed: int = 0) -> None:
        self._random = random.Random(seed)
        self._freed: list[int] = []
        self._taken: set[int] = set()

    def take(self) -> int:
        """An id no live structure has: the last one given back, else a fresh one."""
        gid = self._freed.pop() if self._freed else 0
        while not gid or gid in self._taken:
            gid = ((self._random.getrandbits(46) | 1) << ID_LOW_BITS) | _ID_LOW
        self._taken.add(gid)
        return gid

    def give_back(self, gid: int) -> None:
        """``gid`` was freed: take it again next."""
        self._taken.discard(gid)
        self._freed.append(gid)

    def clear(self) -> None:
        """A fresh process holds nothing."""
        self._freed.clear()
        self._taken.clear()


def decoy_groups(groups: Groups) -> Groups:
    """A structure over the same V with M + 1 groups, sent under an id that collides with ``groups``'s in
    small tables: group M holds every token; group k < M holds token k mod V at weight about 2⁻²⁰.

    A program that answers a request on ``groups`` from the decoy draws label M (out of range for
    ``groups``) almost surely, so the gate can name the clause it broke.
    """
    vocab, num = groups.vocab_size, groups.num_groups
    ptr = torch.cat([torch.arange(num + 1, dtype=torch.int64), torch.tensor([num + vocab], dtype=torch.int64)])
    members = torch.cat([torch.arange(num, dtype=torch.int64) % vocab, torch.arange(vocab, dtype=torch.int64)])
    weights = torch.cat([torch.full((num,), _DECOY_WEIGHT, dtype=torch.float64),
                         torch.ones(vocab, dtype=torch.float64)])
    return Groups.from_memberships(vocab, ptr, members, weights)


class _Child:
    """The live program; ended by :meth:`ExecPort.stop`, or when the port is collected."""

    def __init__(self) -> None:
        self.process: PipeProcess | None = None

    def end(self, polite: bool) -> None:
        """``BYE`` and a second's grace (``polite``), else kill at once; nothing when none runs."""
        process, self.process = self.process, None
        if process is not None:
            if polite:
                process.close(b"BYE\n")
            else:
                process.kill()


class _RefusedError(PortProtocolError):
    """The program answered ``ERROR <rid> <message>``: a failure of the call; the stream is still in step."""


class ExecPort(ProcessPort):
    """A port that is a program speaking the pcg-port protocol (docs/protocol.md) on stdin/stdout.

    Parameters
    ----------
    command : str or sequence of str
        The program and its arguments: a shell-like line (split with
        :func:`shlex.split`, no shell runs) or an argument vector.
    call_timeout : float
        Seconds one request may take (sending it and reading the answer)
        before the process is killed; default 60.
    start_timeout : float
        Seconds a fresh process may take to send its handshake; default 30.
    deadline : float, optional
        Seconds the whole run may take, counted from construction; every
        wait stops at it.
    keep_going : bool
        After a request timed out, keep sending requests
        (:class:`~pcg_verify.ports.ProcessPort`).
    env : mapping of str to str, optional
        Environment variables the program gets on top of the gate's
        (:attr:`~pcg_verify.ports.ProcessPort.env`).

    Attributes
    ----------
    spec : str
        ``exec:`` and the command: what ``pcg-verify check`` and the replay lines take.
    hello : Hello or None
        The last handshake: protocol version, port name, accepted dtypes, devices.
    starts, requests, groups_sent : int
        Processes started, requests sent, ``GROUPS`` messages sent (one per
        distinct groups object per process).

    Examples
    --------
    The port lives as long as the object (or the ``with`` block); the gate
    calls it like any Python port::

        with ExecPort("./pcg_port", call_timeout=10) as port:
            report = run_gate(port, budget="standard")
    """

    _first_start_hint = "docs/protocol.md says what the program must send first"

    def __init__(self, command: str | Sequence[str], *, call_timeout: float = DEFAULT_CALL_TIMEOUT,
                 start_timeout: float = DEFAULT_EXEC_START_TIMEOUT, deadline: float | None = None,
                 keep_going: bool = False, env: Mapping[str, str] | None = None) -> None:
        if isinstance(command, str):
            spec, self.argv = EXEC_PREFIX + command, _argv("command", command, command)
        elif isinstance(command, Sequence) and command and all(isinstance(a, str) for a in command):
            self.argv = list(command)
            spec = EXEC_PREFIX + shlex.join(self.argv)
        else:
            raise InvalidTypeError("command", command, "must be a command line (str) or a non-empty list of str")
        super().__init__(spec, call_timeout=call_timeout, start_timeout=start_timeout, deadline=deadline,
                         stderr_prefix="pcg-exec-port-", keep_going=keep_going, env=env)
        self.hello: Hello | None = None
        self.requests = self.groups_sent = 0
        # groups id → ((V, M), the six wire arrays) of the structures the process holds, least recent first
        self._live: collections.OrderedDict[int, tuple[tuple[int, int], list[torch.Tensor]]] = (
            collections.OrderedDict())
        self._ids = StructureIds()
        self._decoy: tuple[int, int] | None = None  # (decoy id, the id of the structure sent just before it)
        self._child = _Child()
        self._finalizer = weakref.finalize(self, self._child.end, False)

    @classmethod
    def from_spec(cls, spec: str, **options: Any) -> ExecPort:
        """An ExecPort for ``exec:CMD ARGS…`` (options as in the constructor)."""
        parse_exec_spec(spec)  # errors name the spec, as a user typed it
        return cls(spec[len(EXEC_PREFIX):], **options)

    def __repr__(self) -> str:
        return f"ExecPort({self.spec[len(EXEC_PREFIX):]!r})"

    @property
    def name(self) -> str:
        """The name the program gave in its handshake (the command before the first start)."""
        return self.hello.name if self.hello else self.spec

    # ------------------------------------------------------------------ ProcessPort
    def _first_start_failed(self, detail: str) -> str:
        return f"did not start as a pcg-port program: {detail}"

    def _alive(self) -> bool:
        return self._child.process is not None and self._child.process.exit_status(0) is None

    def _terminate(self, *, polite: bool) -> None:
        self._live.clear()
        self._ids.clear()
        self._decoy = None
        self._child.end(polite)

    def _launch(self) -> None:
        try:
            self._child.process = process = PipeProcess(self.argv, self.stderr)
        except OSError as error:
            raise StartError(f"cannot run {self.argv[0]!r}: {error.strerror or error}") from None
        until = self.until(self.start_timeout)
        try:
            with contextlib.suppress(PipeClosed):  # one that wrote its line and exited is judged by the line
                process.send([f"{MAGIC} {PROTOCOL_VERSION}\n".encode("ascii")], until)
            self.hello = parse_hello(process.read_line(MAX_LINE, until))
        except PipeTimeout:
            raise StartError(f"no handshake line within {self.start_timeout:g} s{self.stderr.tail()}") from None
        except PipeClosed:
            status = process.exit_status(_EXIT_WAIT)
            raise StartError(f"the process {describe_exit(status)} before its handshake"
                             f"{self.stderr.tail()}") from None
        except ValueError as error:
            raise StartError(f"malformed handshake: no line end within {MAX_LINE} bytes; it starts {error}") from None
        except WireError as error:
            raise StartError(f"malformed handshake: {error}{self.stderr.tail()}") from None

    # ------------------------------------------------------------------ calls
    def _groups_id(self, groups: Groups, frames: list[bytes | memoryview]) -> int:
        """The id the process knows ``groups`` by; queues FREE/GROUPS frames when it does not know them yet.

        Matched by content (the gate hands every call a fresh copy): equal sizes and equal arrays, compared
        with the copies kept of the structures the process holds, O(nnz) at memory speed. A new structure
        exercises the structure-id clause (docs/protocol.md): the last decoy is freed and its id reused for
        it, the least recently used structures are freed once 32 would be live, and a fresh decoy
        (:func:`decoy_groups`) follows it under an id equal to its own modulo ``2**ID_LOW_BITS``.
        """
        key, arrays = (groups.vocab_size, groups.num_groups), wire_groups(groups)
        for gid, (live_key, live_arrays) in self._live.items():
            if live_key == key and all(a.shape == b.shape and torch.equal(a, b)
                                       for a, b in zip(arrays, live_arrays, strict=True)):
                self._live.move_to_end(gid)
                return gid
        if self._decoy is not None:
            self._free(self._decoy[0], frames)
            self._decoy = None
        while len(self._live) + 2 > MAX_LIVE_GROUPS:
            self._free(self._live.popitem(last=False)[0], frames)
        gid = self._ids.take()
        self._live[gid] = (key, [a.clone() for a in arrays])  # the caller may change its own later
        frames += groups_frames(gid, groups)
        self.groups_sent += 1
        decoy = self._ids.take()
        frames += groups_frames(decoy, decoy_groups(groups))
        self._decoy = (decoy, gid)
        return gid

    def _free(self, gid: int, frames: list[bytes | memoryview]) -> None:
        frames.append(f"FREE {gid}\n".encode("ascii"))
        self._ids.give_back(gid)

    def _clause_broken(self, gid: int, num_groups: int, labels: np.ndarray[Any, Any] | None) -> str:
        """Why labels out of range break the structure-id clause: "" unless label M, the decoy's, appears."""
        if self._decoy is None or self._decoy[1] != gid or labels is None or not (labels == num_groups).any():
            return ""
        return (f"; label {num_groups} exists only in structure {self._decoy[0]}, sent after structure {gid} "
                f"under an id equal to its modulo 2**{ID_LOW_BITS}: the program answered from another live "
                f"structure, which breaks the structure-id clause ({STRUCTURE_ID_CLAUSE})")

    def _died(self, what: str) -> PortProtocolError:
        process = self._child.process
        status = None if process is None else process.exit_status(_EXIT_WAIT)
        return self.died(what, status, "a port must answer every request")

    def __call__(self, draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor,
                 groups: Groups, *, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None,
                                                                       torch.Tensor]:
        """One request: the port contract's inputs and a seed out, (tokens, group_ids or None, num_accepted) in.

        The inputs are checked before anything is started or sent: a bad call is the caller's error."""
        _, _, vocab = check_verify_inputs(draft_tokens, draft_probs, target_probs, generator, full=False)
        check_groups(groups, vocab_size=vocab)
        result: tuple[torch.Tensor, torch.Tensor | None, torch.Tensor] = super().__call__(
            draft_tokens, draft_probs, target_probs, groups, generator=generator)
        return result

    def _request(self, draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor,
                 groups: Groups, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None,
                                                                      torch.Tensor]:
        (batch, gamma), vocab = draft_tokens.shape, draft_probs.shape[-1]
        process = self._child.process
        assert self.hello is not None and process is not None
        # The call's own dtype when the program announced it; else float64, which holds every float16,
        # bfloat16 and float32 value exactly: the program sees the same numbers.
        dtype_name = str(draft_probs.dtype).removeprefix("torch.")
        if dtype_name not in self.hello.dtypes or target_probs.dtype != draft_probs.dtype:
            draft_probs, target_probs = draft_probs.to(torch.float64), target_probs.to(torch.float64)
        seed = seed_of(generator)
        frames: list[bytes | memoryview] = []
        gid = self._groups_id(groups, frames)
        self.requests += 1
        rid = self.requests
        frames += request_frames(rid, gid, seed, draft_tokens, draft_probs, target_probs)
        until = self.until(self.call_timeout)
        what = f"answering request {rid}"
        try:
            process.send(frames, until)
            return self._response(rid, gid, batch, gamma, vocab, groups.num_groups, until)
        except PipeTimeout:
            raise self.timed_out(what, self.call_timeout) from None
        except PipeClosed:
            raise self._died(what) from None
        except _RefusedError:
            raise
        except PortProtocolError as error:
            raise self.failure(str(error)) from None
        except BaseException:  # Ctrl-C mid-message: the stream is out of step
            self.discard()
            raise

    def _response(self, rid: int, gid: int, batch: int, gamma: int, vocab: int, num_groups: int,
                  until: float) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Read and check ``RESPONSE <rid> <n>`` and its arrays (or an ``ERROR`` line)."""
        process = self._child.process
        assert process is not None
        try:
            line = process.read_line(MAX_LINE, until)
        except ValueError as start:
            raise PortProtocolError(f"malformed response to request {rid}: no line end within {MAX_LINE} bytes; "
                                    f"it starts {start}") from None
        fields = line.split(b" ")
        if fields[0] == b"ERROR" and len(fields) >= 2 and fields[1] == str(rid).encode():
            message = b" ".join(fields[2:]).decode("utf-8", errors="replace")[:500]
            raise _RefusedError(f"the port answered request {rid} with an error: {message}"
                                f"{self.stderr.tail()}")
        if len(fields) != 3 or fields[0] != b"RESPONSE" or fields[1] != str(rid).encode() or fields[2] not in (
                b"2", b"3"):
            raise PortProtocolError(f"malformed response to request {rid}: expected 'RESPONSE {rid} <2 or 3>' or "
                                    f"'ERROR {rid} <message>', got {line[:120]!r}")
        shapes = {"tokens": (batch, gamma + 1), "group_ids": (batch, gamma + 1), "num_accepted": (batch,)}
        got: dict[str, np.ndarray[Any, Any]] = {}
        for _ in range(int(fields[2])):
            try:
                name, dtype, shape = parse_array_header(process.read_line(MAX_LINE, until))
            except (WireError, ValueError) as error:
                raise PortProtocolError(f"malformed response to request {rid}: {error}") from None
            if name not in shapes or name in got:
                why = "twice" if name in got else f"an unknown array (expected {', '.join(_OUTPUTS)})"
                raise PortProtocolError(f"malformed response to request {rid}: {name[:64]!r} is {why}")
            if dtype != "int64":
                raise PortProtocolError(f"wrong dtype in the response to request {rid}: {name} must be int64, "
                                        f"got {dtype}")
            if shape != shapes[name]:
                raise PortProtocolError(f"wrong shape in the response to request {rid}: {name} must have shape "
                                        f"{list(shapes[name])}, got {list(shape)}")
            data = process.read_exact(payload_size(dtype, shape), until)
            got[name] = np.frombuffer(data, dtype="<i8").astype(np.int64, copy=False).reshape(shape)
        missing = [n for n in ("tokens", "num_accepted") if n not in got]
        if missing:
            raise PortProtocolError(f"malformed response to request {rid}: it lacks {' and '.join(missing)}")
        bounds = {"tokens": (-1, vocab - 1), "group_ids": (-1, num_groups - 1), "num_accepted": (0, gamma)}
        for name, array in got.items():
            low, high = bounds[name]
            bad = np.argwhere((array < low) | (array > high))
            if len(bad):
                where = ", ".join(str(int(i)) for i in bad[0])
                raise PortProtocolError(f"ids out of range in the response to request {rid}: {name}[{where}] = "
                                        f"{int(array[tuple(bad[0])])}, outside [{low}, {high}]"
                                        f"{self._clause_broken(gid, num_groups, got.get('group_ids'))}")
        labels = got.get("group_ids")
        return (torch.from_numpy(got["tokens"]), None if labels is None else torch.from_numpy(labels),
                torch.from_numpy(got["num_accepted"]))
