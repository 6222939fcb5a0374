"""The one exception hierarchy of pcg_core and pcg_verify.

Every user mistake becomes an exception that names the argument, the offending
value and the rule it broke (``name=value: rule (hint)``), so a caller can fix
the call without reading the source. This module is a leaf: it imports nothing
beyond the standard library, so ``import pcg_core.errors`` loads neither torch
nor numpy.

Hierarchy::

    PCGError
    ├── InvalidArgumentError (also ValueError)
    │   ├── GroupsCacheMismatchError
    │   └── DesignError
    └── InvalidTypeError (also TypeError)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DesignError",
    "GroupsCacheMismatchError",
    "InvalidArgumentError",
    "InvalidTypeError",
    "PCGError",
    "describe",
]


def describe(value: Any, limit: int = 80) -> str:
    """A short, readable rendering of ``value`` for error messages.

    Arrays and tensors (anything with a non-empty ``shape`` and a ``dtype``)
    are shown by type, shape and dtype; other values, numpy scalars and 0-d
    tensors included, by a ``repr`` cut to ``limit`` characters.

    >>> describe([1, 2, 3])
    '[1, 2, 3]'
    >>> describe("x" * 100, limit=10)
    "'xxxxxx..."
    """
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None and not isinstance(value, type):
        try:
            dims = tuple(shape)
        except TypeError:
            dims = ()
        if dims:
            return f"<{type(value).__name__} shape={dims} dtype={dtype}>"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class PCGError(Exception):
    """Base class of every error raised on purpose by pcg_core and pcg_verify.

    Gate failures are not PCGErrors: they are ``AssertionError`` subclasses.
    """


class InvalidArgumentError(PCGError, ValueError):
    """An argument's value breaks a documented rule.

    The message reads ``name=value: rule`` followed by an optional ``(hint)``;
    ``name``, ``value``, ``rule`` and ``hint`` are kept as attributes.

    >>> str(InvalidArgumentError("k", 0, "must be >= 1"))
    'k=0: must be >= 1'
    """

    def __init__(self, name: str, value: Any, rule: str, hint: str | None = None) -> None:
        self.name = name
        self.value = value
        self.rule = rule
        self.hint = hint
        message = f"{name}={describe(value)}: {rule}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)


class InvalidTypeError(PCGError, TypeError):
    """An argument has the wrong type or dtype; the message reads ``name=value: rule``.

    >>> str(InvalidTypeError("k", 2.0, "must be an int"))
    'k=2.0: must be an int'
    """

    def __init__(self, name: str, value: Any, rule: str) -> None:
        self.name = name
        self.value = value
        self.rule = rule
        super().__init__(f"{name}={describe(value)}: {rule}")


class GroupsCacheMismatchError(InvalidArgumentError):
    """A cached group structure was built from another embedding or other parameters."""


class DesignError(InvalidArgumentError):
    """An experiment cannot reach its promised power within its budget.

    Raised before sampling; the message says how many samples would suffice.
    """
