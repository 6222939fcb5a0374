"""Running a port in a worker process: crashes, exits, hangs and garbage become verdicts.

An :class:`IsolatedPort` has the port contract, so the gate calls it like any
port. Each call ships the inputs (NumPy arrays, the groups' arrays) to a
long-lived worker process started with ``spawn``, which loads the port from
its import path and answers with the outputs. The caller's generator travels
as its state (``get_state()``): the worker calls the port with a generator set
to it and sends back the state after the call, to which the caller's generator
is then set, so the port advances the caller's generator as in-process (a
decode loop's one generator included). The worker also keeps the ownership
clause over its own calls (:class:`~pcg_verify.ports.KeptResults`): results it
returned must not change during its later calls, which the parent, holding
unpickled copies, could not see. What the parent sees instead of
an answer becomes a :class:`~pcg_verify.ports.PortProtocolError` (a structural
failure) naming what happened (start, limits, stderr and stop are
:class:`~pcg_verify.ports._process.ProcessPort`'s, shared with the exec port):

* the port raised (its type, message and traceback tail, ``SystemExit`` too);
* the worker died (``os._exit``, a segfault, the OOM killer): its exit status
  or signal and the last lines it wrote to stderr;
* no answer within ``call_timeout`` seconds, or the run's ``deadline`` passed:
  the worker is killed;
* an answer that cannot be unpickled.

After a failure the worker is gone; the next call starts a fresh one, so one
bad case never poisons the next. The parent never waits without a limit.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import time
from typing import Any

import torch

from pcg_core import Groups
from pcg_verify._options import DEFAULT_CALL_TIMEOUT
from pcg_verify.ports._contract import KeptResults, PortProtocolError, describe_exception, run_contained
from pcg_verify.ports._imports import import_callable
from pcg_verify.ports._process import ProcessPort, StartError

__all__ = ["DEFAULT_START_TIMEOUT", "IsolatedPort"]

#: Seconds a fresh worker may take to import torch and load the port.
DEFAULT_START_TIMEOUT = 120.0
_GROUP_FIELDS = ("group_ptr", "group_members", "group_weights", "token_ptr", "token_groups", "token_weights")


def _groups_payload(groups: Groups) -> dict[str, Any]:
    arrays = {name: getattr(groups, name).numpy() for name in _GROUP_FIELDS}
    return {"vocab_size": groups.vocab_size, "num_groups": groups.num_groups, "weights_kind": groups.weights_kind,
            "embedding_digest": groups.embedding_digest, "params": dict(groups.params), **arrays}


def _groups_from_payload(payload: dict[str, Any]) -> Groups:
    arrays = {name: torch.from_numpy(payload[name]) for name in _GROUP_FIELDS}
    return Groups(vocab_size=payload["vocab_size"], num_groups=payload["num_groups"],
                  weights_kind=payload["weights_kind"], embedding_digest=payload["embedding_digest"],
                  params=payload["params"], **arrays)


def _array(tensor: torch.Tensor) -> tuple[str, Any]:
    """A tensor as (dtype name, NumPy array); bfloat16, which NumPy lacks, travels as its int16 bits."""
    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:
        return ("bfloat16", tensor.contiguous().view(torch.int16).numpy())
    return (str(tensor.dtype).removeprefix("torch."), tensor.numpy())


def _tensor(item: tuple[str, Any]) -> torch.Tensor:
    name, array = item
    tensor = torch.from_numpy(array)
    return tensor.view(torch.bfloat16) if name == "bfloat16" else tensor


def _pack(value: Any) -> tuple[str, Any]:
    """Tensors travel as NumPy arrays, marked, so that a port returning NumPy is still seen doing so."""
    if isinstance(value, torch.Tensor):
        return ("tensor", _array(value))
    return ("value", value)


def _unpack(item: tuple[str, Any]) -> Any:
    kind, value = item
    return _tensor(value) if kind == "tensor" else value


def _generator_state(generator: torch.Generator) -> tuple[str, Any]:
    """(device, state as a NumPy uint8 array): what a generator is across the pipe."""
    return (str(generator.device), generator.get_state().numpy())


def _generator_from(state: tuple[str, Any]) -> torch.Generator:
    device, array = state
    generator = torch.Generator(device=device)
    generator.set_state(torch.from_numpy(array))
    return generator


def _worker(conn: multiprocessing.connection.Connection, spec: str, stderr_path: str, threads: int) -> None:
    """The worker's loop: load the port, then answer (inputs, generator state) requests until told to stop;
    each answer carries the generator's state after the call."""
    fd = os.open(stderr_path, os.O_WRONLY | os.O_APPEND)
    os.dup2(fd, 2)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the worker
    torch.set_num_threads(threads)
    try:
        port = import_callable(spec)
    except BaseException as error:  # reported to the parent, which says the gate could not run
        conn.send(("load-error", f"{type(error).__name__}: {error}"))
        return
    conn.send(("ready", None))
    kept = KeptResults("of the port's worker process")
    while True:
        request = conn.recv()
        if request is None:
            return
        tokens, draft_probs, target_probs, payload, state = request
        try:
            generator = _generator_from(state)
            result = run_contained(port, _tensor(tokens), _tensor(draft_probs), _tensor(target_probs),
                                   _groups_from_payload(payload), generator)
            kept.after_call(result)
            if isinstance(result, tuple):
                answer: Any = ("tuple", [_pack(v) for v in result])
            elif all(hasattr(result, n) for n in ("tokens", "group_ids", "num_accepted")):
                answer = ("tuple", [_pack(getattr(result, n)) for n in ("tokens", "group_ids", "num_accepted")])
            else:
                answer = ("value", result)
            conn.send(("ok", (answer, _generator_state(generator))))
        except PortProtocolError as error:
            conn.send(("raised", str(error)))
        except KeyboardInterrupt as error:  # SIGINT is ignored here, so the port raised it itself
            conn.send(("raised", describe_exception(error)))
        except BaseException as error:  # e.g. an answer that cannot be pickled
            conn.send(("raised", f"the port's answer could not be sent back: {type(error).__name__}: {error}"))


