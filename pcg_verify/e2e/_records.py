"""Monitor records: one per verified position, scalars and group ids only; JSONL and ``.npz`` files.

A record says what was emitted at one position of one row and the exact law
it should have followed there (docs/e2e.md, "Record format"):

=============  =========================================================================
field          meaning
=============  =========================================================================
``row``        int ≥ 0, the batch row (rows decode independently)
``step``       int ≥ 0, the row's block (speculative) or step (autoregressive) index
``position``   int ≥ 0, index of the emitted token among the row's new tokens
``kind``       ``"draft"`` (a verified drafted position), ``"bonus"`` or ``"ar"``
``label``      int ≥ 0, the emitted group id (the token itself under singleton groups)
``cdf_below``  Q_c(groups ranked before ``label``), in [0, 1] (rank: decreasing Q_c, ties by id)
``mass``       Q_c(``label``), in [0, 1]; ``cdf_below + mass ≤ 1`` (within 1e-9)
``accept_prob`` the exact acceptance probability at a ``draft`` record, else null
``accepted``   bool at a ``draft`` record (was the draft accepted?), else null
=============  =========================================================================

Files carry a header: ``format`` (``"pcg-e2e-records"``), ``version``
(:data:`RECORDS_VERSION`), ``rows`` (rows decoded, or null), and the two
horizons ``label_horizon`` / ``accept_horizon`` (records per row the tests
use, fixed before decoding, or null). JSONL: the header is the first line,
then one record per line. ``.npz``: one array per field (``kind`` as int8
codes 0 draft, 1 bonus, 2 ar; ``accept_prob`` NaN and ``accepted`` -1 where
null) plus ``header`` (the header as JSON text). Writes are atomic; loads
validate every field and name the first bad record.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pcg_core.atomic import atomic_writer, writable_path
from pcg_core.errors import InvalidArgumentError, InvalidTypeError

__all__ = ["FORMAT", "KINDS", "RECORDS_VERSION", "Record", "load_records", "save_records", "validate_record"]

FORMAT = "pcg-e2e-records"
#: Bumped whenever a field changes meaning; files of another version are refused.
RECORDS_VERSION = 1
KINDS = ("draft", "bonus", "ar")
#: cdf_below + mass may exceed 1 by rounding up to this much.
MASS_TOLERANCE = 1e-9
_FIELDS = ("row", "step", "position", "kind", "label", "cdf_below", "mass", "accept_prob", "accepted")
_HEADER_KEYS = ("rows", "label_horizon", "accept_horizon")


@dataclass(frozen=True)
class Record:
    """One verified position (module docstring); build through :func:`validate_record`."""

    row: int
    step: int
    position: int
    kind: str
    label: int
    cdf_below: float
    mass: float
    accept_prob: float | None = None
    accepted: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON types."""
        return asdict(self)


