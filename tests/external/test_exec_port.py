"""ExecPort, one request at a time: answers, groups sent once, restarts, and every failure named.

Each broken example (C and Python, one flag each) must end its call with its
own specific PortProtocolError within its time limit, and leave no process
behind that could answer the next call from a broken stream. Failures to
start the first time are InvalidArgumentError (the gate exits 2). Everything
here is deterministic: no sampling decides a verdict.
"""

from __future__ import annotations

import gc
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from pcg_core import Groups, verify
from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_verify.ports import ExecPort, PortProtocolError, copy_groups, load_port, parse_exec_spec
from pcg_verify.ports._exec import seed_of

VOCAB, BATCH, GAMMA = 10, 2, 2


def shifted_groups(shift: int = 0) -> Groups:
    """Overlapping groups over 10 ids ({0,1,2}, {2,3}, {3,4,5,6}, {6,7}, {7,8,9}, {9}), ids rotated by ``shift``."""
    members = [[0, 1, 2], [2, 3], [3, 4, 5, 6], [6, 7], [7, 8, 9], [9]]
    rotated = [sorted((t + shift) % VOCAB for t in group) for group in members]
    ptr = torch.tensor(np.cumsum([0] + [len(g) for g in rotated]), dtype=torch.int64)
    return Groups.from_memberships(VOCAB, ptr, torch.tensor([t for g in rotated for t in g], dtype=torch.int32))


def inputs(seed: int = 0, dtype: torch.dtype = torch.float64, vocab: int = VOCAB,
           batch: int = BATCH) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """draft_tokens int64 [B, γ] drawn from draft_probs [B, γ, V]; target_probs [B, γ+1, V]."""
    generator = torch.Generator().manual_seed(seed)
    draft = torch.rand(batch, GAMMA, vocab, generator=generator, dtype=torch.float64) + 0.05
    target = torch.rand(batch, GAMMA + 1, vocab, generator=generator, dtype=torch.float64) + 0.05
    draft, target = draft / draft.sum(-1, keepdim=True), target / target.sum(-1, keepdim=True)
    tokens = torch.multinomial(draft.reshape(-1, vocab), 1, generator=generator).reshape(batch, GAMMA)
    return tokens, draft.to(dtype), target.to(dtype)


def call(port: Callable[..., Any], seed: int = 7, groups: Groups | None = None, **kwargs: Any) -> Any:
    return port(*inputs(**kwargs), groups if groups is not None else shifted_groups(),
                generator=torch.Generator().manual_seed(seed))


def assert_well_formed(out: tuple[torch.Tensor, torch.Tensor | None, torch.Tensor], batch: int = BATCH) -> None:
    tokens, labels, accepted = out
    assert tokens.dtype == accepted.dtype == torch.int64
    assert tokens.shape == (batch, GAMMA + 1) and accepted.shape == (batch,)
    assert labels is not None and labels.shape == tokens.shape
    for b in range(batch):
        a = int(accepted[b])
        assert 0 <= a <= GAMMA and bool((tokens[b, : a + 1] >= 0).all()) and bool((tokens[b, a + 1 :] == -1).all())


@pytest.fixture(params=["c", "python"])
def example(request: pytest.FixtureRequest) -> list[str]:
    """The command line of each example port (C built with cc, Python under this interpreter)."""
    if request.param == "c":
        return [str(request.getfixturevalue("c_port"))]
    return list(request.getfixturevalue("python_port"))


# ---------------------------------------------------------------------------- answers
def test_each_example_answers_and_repeats_itself_under_one_seed(example: list[str]) -> None:
    with ExecPort(example) as port:
        first, again = call(port), call(port)
        assert_well_formed(first)
        assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
        assert port.hello is not None and port.hello.version == 1 and "float64" in port.hello.dtypes
        assert (port.starts, port.requests, port.groups_sent) == (1, 2, 1)
        for dtype in (torch.float32, torch.float16, torch.bfloat16):  # as such where announced, else as float64
            assert_well_formed(call(port, dtype=dtype))


def test_the_python_example_returns_exactly_what_pcg_core_returns(python_port: list[str]) -> None:
    groups = shifted_groups()
    with ExecPort(python_port) as port:
        for dtype in (torch.float64, torch.bfloat16):  # it announces bfloat16: the raw 16-bit patterns travel
            tokens, draft, target = inputs(dtype=dtype)
            expected = verify(tokens, draft, target, groups, generator=torch.Generator().manual_seed(7))
            got = port(tokens, draft, target, groups, generator=torch.Generator().manual_seed(7))
            assert all(torch.equal(a, b) for a, b in zip(got, expected, strict=True))


