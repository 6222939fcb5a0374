"""Ports that report no group labels are gated on tokens against the reference law.

Seeds are fixed (deterministic verdicts); the gate's family-wise false-positive
rate is 1e-3 (pcg_verify.checks).
"""

from __future__ import annotations

from typing import Any

from pcg_verify import run_gate
from pcg_verify.budgets import BUDGETS
from pcg_verify.bugs import dense_port
from pcg_verify.ports import reference_port


def _without_labels(port: Any, **extra: Any) -> Any:
    def unlabelled(*args: Any, **kwargs: Any) -> tuple[Any, None, Any]:
        out = port(*args, **kwargs, **extra)
        tokens, _, num_accepted = out
        return tokens, None, num_accepted

    return unlabelled


#: The standard budget's drawn cases (the designed cases add nothing to what labels can be inferred from).
STANDARD_DRAWN = BUDGETS["standard"].drawn_only()


def test_an_unlabelled_reference_passes_with_labels_tested_only_where_tokens_imply_them() -> None:
    report = run_gate(_without_labels(reference_port), budget=STANDARD_DRAWN, seed=0)
    assert report.passed, report.summary()
    assert report.categories["conformance"].verdict == "pass"
    # Labels are inferred only when every group is a singleton; elsewhere the
    # guarantee cannot be observed and the tokens are tested against the reference.
    singleton_cases = {c["index"] for c in report.cases if c["max_group_size"] == 1}
    guarantee_cases = {t.case_index for t in report.tests if t.category == "guarantee"}
    assert guarantee_cases and guarantee_cases <= singleton_cases


def test_without_singleton_cases_the_guarantee_is_reported_untested() -> None:
    report = run_gate(_without_labels(reference_port), budget="quick", seed=0, case=1)
    assert report.cases[0]["max_group_size"] > 1
    assert report.categories["guarantee"].verdict == "untested"
    assert "no group labels" in report.categories["guarantee"].message


def test_an_unlabelled_wrong_port_still_fails_on_its_tokens() -> None:
    report = run_gate(_without_labels(dense_port, bug="residual_from_draft"), budget=STANDARD_DRAWN, seed=0)
    assert not report.passed
    assert report.categories["conformance"].verdict == "fail", report.summary()


def test_singleton_cases_infer_the_labels_from_the_tokens() -> None:
    report = run_gate(_without_labels(reference_port), budget="quick", seed=0, singleton_only=True)
    assert report.passed, report.summary()
    assert report.categories["guarantee"].verdict == "pass"
