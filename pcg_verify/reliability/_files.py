"""Writing a report directory: ``results.json`` and the ``index.html`` rendered from it, each atomic."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pcg_core.atomic import atomic_writer, check_creatable
from pcg_core.errors import InvalidArgumentError
from pcg_verify.reliability._html import render_html
from pcg_verify.reliability._results import RESULTS_FILE, load_results, results_json, validate_results

__all__ = ["INDEX_FILE", "check_report_directory", "rerender", "write_report"]

#: The page inside a report directory.
INDEX_FILE = "index.html"


def check_report_directory(directory: str | os.PathLike[str], name: str = "directory") -> Path:
    """``directory`` as a Path if a report can be written there (it may not exist yet); else raise
    :class:`~pcg_core.errors.InvalidArgumentError` naming ``name`` — before any long run."""
    if not isinstance(directory, str | os.PathLike) or not os.fspath(directory):
        raise InvalidArgumentError(name, directory, "must be a non-empty directory path")
    path = Path(os.path.realpath(directory))
    if path.exists() and not path.is_dir():
        raise InvalidArgumentError(name, os.fspath(directory), "exists and is not a directory",
                                   "give a directory; the report writes results.json and index.html inside it")
    check_creatable(name, os.fspath(directory), path)
    for child in (RESULTS_FILE, INDEX_FILE):
        if (path / child).is_dir():
            raise InvalidArgumentError(name, os.fspath(directory), f"holds a directory named {child!r}")
    return path


def _write(path: Path, text: str) -> None:
    with atomic_writer(path, "w") as handle:
        handle.write(text)


def write_report(directory: str | os.PathLike[str], results: Mapping[str, Any]) -> Path:
    """Write ``directory/results.json`` and ``directory/index.html`` (rendered from it); return the page's path
    (``directory / "index.html"``, as ``directory`` was spelt).

    Both texts are built in memory first, so a failure while rendering writes
    nothing; each file is then replaced atomically (a reader sees the old file
    or the new one, never half of one), results.json first.

    Parameters
    ----------
    directory : path
        Created when missing (with its parents).
    results : mapping
        A results envelope (:func:`~pcg_verify.reliability.make_results`,
        :func:`~pcg_verify.reliability.gate_results`, ...).

    Examples
    --------
    >>> import tempfile
    >>> from pcg_verify.reliability import make_results, write_report
    >>> results = make_results("e2e", [{"name": "demo", "verdict": "pass"}], duration_seconds=0.5)
    >>> page = write_report(tempfile.mkdtemp(), results)
    >>> page.name, (page.parent / "results.json").exists()
    ('index.html', True)
    """
    path = check_report_directory(directory)
    results = validate_results(dict(results))
    data = results_json(results)
    page = render_html(results)
    _write(path / RESULTS_FILE, data)
    _write(path / INDEX_FILE, page)
    return Path(directory) / INDEX_FILE


def rerender(directory: str | os.PathLike[str]) -> Path:
    """Render ``directory/index.html`` again from ``directory/results.json`` alone; return its path."""
    path = check_report_directory(directory)
    page = render_html(load_results(path))
    _write(path / INDEX_FILE, page)
    return Path(directory) / INDEX_FILE
