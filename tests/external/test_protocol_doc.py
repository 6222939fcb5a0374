"""docs/protocol.md's worked exchange is what the gate sends and what it reads, byte for byte.

The page shows the exchange as lines (``>`` from the gate, ``<`` from the
program) with binary payloads written ``[N bytes: dtype v0 v1 ...]``. The
gate's half must equal the encoder's bytes for the same groups, request and
seed; the program's half, replayed through a scripted program, must decode
to the outputs the page states.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from pcg_core import Groups
from pcg_verify.ports import ExecPort
from pcg_verify.ports._wire import MAGIC, PROTOCOL_VERSION, groups_frames, parse_hello, request_frames

REPO = Path(__file__).resolve().parents[2]
_PAYLOAD = re.compile(r"\[(?P<n>\d+) bytes: (?P<dtype>\w+)(?P<values>( \S+)*)\]")
_NUMPY = {"int32": "<i4", "int64": "<i8", "float64": "<f8"}


def exchange() -> tuple[bytes, bytes, str]:
    """(gate's bytes, program's bytes, the program's handshake line) as the page writes them."""
    text = (REPO / "docs" / "protocol.md").read_text(encoding="utf-8")
    block = text.split("## A worked exchange", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    sides: dict[str, bytearray] = {">": bytearray(), "<": bytearray()}
    lines = block.splitlines()
    for line in lines:
        side, body = line[0], line[2:]
        payload = _PAYLOAD.fullmatch(body)
        if payload:
            values = [float(v) if payload["dtype"].startswith("float") else int(v) for v in payload["values"].split()]
            data = np.array(values, dtype=_NUMPY[payload["dtype"]]).tobytes()
            assert len(data) == int(payload["n"]), line
            sides[side] += data
        else:
            sides[side] += body.encode("ascii") + b"\n"
    hello = next(line[2:] for line in lines if line.startswith("< PCG-PORT"))
    return bytes(sides[">"]), bytes(sides["<"]), hello


def example() -> tuple[Groups, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The page's groups (G_0 = {0, 1}, G_1 = {1, 2, 3}, equal weights) and its one-row request."""
    groups = Groups.from_memberships(4, torch.tensor([0, 2, 5]), torch.tensor([0, 1, 1, 2, 3], dtype=torch.int32))
    draft = torch.tensor([[[0.1, 0.6, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25]]], dtype=torch.float64)
    target = torch.tensor([[[0.2, 0.3, 0.4, 0.1], [0.7, 0.1, 0.1, 0.1], [0.25] * 4]], dtype=torch.float64)
    return groups, torch.tensor([[1, 3]]), draft, target


def test_the_gate_s_half_of_the_worked_exchange_is_the_encoder_s_bytes() -> None:
    groups, tokens, draft, target = example()
    frames = [f"{MAGIC} {PROTOCOL_VERSION}\n".encode(), *groups_frames(1, groups),
              *request_frames(1, 1, 42, tokens, draft, target), b"BYE\n"]
    sent, _, _ = exchange()
    assert b"".join(bytes(f) for f in frames) == sent


def test_the_hex_the_page_quotes_is_group_ptr_s_payload() -> None:
    text = (REPO / "docs" / "protocol.md").read_text(encoding="utf-8")
    quoted = re.search(r"`((?:[0-9a-f]{8} ?){6})`", text)
    assert quoted and bytes.fromhex(quoted[1].replace(" ", "")) == bytes(groups_frames(1, example()[0])[2])


def test_the_program_s_half_of_the_worked_exchange_decodes_to_the_outputs_it_states(
        scripted_port: list[str]) -> None:
    _, answered, hello = exchange()
    assert parse_hello(hello.encode()).dtypes == ("float64", "float32")
    response = answered.split(b"\n", 1)[1]  # the handshake is the scripted program's own
    groups, tokens, draft, target = example()
    with ExecPort([*scripted_port, response.hex()]) as port:
        out = port(tokens, draft, target, groups, generator=torch.Generator().manual_seed(42))
    assert [x.tolist() for x in out] == [[[1, 0, -1]], [[1, 0, -1]], [1]]
