#!/usr/bin/env python3
"""A PCG port in Python that speaks the pcg-port protocol, version 1, on stdin/stdout (docs/protocol.md).

It implements the protocol from its text alone (NumPy and the standard
library; nothing from ``pcg_verify``), and verifies each request with
``pcg_core.verify`` under ``torch.Generator().manual_seed(seed)``: the same
algorithm and the same seed as the gate's in-process reference port, so its
outputs through the pipe equal the reference's bit for bit.

Run it under the gate::

    pcg-verify check --exec "python examples/ports/python_port.py" --budget standard

Flags that break it on purpose (the same as the C example's), so the gate's
handling of each failure can be tested: ``--crash``, ``--crash-on N``,
``--segfault``, ``--hang``, ``--garbage``, ``--wrong-shape``,
``--wrong-dtype``, ``--bad-ids``, ``--error``, ``--bad-handshake``,
``--ignore-seed``, ``--accept-all``, ``--no-labels``. torch is imported at
the first request, so the handshake comes at once; it runs on ``--threads N``
threads (1 by default, as the gate runs an in-process port).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from typing import Any, BinaryIO

import numpy as np

VERSION = 1
NAME = "pcg_python_example"
#: Wire dtypes; bfloat16 (no NumPy type) is read as its raw 16-bit patterns and viewed as torch.bfloat16.
DTYPES = {"int32": np.dtype("<i4"), "int64": np.dtype("<i8"), "float32": np.dtype("<f4"),
          "float64": np.dtype("<f8"), "float16": np.dtype("<f2"), "bfloat16": np.dtype("<i2")}
GROUP_ARRAYS = ("group_ptr", "group_members", "group_weights", "token_ptr", "token_groups", "token_weights")


def fail(message: str) -> None:
    """A stream this port cannot follow: say why on stderr and exit (the gate reports both)."""
    print(f"python_port: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def read_line(stream: BinaryIO) -> list[str] | None:
    """The next header line's fields, or None at the end of input."""
    line = stream.readline(4097)
    if not line:
        return None
    if not line.endswith(b"\n"):
        fail("a header line without its end")
    return line[:-1].decode("ascii").split(" ")


def read_array(stream: BinaryIO, name: str) -> tuple[np.ndarray[Any, Any], str]:
    """``<name> <dtype> <ndim> <dims...>`` and its raw little-endian bytes: (array, wire dtype)."""
    fields = read_line(stream)
    if fields is None or len(fields) < 3 or fields[0] != name or fields[1] not in DTYPES:
        fail(f"expected array {name}, got {fields}")
    assert fields is not None
    dtype, shape = DTYPES[fields[1]], tuple(int(d) for d in fields[3:])
    if len(shape) != int(fields[2]):
        fail(f"array {name}: ndim {fields[2]} but dims {shape}")
    data = bytearray(dtype.itemsize * int(np.prod(shape)))  # writable, so torch.from_numpy can share it
    if stream.readinto(data) != len(data):
        fail(f"the input ended inside array {name}")
    return np.frombuffer(data, dtype=dtype).reshape(shape), fields[1]


def write_array(out: BinaryIO, name: str, array: np.ndarray[Any, Any]) -> None:
    wire = {np.dtype(np.int64): "int64", np.dtype(np.float64): "float64"}[array.dtype]
    dims = "".join(f" {d}" for d in array.shape)
    out.write(f"{name} {wire} {array.ndim}{dims}\n".encode("ascii"))
    out.write(np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes())


def verify(groups: dict[str, Any], arrays: list[tuple[np.ndarray[Any, Any], str]], seed: int,
           args: argparse.Namespace) -> tuple[np.ndarray[Any, Any], ...]:
    """pcg_core.verify on the request: (tokens [B, γ+1], group_ids [B, γ+1], num_accepted [B])."""
    import torch

    from pcg_core import Groups, verify

    torch.set_num_threads(args.threads)

    def tensor(array: np.ndarray[Any, Any], dtype: str) -> torch.Tensor:
        return torch.from_numpy(array).view(torch.bfloat16) if dtype == "bfloat16" else torch.from_numpy(array)

    built = Groups(vocab_size=groups["vocab_size"], num_groups=groups["num_groups"],
                   **{name: tensor(*groups[name]) for name in GROUP_ARRAYS})
    draft_tokens, draft, target = (tensor(*a) for a in arrays)
    if args.accept_all:  # a port that lies: the draft's own distribution as the target, so every draft is accepted
        target = torch.cat([draft, target[:, -1:]], dim=1)
    out = verify(draft_tokens, draft, target, built, generator=torch.Generator().manual_seed(seed))
    assert out.group_ids is not None
    return out.tokens.numpy(), out.group_ids.numpy(), out.num_accepted.numpy()


