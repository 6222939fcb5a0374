"""What every ``pcg-verify`` subcommand shares: its exit codes, and how its errors and Ctrl-C end it.

Standard library only (and pcg_core's error types, which import nothing heavy),
so the command line starts without torch.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from pcg_core.errors import PCGError

__all__ = ["EXIT_FAIL", "EXIT_GATE_ERROR", "EXIT_INTERRUPTED", "EXIT_PASS", "EXIT_TERMINATED", "EXIT_TOO_SLOW",
           "EXIT_USAGE",
           "REQUIRED_ADDRESS_SPACE_MB", "Terminated", "address_space_shortfall", "print_out", "run_command",
           "terminate_like_interrupt"]

#: Address space (MB) the gate needs in each of its processes: torch, scipy and the standard budget's
#: largest cases (measured: the standard budget passes under ``ulimit -v 2097152``). Below it the
#: imports can hang or die with nothing but a library's line, so the command refuses at once.
REQUIRED_ADDRESS_SPACE_MB = 2048

#: 0 pass, 1 the port is wrong, 2 usage (the gate could not run), 3 the gate itself failed (a defect of
#: the gate, never the port's fault), 4 too slow (no failure in the cases that finished, but the port was
#: too slow to finish every case within --call-timeout / --deadline: not a pass, not a verdict that the
#: port is wrong), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_GATE_ERROR, EXIT_TOO_SLOW = 0, 1, 2, 3, 4
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: handled as Ctrl-C is (children stopped, temporary files removed, no report)."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


@contextmanager
def terminate_like_interrupt() -> Iterator[None]:
    """Inside the block SIGTERM raises :class:`Terminated`, so it unwinds like Ctrl-C (main thread only)."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def address_space_shortfall() -> str | None:
    """A message when this process's address-space limit (RLIMIT_AS) is below what the gate needs, else None."""
    try:
        import resource
    except ImportError:  # not POSIX
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY or soft >= REQUIRED_ADDRESS_SPACE_MB << 20:
        return None
    return (f"the gate needs at least {REQUIRED_ADDRESS_SPACE_MB} MB of address space per process, and this "
            f"process may use {soft >> 20} MB (ulimit -v / RLIMIT_AS); raise the limit")


def print_out(text: str) -> None:
    """Print ``text`` on stdout; a closed pipe (``| head``) is not an error: the verdict is the exit code."""
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def run_command(work: Callable[[], int], *, errors: tuple[type[Exception], ...] = (PCGError,),
                import_message: str | None = None) -> int:
    """Run a command's ``work`` and return its exit code: an error of ``errors`` (or an ImportError, with
    ``import_message`` formatted with it) is a usage error, one line on stderr and exit 2; Ctrl-C exits 130
    and no report is written, SIGTERM 143 the same way."""
    try:
        with terminate_like_interrupt():
            return work()
    except errors as error:
        print(f"pcg-verify: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ImportError as error:
        if import_message is None:
            raise
        print(f"pcg-verify: error: {import_message.format(error)}", file=sys.stderr)
        return EXIT_USAGE
    except Terminated:
        print("pcg-verify: terminated; no report written", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("pcg-verify: interrupted; no report written", file=sys.stderr)
        return EXIT_INTERRUPTED