def _integer(where: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or int(value) < 0:
        raise InvalidArgumentError(where, value, f"{name} must be an integer >= 0")
    return int(value)


def _unit(where: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise InvalidArgumentError(where, value, f"{name} must be a number in [0, 1]")
    number = float(value)
    if not 0.0 <= number <= 1.0:  # NaN fails too
        raise InvalidArgumentError(where, value, f"{name} must lie in [0, 1]")
    return number


def validate_record(data: Mapping[str, Any] | Record, where: str = "record") -> Record:
    """``data`` (a mapping with the fields of the module docstring) as a validated :class:`Record`.

    Raises :class:`~pcg_core.errors.InvalidArgumentError` naming ``where``,
    the field and the rule.
    """
    if isinstance(data, Record):
        data = data.to_dict()
    if not isinstance(data, Mapping):
        raise InvalidTypeError(where, data, "must be a mapping (JSON object) with the record fields")
    missing = [name for name in _FIELDS[:7] if name not in data]
    if missing:
        raise InvalidArgumentError(where, dict(data), f"has no {missing[0]!r} field",
                                   f"a record needs {list(_FIELDS)}; see docs/e2e.md")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise InvalidArgumentError(where, dict(data), f"has unknown field {unknown[0]!r}")
    kind = data["kind"]
    if kind not in KINDS:
        raise InvalidArgumentError(where, kind, f"kind must be one of {list(KINDS)}")
    below, mass = _unit(where, "cdf_below", data["cdf_below"]), _unit(where, "mass", data["mass"])
    if below + mass > 1.0 + MASS_TOLERANCE:
        raise InvalidArgumentError(where, dict(data), "cdf_below + mass must not exceed 1")
    accept_prob, accepted = data.get("accept_prob"), data.get("accepted")
    if kind == "draft":
        accept_prob = _unit(where, "accept_prob", accept_prob)
        if not isinstance(accepted, bool | np.bool_):
            raise InvalidArgumentError(where, accepted, "accepted must be true or false at a 'draft' record")
        accepted = bool(accepted)
    elif accept_prob is not None or accepted is not None:
        raise InvalidArgumentError(where, dict(data), f"a {kind!r} record has no accept_prob or accepted (null)")
    return Record(_integer(where, "row", data["row"]), _integer(where, "step", data["step"]),
                  _integer(where, "position", data["position"]), str(kind), _integer(where, "label", data["label"]),
                  below, mass, accept_prob, accepted)


def _header(header: Mapping[str, Any], where: str) -> dict[str, int | None]:
    if header.get("format") != FORMAT:
        raise InvalidArgumentError(where, header.get("format"), f"format must be {FORMAT!r}")
    if header.get("version") != RECORDS_VERSION:
        raise InvalidArgumentError(where, header.get("version"), f"version must be {RECORDS_VERSION}",
                                   "written by another version of pcg-verify")
    out: dict[str, int | None] = {}
    for key in _HEADER_KEYS:
        value = header.get(key)
        out[key] = None if value is None else _integer(where, key, value)
    return out


def save_records(path: str | os.PathLike[str], records: Iterable[Record], **header: int | None) -> Path:
    """Write ``records`` to ``path`` (``.jsonl`` or ``.npz``, by suffix) atomically; return the path.

    ``header`` holds ``rows``, ``label_horizon`` and ``accept_horizon`` (int or None).
    """
    target = writable_path("path", path)
    suffix = Path(path).suffix
    if suffix not in (".jsonl", ".npz"):
        raise InvalidArgumentError("path", os.fspath(path), "must end in .jsonl or .npz")
    head = {"format": FORMAT, "version": RECORDS_VERSION, **{k: header.get(k) for k in _HEADER_KEYS}}
    items = list(records)
    if suffix == ".jsonl":
        with atomic_writer(target, "w") as handle:
            handle.write(json.dumps(head) + "\n")
            for record in items:
                handle.write(json.dumps(record.to_dict(), allow_nan=False) + "\n")
        return Path(path)
    columns: dict[str, np.ndarray[Any, Any]] = {
        "row": np.array([r.row for r in items], np.int64), "step": np.array([r.step for r in items], np.int64),
        "position": np.array([r.position for r in items], np.int64),
        "kind": np.array([KINDS.index(r.kind) for r in items], np.int8),
        "label": np.array([r.label for r in items], np.int64),
        "cdf_below": np.array([r.cdf_below for r in items], np.float64),
        "mass": np.array([r.mass for r in items], np.float64),
        "accept_prob": np.array([math.nan if r.accept_prob is None else r.accept_prob for r in items], np.float64),
        "accepted": np.array([-1 if r.accepted is None else int(r.accepted) for r in items], np.int8),
    }
    with atomic_writer(target, "wb") as handle:
        np.savez(handle, header=np.array(json.dumps(head)), **columns)  # type: ignore[arg-type]
    return Path(path)


def load_records(path: str | os.PathLike[str]) -> tuple[list[Record], dict[str, int | None]]:
    """Read and validate a records file; return (records, header fields ``rows``, ``label_horizon``,
    ``accept_horizon``). Raises :class:`~pcg_core.errors.InvalidArgumentError` naming the file and the
    first bad line or record."""
    file = Path(path)
    if file.suffix not in (".jsonl", ".npz"):
        raise InvalidArgumentError("path", os.fspath(path), "must end in .jsonl or .npz")
    try:
        return _load_jsonl(file) if file.suffix == ".jsonl" else _load_npz(file)
    except OSError as error:
        raise InvalidArgumentError("path", os.fspath(path), f"cannot be read: {error}") from None


def _load_jsonl(file: Path) -> tuple[list[Record], dict[str, int | None]]:
    lines = file.read_text(encoding="utf-8").splitlines()
    if not lines:
        raise InvalidArgumentError("path", str(file), "is empty: the first line must be the records header")
    parsed: list[Any] = []
    for number, line in enumerate(lines, 1):
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise InvalidArgumentError("path", str(file), f"line {number} is not JSON: {error}") from None
    if not isinstance(parsed[0], dict):
        raise InvalidArgumentError("path", str(file), "line 1 must be the records header (a JSON object)")
    header = _header(parsed[0], f"{file}: header")
    return [validate_record(item, f"{file}: line {n}") for n, item in enumerate(parsed[1:], 2)], header


def _load_npz(file: Path) -> tuple[list[Record], dict[str, int | None]]:
    try:
        with np.load(file, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (ValueError, OSError, EOFError) as error:
        raise InvalidArgumentError("path", str(file), f"is not a readable .npz file: {error}") from None
    missing = [name for name in ("header", *_FIELDS) if name not in arrays]
    if missing:
        raise InvalidArgumentError("path", str(file), f"has no {missing[0]!r} array")
    try:
        header = _header(json.loads(str(arrays["header"])), f"{file}: header")
    except json.JSONDecodeError as error:
        raise InvalidArgumentError("path", str(file), f"header is not JSON: {error}") from None
    lengths = {arrays[name].shape for name in _FIELDS}
    if len(lengths) != 1 or len(next(iter(lengths))) != 1:
        raise InvalidArgumentError("path", str(file), "field arrays must be 1-D and of one length")
    records = []
    for i in range(arrays["row"].shape[0]):
        code = int(arrays["kind"][i])
        accepted = int(arrays["accepted"][i])
        prob = float(arrays["accept_prob"][i])
        item = {name: arrays[name][i].item() for name in ("row", "step", "position", "label", "cdf_below", "mass")}
        item.update(kind=KINDS[code] if 0 <= code < len(KINDS) else code,
                    accept_prob=None if math.isnan(prob) else prob, accepted=None if accepted < 0 else bool(accepted))
        records.append(validate_record(item, f"{file}: record {i}"))
    return records, header
