"""The gate as a pytest plugin (entry point ``pytest11``), cheap to import.

With ``--pcg-port PORT`` the session collects one test item per (case,
category) of the gate, named ``pcg-gate/case<i>[<category>]``, so a failure
names its case and prints the command that replays it. Every decision of the
gate is local to its case (see :mod:`pcg_verify.checks`), so ``pytest -n auto
--pcg-port PORT`` spreads the cases over xdist workers and reaches exactly the
verdict of ``pcg-verify check PORT`` with the same budget and seed; items of
one case carry one ``xdist_group`` so ``--dist loadgroup`` runs each case once.

A case the port was too slow to finish (a call past ``--pcg-call-timeout``,
or the run past ``--pcg-deadline``) fails each of its items that found no
failure with "too slow": never a pass, never a law or structure failure.

Without ``--pcg-port`` the plugin adds nothing but its options and the
``pcg_gate`` fixture, for a project's own tests::

    def test_my_port_passes_the_gate(pcg_gate):
        pcg_gate("mypackage.sampler:pcg_port")   # raises GateFailure unless it passes

Only the standard library and pytest are imported here; the gate is imported
when it is used.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from pcg_verify._options import GATE_OPTIONS, check_gate_options, check_port_spec, gate_kwargs

if TYPE_CHECKING:
    from pcg_verify.checks import CaseResult, GatePlan
    from pcg_verify.ports import LoadedPort
    from pcg_verify.report import GateReport

__all__ = ["GateItem", "pcg_gate"]

_STATE = pytest.StashKey["_GateState"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pcg", "PCG gate (pcg_verify)")
    group.addoption("--pcg-port", default=None, metavar="PORT",
                    help="gate this port: package.module:function, path/to/file.py:function or exec:'CMD ARGS'")
    group.addoption("--pcg-report", default=None, metavar="DIR",
                    help="write the gate's reliability report (DIR/results.json, DIR/index.html) from the cases "
                         "this session ran, collected across xdist workers")
    for option in GATE_OPTIONS:
        group.addoption(f"--pcg-{option.name}", dest=f"pcg_{option.name.replace('-', '_')}",
                        **option.add_argument_kwargs())


def _values(config: pytest.Config) -> dict[str, Any]:
    return {o.name: config.getoption(f"pcg_{o.name.replace('-', '_')}") for o in GATE_OPTIONS}


#: The determinism verdict's note in the plugin's report (the plugin does not start a fresh process).
PLUGIN_CROSS_PROCESS = ("not checked across processes: the pytest plugin does not repeat a call in a fresh process "
                        "(pcg-verify check and run_gate do)")


class _GateState:
    """The plan and the port of this process, built on first use; case results cached by index."""

    def __init__(self, config: pytest.Config) -> None:
        self.spec: str = config.getoption("pcg_port")
        self.kwargs = gate_kwargs(_values(config))
        self._plan: GatePlan | None = None
        self._port: LoadedPort | None = None
        self.results: dict[int, CaseResult] = {}
        self.started = time.perf_counter()
        self.report_page: str | None = None
        self.tested_items = self.untested_items = 0  # gate items that passed or failed; skipped as untested
        self.nothing_tested = False

    @property
    def budget_cases(self) -> int:
        from pcg_verify.budgets import BUDGETS

        return BUDGETS[self.kwargs["budget"]].cases

    def plan(self) -> GatePlan:
        if self._plan is None:
            from pcg_verify.budgets import BUDGETS
            from pcg_verify.checks import plan_gate

            self._plan = plan_gate(BUDGETS[self.kwargs["budget"]], self.kwargs["seed"],
                                   singleton_only=self.kwargs["singleton_only"])
        return self._plan

    def port(self) -> LoadedPort:
        if self._port is None:
            from pcg_verify.ports import open_port

            self._port = open_port(self.spec, isolate=self.kwargs["isolate"], call_timeout=self.kwargs["call_timeout"],
                                   deadline=self.kwargs["deadline"], threads=self.kwargs["threads"] or 1,
                                   keep_going=self.kwargs["keep_going"])
        return self._port

    def result(self, index: int) -> CaseResult:
        if index not in self.results:
            from pcg_verify.checks import run_case, torch_threads

            with torch_threads(self.kwargs["threads"] or None):
                self.results[index] = run_case(self.port().function, self.plan(), index)
        return self.results[index]

    def replay(self, index: int) -> str:
        from pcg_verify.budgets import BUDGETS
        from pcg_verify.report import replay_line

        return replay_line(self.spec, self.spec, budget=BUDGETS[self.kwargs["budget"]], seed=self.kwargs["seed"],
                           case=index, singleton_only=self.kwargs["singleton_only"])

    def write_report(self, directory: str) -> str:
        """The report of the cases run so far (in index order) written to ``directory``; the page's path."""
        from pcg_verify._cross_process import CrossProcess, with_cross_process
        from pcg_verify.checks import gate_report
        from pcg_verify.reliability import gate_results, write_report

        report = gate_report(self.plan(), [self.results[i] for i in sorted(self.results)], port_name=self.spec,
                             replay=self.replay, elapsed_seconds=time.perf_counter() - self.started)
        # said, not silent: the cross-process repeat of a first call runs in pcg-verify check and run_gate only
        report = with_cross_process(report, CrossProcess(None, None, PLUGIN_CROSS_PROCESS), self.replay)
        command = f"pytest --pcg-port {self.spec} --pcg-budget {self.kwargs['budget']} --pcg-seed {self.kwargs['seed']}"
        return str(write_report(directory, gate_results(report, command=command)))

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            port.close()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """(A hook: this object is registered as a plugin.) Count the gate items by outcome."""
        if "pcg-gate" not in report.nodeid.split("::"):
            return
        if report.skipped:
            self.untested_items += 1
        elif report.when == "call":
            self.tested_items += 1


