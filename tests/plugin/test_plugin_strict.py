"""The plugin is as strict as the command line: bad options stop the session before any item runs, and an
item whose category could not be tested never passes.

Sessions run in-process through ``pytester`` (options are checked in
``pytest_configure``, so a refused session runs no case). The gate sessions
use ports that break the contract on their first call, so their outcomes are
deterministic.
"""

from __future__ import annotations

import pytest

import pcg_verify.checks  # noqa: F401  (loaded before pytester's in-process sessions snapshot sys.modules)
from pcg_verify import BUDGETS

#: (option and value, the message of the usage error): refused before any item runs, exit 4.
REFUSED = [
    (["--pcg-port", ""], "--pcg-port='': must not be empty"),
    (["--pcg-port", "pcg_verify.ports:reference_port", "--pcg-seed", "-1"], "--pcg-seed=-1: must be an integer"),
    (["--pcg-port", "pcg_verify.ports:reference_port", "--pcg-deadline", "0"],
     "--pcg-deadline=0.0: must be a finite number of seconds ≥ 5"),
    (["--pcg-port", "pcg_verify.ports:reference_port", "--pcg-call-timeout", "-5"],
     "--pcg-call-timeout=-5.0: must be a finite number of seconds ≥ 5"),
    (["--pcg-port", "pcg_verify.ports:reference_port", "--pcg-call-timeout", "nan"],
     "--pcg-call-timeout=nan: must be a finite number of seconds ≥ 5"),
    (["--pcg-port", "pcg_verify.ports:reference_port", "--pcg-threads", "0"], "--pcg-threads=0: must be an integer"),
    (["--pcg-port", "missing_port.py:port"], "port='missing_port.py:port': no file 'missing_port.py'"),
    (["--pcg-port", "pcg_verify.ports:reference_port", "--pcg-report", "/proc/self/report"],
     "--pcg-report='/proc/self/report': cannot be written"),
    (["--pcg-report", "somewhere"], "--pcg-report needs --pcg-port"),
]


@pytest.mark.parametrize(("options", "message"), REFUSED, ids=[m.split(":")[0] for _, m in REFUSED])
def test_a_bad_option_stops_the_session_before_any_item(pytester: pytest.Pytester, options: list[str],
                                                        message: str) -> None:
    result = pytester.runpytest(*options, "--pcg-budget", "quick", "--pcg-in-process", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert len(result.stderr.lines) < 10  # one line, not a traceback per item
    assert "pcg-gate" not in result.stdout.str()  # no item ran


RAISES = '''
def port(draft_tokens, draft_probs, target_probs, groups, *, generator):
    raise RuntimeError("my kernel is not ready")
'''

NO_LABELS = '''
from pcg_core import verify


def port(draft_tokens, draft_probs, target_probs, groups, *, generator):
    out = verify(draft_tokens, draft_probs, target_probs, groups, generator=generator)
    return out.tokens, None, out.num_accepted
'''


def test_a_port_that_raises_fails_every_item_even_under_a_selection(pytester: pytest.Pytester) -> None:
    """The CLI says *untested* for categories a broken port never reached; the plugin must not say *passed*."""
    pytester.makepyfile(raising_port=RAISES)
    result = pytester.runpytest("--pcg-port", "raising_port.py:port", "--pcg-budget", "quick", "--pcg-in-process",
                                "-k", "guarantee", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=BUDGETS["quick"].cases)
    result.stdout.fnmatch_lines(["*not tested: case 0 broke the port contract, so its guarantee could not be tested*"])


def test_untested_items_are_skipped_with_the_reason_and_a_session_of_only_those_fails(
        pytester: pytest.Pytester) -> None:
    """Without labels the guarantee cannot be observed (except in quick's singleton case 0, where a token's
    group is known): its items skip; a selection of only those gates nothing, and fails."""
    pytester.makepyfile(unlabelled_port=NO_LABELS)
    result = pytester.runpytest("--pcg-port", "unlabelled_port.py:port", "--pcg-budget", "quick",
                                "--pcg-in-process", "-k", "guarantee and not case0", "-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=BUDGETS["quick"].cases - 1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*pcg gate: FAIL: the 7 gate item(s) that ran were all untested*",
                                 "*untested: the port reports no group labels*"])


def test_the_same_port_passes_what_it_can_be_tested_on(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(unlabelled_port=NO_LABELS)
    result = pytester.runpytest("--pcg-port", "unlabelled_port.py:port", "--pcg-budget", "quick",
                                "--pcg-in-process", "-k", "conformance", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=BUDGETS["quick"].cases)
    assert result.ret == pytest.ExitCode.OK
