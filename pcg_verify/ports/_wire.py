"""The pcg-port protocol's messages as bytes (docs/protocol.md is the specification).

Text header lines (ASCII, one space between fields, ``\\n`` at the end, at
most :data:`MAX_LINE` bytes) followed, for arrays, by their raw little-endian
bytes in C order. Encoding hands out ``memoryview``s of the tensors, so a
request is written without copying its probabilities.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass
from typing import Any

import torch

from pcg_core import Groups

__all__ = [
    "GROUP_ARRAYS",
    "ID_LOW_BITS",
    "MAGIC",
    "MAX_LINE",
    "MAX_LIVE_GROUPS",
    "PROBABILITY_DTYPES",
    "PROTOCOL_VERSION",
    "WIRE_DTYPES",
    "Hello",
    "WireError",
    "array_frames",
    "groups_frames",
    "parse_array_header",
    "parse_hello",
    "payload_size",
    "request_frames",
    "wire_groups",
]

MAGIC = "PCG-PORT"
PROTOCOL_VERSION = 1
#: Longest header line either side may send, ``\n`` excluded.
MAX_LINE = 4096
#: Structures a program must be able to hold at once; the gate sends FREE before it would exceed this.
MAX_LIVE_GROUPS = 32
#: Every structure id the gate sends ends in the same ID_LOW_BITS bits (docs/protocol.md, "Structure ids"), so
#: two live ids share a slot of any table of up to 2**ID_LOW_BITS slots indexed by the id modulo its size.
ID_LOW_BITS = 16
#: Wire dtype names → bytes per element.
WIRE_DTYPES = {"int32": 4, "int64": 8, "float32": 4, "float64": 8, "float16": 2, "bfloat16": 2}
#: Probability dtypes a program may announce; float64 is required.
PROBABILITY_DTYPES = ("float64", "float32", "float16", "bfloat16")
_TORCH_WIRE = {torch.int32: "int32", torch.int64: "int64", torch.float32: "float32", torch.float64: "float64",
               torch.float16: "float16", torch.bfloat16: "bfloat16"}
#: The GROUPS message's arrays, in the order they are sent, with their wire dtypes.
GROUP_ARRAYS = (("group_ptr", "int64"), ("group_members", "int32"), ("group_weights", "float64"),
                ("token_ptr", "int64"), ("token_groups", "int32"), ("token_weights", "float64"))
_NAME = re.compile(r"[A-Za-z0-9._+-]{1,64}")
_LITTLE = sys.byteorder == "little"


class WireError(Exception):
    """A line or array header that does not follow the protocol's grammar."""


@dataclass(frozen=True)
class Hello:
    """The port's handshake: ``PCG-PORT <version> <name> <dtypes> <devices>``."""

    version: int
    name: str
    dtypes: tuple[str, ...]
    devices: tuple[str, ...]


def parse_hello(line: bytes) -> Hello:
    """Parse the port's handshake line; :class:`WireError` says what is wrong with it."""
    fields = line.decode("ascii", errors="replace").split(" ")
    if len(fields) != 5 or fields[0] != MAGIC:
        raise WireError(f"expected '{MAGIC} {PROTOCOL_VERSION} <name> <dtypes> <devices>', got {line[:120]!r}")
    _, version, name, dtypes, devices = fields
    if version != str(PROTOCOL_VERSION):
        raise WireError(f"it speaks protocol version {version[:20]!r}; this gate speaks version {PROTOCOL_VERSION}")
    if not _NAME.fullmatch(name):
        raise WireError(f"port name {name[:80]!r} must be 1-64 characters of A-Z a-z 0-9 . _ + -")
    accepted = tuple(dtypes.split(","))
    unknown = [d for d in accepted if d not in PROBABILITY_DTYPES]
    if unknown or "float64" not in accepted:
        raise WireError(f"dtypes {dtypes[:80]!r} must be a comma-separated list of float64 (required), "
                        "float32, float16, bfloat16")
    where = tuple(devices.split(","))
    if not all(_NAME.fullmatch(d) for d in where):
        raise WireError(f"devices {devices[:80]!r} must be a comma-separated list of names such as cpu,cuda")
    return Hello(PROTOCOL_VERSION, name, accepted, where)