def serve(args: argparse.Namespace, stream: BinaryIO, out: BinaryIO) -> None:
    """The protocol's loop: handshake, then GROUPS / FREE / REQUEST / BYE until the input ends."""
    hello = read_line(stream)
    if hello is None:
        return
    if hello != ["PCG-PORT", str(VERSION)]:
        fail(f"the gate does not speak protocol version {VERSION}: {hello}")
    dtypes = "float64,float32,float16,bfloat16"  # all that pcg_core.verify takes, so no call is converted
    out.write(f"PCG-PORT {99 if args.bad_handshake else VERSION} {NAME} {dtypes} cpu\n".encode("ascii"))
    out.flush()
    groups: dict[int, dict[str, Any]] = {}
    served = 0
    while (fields := read_line(stream)) is not None:
        kind = fields[0]
        if kind == "BYE":
            return
        if kind == "FREE":
            groups.pop(int(fields[1]), None)
        elif kind == "GROUPS":
            gid, vocab, num_groups = int(fields[1]), int(fields[2]), int(fields[3])
            groups[gid] = {"vocab_size": vocab, "num_groups": num_groups,
                           **{name: read_array(stream, name) for name in GROUP_ARRAYS}}
        elif kind == "REQUEST":
            served += 1
            rid, gid, seed = int(fields[1]), int(fields[2]), int(fields[3])
            arrays = [read_array(stream, name) for name in ("draft_tokens", "draft_probs", "target_probs")]
            answer(args, out, served, rid, groups.get(gid), seed, arrays)
        else:
            fail(f"unknown message {kind[:80]!r}")


def answer(args: argparse.Namespace, out: BinaryIO, served: int, rid: int, groups: dict[str, Any] | None, seed: int,
           arrays: list[tuple[np.ndarray[Any, Any], str]]) -> None:
    """One RESPONSE (or ERROR), broken on purpose when a flag says so."""
    if served == args.crash_on:
        print(f"python_port: simulated crash on request {rid}", file=sys.stderr, flush=True)
        os._exit(3)
    if args.segfault:
        os.kill(os.getpid(), signal.SIGSEGV)
    if args.hang:
        while True:
            time.sleep(3600)
    if args.garbage:
        out.write(b"this is not a response\n")
    elif args.error or groups is None:
        out.write(f"ERROR {rid} {'simulated refusal' if args.error else 'unknown groups id'}\n".encode("ascii"))
    else:
        if args.ignore_seed:
            seed ^= time.perf_counter_ns() ^ os.getpid()
        tokens, labels, accepted = verify(groups, arrays, seed, args)
        if args.bad_ids:
            tokens[0, accepted[0]] = groups["vocab_size"]
        if args.wrong_shape:
            tokens = tokens[:, :-1]
        if args.wrong_dtype:
            tokens = tokens.astype(np.float64)
        out.write(f"RESPONSE {rid} {2 if args.no_labels else 3}\n".encode("ascii"))
        write_array(out, "tokens", tokens)
        if not args.no_labels:
            write_array(out, "group_ids", labels)
        write_array(out, "num_accepted", accepted)
    out.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crash", dest="crash_on", action="store_const", const=1, default=0)
    parser.add_argument("--crash-on", dest="crash_on", type=int)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as the gate in-process)")
    for flag in ("segfault", "hang", "garbage", "wrong-shape", "wrong-dtype", "bad-ids", "error", "bad-handshake",
                 "ignore-seed", "accept-all", "no-labels"):
        parser.add_argument(f"--{flag}", action="store_true")
    args = parser.parse_args()
    try:
        serve(args, sys.stdin.buffer, sys.stdout.buffer)
    except BrokenPipeError:  # the gate went away
        pass


if __name__ == "__main__":
    main()
