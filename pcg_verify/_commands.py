"""What every ``pcg-verify`` subcommand shares: its exit codes, and how its errors and Ctrl-C end it.

Standard library only (and pcg_core's error types, which import nothing heavy),
so the command line starts without torch.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from pcg_core.errors import PCGError

__all__ = ["EXIT_FAIL", "EXIT_INTERRUPTED", "EXIT_PASS", "EXIT_USAGE", "print_out", "run_command"]

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


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
    and no report is written."""
    try:
        return work()
    except errors as error:
        print(f"pcg-verify: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ImportError as error:
        if import_message is None:
            raise
        print(f"pcg-verify: error: {import_message.format(error)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("pcg-verify: interrupted; no report written", file=sys.stderr)
        return EXIT_INTERRUPTED
