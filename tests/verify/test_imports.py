"""Imports stay cheap: light parts load no torch, running the gate loads no Hypothesis.

Each check runs in a fresh interpreter so that nothing this test session
imported leaks in.
"""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import pcg_verify

#: ``import pcg_verify`` must stay under this many seconds (it imports nothing heavy; measured ~0.01 s).
IMPORT_BUDGET_SECONDS = 0.5


def _modules_after(code: str) -> set[str]:
    script = textwrap.dedent(code) + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def _loaded(modules: set[str], package: str) -> bool:
    return any(m == package or m.startswith(package + ".") for m in modules)


def test_the_facade_imports_nothing_heavy() -> None:
    modules = _modules_after("import pcg_verify, pcg_core")
    for heavy in ("torch", "scipy", "hypothesis", "numpy", "pcg_verify.checks"):
        assert not _loaded(modules, heavy), heavy


def test_import_pcg_verify_is_fast() -> None:
    code = "import time; t = time.perf_counter(); import pcg_verify; print(time.perf_counter() - t)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(done.stdout) < IMPORT_BUDGET_SECONDS


@pytest.fixture(scope="module")
def stats_modules() -> set[str]:
    return _modules_after("import pcg_verify.stats")


@pytest.mark.parametrize("heavy", ["torch", "hypothesis", "pcg_verify.checks", "pcg_verify.laws"])
def test_stats_leaves_out_the_sampler_and_the_gate(stats_modules: set[str], heavy: str) -> None:
    assert not _loaded(stats_modules, heavy)


def test_stats_depends_on_two_leaves_of_pcg_core_only(stats_modules: set[str]) -> None:
    ours = {m for m in stats_modules if m.startswith(("pcg_core.", "pcg_verify.")) and ".stats" not in m}
    # pcg_core.lazy (standard library only) is the façades' loader, loaded by the parent packages;
    # validation is a façade over the three rule modules, which load neither torch nor the groups
    rules = {"pcg_core._rules", "pcg_core._rows", "pcg_core._inputs"}
    assert ours <= {"pcg_core.errors", "pcg_core.validation", "pcg_core.lazy", *rules}


def test_running_the_gate_loads_no_hypothesis() -> None:
    modules = _modules_after("""
        from pcg_verify import run_gate
        assert run_gate(budget="quick", seed=0, case=0).passed
    """)
    assert _loaded(modules, "torch")
    assert not _loaded(modules, "hypothesis")
    assert not _loaded(modules, "pcg_verify.cases.strategies")


def test_the_budgets_load_no_torch() -> None:
    assert not _loaded(_modules_after("import pcg_verify.budgets"), "torch")


def test_the_command_line_help_loads_neither_torch_nor_numpy() -> None:
    """``python -X importtime -m pcg_verify --help``: the parser is built from argparse and the option table."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "pcg_verify", "--help"], capture_output=True,
                          text=True, check=True)
    assert "pcg-verify" in done.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "pcg_verify.cli" in imported  # the measurement itself works
    for heavy in ("torch", "numpy", "scipy"):
        assert heavy not in imported, heavy


def test_the_cli_loads_no_hypothesis() -> None:
    modules = _modules_after("""
        from pcg_verify.cli import main
        assert main(["check", "--budget", "quick", "--case", "0"]) == 0
    """)
    assert not _loaded(modules, "hypothesis")


def _documented_constant(name: str, module: str) -> bool:
    """A constant is documented by a ``#:`` comment right above its assignment in its home module."""
    lines = Path(importlib.import_module(module).__file__ or "").read_text(encoding="utf-8").splitlines()
    return any(line.startswith((f"{name} = ", f"{name}: ")) and i > 0 and lines[i - 1].startswith("#:")
               for i, line in enumerate(lines))


@pytest.mark.parametrize("name", pcg_verify.__all__)
def test_every_facade_name_resolves_to_a_documented_object_of_its_home_module(name: str) -> None:
    value = getattr(pcg_verify, name)
    home = pcg_verify._MODULE_OF[name]
    assert value is getattr(importlib.import_module(home), name)  # the façade hands out the real object
    if inspect.isclass(value) or inspect.isfunction(value):
        assert value.__doc__ and value.__doc__.strip(), f"{name} has no docstring of its own"
    else:
        assert _documented_constant(name, home), f"{name} has no #: comment in {home}"


def test_the_facade_all_lists_each_home_name_once() -> None:
    # (ruff's RUF022 keeps the literal list in isort order)
    assert len(set(pcg_verify.__all__)) == len(pcg_verify.__all__)
    assert set(pcg_verify.__all__) == set(pcg_verify._MODULE_OF)
    # every error the gate raises is re-exported
    for error in ("PCGError", "InvalidArgumentError", "InvalidTypeError", "DesignError", "GateFailure",
                  "PortProtocolError", "StatisticalAssertionError"):
        assert error in pcg_verify.__all__