class IsolatedPort(ProcessPort):
    """A port that runs in a worker process, with a per-call time limit and an overall deadline.

    Parameters
    ----------
    spec : str
        Import path of the port (``package.module:function`` or ``path/file.py:function``).
    call_timeout : float
        Seconds one call may take.
    deadline : float, optional
        Seconds the whole run may take, counted from construction.
    threads : int
        torch intra-op threads in the worker.
    keep_going : bool
        After a call timed out, keep calling (:class:`~pcg_verify.ports.ProcessPort`).
    """

    noun = "the port's worker process"

    def __init__(self, spec: str, *, call_timeout: float = DEFAULT_CALL_TIMEOUT, deadline: float | None = None,
                 threads: int = 1, start_timeout: float = DEFAULT_START_TIMEOUT, keep_going: bool = False) -> None:
        super().__init__(spec, call_timeout=call_timeout, start_timeout=start_timeout, deadline=deadline,
                         stderr_prefix="pcg-port-", keep_going=keep_going)
        self.threads = threads
        self.__qualname__ = spec
        self._process: Any = None
        self._conn: multiprocessing.connection.Connection | None = None

    # ------------------------------------------------------------------ ProcessPort
    def _launch(self) -> None:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._conn = parent
        self._process = context.Process(target=_worker, args=(child, self.spec, str(self.stderr.path), self.threads),
                                        daemon=True, name=f"pcg-port {self.spec}")
        try:
            self._process.start()
        finally:
            child.close()
        try:
            status, detail = self._receive(self.start_timeout, "loading the port")
        except PortProtocolError as error:
            status, detail = "load-error", str(error)
        if status != "ready":
            raise StartError(detail)

    def _restart_failed(self, detail: str) -> str:
        return f"the port could not be loaded again in a fresh worker: {detail}"

    def _alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def _terminate(self, *, polite: bool) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            if polite:
                try:
                    conn.send(None)
                except (OSError, ValueError):
                    pass
            conn.close()
        if process is None or process.pid is None:  # never started (e.g. Ctrl-C during start-up)
            return
        process.join(1.0 if polite else 0.0)
        if process.is_alive():
            process.kill()
            process.join()

    # ------------------------------------------------------------------ calls
    def _exit_status(self) -> int | None:
        process = self._process
        if process is None or process.pid is None:
            return None
        process.join(5.0)
        return process.exitcode  # type: ignore[no-any-return]

    def _died(self, what: str) -> PortProtocolError:
        return self.died(what, self._exit_status(), "a port must return, not exit")

    def _receive(self, timeout: float, what: str) -> tuple[str, Any]:
        assert self._conn is not None
        try:
            ready = self._conn.poll(max(0.0, self.until(timeout) - time.monotonic()))
        except (EOFError, OSError):
            raise self._died(what) from None
        if not ready:
            raise self.timed_out(what, timeout)
        try:
            answer: tuple[str, Any] = self._conn.recv()
        except (EOFError, OSError):
            raise self._died(what) from None
        except Exception as error:  # an answer that cannot be unpickled
            raise self.failure(f"the port's answer could not be read: {type(error).__name__}: {error}") from error
        return answer

    def _request(self, draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor,
                 groups: Groups, generator: torch.Generator) -> Any:
        assert self._conn is not None
        # The generator's state (its seed included) recreates it in the worker, and the state after the call
        # comes back: an isolated port draws, and advances the caller's generator, exactly as in-process.
        request = (_array(draft_tokens), _array(draft_probs), _array(target_probs), _groups_payload(groups),
                   _generator_state(generator))
        try:
            self._conn.send(request)
        except (OSError, ValueError):
            raise self._died("receiving a call") from None
        status, answer = self._receive(self.call_timeout, "answering a call")
        if status == "raised":
            raise PortProtocolError(answer)
        (kind, value), state = answer
        generator.set_state(torch.from_numpy(state[1]))
        return tuple(_unpack(item) for item in value) if kind == "tuple" else value
