"""Importing a Python port by name: ``package.module:function`` or ``path/to/file.py:function``.

Below the transports: the isolated worker imports its port with
:func:`import_callable` in the child process, and :func:`pcg_verify.ports.load_port`
adds ``exec:`` programs on top.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_verify.ports._contract import TRACEBACK_LINES, Port, printable

__all__ = ["check_import_spec", "import_callable"]


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
    return InvalidArgumentError("port", spec, printable(f"importing {what!r} raised {type(error).__name__}: {error}"),
                                printable(f"the port's module must import cleanly; traceback tail:\n{tail}"))


def check_import_spec(spec: str) -> str:
    """``spec`` if it has the form of an import path and a loose file it names exists; nothing is imported
    (so a worker is never started for a port that cannot be there)."""
    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.partition(":")[::2]):
        raise InvalidArgumentError("port", spec, "must be 'package.module:function' or 'path/to/file.py:function'")
    module_name = spec.partition(":")[0]
    if (module_name.endswith(".py") or os.sep in module_name or "/" in module_name) and not Path(
            module_name).is_file():
        raise InvalidArgumentError("port", spec, f"no file {module_name!r}",
                                   "give package.module:function or path/to/file.py:function")
    return spec


def import_callable(spec: str) -> Port:
    """Import ``package.module:function`` (or ``path/to/file.py:function``) and return the callable.

    The attribute may be dotted (``module:namespace.function``). Raises
    :class:`InvalidArgumentError` naming what could not be found.
    """
    module_name, _, attribute = check_import_spec(spec).partition(":")
    target: Any = _import_module(spec, module_name)
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise InvalidArgumentError("port", spec, f"{module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise InvalidTypeError("port", spec, "must name a callable")
    return target  # type: ignore[no-any-return]
