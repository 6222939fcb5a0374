"""The file format of a group structure: what :meth:`pcg_core.Groups.save` writes and ``load`` reads.

File format (``.npz``, uncompressed, written atomically), version 1:

=================  =====================================================
key                content
=================  =====================================================
format_version     int64 scalar, 1
vocab_size         int64 scalar V
num_groups         int64 scalar M
group_ptr          int64 [M+1]
group_members      uint16 or int32 [nnz]
token_ptr          int64 [V+1]
token_groups       uint16 or int32 [nnz]
weights_kind       str: "equal" (weights are 1/N(t), not stored) or "stored"
group_weights      float64 [nnz], only when weights_kind == "stored"
token_weights      float64 [nnz], only when weights_kind == "stored"
embedding_digest   str: sha256 of the embedding it was built from, or ""
params_json        str: the builder and its parameters, canonical JSON
=================  =====================================================

:meth:`Groups.load` refuses, naming the file and what is wrong, anything
else: another container, pickled data, a missing key, another dtype or shape,
and (unless ``validate=False``) any broken invariant of :meth:`Groups.validate`.
Arrays in the other byte order (a file written on a big-endian machine) are
read and swapped to the native order: ``.npy`` headers state it, and the
values are the same.

Limits. A file is untrusted input: nothing is inflated or allocated before
the zip's directory and each array's header show that it fits, so a file of
n bytes costs at most about ``MAX_COMPRESSION_RATIO`` · n bytes of memory
(plus ``RATIO_EXEMPT_BYTES`` per key), whatever it claims:

- a member must lie inside the file, and inflate to at most
  ``MAX_COMPRESSION_RATIO`` = 100 times its compressed size unless it
  inflates to at most ``RATIO_EXEMPT_BYTES`` = 1 MiB (:meth:`Groups.save`
  compresses nothing; a zip bomb is refused unread);
- the bytes an array's header declares (shape × item size) must be the bytes
  its member holds (a lying header is refused before any allocation);
- a string holds at most ``MAX_STRING_CHARS`` = 65,536 characters, and
  ``params_json`` nests arrays and objects at most ``MAX_PARAMS_DEPTH`` = 32
  deep (checked before it is parsed);
- ``.npy`` headers are read up to numpy's bound of 10,000 bytes.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np
import numpy.typing as npt
import torch

from pcg_core._csr import check_indices, check_weights
from pcg_core.atomic import atomic_writer
from pcg_core.errors import GroupsCacheMismatchError, InvalidArgumentError

__all__ = [
    "FORMAT_VERSION",
    "MAX_COMPRESSION_RATIO",
    "MAX_PARAMS_DEPTH",
    "MAX_STRING_CHARS",
    "RATIO_EXEMPT_BYTES",
    "Stored",
    "canonical_json",
    "file_error",
    "read",
    "write",
]

#: The version :meth:`Groups.save` writes, and the only one :meth:`Groups.load` reads.
FORMAT_VERSION = 1
#: A member of the zip may inflate to at most this many times its compressed size ...
MAX_COMPRESSION_RATIO = 100
#: ... unless it inflates to at most this many bytes.
RATIO_EXEMPT_BYTES = 1 << 20
#: Longest string member (``weights_kind``, ``embedding_digest``, ``params_json``), in characters.
MAX_STRING_CHARS = 65_536
#: Deepest nesting of arrays and objects in ``params_json``.
MAX_PARAMS_DEPTH = 32


class Stored(Protocol):
    """What a file holds of a :class:`pcg_core.Groups`: its fields (the type itself sits above this module)."""

    @property
    def vocab_size(self) -> int: ...
    @property
    def num_groups(self) -> int: ...
    @property
    def group_ptr(self) -> torch.Tensor: ...
    @property
    def group_members(self) -> torch.Tensor: ...
    @property
    def group_weights(self) -> torch.Tensor: ...
    @property
    def token_ptr(self) -> torch.Tensor: ...
    @property
    def token_groups(self) -> torch.Tensor: ...
    @property
    def token_weights(self) -> torch.Tensor: ...
    @property
    def weights_kind(self) -> str: ...
    @property
    def embedding_digest(self) -> str: ...
    @property
    def params(self) -> Mapping[str, Any]: ...


def write(groups: Stored, path: Path) -> Path:
    """Write ``groups`` in this format atomically (temp file + rename); return the path."""
    arrays: dict[str, Any] = {
        "format_version": np.int64(FORMAT_VERSION),
        "vocab_size": np.int64(groups.vocab_size),
        "num_groups": np.int64(groups.num_groups),
        "group_ptr": _numpy(groups.group_ptr),
        "group_members": _numpy(groups.group_members),
        "token_ptr": _numpy(groups.token_ptr),
        "token_groups": _numpy(groups.token_groups),
        "weights_kind": np.str_(groups.weights_kind),
        "embedding_digest": np.str_(groups.embedding_digest),
        "params_json": np.str_(canonical_json(groups.params)),
    }
    if groups.weights_kind != "equal":
        arrays["group_weights"] = _numpy(groups.group_weights)
        arrays["token_weights"] = _numpy(groups.token_weights)
    with atomic_writer(path, "wb") as handle:
        np.savez(handle, **arrays)
    return path


def read(
    path: Path, *, embedding_digest: str | None, params: Mapping[str, Any] | None, validate: bool
) -> dict[str, Any]:
    """The keyword arguments of ``Groups(...)`` held by the file at ``path``, checked as :meth:`Groups.load` says."""
    data = _read_npz(path)
    depth = _json_depth(data["params_json"])
    if depth > MAX_PARAMS_DEPTH:
        raise file_error(path, f"params_json nests arrays or objects {depth:,} deep; at most {MAX_PARAMS_DEPTH} "
                               "levels are parsed")
    try:
        file_digest, file_params = data["embedding_digest"], json.loads(data["params_json"])
    except json.JSONDecodeError as error:
        raise file_error(path, f"params_json is not valid JSON ({error})") from error
    if not isinstance(file_params, dict):
        raise file_error(path, "params_json must hold a JSON object")
    if embedding_digest is not None and embedding_digest != file_digest:
        raise GroupsCacheMismatchError(
            "path", str(path),
            f"was built from another embedding (sha256 {file_digest[:16]}…, given {embedding_digest[:16]}…)",
            "delete the file or point the cache elsewhere",
        )
    if params is not None:
        wanted = json.loads(canonical_json(params))
        if wanted != file_params:
            diff = sorted(k for k in set(wanted) | set(file_params) if wanted.get(k) != file_params.get(k))
            detail = ", ".join(f"{k}: file {file_params.get(k)!r} vs wanted {wanted.get(k)!r}" for k in diff)
            raise GroupsCacheMismatchError(
                "path", str(path), f"was built with other parameters ({detail})",
                "delete the file or point the cache elsewhere",
            )
    vocab, num_groups, kind = int(data["vocab_size"]), int(data["num_groups"]), data["weights_kind"]
    gptr, members, tptr, tgroups = data["group_ptr"], data["group_members"], data["token_ptr"], data["token_groups"]
    try:
        order = check_indices(vocab, num_groups, gptr, members, tptr, tgroups) if validate else None
        if kind == "equal":  # w[k, t] = 1/N(t), N(t) = token_ptr[t+1] − token_ptr[t]
            if order is None:  # unchecked, yet they size an allocation and index an array
                _check_derivable(tptr, members)
            degrees = np.diff(tptr)
            share = 1.0 / degrees.astype(np.float64)
            token_weights, group_weights = np.repeat(share, degrees), share[members]
        else:
            token_weights, group_weights = data["token_weights"], data["group_weights"]
        if order is not None and kind == "stored":  # 1/N(t) passes by construction once the indices do
            check_weights(group_weights, token_weights, tptr, order)
    except InvalidArgumentError as error:
        raise file_error(path, f"{error.name}: {error.rule}") from error
    return dict(
        vocab_size=vocab, num_groups=num_groups,
        group_ptr=torch.from_numpy(gptr), group_members=torch.from_numpy(members),
        group_weights=torch.from_numpy(group_weights), token_ptr=torch.from_numpy(tptr),
        token_groups=torch.from_numpy(tgroups), token_weights=torch.from_numpy(token_weights),
        weights_kind=kind, embedding_digest=file_digest, params=file_params,
    )


def _check_derivable(token_ptr: npt.NDArray[Any], group_members: npt.NDArray[Any]) -> None:
    """What deriving equal weights needs without ``validate``: offsets 0..nnz, ids below V. O(V + nnz)."""
    nnz = int(group_members.shape[0])
    if token_ptr[0] != 0 or token_ptr[-1] != nnz or np.any(token_ptr[1:] < token_ptr[:-1]):
        raise InvalidArgumentError("token_ptr", token_ptr, f"must be non-decreasing offsets from 0 to nnz={nnz}")
    if nnz and (int(group_members.min()) < 0 or int(group_members.max()) >= token_ptr.size - 1):
        raise InvalidArgumentError("group_members", group_members, f"ids must lie in [0, {token_ptr.size - 1})")


def _json_depth(text: str) -> int:
    """How deep arrays and objects nest in JSON ``text``, strings skipped, without parsing it. O(len(text))."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:  # a string ends at a quote that no backslash escapes
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _numpy(tensor: torch.Tensor) -> np.ndarray[Any, Any]:
    return tensor.detach().cpu().numpy()


