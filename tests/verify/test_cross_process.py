"""Determinism across processes (pcg_verify._cross_process): one call repeated in a fresh child.

The port of hash_order_port.py is exact in law and repeats itself in one
process, but orders its work by a set of str, so another PYTHONHASHSEED gives
other outputs. The usual child runs with PYTHONHASHSEED=1 and the fresh one
with 2, so every verdict here is deterministic: the chance that 16 strings
iterate in the same order under two hash seeds (and the check misses) only
arises for the in-process run, whose hash seed is this process's (random
unless set), and is below 1e-9.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pcg_verify import Category, Verdict, run_gate
from pcg_verify._cross_process import FRESH_HASH_SEED, cross_process_check, fresh_child
from pcg_verify.ports import ExecPort, IsolatedPort, LoadedPort
from pcg_verify.ports._process import CHILD_ENVIRONMENT

HASH_ORDER_PORT = f"{Path(__file__).with_name('hash_order_port.py')}:port"
#: A program that names itself after its PYTHONHASHSEED in its handshake, then reads until its input ends.
ECHO_HASH_SEED = ["sh", "-c", 'read hello; echo "PCG-PORT 1 hash$PYTHONHASHSEED float64 cpu"; cat >/dev/null']


def _determinism(isolate: bool, port: object = HASH_ORDER_PORT) -> tuple[bool, Verdict, str, tuple[str, ...]]:
    report = run_gate(port, budget="quick", seed=0, case=0, isolate=isolate)  # type: ignore[arg-type]
    verdict = report.categories[Category.DETERMINISM]
    assert report.categories[Category.STRUCTURE].verdict == Verdict.PASS
    return report.passed, verdict.verdict, verdict.message, verdict.failures


@pytest.mark.parametrize("isolate", [True, False], ids=["isolated worker", "in-process, by import path"])
def test_a_port_whose_order_follows_string_hashing_fails_determinism_across_processes(isolate: bool) -> None:
    passed, verdict, message, failures = _determinism(isolate)
    assert not passed and verdict == Verdict.FAIL and message == "outputs differ between processes"
    assert len(failures) == 1  # the per-case checks, inside one process, pass
    usual = "PYTHONHASHSEED=1" if isolate else "this process's"
    assert failures[0].startswith("case 0: cross-process determinism: the first call of case 0 (")
    assert f"in a fresh process with PYTHONHASHSEED={FRESH_HASH_SEED} than under {usual}" in failures[0]
    assert failures[0].endswith(f"Reproduce: pcg-verify check {HASH_ORDER_PORT} --budget quick --seed 0 --case 0")


def test_the_same_port_as_a_bare_callable_passes_within_one_process_and_says_what_was_not_checked() -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        from hash_order_port import port
    finally:
        sys.path.remove(str(Path(__file__).parent))
    passed, verdict, message, _ = _determinism(False, lambda *a, **k: port(*a, **k))
    assert passed and verdict == Verdict.PASS
    assert message.startswith("identical outputs under one seed in 1 case(s); not checked across processes: a port "
                              "given as a callable object cannot be loaded in a fresh process")


def test_a_deterministic_isolated_port_is_identical_in_a_fresh_process() -> None:
    passed, verdict, message, _ = _determinism(True, "pcg_verify.ports:reference_port")
    assert passed and verdict == Verdict.PASS
    assert message.endswith(f"identical in a fresh process with PYTHONHASHSEED={FRESH_HASH_SEED} "
                            "(usual: PYTHONHASHSEED=1)")


def test_the_built_in_reference_in_this_process_is_not_rerun_and_the_verdict_says_so() -> None:
    passed, _, message, _ = _determinism(False, "pcg_verify.ports:reference_port")
    assert passed and message.endswith("not checked across processes: a built-in port (pcg_core's sampler, which "
                                       "draws only from the generator), run in this process")


def test_the_usual_and_the_fresh_child_get_their_hash_seeds_explicitly_and_the_gate_s_environment_is_kept() -> None:
    before = os.environ.get("PYTHONHASHSEED")
    with ExecPort(ECHO_HASH_SEED, call_timeout=10, deadline=60) as usual:
        usual.start()
        made = fresh_child(LoadedPort(usual, "echo", "exec:echo", owned=usual))
        assert made is not None and isinstance(made[0], ExecPort)
        fresh, described = made
        with fresh:
            fresh.start()
            assert usual.hello is not None and fresh.hello is not None
            names = (usual.hello.name, fresh.hello.name)
    assert CHILD_ENVIRONMENT == {"PYTHONHASHSEED": "1"} and described == "PYTHONHASHSEED=1"
    assert names == ("hash1", f"hash{FRESH_HASH_SEED}")
    assert fresh.argv == ECHO_HASH_SEED and fresh.call_timeout == 10
    assert fresh.deadline_seconds is not None and fresh.deadline_seconds <= 60
    assert os.environ.get("PYTHONHASHSEED") == before


def test_a_fresh_child_is_a_worker_for_a_python_port_and_none_for_a_bare_callable() -> None:
    made = fresh_child(LoadedPort(lambda *a, **k: None, "anonymous", None))
    assert made is None
    made = fresh_child(LoadedPort(print, "by path", "tests/verify/hash_order_port.py:port"))
    assert made is not None and isinstance(made[0], IsolatedPort)
    assert made[0].spec == "tests/verify/hash_order_port.py:port" and made[0].env["PYTHONHASHSEED"] in ("2", "3")


def test_the_check_is_skipped_and_said_so_when_no_case_ran_the_deadline_passed_or_the_port_hung() -> None:
    none: Any = []
    kept: Any = [SimpleNamespace(index=0, observations=SimpleNamespace(first_call=(None, 0, None)))]
    with ExecPort(ECHO_HASH_SEED, deadline=0) as late, ExecPort(ECHO_HASH_SEED) as hung:
        hung.hung = "no answer within 5 s while answering request 1"
        outcomes = [cross_process_check(LoadedPort(port, "echo", "exec:echo", owned=port), results)
                    for port, results in ((hung, none), (late, kept), (hung, kept))]
        assert late.starts == hung.starts == 0  # nothing was started for a check that does not run
    assert [o.note for o in outcomes] == [f"not checked across processes: {why}" for why in (
        "no case kept the contract", "the run's deadline had passed", "the port already hung")]
    assert all(o.failure is None and o.case_index is None for o in outcomes)
