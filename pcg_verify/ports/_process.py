"""Child processes the gate must never wait on without a limit: what the worker and the exec port share.

* :class:`ProcessPort`: the base of both transports, a port that lives in a
  child process. Start (a first start that fails means the gate cannot run; a
  restart that fails is a verdict), the per-call limit and the run's overall
  deadline (a call past either raises :class:`~pcg_verify.ports.PortTooSlow`:
  the case is unfinished, too slow, never a structure failure), the stderr
  tail quoted in a verdict, and a stop that tolerates a
  child that never started are written here once; a transport adds how it
  launches its child, sends a request and reads the answer;
* :class:`StderrLog`: a temporary file a child writes its stderr to, so a
  verdict can quote its last lines without a pipe that could fill up;
* :func:`describe_exit`: an exit status or a signal, in words;
* :data:`CHILD_ENVIRONMENT`: what every child gets on top of the gate's
  environment (a fixed ``PYTHONHASHSEED``), and :attr:`ProcessPort.env` to
  change it (the cross-process determinism check starts a child with another);
* :class:`PipeProcess`: a program whose stdin and stdout are pipes, written and
  read through ``poll`` with a deadline, never a blocking call. While a request
  is being written, whatever the child already writes to stdout is read too,
  so a child that answers early or floods stdout cannot deadlock the gate. The
  child runs in a session of its own: Ctrl-C in the terminal reaches the gate
  only, and a kill reaches the child's own children as well — and, on Linux,
  every descendant that still carries the child's session mark in its
  environment (:data:`SESSION_MARK`), so a grandchild that daemonised into a
  session of its own does not outlive the gate.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import select
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import torch

from pcg_core import Groups
from pcg_core.errors import InvalidArgumentError
from pcg_core.validation import check_real
from pcg_verify._options import DEFAULT_CALL_TIMEOUT
from pcg_verify.ports._contract import PortProtocolError, PortTooSlow, printable

__all__ = ["CHILD_ENVIRONMENT", "STDERR_LINES", "PipeClosed", "PipeProcess", "PipeTimeout", "ProcessPort",
           "StartError", "StderrLog", "describe_exit"]

#: stderr lines of a dead child quoted in a verdict.
STDERR_LINES = 8
#: Bytes read from the end of a child's stderr for its tail, and characters kept of each quoted line.
TAIL_BYTES = 64 << 10
TAIL_LINE_CHARS = 500
#: Environment variable set, with a fresh token, for each program the gate starts; inherited by its descendants.
SESSION_MARK = "PCG_PORT_SESSION"
#: Environment variables every child gets on top of the gate's (:attr:`ProcessPort.env`): Python's string
#: hashing seeded explicitly, so a port whose outputs follow it gives the same outputs from run to run,
#: and a fresh child with another seed (pcg_verify._cross_process) differs from it by construction.
CHILD_ENVIRONMENT: Mapping[str, str] = {"PYTHONHASHSEED": "1"}
#: Bytes moved per read or write system call (the pipes are grown to this size where the OS allows it).
_IO_CHUNK = 1 << 20
#: Bytes of stdout a child may write before its request is fully sent; beyond it stdout is left unread.
_EARLY_OUTPUT_LIMIT = 1 << 20
_F_SETPIPE_SZ = 1031  # Linux fcntl command; elsewhere the pipes keep their default size


def describe_exit(returncode: int | None) -> str:
    """``"exited with status 3"``, ``"was killed by signal SIGSEGV"``, or ``"stopped answering"`` (still running)."""
    if returncode is None:
        return "stopped answering"
    if returncode < 0:
        try:
            return f"was killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


class StderrLog:
    """A temporary file for a child's stderr; :meth:`tail` quotes its last lines."""

    def __init__(self, prefix: str = "pcg-port-") -> None:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=".stderr")
        os.close(fd)
        self.path = Path(name)

    def reset(self) -> None:
        """Empty the file (before a fresh child starts)."""
        self.path.write_bytes(b"")

    def tail(self, lines: int = STDERR_LINES) -> str:
        """``"; its last stderr lines:"`` and the lines, indented, or ``""`` when it wrote nothing.

        Read from the end (at most :data:`TAIL_BYTES`, each line cut at :data:`TAIL_LINE_CHARS`), so a child
        that floods stderr costs the gate nothing; control characters are escaped (:func:`printable`).
        """
        try:
            with open(self.path, "rb") as handle:
                size = handle.seek(0, os.SEEK_END)
                handle.seek(max(0, size - TAIL_BYTES))
                data = handle.read(TAIL_BYTES)
        except OSError:
            return ""
        last = data.decode("utf-8", errors="replace").splitlines()[-lines:]
        cut = [line if len(line) <= TAIL_LINE_CHARS else line[:TAIL_LINE_CHARS] + " […]" for line in last]
        return "" if not cut else "; its last stderr lines:\n" + "\n".join(f"        {printable(c)}" for c in cut)

    def close(self) -> None:
        self.path.unlink(missing_ok=True)


