"""Lazy package façades (PEP 562), defined once for every package of the project.

A façade maps each public name to the module that defines it; the name is
imported on first access and then kept in the package's namespace, so later
look-ups skip ``__getattr__``. Standard library only: importing a façade must
stay cheap.

Public, because every package of the project (``pcg_verify`` and its
subpackages too) builds its façade with it::

    __getattr__, __dir__ = lazy_attributes(__name__, _MODULE_OF, __all__)

Import-graph checks (``tests/import_graph.py``) read the module names of a
façade's ``_MODULE_OF`` as the package's imports of them.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(package: str, module_of: Mapping[str, str],
                    names: Sequence[str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``module_of`` maps a public name to its module;
    ``__dir__`` lists ``names``."""

    def __getattr__(name: str) -> Any:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(names)

    return __getattr__, __dir__
