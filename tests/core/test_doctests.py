"""The numpydoc examples in pcg_core run and print what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["pcg_core._builders", "pcg_core._coarse", "pcg_core._groups", "pcg_core._verify",
           "pcg_core._baselines", "pcg_verify.strategies"]


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