def parse_array_header(line: bytes) -> tuple[str, str, tuple[int, ...]]:
    """``<name> <dtype> <ndim> <dims...>`` → (name, dtype, shape); the payload has prod(shape)·itemsize bytes."""
    fields = line.decode("ascii", errors="replace").split(" ")
    try:
        name, dtype, ndim = fields[0], fields[1], int(fields[2])
        dims = tuple(int(d) for d in fields[3:])
    except (IndexError, ValueError):
        raise WireError(f"expected an array header '<name> <dtype> <ndim> <dims...>', got {line[:120]!r}") from None
    if dtype not in WIRE_DTYPES:
        raise WireError(f"array {name[:64]!r} has dtype {dtype[:20]!r}, not one of {sorted(WIRE_DTYPES)}")
    if ndim != len(dims) or any(d < 0 for d in dims):
        raise WireError(f"array {name[:64]!r}: ndim {ndim} with dims {list(dims)} in {line[:120]!r}")
    return name, dtype, dims


def _payload(tensor: torch.Tensor) -> memoryview:
    """The tensor's bytes, little-endian, C order, without a copy when it is already so."""
    tensor = tensor.detach().cpu().contiguous()
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.view(torch.int16)  # NumPy has no bfloat16; the bits travel unchanged
    array: Any = tensor.numpy()
    if not _LITTLE:
        array = array.byteswap()
    return memoryview(array).cast("B")


def array_frames(name: str, tensor: torch.Tensor) -> list[bytes | memoryview]:
    """The header line and the payload of one array."""
    dtype = _TORCH_WIRE.get(tensor.dtype)
    if dtype is None:
        raise WireError(f"array {name} has dtype {tensor.dtype}, which the protocol does not carry")
    dims = "".join(f" {d}" for d in tensor.shape)
    return [f"{name} {dtype} {tensor.ndim}{dims}\n".encode("ascii"), _payload(tensor)]


def wire_groups(groups: Groups) -> list[torch.Tensor]:
    """The six CSR arrays in :data:`GROUP_ARRAYS` order and dtypes (uint16 indices widen to int32, losslessly)."""
    dtypes = {"int32": torch.int32, "int64": torch.int64, "float64": torch.float64}
    return [getattr(groups, name).detach().cpu().to(dtypes[dtype]) for name, dtype in GROUP_ARRAYS]


def groups_frames(gid: int, groups: Groups) -> list[bytes | memoryview]:
    """``GROUPS <gid> <vocab_size> <num_groups> 6`` and the six arrays."""
    frames: list[bytes | memoryview] = [
        f"GROUPS {gid} {groups.vocab_size} {groups.num_groups} {len(GROUP_ARRAYS)}\n".encode("ascii")]
    for (name, _), array in zip(GROUP_ARRAYS, wire_groups(groups), strict=True):
        frames += array_frames(name, array)
    return frames


def request_frames(rid: int, gid: int, seed: int, draft_tokens: torch.Tensor, draft_probs: torch.Tensor,
                   target_probs: torch.Tensor) -> list[bytes | memoryview]:
    """``REQUEST <rid> <gid> <seed> 3`` and draft_tokens int64 [B, γ], draft_probs [B, γ, V],
    target_probs [B, γ+1, V]."""
    return [f"REQUEST {rid} {gid} {seed} 3\n".encode("ascii"),
            *array_frames("draft_tokens", draft_tokens),
            *array_frames("draft_probs", draft_probs),
            *array_frames("target_probs", target_probs)]


def payload_size(dtype: str, shape: tuple[int, ...]) -> int:
    """Bytes of an array's payload."""
    return WIRE_DTYPES[dtype] * math.prod(shape)
