"""The gate's options, defined once for the command line (and later the pytest plugin)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["GATE_OPTIONS", "Option"]


@dataclass(frozen=True)
class Option:
    """One option: its flag name, type, default, choices and help text."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[str, ...] | None = None


GATE_OPTIONS: tuple[Option, ...] = (
    Option("budget", str, "standard", "how hard to look: cases, promised discrepancy and sample caps",
           ("quick", "standard", "thorough")),
    Option("seed", int, 0, "master seed; every case, experiment and retry seed is spawned from it"),
    Option("groups", str, "any", "'singleton' restricts every case to singleton groups, "
           "so a plain speculative-decoding sampler can be gated", ("any", "singleton")),
    Option("case", int, None, "run only this case index (failure messages print it)"),
)