def _spell(name: str) -> str:
    return f"--pcg-{name}"


def pytest_configure(config: pytest.Config) -> None:
    """Every ``--pcg-*`` value is checked here, before any item runs, by the rules ``pcg-verify check`` uses
    (a bad value is a usage error, exit 4); the controller also opens the port once, so a port that cannot
    be loaded stops the session here instead of failing every item."""
    port, directory = config.getoption("pcg_port"), config.getoption("pcg_report")
    if port is None and directory is None:
        return
    from pcg_core.errors import PCGError

    controller = not hasattr(config, "workerinput")
    try:
        if port is None:
            raise pytest.UsageError("--pcg-report needs --pcg-port (the report is of that port's gate)")
        check_port_spec(_spell("port"), port)
        check_gate_options(_values(config), _spell)
        if directory is not None and controller:
            from pcg_verify.reliability import check_report_directory

            check_report_directory(directory, _spell("report"))
        state = _GateState(config)
        if controller:
            state.port()  # it loads (or its program starts) before any item runs
            if getattr(config.option, "numprocesses", None):  # xdist workers open their own
                state.close()
    except PCGError as error:
        raise pytest.UsageError(str(error)) from None
    config.stash[_STATE] = state
    config.pluginmanager.register(state, "pcg-gate-state")


