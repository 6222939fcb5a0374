"""The one place where user mistakes become exceptions.

Every error names the argument, the offending value and the rule it broke, so a
caller can fix the call without reading the source.
"""

from __future__ import annotations

from typing import Any

__all__ = ["GroupsCacheMismatchError", "InvalidArgumentError", "InvalidTypeError", "describe"]


def describe(value: Any, limit: int = 80) -> str:
    """A short, readable rendering of ``value`` for error messages."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"<{type(value).__name__} shape={tuple(shape)} dtype={dtype}>"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class InvalidArgumentError(ValueError):
    """An argument's value breaks a documented rule.

    The message reads ``name=value: rule`` followed by an optional hint.
    """

    def __init__(self, name: str, value: Any, rule: str, hint: str | None = None) -> None:
        self.name = name
        self.value = value
        self.rule = rule
        message = f"{name}={describe(value)}: {rule}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)


class InvalidTypeError(TypeError):
    """An argument has the wrong type or dtype."""

    def __init__(self, name: str, value: Any, rule: str) -> None:
        self.name = name
        self.value = value
        self.rule = rule
        super().__init__(f"{name}={describe(value)}: {rule}")


class GroupsCacheMismatchError(InvalidArgumentError):
    """A cached group structure was built from another embedding or other parameters."""