# ---------------------------------------------------------------------------- reading a file
#: A key's rule: (ndim, allowed dtypes, as the error states it).
_Rule = tuple[int, tuple[str, ...], str]
#: The rule of every key of format version 1, in the order they are read.
_KEYS: dict[str, _Rule] = {
    "vocab_size": (0, ("int64",), "an int64 scalar"),
    "num_groups": (0, ("int64",), "an int64 scalar"),
    "group_ptr": (1, ("int64",), "a 1-D int64 array"),
    "group_members": (1, ("uint16", "int32"), "a 1-D uint16 or int32 array"),
    "token_ptr": (1, ("int64",), "a 1-D int64 array"),
    "token_groups": (1, ("uint16", "int32"), "a 1-D uint16 or int32 array"),
    "weights_kind": (0, ("str",), "a string"),
    "embedding_digest": (0, ("str",), "a string"),
    "params_json": (0, ("str",), "a string"),
}
_WEIGHT_KEYS = ("group_weights", "token_weights")  # read after the others, when weights_kind == "stored"
_WEIGHT_RULE: _Rule = (1, ("float64",), "a 1-D float64 array")
_READ_CHUNK = 1 << 20
_FILE_HINT = "not a valid groups file; rewrite it with Groups.save, or delete it (a builder's cache is then rebuilt)"


