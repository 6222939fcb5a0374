"""An experiment that cannot reach its promised power raises before sampling."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from pcg_verify import BUDGETS, DesignError, run_gate


def test_an_unreachable_promise_raises_before_the_port_is_called() -> None:
    calls: list[Any] = []

    def port(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        raise AssertionError("must not be called")

    budget = dataclasses.replace(BUDGETS["quick"], discrepancy=0.001, max_samples_per_row=10_000)
    with pytest.raises(DesignError, match=r"budget=.*needs \d+ samples per row"):
        run_gate(port, budget=budget, seed=0)
    assert calls == []