# --------------------------------------------------------------------------- --pcg-report across workers
_WORKER_RESULTS = "pcg_case_results"


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """A worker hands its case results to the controller; the controller (or a lone process) writes the report.

    A session whose gate items were all skipped as untested gated nothing: it fails (exit 1), whatever the
    selection (``-k guarantee`` on a port that reports no labels, say)."""
    config = session.config
    state = config.stash.get(_STATE, None)
    if state is None:
        return
    if not hasattr(config, "workeroutput") and state.untested_items and not state.tested_items:
        state.nothing_tested = True
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if config.getoption("pcg_report") is None:
        return
    if hasattr(config, "workeroutput"):  # an xdist worker: results travel as torch.save bytes
        import io

        import torch

        buffer = io.BytesIO()
        torch.save(state.results, buffer)
        config.workeroutput[_WORKER_RESULTS] = buffer.getvalue()
        return
    state.report_page = state.write_report(config.getoption("pcg_report"))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist: a worker finished; keep the case results it ran (a case run twice keeps its first result)."""
    state = node.config.stash.get(_STATE, None)
    blob = getattr(node, "workeroutput", {}).get(_WORKER_RESULTS)
    if state is not None and blob is not None:
        import io

        import torch

        # weights_only=False: the bytes are our own worker's CaseResults (dataclasses), not a downloaded file.
        for index, result in torch.load(io.BytesIO(blob), weights_only=False).items():
            state.results.setdefault(index, result)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is not None and state.nothing_tested:
        terminalreporter.write_line(f"pcg gate: FAIL: the {state.untested_items} gate item(s) that ran were all "
                                    "untested (skipped); nothing was gated, which is never a pass", red=True)
    if state is not None and state.report_page is not None:
        terminalreporter.write_line(f"pcg gate report: {state.report_page}")


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is not None:
        state.close()


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(_STATE, None)
    if state is None:
        return []
    from pcg_verify.budgets import PROCEDURE

    return [f"pcg gate: port {state.spec}, budget {state.kwargs['budget']}, master seed {state.kwargs['seed']}, "
            f"declared family-wise false-positive rate {PROCEDURE.family_false_positive_rate:g}"]


class GateFailureInCase(AssertionError):
    """One category of one case failed; the message ends with the replay command."""


class GateTooSlowInCase(AssertionError):
    """The port was too slow to finish one case: its categories are untested, and that is not a pass."""


class GateItem(pytest.Item):
    """One (case, category) of the gate."""

    def __init__(self, *, index: int, category: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.index, self.category = index, category
        self.add_marker(pytest.mark.xdist_group(f"pcg-case-{index}"))

    def runtest(self) -> None:
        from pcg_verify.report import Category

        state: _GateState = self.config.stash[_STATE]
        result = state.result(self.index)
        category = Category(self.category)
        failures = result.failures(category) or [
            f"not tested: case {self.index} broke the port contract, so its {category} could not be tested: {line}"
            for line in result.failures(Category.STRUCTURE)]
        if failures:
            raise GateFailureInCase("\n".join(failures) + f"\nReproduce: {state.replay(self.index)}")
        if result.too_slow is not None:
            raise GateTooSlowInCase(f"{result.too_slow}\nA slow port needs a larger --pcg-call-timeout and a larger "
                                    f"or no --pcg-deadline.\nReproduce: {state.replay(self.index)}")
        untested = result.untested(category)
        if untested is not None:  # never a pass: a skip with the reason (a session of only skips fails)
            pytest.skip(f"pcg gate: case {self.index} [{category}] untested: {untested}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, GateFailureInCase):
            return f"pcg gate: case {self.index}, {self.category} failed:\n{excinfo.value}"
        if isinstance(excinfo.value, GateTooSlowInCase):
            return f"pcg gate: case {self.index}, {self.category} TOO SLOW (untested, not failed):\n{excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[str, int | None, str]:
        return "pcg-gate", None, f"case {self.index} [{self.category}]"


class _GateCollector(pytest.Collector):
    def collect(self) -> Iterator[pytest.Item]:
        from pcg_verify.report import Category

        state: _GateState = self.config.stash[_STATE]
        for index in range(state.budget_cases):
            for category in Category:
                yield GateItem.from_parent(self, name=f"case{index}[{category}]", index=index,
                                           category=str(category))


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if _STATE in config.stash:
        collector = _GateCollector.from_parent(session, name="pcg-gate")
        items.extend(collector.collect())


@pytest.fixture
def pcg_gate(request: pytest.FixtureRequest) -> Callable[..., GateReport]:
    """``pcg_gate(port=None, **run_gate_keywords)``: run the gate and raise GateFailure unless it passes.

    Defaults come from the ``--pcg-*`` options (port: ``--pcg-port``, else the
    reference sampler; a Python callable runs in-process).
    """
    values = gate_kwargs(_values(request.config))

    def gate(port: Any = None, **overrides: Any) -> GateReport:
        from pcg_verify._options import REFERENCE_PORT
        from pcg_verify.checks import assert_gate

        chosen = port if port is not None else (request.config.getoption("pcg_port") or REFERENCE_PORT)
        kwargs = {**values, "isolate": values["isolate"] and isinstance(chosen, str), **overrides}
        return assert_gate(chosen, **kwargs)

    return gate
