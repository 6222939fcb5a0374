"""The gate's options, defined once for ``pcg-verify check`` and the pytest plugin.

Standard library only: the plugin imports this at pytest start-up, so it must
stay cheap. The CLI spells an option ``--NAME``, the plugin ``--pcg-NAME``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pcg_core.errors import InvalidArgumentError, InvalidTypeError

__all__ = ["BUDGET_NAMES", "DEFAULT_CALL_TIMEOUT", "FAMILY_NAMES", "GATE_OPTIONS", "MIN_CALL_TIMEOUT", "REFERENCE_PORT",
           "Option", "check_gate_options", "check_port_spec", "check_seconds", "check_threads", "gate_kwargs",
           "max_threads"]

#: The names of :data:`pcg_verify.budgets.BUDGETS` (a test keeps the two equal).
BUDGET_NAMES = ("quick", "standard", "thorough")
#: The names of the family cases, :data:`pcg_verify.cases._families.FAMILIES` (a test keeps the two equal),
#: so that a budget names them without importing torch.
FAMILY_NAMES = ("llasa", "codec", "unaligned", "single_row")
#: Import path of the default port: pcg_core's reference sampler.
REFERENCE_PORT = "pcg_verify.ports:reference_port"
#: Seconds one port call may take in a worker or a port process (the gate's calls take milliseconds to seconds).
DEFAULT_CALL_TIMEOUT = 60.0
#: The shortest call limit (and deadline) the gate accepts, in seconds: its largest calls hand a port 2^24
#: probabilities (128 MB in float64), which a correct port on a busy machine may take seconds to answer.
MIN_CALL_TIMEOUT = 5.0


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
    Option("call-timeout", "seconds one port call may take in the worker or exec: program (default: "
           f"{DEFAULT_CALL_TIMEOUT:g}); a call past it leaves its case unfinished and the verdict TOO SLOW, "
           "never a failure: raise it for a slow port",
           float, DEFAULT_CALL_TIMEOUT,
           keyword="call_timeout", metavar="S"),
    Option("deadline", "seconds the whole run may take in the worker or exec: program (default: none); the "
           "cases it cuts short are unfinished and the verdict TOO SLOW, never a failure", float, None,
           keyword="deadline", metavar="S"),
    Option("threads", "torch threads for the gate and the port, at most the machine's cores (default: 1, "
           "fastest for the gate's small tensors and immune to a busy machine)", int, 1, keyword="threads",
           metavar="N"),
    Option("keep-going", "after a port call timed out, keep calling the port in every later case (default: "
           "later cases are not called, so a slow or hanging port costs one call timeout)", flag=True,
           keyword="keep_going"),
)


def max_threads() -> int:
    """The most torch threads the gate accepts: the cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def check_port_spec(name: str, spec: Any) -> str:
    """A port spec as given (``package.module:function``, ``path/file.py:function``, ``exec:CMD``): a
    non-empty string; an empty one (an unset ``$PORT``) must never fall back to the reference."""
    if not isinstance(spec, str):
        raise InvalidTypeError(name, spec, "must be a port spec (str)")
    if not spec.strip():
        raise InvalidArgumentError(name, spec, "must not be empty",
                                   "give package.module:function, path/to/file.py:function or exec:CMD ARGS...; "
                                   "leave it out for the reference sampler")
    return spec


def check_seconds(name: str, value: Any) -> float:
    """A call timeout or deadline: a finite number of seconds ≥ :data:`MIN_CALL_TIMEOUT`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidTypeError(name, value, "must be a number of seconds")
    if not math.isfinite(value) or value < MIN_CALL_TIMEOUT:
        raise InvalidArgumentError(name, value, f"must be a finite number of seconds ≥ {MIN_CALL_TIMEOUT:g}",
                                   "a shorter limit would fail correct ports on a busy machine")
    return float(value)


def check_threads(name: str, value: Any) -> int:
    """torch threads: an integer between 1 and the machine's cores (:func:`max_threads`)."""
    cores = max_threads()
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= cores:
        raise InvalidArgumentError(name, value, f"must be an integer in [1, {cores}] (this machine's cores: more "
                                   "threads only slow the gate, and thousands exhaust the process table)")
    return value


def check_gate_options(values: dict[str, Any], spell: Callable[[str], str] = lambda name: f"--{name}") -> None:
    """Check the option values (keyed by option name) before anything runs; errors name the option as
    ``spell`` writes it (``--seed`` for the command line, ``--pcg-seed`` for the plugin).

    The rules: a named budget; seed an integer ≥ 0; call timeout finite and ≥ :data:`MIN_CALL_TIMEOUT`;
    deadline finite and ≥ the same; threads between 1 and the machine's cores (:func:`max_threads`).
    """
    if values["budget"] not in BUDGET_NAMES:
        raise InvalidArgumentError(spell("budget"), values["budget"], f"must be one of {list(BUDGET_NAMES)}")
    seed = values["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise InvalidArgumentError(spell("seed"), seed, "must be an integer in [0, 2^63)")
    check_seconds(spell("call-timeout"), values["call-timeout"])
    if values["deadline"] is not None:
        check_seconds(spell("deadline"), values["deadline"])
    check_threads(spell("threads"), values["threads"])


def gate_kwargs(values: dict[str, Any]) -> dict[str, Any]:
    """``run_gate`` keywords from option values keyed by option name (``isolate`` from ``in-process``)."""
    out = {o.keyword: values[o.name] for o in GATE_OPTIONS if o.keyword is not None}
    out["isolate"] = not values["in-process"]
    return out
