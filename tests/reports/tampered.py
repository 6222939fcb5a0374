"""Valid results envelopes of every kind, built by hand (no gate run), for the tampered-file tests to break.

Each builder returns a fresh envelope that :func:`validate_results` accepts and
:func:`render_html` renders; the tests change one thing in it.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from pcg_verify.reliability import make_results
from pcg_verify.reliability._schema import CATEGORIES

_TEST = {"category": "guarantee", "case_index": 0, "row": 0, "position": 0, "law": "group label law = Q_c",
         "stage": 1, "n_samples": 400, "n_cells": 3, "statistic": 1.9, "pvalue": 0.39,
         "detectable_discrepancy": 0.12, "adjusted_pvalue": 1.0, "rejected": False}
_CELLS = [{"label": "k0", "observed": 210, "probability": 0.5}, {"label": "k1", "observed": 120, "probability": 0.3},
          {"label": "k2", "observed": 70, "probability": 0.2}]
_VARIABILITY = {"observed_conditional_entropy_nats": 0.61, "reference_conditional_entropy_nats": 0.6,
                "within_group_tv": 0.02}


def gate_run() -> dict[str, Any]:
    """One gate run that passed: every category, two tests, one case, the evidence for the plots."""
    tests = [dict(_TEST), dict(_TEST, category="acceptance", position=-1, law="accepted length", pvalue=0.71)]
    return {
        "schema_version": 1, "verdict": "pass", "port": "my_package.sampler:pcg_port",
        "budget": {"name": "quick", "discrepancy": 0.15, "false_negative_rate": 0.01},
        "seed": 0, "singleton_only": False,
        "procedure": {"family_false_positive_rate": 0.001, "attribution_rate": 0.01, "per_test_level": 2e-5,
                      "description": "Holm over every test"},
        "categories": {name: {"name": name, "verdict": "pass", "message": "ok", "failures": []}
                       for name in CATEGORIES},
        "variability": dict(_VARIABILITY), "retried_cases": [],
        "cases": [{"index": 0, "description": "V=12, γ=3", "samples_per_row": 400, "seed": 7}],
        "tests": tests, "elapsed_seconds": 0.3,
        "evidence": {"worst_tests": [dict(tests[0], selected="the smallest p-value", cells=copy.deepcopy(_CELLS),
                                          pooled_cells=0)],
                     "variability_by_case": [dict(_VARIABILITY, case_index=0)]},
    }


def failed(run: dict[str, Any], category: str = "guarantee") -> dict[str, Any]:
    """``run`` with ``category`` failed as the gate writes it: a rejected test, a failure line, verdict fail."""
    run["categories"][category].update(verdict="fail", message="1 of 1 tests rejected",
                                       failures=["guarantee: case 0 row 0 position 0, p=1e-12. "
                                                 "Reproduce: pcg-verify check my_package.sampler:pcg_port --case 0"])
    run["tests"][0].update(category=category, rejected=True, pvalue=1e-12, adjusted_pvalue=2e-11)
    run["verdict"] = "fail"
    return run


def gate() -> dict[str, Any]:
    """A gate envelope over one passing run."""
    return make_results("gate", [gate_run()], duration_seconds=0.3, command="pcg-verify check x:y")


def bugs() -> dict[str, Any]:
    """A bugs envelope: a killed mutant and a passed equivalent."""
    return make_results("bugs", [
        {"mutant": "ratio_inverted", "description": "p/q for q/p", "expected_category": "guarantee",
         "killed": True, "killed_by": ["guarantee"], "check": "guarantee: case 0", "pvalue": 1e-9,
         "adjusted_pvalue": 1e-7, "n_samples": 400, "replay": "pcg-verify check x:y --case 0"},
        {"mutant": "rng_reordered", "description": "a valid variant", "equivalent": True, "killed": False,
         "killed_by": []}], duration_seconds=2.0)


def e2e() -> dict[str, Any]:
    """An e2e envelope: one passing run with metrics and its monitor tests."""
    return make_results("e2e", [
        {"name": "pcg", "verdict": "pass", "summary": "4 prompts", "metrics": {"speedup_vs_ar": 1.8, "rows": 4},
         "tests": [{"name": "labels PIT (KS)", "statistic": 0.05, "pvalue": 0.6, "rejected": False}],
         "failures": []}], duration_seconds=5.0)


def dumped(results: Any) -> bytes:
    """The envelope as the file would hold it."""
    return json.dumps(results, indent=1, ensure_ascii=False).encode("utf-8")