def test_the_c_example_returns_exactly_what_its_library_returns(c_port: Path,
                                                               c_inprocess: Callable[..., Any]) -> None:
    with ExecPort([str(c_port)]) as port:
        for seed, dtype in ((0, torch.float64), (1, torch.float64), (2**64 - 1, torch.float64), (3, torch.bfloat16)):
            piped, direct = call(port, seed=seed, dtype=dtype), call(c_inprocess, seed=seed, dtype=dtype)
            assert all(torch.equal(a, b) for a, b in zip(piped, direct, strict=True))  # bfloat16: sent as float64


def test_a_port_sees_a_fresh_generator_s_own_seed_and_a_used_one_s_draw() -> None:
    fresh = torch.Generator().manual_seed(12345)
    assert seed_of(fresh) == 12345
    used, twin = torch.Generator().manual_seed(12345), torch.Generator().manual_seed(12345)
    torch.rand(3, generator=used), torch.rand(3, generator=twin)
    drawn = seed_of(used)
    assert drawn != 12345 and drawn == seed_of(twin) and 0 <= drawn < 2**63


def test_one_generator_passed_to_every_call_sends_a_new_seed_each_call_and_replays_exactly(
        python_port: list[str]) -> None:
    """A decode loop: one generator for every call. Each request draws its seed from it (advancing it), so
    the seeds differ call by call; the same loop from the same seed replays them, and the outputs, exactly."""
    seeds = [seed_of(generator) for generator in [torch.Generator().manual_seed(5)] for _ in range(4)]
    assert seeds[0] == 5 and len(set(seeds)) == 4
    assert seeds == [seed_of(generator) for generator in [torch.Generator().manual_seed(5)] for _ in range(4)]
    groups, (tokens, draft, target) = shifted_groups(), inputs()
    with ExecPort(python_port) as port:
        loops = [[port(tokens, draft, target, groups, generator=generator) for _ in range(4)]
                 for generator in (torch.Generator().manual_seed(5), torch.Generator().manual_seed(5))]
    expected = [verify(tokens, draft, target, groups, generator=torch.Generator().manual_seed(seed)) for seed in seeds]
    for loop in loops:  # the python example runs pcg_core.verify under manual_seed(the request's seed)
        assert all(torch.equal(a, b) for got, want in zip(loop, expected, strict=True)
                   for a, b in zip(got, want, strict=True))


# ---------------------------------------------------------------------------- groups and restarts
def test_groups_travel_once_per_distinct_object_and_at_most_32_live(c_port: Path) -> None:
    groups = shifted_groups()
    with ExecPort([str(c_port)]) as port:
        for seed in range(3):  # the gate hands every call a fresh copy: content decides, not identity
            assert_well_formed(call(port, seed=seed, groups=copy_groups(groups)))
        assert port.groups_sent == 1
        for shift in range(1, 40):  # 39 more distinct structures: the C example refuses a 33rd live one
            assert_well_formed(call(port, groups=shifted_groups(shift % VOCAB) if shift < VOCAB else
                                    perturbed_groups(shift)))
        assert port.groups_sent == 40
        assert_well_formed(call(port, groups=groups))  # freed by now: sent again
        assert (port.groups_sent, port.starts) == (41, 1)


def perturbed_groups(seed: int) -> Groups:
    """``shifted_groups()`` with random positive weights: another structure over the same memberships."""
    base = shifted_groups()
    weights = torch.from_numpy(np.random.default_rng(seed).uniform(0.5, 2.0, base.nnz))
    return Groups.from_memberships(VOCAB, base.group_ptr, base.group_members, weights)


def _structure_messages(port: ExecPort, structures: list[Groups]) -> list[tuple[str, int]]:
    """The (GROUPS or FREE, gid) lines the port queues for requests on ``structures``, in order (no process)."""
    messages = []
    for groups in structures:
        frames: list[bytes | memoryview] = []
        port._groups_id(groups, frames)
        for frame in frames:
            if isinstance(frame, bytes) and frame.split(b" ")[0].rstrip(b"\n") in (b"GROUPS", b"FREE"):
                kind, gid = frame.decode("ascii").split()[:2]
                messages.append((kind, int(gid)))
    return messages


