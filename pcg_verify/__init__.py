"""pcg_verify: the calibrated statistical gate for ports of PCG.

Math follows the paper: q is the target, p the draft. Modules:
``checks`` (the gate's procedure), ``budgets`` (budgets and the decision
rule with its error rates), ``report`` (verdicts and the JSON report),
``ports`` (the port contract, its transports and :func:`~pcg_verify.ports.open_port`),
``laws`` (exact laws), ``stats`` (calibrated tests with sizing companions),
``cases`` (the seeded case factory, the family cases and Hypothesis strategies
over them), ``bugs`` (the catalogue of wrong ports the
gate must catch, and the valid variants it must pass) and ``cli`` (``pcg-verify``).

This façade is lazy: ``import pcg_verify`` loads nothing heavy, and each name
below is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pcg_core.lazy import lazy_attributes

if TYPE_CHECKING:
    from pcg_core.errors import (
        DesignError,
        GroupsCacheMismatchError,
        InvalidArgumentError,
        InvalidTypeError,
        PCGError,
    )
    from pcg_verify._options import REFERENCE_PORT
    from pcg_verify.budgets import BUDGETS, PROCEDURE, Budget, Procedure
    from pcg_verify.checks import assert_gate, run_gate
    from pcg_verify.ports import Port, PortProtocolError, load_port, reference_port
    from pcg_verify.report import Category, CategoryVerdict, GateFailure, GateReport, LawCheck, Verdict
    from pcg_verify.stats import StatisticalAssertionError

__all__ = [
    "BUDGETS",
    "PROCEDURE",
    "REFERENCE_PORT",
    "Budget",
    "Category",
    "CategoryVerdict",
    "DesignError",
    "GateFailure",
    "GateReport",
    "GroupsCacheMismatchError",
    "InvalidArgumentError",
    "InvalidTypeError",
    "LawCheck",
    "PCGError",
    "Port",
    "PortProtocolError",
    "Procedure",
    "StatisticalAssertionError",
    "Verdict",
    "assert_gate",
    "load_port",
    "reference_port",
    "run_gate",
]

_HOME = {
    "pcg_core.errors": ("DesignError", "GroupsCacheMismatchError", "InvalidArgumentError", "InvalidTypeError",
                        "PCGError"),
    "pcg_verify.budgets": ("BUDGETS", "PROCEDURE", "Budget", "Procedure"),
    "pcg_verify.checks": ("assert_gate", "run_gate"),
    "pcg_verify._options": ("REFERENCE_PORT",),
    "pcg_verify.ports": ("Port", "PortProtocolError", "load_port", "reference_port"),
    "pcg_verify.report": ("Category", "CategoryVerdict", "GateFailure", "GateReport", "LawCheck", "Verdict"),
    "pcg_verify.stats": ("StatisticalAssertionError",),
}
_MODULE_OF = {name: module for module, names in _HOME.items() for name in names}


__getattr__, __dir__ = lazy_attributes(__name__, _MODULE_OF, __all__)
