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
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import torch

from pcg_core._csr import check_indices, check_weights
from pcg_core.atomic import atomic_writer
from pcg_core.errors import GroupsCacheMismatchError, InvalidArgumentError

__all__ = ["FORMAT_VERSION", "Stored", "canonical_json", "file_error", "read", "write"]

#: The version :meth:`Groups.save` writes, and the only one :meth:`Groups.load` reads.
FORMAT_VERSION = 1


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


def _numpy(tensor: torch.Tensor) -> np.ndarray[Any, Any]:
    return tensor.detach().cpu().numpy()


# ---------------------------------------------------------------------------- reading a file
#: dtype rule of every key of format version 1: (ndim, allowed dtypes, as the error states it).
_KEYS: dict[str, tuple[int, tuple[str, ...], str]] = {
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
_WEIGHT_KEYS = ("group_weights", "token_weights")
_FILE_HINT = "not a valid groups file; rewrite it with Groups.save, or delete it (a builder's cache is then rebuilt)"


def file_error(path: Path, rule: str) -> InvalidArgumentError:
    return InvalidArgumentError("path", str(path), rule, _FILE_HINT)


def _read_npz(path: Path) -> dict[str, Any]:
    """Every key of the format, checked for presence, dtype and shape; strings and scalars as Python values."""
    try:
        handle = path.open("rb")  # ours to close: np.load leaks a file it opened when the zip is corrupt
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
            with np.load(handle, allow_pickle=False) as data:
                version = _scalar(data["format_version"]) if "format_version" in data.files else -1
                if version != FORMAT_VERSION:
                    raise file_error(path, f"format_version={version}, this library reads {FORMAT_VERSION}")
                keys = dict(_KEYS)
                kind = data["weights_kind"] if "weights_kind" in data.files else None
                if kind is not None and kind.ndim == 0 and str(kind) == "stored":
                    keys.update(dict.fromkeys(_WEIGHT_KEYS, (1, ("float64",), "a 1-D float64 array")))
                for key, (ndim, dtypes, stated) in keys.items():
                    if key not in data.files:
                        raise file_error(path, f"lacks the key {key!r} of format version {FORMAT_VERSION}")
                    array = data[key]
                    dtype = "str" if array.dtype.kind == "U" else array.dtype.name
                    if array.ndim != ndim or dtype not in dtypes:
                        raise file_error(path, f"{key} must be {stated}, found {array.dtype} with shape {array.shape}")
                    out[key] = str(array) if dtype == "str" else (int(array) if ndim == 0 else array)
        except InvalidArgumentError:
            raise
        except ValueError as error:
            if "pickle" in str(error):
                raise file_error(path, "holds pickled (object) data, which is never loaded") from error
            raise file_error(path, f"is a corrupt .npz archive ({error})") from error
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
            raise file_error(path, f"is a corrupt .npz archive ({type(error).__name__}: {error})") from error
    if out["weights_kind"] not in ("equal", "stored"):
        raise file_error(path, f"weights_kind={out['weights_kind']!r}, must be 'equal' or 'stored'")
    for key in ("vocab_size", "num_groups"):
        if out[key] < 1:
            raise file_error(path, f"{key}={out[key]}, must be >= 1")
    return out


def _scalar(array: npt.NDArray[Any]) -> int | str:
    """A 0-d integer array as an int; anything else described, for the version message."""
    if array.ndim == 0 and array.dtype.kind in "iu":
        return int(array)
    return f"{array.dtype} array of shape {array.shape}"


def canonical_json(params: Mapping[str, Any]) -> str:
    """Sorted, compact JSON; tuples become lists so a saved file compares equal."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