def file_error(path: Path, rule: str) -> InvalidArgumentError:
    """The error for a file that is no valid structure: ``path=...: rule (hint)``."""
    return InvalidArgumentError("path", str(path), rule, _FILE_HINT)


def _read_npz(path: Path) -> dict[str, Any]:
    """Every key of the format, checked for presence, dtype and shape; strings and scalars as Python values.

    Nothing is inflated before it is known to fit (see the limits in the module docstring):

    1. the zip's directory: each member of the format must lie inside the file
       and inflate at most ``MAX_COMPRESSION_RATIO`` times;
    2. each member's ``.npy`` header (at most 10,000 bytes, numpy's bound):
       the dtype and shape rule of its key, a string's length, and the bytes
       the header declares equal to the bytes the member holds;
    3. only then its data, read into an array of exactly that size.
    """
    try:
        handle = path.open("rb")
    except OSError as error:
        raise file_error(path, f"cannot be read ({type(error).__name__}: {error.strerror or error})") from error
    out: dict[str, Any] = {}
    with handle:
        head = handle.read(6)
        if head.startswith(b"\x93NUMPY"):
            raise file_error(path, "is a single .npy array, not a .npz archive")
        if not head.startswith(b"PK"):
            raise file_error(path, "is not a .npz file (it does not start with the zip signature)")
        handle.seek(0)
        try:
            with zipfile.ZipFile(handle) as archive:
                members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
                _check_inflation(path, members, os.fstat(handle.fileno()).st_size)
                version = -1 if "format_version" not in members else \
                    _scalar(_read_member(path, archive, members, "format_version"))
                if version != FORMAT_VERSION:
                    raise file_error(path, f"format_version={version}, this library reads {FORMAT_VERSION}")
                for key, rule in _KEYS.items():
                    out[key] = _value(_read_member(path, archive, members, key, rule))
                if out["weights_kind"] == "stored":
                    for key in _WEIGHT_KEYS:
                        out[key] = _read_member(path, archive, members, key, _WEIGHT_RULE)
        except InvalidArgumentError:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as error:
            raise file_error(path, f"is a corrupt .npz archive ({type(error).__name__}: {error})") from error
    if out["weights_kind"] not in ("equal", "stored"):
        raise file_error(path, f"weights_kind={out['weights_kind']!r}, must be 'equal' or 'stored'")
    for key in ("vocab_size", "num_groups"):
        if out[key] < 1:
            raise file_error(path, f"{key}={out[key]}, must be >= 1")
    return out


