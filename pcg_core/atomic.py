"""Atomic file writes: a reader sees the old file or the new one, never half of one.

A leaf module (standard library and :mod:`pcg_core.errors` only), shared by the
group cache of pcg_core and the reports of pcg_verify. Writes go through
symlinks to their targets; a path that is not a regular file (a device such
as ``/dev/null``, a FIFO) is written in place and never replaced. Call
:func:`writable_path` before a long computation so that a bad path fails
before the work, not after it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from pcg_core.errors import InvalidArgumentError

__all__ = ["atomic_writer", "check_creatable", "writable_path", "write_text_atomic"]


def writable_path(name: str, path: str | os.PathLike[str]) -> Path:
    """Check that ``path`` can be written (atomically where it is a regular file); return where bytes will go.

    Raises :class:`~pcg_core.errors.InvalidArgumentError` naming ``name`` when
    the path is a directory, lies under a regular file, or its directory is
    not writable. Missing parent directories are fine (they are created).
    """
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise InvalidArgumentError(name, path, "must be a non-empty file path")
    target = Path(os.path.realpath(path))  # through symlinks
    if target.is_dir():
        raise InvalidArgumentError(name, os.fspath(path), "is a directory", "give a file path inside it")
    if target.exists() and not target.is_file():
        return target  # a device or FIFO: written in place
    check_creatable(name, os.fspath(path), target.parent)
    return target


def check_creatable(name: str, value: Any, directory: Path) -> None:
    """``directory`` exists or can be created: its nearest existing ancestor is a writable directory.

    Raises :class:`~pcg_core.errors.InvalidArgumentError` naming ``name`` and ``value`` otherwise.
    """
    ancestor = directory
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InvalidArgumentError(name, value, f"lies under {str(ancestor)!r}, which is a file")
    try:  # by creating a file, not by permission bits: root ignores them, a read-only mount does not
        fd, probe = tempfile.mkstemp(prefix=".pcg-probe-", dir=ancestor)
    except OSError as error:
        raise InvalidArgumentError(name, value, f"cannot be written: directory {str(ancestor)!r} refuses new files "
                                   f"({error.strerror or error})") from None
    os.close(fd)
    os.unlink(probe)


@contextmanager
def atomic_writer(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Yield a handle on a temporary file beside ``path``; on success fsync and rename it over ``path``.

    On any exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(os.path.realpath(path))  # a symlink is followed: its target gets the new bytes
    if path.exists() and not path.is_file() and not path.is_dir():
        with open(path, mode, encoding=None if "b" in mode else "utf-8") as device:  # never replace a device
            yield device
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically; return the path."""
    with atomic_writer(path, "w") as handle:
        handle.write(text)
    return Path(path)
