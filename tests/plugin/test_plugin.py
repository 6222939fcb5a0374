"""The pytest plugin: options, collected gate items, xdist, the fixture, a cheap import.

Sessions run through ``pytester``; the distributed ones in a subprocess with
``-n 2``. Seeds are fixed, so the verdicts are deterministic; the reference
passing holds with probability ≥ 1 − 1e-3 (the declared family-wise rate) and
holds for the seeds used.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pcg_verify import BUDGETS, Category, run_gate
from pcg_verify._options import BUDGET_NAMES, FAMILY_NAMES

BUG = "pcg_verify.bugs:mutants.dense_shared_uniform"


def _outcomes(result: pytest.RunResult) -> dict[str, str]:
    """{item id: outcome} from a -rA summary."""
    out = {}
    for line in result.outlines:
        for outcome in ("PASSED", "FAILED"):
            if line.startswith(outcome + " ") and "pcg-gate" in line:
                out[line.split()[1].split("::")[-1]] = outcome.lower()
    return out


def test_importing_the_plugin_is_cheap() -> None:
    code = "import sys, pcg_verify.plugin; print(sorted(m for m in ('torch', 'numpy', 'scipy', 'hypothesis') " \
           "if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_budget_choices_are_the_budgets() -> None:
    assert BUDGET_NAMES == tuple(BUDGETS)


def test_the_family_names_budgets_check_are_the_families() -> None:
    from pcg_verify.cases._families import FAMILIES

    assert FAMILY_NAMES == tuple(FAMILIES)


def test_options_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    for option in ("--pcg-port", "--pcg-budget", "--pcg-seed", "--pcg-singleton-groups", "--pcg-threads"):
        assert option in result.stdout.str()


def test_the_reference_gives_one_passing_item_per_case_and_category(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--pcg-port", "pcg_verify.ports:reference_port", "--pcg-budget", "quick",
                                "--pcg-in-process", "-rA", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    # an item whose category this case does not test (e.g. an acceptance law that pools to one cell) is
    # skipped with its reason, never passed: every item is one or the other, none fails
    assert outcomes.get("passed", 0) + outcomes.get("skipped", 0) == BUDGETS["quick"].cases * len(Category)
    assert "failed" not in outcomes and outcomes["passed"] > outcomes.get("skipped", 0)
    result.stdout.fnmatch_lines(["pcg gate: port pcg_verify.ports:reference_port, budget quick, master seed 0, "
                                 "declared family-wise false-positive rate 0.001"])


@pytest.mark.slow
def test_a_planted_bug_under_xdist_fails_exactly_where_the_cli_does(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--pcg-port", BUG, "--pcg-budget", "quick", "--pcg-seed", "3",
                                           "-n", "2", "--dist", "loadgroup", "-rA", "-p", "no:cacheprovider")
    outcomes = _outcomes(result)
    skipped = result.parseoutcomes().get("skipped", 0)  # untested in their case, each with its reason
    assert len(outcomes) + skipped == BUDGETS["quick"].cases * len(Category), result.stdout.str()
    report = run_gate(BUG, budget="quick", seed=3)
    assert not report.passed
    expected_failed = set()
    for category, verdict in report.categories.items():
        for failure in verdict.failures:
            index = int(failure.split("case ", 1)[1].split()[0].rstrip(",:"))
            expected_failed.add(f"case{index}[{category}]")
    assert {name for name, outcome in outcomes.items() if outcome == "failed"} == expected_failed
    assert "Reproduce: pcg-verify check pcg_verify.bugs:mutants.dense_shared_uniform --budget quick --seed 3 --case" \
        in result.stdout.str()


@pytest.mark.slow
def test_the_reference_passes_under_xdist_with_an_isolated_port(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--pcg-port", "pcg_verify.ports:reference_port", "--pcg-budget",
                                           "quick", "-n", "2", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("skipped", 0) == BUDGETS["quick"].cases * len(Category)
    assert "failed" not in outcomes and result.ret == pytest.ExitCode.OK


def test_the_fixture_gates_a_port_in_a_users_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mine="""
        import pytest
        from pcg_verify import GateFailure


        def test_reference(pcg_gate):
            assert pcg_gate(budget="quick").passed


        def test_bug(pcg_gate):
            with pytest.raises(GateFailure, match="Reproduce: pcg-verify check"):
                pcg_gate("pcg_verify.bugs:mutants.dense_residual_from_draft", budget="quick", seed=1)
    """)
    result = pytester.runpytest("--pcg-in-process", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_without_a_port_nothing_is_collected(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_failing_item_names_its_case_and_the_replay(pytester: pytest.Pytester) -> None:
    # A failing item's message is plain text that a CI log keeps: it names the case and the replay.
    result = pytester.runpytest("--pcg-port", "pcg_verify.bugs:mutants.dense_padding_zero", "--pcg-budget", "quick",
                                "--pcg-in-process", "-p", "no:cacheprovider", "-x")
    text = result.stdout.str()
    # the case's first item fails: with its own evidence (structure) or, for another category, as untested
    # because the case broke the contract ("not tested: ..."), never as a pass
    assert ("structure failed:" in text or "broke the port contract" in text) and \
        "Reproduce: pcg-verify check pcg_verify.bugs:mutants.dense_padding_zero" in text
    assert json.dumps(text)  # nothing but text


@pytest.mark.slow
def test_the_report_of_a_distributed_run_is_the_cli_report(pytester: pytest.Pytester) -> None:
    """--pcg-report under -n 2 collects every case from both workers: same verdicts and tests as the CLI's."""
    from pcg_verify.plugin import PLUGIN_CROSS_PROCESS
    from pcg_verify.reliability import load_results

    directory = pytester.path / "gate-report"
    result = pytester.runpytest_subprocess("--pcg-port", BUG, "--pcg-budget", "quick", "--pcg-seed", "3",
                                           "--pcg-report", str(directory), "-n", "2", "--dist", "loadgroup",
                                           "-p", "no:cacheprovider")
    assert f"pcg gate report: {directory / 'index.html'}" in result.stdout.str()
    run = load_results(directory)["runs"][0]
    cli = run_gate(BUG, budget="quick", seed=3).to_dict()
    assert run["verdict"] == cli["verdict"] == "fail"
    # the same verdicts; the determinism detail says the plugin made no cross-process repeat (run_gate did)
    determinism = run["categories"].pop("determinism"), cli["categories"].pop("determinism")
    assert run["categories"] == cli["categories"]
    assert determinism[0]["verdict"] == determinism[1]["verdict"]
    assert determinism[0]["message"].endswith(PLUGIN_CROSS_PROCESS) and "fresh process" in determinism[1]["message"]
    assert [(t["case_index"], t["law"], t["pvalue"]) for t in run["tests"]] == \
        [(t["case_index"], t["law"], t["pvalue"]) for t in cli["tests"]]
    assert "pcg-verify check pcg_verify.bugs:mutants.dense_shared_uniform --budget quick --seed 3 --case" in \
        (directory / "index.html").read_text(encoding="utf-8")


def test_the_report_directory_is_checked_before_any_case(pytester: pytest.Pytester) -> None:
    (pytester.path / "a-file").write_text("x")
    result = pytester.runpytest("--pcg-port", "pcg_verify.ports:reference_port", "--pcg-report",
                                str(pytester.path / "a-file"), "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--pcg-report=" in result.stderr.str()
    result = pytester.runpytest("--pcg-report", str(pytester.path / "out"), "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR and "--pcg-report needs --pcg-port" in result.stderr.str()