def test_structure_ids_exercise_every_clause_of_the_protocol() -> None:
    """docs/protocol.md, "Structure ids": large, not sequential, equal modulo 2**16, a freed id reused for
    another structure, frees out of the order of sending, more live than 8 slots, at most 32."""
    structures = [perturbed_groups(seed) for seed in range(40)]
    with ExecPort(["unused"]) as port:
        messages = _structure_messages(port, structures + structures[:1])
    sent = [gid for kind, gid in messages if kind == "GROUPS"]
    freed = [gid for kind, gid in messages if kind == "FREE"]
    assert freed and set(freed) <= set(sent), "more structures than the program may hold are freed"
    assert all(gid >= 2**16 for gid in sent) and len({gid % 2**16 for gid in sent}) == 1
    assert sorted(sent) != sent and sorted(sent, reverse=True) != sent
    assert any(gid in sent[:i] for i, gid in enumerate(sent)), "a freed id must name a new structure"
    live: dict[int, int] = {}  # gid → the index of the GROUPS message that made it live
    freed_order, most = [], 0
    for index, (kind, gid) in enumerate(messages):
        if kind == "GROUPS":
            assert gid not in live, f"id {gid} reused while live"
            live[gid] = index
        else:
            freed_order.append(live.pop(gid))
        most = max(most, len(live))
    assert freed_order != sorted(freed_order), "frees must not follow the order of sending"
    assert 8 < most <= 32
    assert port.groups_sent == 41  # the first structure was freed by the time it came again


@pytest.mark.parametrize(("slots", "fails"), [(8, True), (0, False)], ids=["gid % 8 slots", "keyed by gid"])
def test_a_program_that_keeps_structures_in_slots_by_gid_mod_8_breaks_the_structure_id_clause(
        slots: int, fails: bool) -> None:
    program = [sys.executable, str(Path(__file__).with_name("slot_port.py")), str(slots)]
    with ExecPort(program) as port:
        if fails:
            with pytest.raises(PortProtocolError, match=r"label 6 exists only in structure \d+, sent after "
                                                         r"structure \d+ .*breaks the structure-id clause"):
                call(port)
        else:
            for shift in (0, 1, 2, 0, 1):  # interleaved requests on several live structures
                assert_well_formed(call(port, groups=shifted_groups(shift)))


def test_a_crash_restarts_the_process_and_resends_the_groups(c_port: Path) -> None:
    with ExecPort([str(c_port), "--crash-on", "2"]) as port:
        assert_well_formed(call(port))
        with pytest.raises(PortProtocolError, match=r"(?s)exited with status 3 while answering request 2 .*"
                                                     r"simulated crash on request 2"):
            call(port)
        assert_well_formed(call(port))
        assert (port.starts, port.groups_sent) == (2, 2)


def test_a_restart_that_fails_is_a_verdict_not_a_usage_error(tmp_path: Path) -> None:
    script = (f'if [ -e {tmp_path}/started ]; then echo "cannot start twice" >&2; exit 4; fi; '
              f'touch {tmp_path}/started; read hello; echo "PCG-PORT 1 once float64 cpu"; exit 5')
    with ExecPort(["sh", "-c", script]) as port:
        port.start()
        assert port._child.process is not None
        port._child.process.popen.wait(timeout=60)  # the event: the first process has exited after its handshake
        with pytest.raises(PortProtocolError, match=r"(?s)could not be restarted: the process exited with status 4 "
                                                     r"before its handshake.*cannot start twice"):
            call(port)


def test_the_overall_deadline_stops_a_hanging_port_and_every_call_after_it(c_port: Path) -> None:
    with ExecPort([str(c_port), "--hang"], deadline=1.5) as port:
        with pytest.raises(PortProtocolError, match=r"overall deadline of 1.5 s ran out while answering request 1"):
            call(port)
        with pytest.raises(PortProtocolError, match=r"overall deadline of 1.5 s ran out$"):
            call(port)


def test_a_port_that_never_reads_a_large_request_times_out_instead_of_blocking_the_gate() -> None:
    script = 'read hello; echo "PCG-PORT 1 deaf float64 cpu"; sleep 30'
    with ExecPort(["sh", "-c", script], call_timeout=1.0) as port:
        groups = Groups.from_memberships(4096, torch.arange(4097), torch.arange(4096, dtype=torch.int32))
        with pytest.raises(PortProtocolError,
                           match=r"no answer within 1 s \(--call-timeout\) while answering request 1"):
            call(port, groups=groups, vocab=4096, batch=64)  # 10 MB of probabilities: far more than a pipe holds


def test_closing_or_dropping_the_port_ends_its_process(c_port: Path) -> None:
    port = ExecPort([str(c_port)]).start()
    process = port._child.process
    assert process is not None
    port.close()
    assert process.popen.returncode == 0  # it got BYE and exited by itself
    assert_well_formed(call(port))  # a later call starts afresh
    pid = port._child.process.popen.pid  # type: ignore[union-attr]
    del port
    gc.collect()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