class PipeTimeout(Exception):
    """The deadline passed before the child read or wrote what was expected."""


class PipeClosed(Exception):
    """The child closed its end of a pipe (usually: it exited)."""


class PipeProcess:
    """A program run with stdin and stdout as pipes and stderr into a :class:`StderrLog`.

    Every method that waits takes ``until``, a :func:`time.monotonic` instant,
    and raises :class:`PipeTimeout` when it passes; :class:`PipeClosed` when the
    child closes a pipe. ``OSError`` from the constructor means the program
    could not be started (not found, not executable).
    """

    def __init__(self, argv: Sequence[str], stderr: StderrLog) -> None:
        self.mark = secrets.token_hex(12)
        with open(stderr.path, "ab") as err:
            self.popen = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                          bufsize=0, close_fds=True, start_new_session=True,
                                          env={**os.environ, SESSION_MARK: self.mark})
        assert self.popen.stdin is not None and self.popen.stdout is not None
        self._in, self._out = self.popen.stdin.fileno(), self.popen.stdout.fileno()
        for fd in (self._in, self._out):
            os.set_blocking(fd, False)
            with contextlib.suppress(OSError, ValueError, AttributeError):
                import fcntl

                fcntl.fcntl(fd, _F_SETPIPE_SZ, _IO_CHUNK)
        self._pending = bytearray()  # stdout bytes read but not consumed
        self._eof = False

    # ------------------------------------------------------------------ reading
    def _read_some(self) -> None:
        try:
            data = os.read(self._out, _IO_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self._pending += data
        else:
            self._eof = True

    def _poll(self, until: float, *, read: bool, write: bool) -> tuple[bool, bool]:
        """Wait until stdout has data (``read``) or stdin takes more (``write``); which of them is ready.

        ``poll``, not ``select``: descriptors above 1024 are common in a busy test process.
        """
        wait = until - time.monotonic()
        if wait <= 0:
            raise PipeTimeout
        poller = select.poll()
        if read:
            poller.register(self._out, select.POLLIN)
        if write:
            poller.register(self._in, select.POLLOUT)
        events = dict(poller.poll(max(1, int(wait * 1000))))
        return bool(events.get(self._out, 0)), bool(events.get(self._in, 0))

    def _wait_readable(self, until: float) -> None:
        readable, _ = self._poll(until, read=True, write=False)
        if readable:
            self._read_some()

    def read_line(self, max_bytes: int, until: float) -> bytes:
        """The next line, without its ``\\n``; ``ValueError`` (with the start of it) past ``max_bytes``."""
        while True:
            end = self._pending.find(b"\n", 0, max_bytes + 1)
            if end >= 0:
                line = bytes(self._pending[:end])
                del self._pending[: end + 1]
                return line
            if len(self._pending) > max_bytes:
                raise ValueError(bytes(self._pending[:80]))
            if self._eof:
                raise PipeClosed
            self._wait_readable(until)

    def read_exact(self, n: int, until: float) -> bytearray:
        """Exactly ``n`` bytes (a writable buffer, so NumPy views of it are writable too)."""
        while len(self._pending) < n:
            if self._eof:
                raise PipeClosed
            self._wait_readable(until)
        data = self._pending[:n]
        del self._pending[:n]
        return data

    # ------------------------------------------------------------------ writing
    def send(self, frames: Sequence[bytes | memoryview], until: float) -> None:
        """Write every frame, in order; read stdout meanwhile so the child can never block us both."""
        views = [memoryview(f).cast("B") for f in frames if len(f)]
        while views:
            watch = not self._eof and len(self._pending) < _EARLY_OUTPUT_LIMIT
            readable, writable = self._poll(until, read=watch, write=True)
            if readable:
                self._read_some()
            if not writable:
                continue
            try:
                written = os.write(self._in, views[0][:_IO_CHUNK])
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                raise PipeClosed from None
            views[0] = views[0][written:]
            if not len(views[0]):
                views.pop(0)

    # ------------------------------------------------------------------ ending
    def exit_status(self, wait: float) -> int | None:
        """The child's return code, waiting up to ``wait`` seconds; None while it still runs."""
        try:
            return self.popen.wait(wait)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """SIGKILL the child's whole session and every marked descendant, reap the child, close the pipes."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        _kill_marked(f"{SESSION_MARK}={self.mark}".encode())
        with contextlib.suppress(ProcessLookupError):
            self.popen.kill()
        self.popen.wait()
        for stream in (self.popen.stdin, self.popen.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def close(self, goodbye: bytes, grace: float = 1.0) -> None:
        """Send ``goodbye`` if the pipe takes it at once, close stdin, give the child ``grace`` seconds, kill."""
        with contextlib.suppress(OSError, ValueError):
            os.write(self._in, goodbye)
        if self.popen.stdin is not None:
            with contextlib.suppress(OSError):
                self.popen.stdin.close()
        self.exit_status(grace)
        self.kill()


@contextlib.contextmanager
def _environment(extra: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` with ``extra`` on top inside the block, restored after.

    How a child gets its environment whatever starts it: ``multiprocessing``'s spawn takes no ``env``, it
    passes the parent's. The gate starts its children from one thread; another thread that reads these
    variables meanwhile sees the child's values.
    """
    saved = {name: os.environ.get(name) for name in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class StartError(Exception):
    """A child that could not be started, or did not come up (its message says what happened)."""


class ProcessPort:
    """A port that lives in a child process, with a per-call limit and an overall deadline.

    Subclasses set :attr:`noun` (how verdicts name the child) and implement
    :meth:`_launch` (start the child and wait until it is ready, raising
    :class:`StartError`), :meth:`_terminate` (end the child; it may never have
    started) and :meth:`_request` (one call); :meth:`_alive` says whether the
    child still runs.

    Parameters
    ----------
    spec : str
        What loads the port again (an import path, or ``exec:CMD ARGS…``).
    call_timeout : float
        Seconds one call may take before the child is killed.
    start_timeout : float
        Seconds a fresh child may take to come up.
    deadline : float, optional
        Seconds the whole run may take, counted from construction; every wait stops at it.
    keep_going : bool
        After a call timed out, keep calling. By default every later call
        raises :class:`PortTooSlow` at once, naming the first timeout: a port
        that hangs on every call costs one ``call_timeout``, not one per case
        (the verdict is too slow either way).
    env : mapping of str to str, optional
        Environment variables the child gets on top of the gate's and of
        :data:`CHILD_ENVIRONMENT` (which they override).

    Attributes
    ----------
    env : dict of str to str
        What the next child started gets on top of the gate's environment
        (:data:`CHILD_ENVIRONMENT` and the ``env`` argument); change it before a start.
    """

    #: How verdicts name the child ("the port process").
    noun = "the port process"

    def __init__(self, spec: str, *, call_timeout: float = DEFAULT_CALL_TIMEOUT, start_timeout: float,
                 deadline: float | None = None, stderr_prefix: str = "pcg-port-", keep_going: bool = False,
                 env: Mapping[str, str] | None = None) -> None:
        self.spec = spec
        self.env = {**CHILD_ENVIRONMENT, **(env or {})}
        self.call_timeout = check_real("call_timeout", call_timeout, minimum=0.0)
        self.start_timeout = check_real("start_timeout", start_timeout, minimum=0.0)
        self.deadline_seconds = None if deadline is None else check_real("deadline", deadline, minimum=0.0)
        self._deadline_at = None if self.deadline_seconds is None else time.monotonic() + self.deadline_seconds
        self.stderr = StderrLog(prefix=stderr_prefix)
        self.starts = 0
        self.keep_going = keep_going
        self.hung: str | None = None  # the first call that timed out, once one has

    # ------------------------------------------------------------------ what a transport implements
    def _launch(self) -> None:
        raise NotImplementedError

    def _terminate(self, *, polite: bool) -> None:
        raise NotImplementedError

    def _alive(self) -> bool:
        raise NotImplementedError

    def _request(self, draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor,
                 groups: Groups, generator: torch.Generator) -> Any:
        raise NotImplementedError

    # ------------------------------------------------------------------ time
    def until(self, seconds: float) -> float:
        """The :func:`time.monotonic` instant ``seconds`` from now, or the deadline if it comes first."""
        until = time.monotonic() + seconds
        return until if self._deadline_at is None else min(until, self._deadline_at)

    def seconds_left(self) -> float | None:
        """Seconds until the run's deadline (0 once it passed), or None without one."""
        return None if self._deadline_at is None else max(0.0, self._deadline_at - time.monotonic())

    def deadline_passed(self) -> bool:
        return self._deadline_at is not None and time.monotonic() >= self._deadline_at

    def _deadline_message(self) -> str:
        return f"the gate's overall deadline of {self.deadline_seconds:g} s ran out"

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        """Start a child (ending a running one) and wait until it is ready; return ``self``.

        Raises
        ------
        InvalidArgumentError
            At the first start, when the child cannot run or does not come up: the gate cannot run.
        PortProtocolError
            When a restart fails (a verdict of the case at hand); :class:`PortTooSlow` when it fails because
            the run's deadline passed.
        """
        self.stop()
        first = self.starts == 0
        self.starts += 1
        self.stderr.reset()
        try:
            if self.deadline_passed():
                raise StartError(self._deadline_message())
            with _environment(self.env):
                self._launch()
        except StartError as error:
            self.stop()
            detail = printable(str(error))
            if not first and self.deadline_passed():
                raise PortTooSlow(f"{self._deadline_message()}: {self.noun} was not restarted") from None
            if first:
                raise InvalidArgumentError("port", self.spec, self._first_start_failed(detail),
                                           self._first_start_hint) from None
            raise PortProtocolError(self._restart_failed(detail)) from None
        except BaseException:  # Ctrl-C while the child comes up: it may be half started
            self.stop()
            raise
        return self

    #: The hint of a first start that failed.
    _first_start_hint: str | None = None

    def _first_start_failed(self, detail: str) -> str:
        return f"cannot be loaded: {detail}"

    def _restart_failed(self, detail: str) -> str:
        return f"{self.noun} could not be restarted: {detail}"

    def ready(self) -> Self:
        """:meth:`start` unless it already started once (so a bad port is refused before a gate run)."""
        return self if self.starts else self.start()

    def stop(self) -> None:
        """Ask the child to finish, kill it if it does not; nothing when no child runs (or none started)."""
        self._terminate(polite=True)

    def discard(self) -> None:
        """Kill the child at once (after a failure: what it sends can no longer be trusted)."""
        self._terminate(polite=False)

    def close(self) -> None:
        """Stop the child and remove its stderr log; a later call starts a fresh child."""
        self.stop()
        self.stderr.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ failures, each a verdict of the case
    def failure(self, message: str) -> PortProtocolError:
        """Kill the child and return the verdict ``message``."""
        self.discard()
        return PortProtocolError(message)

    def died(self, what: str, status: int | None, rule: str) -> PortProtocolError:
        """The child exited or was killed (``status``) while ``what``; ``rule`` says what a port must do."""
        return self.failure(f"{self.noun} {describe_exit(status)} while {what} ({rule}){self.stderr.tail()}")

    def timed_out(self, what: str, timeout: float) -> PortTooSlow:
        """No answer within ``timeout`` seconds (or before the deadline) while ``what``: the child is killed
        and the case is too slow (:class:`PortTooSlow`), not failed: a slow correct port and a hung one
        read the same from outside."""
        deadline = self.deadline_passed()
        self.discard()
        if deadline:
            return PortTooSlow(f"{self._deadline_message()} while {what}: {self.noun} was killed")
        self.hung = self.hung or f"no answer within {timeout:g} s while {what}"
        limit = " (--call-timeout)" if timeout == self.call_timeout else ""
        return PortTooSlow(f"no answer within {timeout:g} s{limit} while {what}: {self.noun} was killed"
                           f"{self.stderr.tail()}")

    # ------------------------------------------------------------------ the port contract
    def __call__(self, draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor,
                 groups: Groups, *, generator: torch.Generator) -> Any:
        if self.deadline_passed():
            raise PortTooSlow(f"not called: {self._deadline_message()}")
        if self.hung is not None and not self.keep_going:
            raise PortTooSlow(f"not called: the port was too slow in an earlier call ({self.hung}); the gate does "
                              "not wait on it again (--keep-going waits in every case)")
        if not self._alive():
            self.start()
        return self._request(draft_tokens, draft_probs, target_probs, groups, generator)


def _kill_marked(entry: bytes, settle: float = 5.0) -> None:
    """SIGKILL every process whose environment holds ``entry`` (Linux ``/proc``; nothing elsewhere): the
    descendants of a port program, even those that left its session.

    Returns once every such process is gone or a zombie (dead, waiting for whoever adopted it to reap it),
    or after ``settle`` seconds: a SIGKILL is delivered asynchronously, and a process that forks while the
    scan runs is caught by the next scan.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        return
    deadline = time.monotonic() + settle
    while True:
        living = [pid for pid in _marked(proc, entry) if not is_dead(pid)]
        if not living or time.monotonic() > deadline:
            return
        for pid in living:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)  # polling a kernel state change with a deadline, not waiting on a test event


def _marked(proc: Path, entry: bytes) -> list[int]:
    """The pids (not this process) whose environment holds ``entry``."""
    found = []
    for pid_dir in proc.iterdir():
        if not pid_dir.name.isdigit() or int(pid_dir.name) == os.getpid():
            continue
        try:
            environ = (pid_dir / "environ").read_bytes()
        except OSError:  # gone, or not ours to read
            continue
        if entry in environ.split(b"\0"):
            found.append(int(pid_dir.name))
    return found


def is_dead(pid: int) -> bool:
    """Whether ``pid`` is gone or a zombie (Linux ``/proc/PID/stat``: the state letter after the name)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2:][:1] in ("Z", "X")
