"""The gate's options, defined once for ``pcg-verify check`` and the pytest plugin.

Standard library only: the plugin imports this at pytest start-up, so it must
stay cheap. The CLI spells an option ``--NAME``, the plugin ``--pcg-NAME``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["BUDGET_NAMES", "DEFAULT_CALL_TIMEOUT", "GATE_OPTIONS", "REFERENCE_PORT", "Option", "gate_kwargs"]

#: The names of :data:`pcg_verify.budgets.BUDGETS` (a test keeps the two equal).
BUDGET_NAMES = ("quick", "standard", "thorough")
#: Import path of the default port: pcg_core's reference sampler.
REFERENCE_PORT = "pcg_verify.ports:reference_port"
#: Seconds one port call may take in a worker or a port process (the gate's calls take milliseconds to seconds).
DEFAULT_CALL_TIMEOUT = 60.0


@dataclass(frozen=True)
class Option:
    """One option: its name, how to read it, its default and help, and the ``run_gate`` keyword it feeds."""

    name: str
    help: str
    type: Callable[[str], Any] | None = None
    default: Any = None
    choices: tuple[str, ...] | None = None
    flag: bool = False  # a switch without a value
    keyword: str | None = None  # the run_gate keyword (None: not passed to run_gate)
    metavar: str | None = None

    def add_argument_kwargs(self) -> dict[str, Any]:
        """The keywords of ``add_argument`` (argparse) and ``addoption`` (pytest) for this option."""
        kwargs: dict[str, Any] = {"help": self.help}
        if self.flag:
            kwargs["action"] = "store_true"
        else:
            kwargs.update(type=self.type, default=self.default, metavar=self.metavar)
            if self.choices:
                kwargs["choices"] = self.choices
        return kwargs


GATE_OPTIONS: tuple[Option, ...] = (
    Option("budget", "how hard to look: cases, promised discrepancy, sample caps (default: standard)",
           str, "standard", BUDGET_NAMES, keyword="budget"),
    Option("seed", "master seed; every case, experiment and retry seed is derived from it (default: 0)",
           int, 0, keyword="seed", metavar="N"),
    Option("singleton-groups", "every case uses singleton groups, so a plain speculative sampler can be gated",
           flag=True, keyword="singleton_only"),
    Option("in-process", "call the port in this process instead of an isolated worker", flag=True),
    Option("call-timeout", f"seconds one port call may take in the worker (default: {DEFAULT_CALL_TIMEOUT:g})",
           float, DEFAULT_CALL_TIMEOUT,
           keyword="call_timeout", metavar="S"),
    Option("deadline", "seconds the whole run may take in the worker (default: none)", float, None,
           keyword="deadline", metavar="S"),
    Option("threads", "torch threads for the gate and the port (default: 1, fastest for the gate's small "
           "tensors and immune to a busy machine)", int, 1, keyword="threads", metavar="N"),
)


def gate_kwargs(values: dict[str, Any]) -> dict[str, Any]:
    """``run_gate`` keywords from option values keyed by option name (``isolate`` from ``in-process``)."""
    out = {o.keyword: values[o.name] for o in GATE_OPTIONS if o.keyword is not None}
    out["isolate"] = not values["in-process"]
    return out
