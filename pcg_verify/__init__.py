"""pcg_verify: the calibrated statistical gate for PCG ports.

Math follows the paper: q is the target, p the draft. The public modules are
``laws`` (exact SPEC §4 laws), ``stats`` (calibrated tests with sizing
companions), ``strategies`` (Hypothesis), ``checks`` (the gate), ``ports``
(the port contract), ``planted`` (wrong ports the gate must catch) and
``cli`` (``pcg-verify``). This façade re-exports the gate's entry points.
"""

from pcg_verify.checks import (
    BUDGETS,
    FAMILY_FALSE_POSITIVE_RATE,
    Budget,
    DesignError,
    GateFailure,
    GateReport,
    assert_gate,
    run_gate,
)
from pcg_verify.ports import REFERENCE_PORT, load_port, reference_port

__all__ = [
    "BUDGETS",
    "FAMILY_FALSE_POSITIVE_RATE",
    "REFERENCE_PORT",
    "Budget",
    "DesignError",
    "GateFailure",
    "GateReport",
    "assert_gate",
    "load_port",
    "reference_port",
    "run_gate",
]