# ---------------------------------------------------------------------------- the broken examples
BROKEN = [
    ("--crash", r"the port process exited with status 3 while answering request 1 \(a port must answer every "
                r"request\); its last stderr lines:\n.*simulated crash on request 1"),
    ("--segfault", r"the port process was killed by signal SIGSEGV while answering request 1"),
    ("--hang", r"no answer within 1 s \(--call-timeout\) while answering request 1: the port process was killed"),
    ("--garbage", r"malformed response to request 1: expected 'RESPONSE 1 <2 or 3>' or 'ERROR 1 <message>', "
                  r"got b'this is not a response'"),
    ("--wrong-shape", r"wrong shape in the response to request 1: tokens must have shape \[2, 3\], got \[2, 2\]"),
    ("--wrong-dtype", r"wrong dtype in the response to request 1: tokens must be int64, got float64"),
    ("--bad-ids", r"ids out of range in the response to request 1: tokens\[0, [0-2]\] = 10, outside \[-1, 9\]"),
    ("--error", r"the port answered request 1 with an error: simulated refusal"),
]


@pytest.mark.parametrize(("flag", "message"), BROKEN, ids=[flag for flag, _ in BROKEN])
def test_each_broken_example_gets_its_own_error(example: list[str], flag: str, message: str) -> None:
    limit = 1.0 if flag == "--hang" else 60.0
    with ExecPort([*example, flag], call_timeout=limit) as port:
        port.start()
        with pytest.raises(PortProtocolError) as caught:
            call(port)
        assert re.search(message, str(caught.value), flags=re.S), str(caught.value)
        if flag == "--error":  # a refusal leaves the stream in step: the same process answers again
            with pytest.raises(PortProtocolError, match="request 2 with an error"):
                call(port)
            assert port.starts == 1
        else:  # anything else: the process is gone, the next call starts a fresh one
            assert port._child.process is None


# ---------------------------------------------------------------------------- malformed answers, scripted
def _array(name: str, values: np.ndarray[Any, Any], dtype: str = "int64") -> bytes:
    header = f"{name} {dtype} {values.ndim}" + "".join(f" {d}" for d in values.shape) + "\n"
    return header.encode() + values.astype({"int64": "<i8", "int32": "<i4", "float64": "<f8"}[dtype]).tobytes()


_TOKENS, _LABELS, _ACCEPTED = np.array([[1, 2, -1], [3, -1, -1]]), np.array([[0, 0, -1], [1, -1, -1]]), np.array([1, 0])
SCRIPTED = {
    "wrong request id": (b"RESPONSE 9 3\n", r"expected 'RESPONSE 1 <2 or 3>'.*got b'RESPONSE 9 3'"),
    "four arrays": (b"RESPONSE 1 4\n", r"expected 'RESPONSE 1 <2 or 3>'"),
    "unknown array": (b"RESPONSE 1 3\n" + _array("labels", _LABELS), r"'labels' is an unknown array"),
    "array twice": (b"RESPONSE 1 3\n" + _array("tokens", _TOKENS) * 2, r"'tokens' is twice"),
    "bad header": (b"RESPONSE 1 3\ntokens int64 two 2 3\n", r"expected an array header"),
    "unknown dtype": (b"RESPONSE 1 3\ntokens int8 2 2 3\n", r"dtype 'int8', not one of"),
    "ndim and dims disagree": (b"RESPONSE 1 3\ntokens int64 3 2 3\n", r"ndim 3 with dims \[2, 3\]"),
    "int32 labels": (b"RESPONSE 1 3\n" + _array("tokens", _TOKENS) + _array("group_ids", _LABELS, "int32"),
                     r"wrong dtype .*group_ids must be int64, got int32"),
    "no num_accepted": (b"RESPONSE 1 2\n" + _array("tokens", _TOKENS) + _array("group_ids", _LABELS),
                        r"it lacks num_accepted"),
    "label out of range": (b"RESPONSE 1 3\n" + _array("tokens", _TOKENS) + _array("group_ids", _LABELS + 6)
                           + _array("num_accepted", _ACCEPTED), r"ids out of range .*group_ids\[0, 0\] = 6, "
                                                                r"outside \[-1, 5\]"),
    "num_accepted above gamma": (b"RESPONSE 1 2\n" + _array("tokens", _TOKENS) + _array("num_accepted", _ACCEPTED + 2),
                                 r"ids out of range .*num_accepted\[0\] = 3, outside \[0, 2\]"),
    "endless line": (b"x" * 5000, r"no line end within 4096 bytes; it starts b'xxxx"),
    "answer cut short": (b"RESPONSE 1 3\n" + _array("tokens", _TOKENS)[:-5],
                         r"no answer within 2 s \(--call-timeout\) while answering request 1"),
}