def _check_inflation(path: Path, members: Mapping[str, zipfile.ZipInfo], file_bytes: int) -> None:
    """Step 1, from the zip's directory alone: no member of the format lies beyond the file or is a bomb."""
    for key in ("format_version", *_KEYS, *_WEIGHT_KEYS):
        info = members.get(key)
        if info is None:
            continue
        if info.header_offset + info.compress_size > file_bytes:
            raise file_error(path, f"is a corrupt .npz archive ({info.filename} claims {info.compress_size:,} "
                                   f"bytes at offset {info.header_offset:,} of a {file_bytes:,}-byte file)")
        if info.file_size > max(MAX_COMPRESSION_RATIO * info.compress_size, RATIO_EXEMPT_BYTES):
            raise file_error(
                path, f"{info.filename} would inflate {info.compress_size:,} bytes to {info.file_size:,} "
                      f"({info.file_size / max(info.compress_size, 1):,.0f}×); a member may inflate at most "
                      f"{MAX_COMPRESSION_RATIO}× (or to {RATIO_EXEMPT_BYTES >> 20} MiB), so this is refused unread",
            )


def _read_member(
    path: Path, archive: zipfile.ZipFile, members: Mapping[str, zipfile.ZipInfo], key: str, rule: _Rule | None = None,
) -> npt.NDArray[Any]:
    """Steps 2 and 3 for one key: its header checked against ``rule`` and the member's size, then its data."""
    if key not in members:
        raise file_error(path, f"lacks the key {key!r} of format version {FORMAT_VERSION}")
    info = members[key]
    with archive.open(info) as member:
        try:
            version = np.lib.format.read_magic(member)
            if version not in ((1, 0), (2, 0), (3, 0)):
                raise ValueError(f".npy format version {version} is none that numpy writes")
            # 3.0 differs from 2.0 only in the header's encoding (utf-8 for field names; ours are ASCII)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, fortran_order, dtype = read_header(member)
        except ValueError as error:
            raise file_error(path, f"is a corrupt .npz archive ({info.filename}: {error})") from error
        if dtype.hasobject:
            raise file_error(path, "holds pickled (object) data, which is never loaded")
        if rule is not None:
            ndim, dtypes, stated = rule
            name = "str" if dtype.kind == "U" else dtype.name
            if len(shape) != ndim or name not in dtypes:
                raise file_error(path, f"{key} must be {stated}, found {dtype} with shape {shape}")
        if dtype.kind == "U" and dtype.itemsize // 4 > MAX_STRING_CHARS:
            raise file_error(path, f"{key} is a string of {dtype.itemsize // 4:,} characters; "
                                   f"at most {MAX_STRING_CHARS:,} are read")
        if any(size < 0 for size in shape):
            raise file_error(path, f"is a corrupt .npz archive ({info.filename} declares shape {shape})")
        declared = math.prod(shape) * dtype.itemsize
        held = info.file_size - member.tell()
        if declared != held:
            raise file_error(path, f"{info.filename} declares {dtype} of shape {shape}, {declared:,} bytes, "
                                   f"but holds {held:,} bytes of data")
        array = np.empty(shape, dtype, order="F" if fortran_order else "C")
        _read_into(member, array)
    if not dtype.isnative:  # written on a machine of the other byte order: swap in place, same values
        array = array.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return array


def _read_into(member: IO[bytes], array: npt.NDArray[Any]) -> None:
    """Fill ``array`` from ``member`` in chunks; the zip checks the CRC when the last byte is read."""
    flat = array.reshape(-1, order="A").view(np.uint8)  # a view: the array is new, hence contiguous
    done = 0
    while done < flat.size:
        chunk = member.read(min(_READ_CHUNK, flat.size - done))
        if not chunk:
            raise EOFError(f"{getattr(member, 'name', 'a member')} ends after {done:,} of {flat.size:,} bytes")
        flat[done : done + len(chunk)] = np.frombuffer(chunk, np.uint8)
        done += len(chunk)


def _value(array: npt.NDArray[Any]) -> Any:
    """A 0-d string or integer as a Python value; an array as it is."""
    if array.dtype.kind == "U":
        return str(array)
    return int(array) if array.ndim == 0 else array


def _scalar(array: npt.NDArray[Any]) -> int | str:
    """A 0-d integer array as an int; anything else described, for the version message."""
    if array.ndim == 0 and array.dtype.kind in "iu":
        return int(array)
    return f"{array.dtype} array of shape {array.shape}"


def canonical_json(params: Mapping[str, Any]) -> str:
    """Sorted, compact JSON; tuples become lists so a saved file compares equal."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