@pytest.mark.parametrize("case", list(SCRIPTED))
def test_each_malformed_answer_is_named(scripted_port: list[str], case: str) -> None:
    answer, message = SCRIPTED[case]
    with ExecPort([*scripted_port, answer.hex()], call_timeout=2.0) as port:
        with pytest.raises(PortProtocolError, match=message):
            call(port)
        assert port._child.process is None


def test_a_well_formed_scripted_answer_passes_the_boundary_checks(scripted_port: list[str]) -> None:
    answer = b"RESPONSE 1 2\n" + _array("num_accepted", _ACCEPTED) + _array("tokens", _TOKENS)  # any order
    with ExecPort([*scripted_port, answer.hex()]) as port:
        tokens, labels, accepted = call(port)
    assert labels is None and tokens.tolist() == _TOKENS.tolist() and accepted.tolist() == [1, 0]


# ---------------------------------------------------------------------------- the first start
HANDSHAKES = {
    "missing program": (["/nonexistent/pcg_port"], r"cannot run '/nonexistent/pcg_port'"),
    "exits at once": (["true"], r"the process exited with status 0 before its handshake"),
    "silent": (["sleep", "30"], r"no handshake line within 1 s"),
    "not a handshake": (["echo", "hello"], r"malformed handshake: expected 'PCG-PORT 1 <name> <dtypes> <devices>', "
                                           r"got b'hello'"),
    "floods stdout": (["yes"], r"malformed handshake: expected"),
    "no float64": (["sh", "-c", 'read l; echo "PCG-PORT 1 p float32 cpu"; cat'], r"float64 \(required\)"),
    "bad name": (["sh", "-c", 'read l; echo "PCG-PORT 1 my/port float64 cpu"; cat'], r"port name 'my/port' must"),
}


@pytest.mark.parametrize("case", list(HANDSHAKES))
def test_a_program_that_does_not_start_as_a_port_stops_the_gate(case: str) -> None:
    argv, message = HANDSHAKES[case]
    with ExecPort(argv, start_timeout=1.0) as port:
        with pytest.raises(InvalidArgumentError, match=r"port='exec:.*did not start as a pcg-port program: .*"
                           + message):
            port.start()
        assert port._child.process is None


def test_a_bad_handshake_of_either_example_stops_the_gate(example: list[str]) -> None:
    with pytest.raises(InvalidArgumentError, match=r"speaks protocol version '99'; this gate speaks version 1"):
        load_port("exec:" + " ".join(example) + " --bad-handshake")


# ---------------------------------------------------------------------------- arguments
INVALID: list[tuple[Callable[[], Any], type[Exception], str]] = [
    (lambda: ExecPort(""), InvalidArgumentError, r"command='': names no program"),
    (lambda: ExecPort("prog 'unclosed"), InvalidArgumentError, r"command=.*cannot be split like a shell line"),
    (lambda: ExecPort([]), InvalidTypeError, r"command=\[\]: must be a command line"),
    (lambda: ExecPort(["prog", 3]), InvalidTypeError, r"command=.*must be a command line"),
    (lambda: ExecPort(5), InvalidTypeError, r"command=5"),  # type: ignore[arg-type]
    (lambda: ExecPort("prog", call_timeout=-1), InvalidArgumentError, r"call_timeout=-1: must lie"),
    (lambda: ExecPort("prog", call_timeout="9"), InvalidTypeError, r"call_timeout='9': must be a real number"),
    (lambda: ExecPort("prog", start_timeout=float("nan")), InvalidArgumentError, r"start_timeout=nan: must be finite"),
    (lambda: ExecPort("prog", deadline=-0.5), InvalidArgumentError, r"deadline=-0.5: must lie"),
    (lambda: parse_exec_spec("prog"), InvalidArgumentError, r"port='prog': an external port spec starts with"),
    (lambda: parse_exec_spec("exec:  "), InvalidArgumentError, r"port='exec:  ': names no program"),
    (lambda: load_port("exec:"), InvalidArgumentError, r"port='exec:': names no program"),
    (lambda: ExecPort("prog")(*inputs(), "groups", generator=torch.Generator()), InvalidTypeError,
     r"groups='groups': must be a pcg_core.Groups"),
    (lambda: ExecPort("prog")(*inputs(), shifted_groups(), generator=None), InvalidTypeError, r"generator=None"),
]


@pytest.mark.parametrize(("make", "error", "message"), INVALID, ids=[m for _, _, m in INVALID])
def test_invalid_arguments_name_the_argument(make: Callable[[], Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        make()
