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

A records file is untrusted input (an external engine writes it), so every
size is bounded before anything is allocated for it: header values
(``rows`` ≤ :data:`MAX_ROWS`, each horizon ≤ :data:`MAX_HORIZON`), ids
(``row`` < :data:`MAX_ROWS`; ``step``, ``position`` and ``label`` <
:data:`MAX_INDEX`), the number of records (:data:`MAX_RECORDS`), a JSONL line
(:data:`MAX_LINE_BYTES`, read with a bounded read and decoded as UTF-8
line by line) and an ``.npz`` member (its ``.npy`` header is read, and its
shape and dtype checked, before its data). Records must agree with their
header and with each other: a ``row`` below the header's ``rows``, each
(``row``, ``position``) once, and a row's positions increasing in file order
(the monitors test the first records of each row in the order they were
emitted). Every refusal is an :class:`~pcg_core.errors.InvalidArgumentError`
naming the file, the line or record, and the rule.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from pcg_core.atomic import atomic_writer, writable_path
from pcg_core.errors import InvalidArgumentError, InvalidTypeError

__all__ = [
    "FORMAT",
    "KINDS",
    "MAX_HORIZON",
    "MAX_INDEX",
    "MAX_LINE_BYTES",
    "MAX_RECORDS",
    "MAX_ROWS",
    "MAX_TESTED_VALUES",
    "RECORDS_VERSION",
    "Record",
    "check_records",
    "load_records",
    "save_records",
    "validate_record",
]

FORMAT = "pcg-e2e-records"
#: Bumped whenever a field changes meaning; files of another version are refused.
RECORDS_VERSION = 1
KINDS = ("draft", "bonus", "ar")
#: cdf_below + mass may exceed 1 by rounding up to this much.
MASS_TOLERANCE = 1e-9
#: Rows of one decode (the header's ``rows``; a record's ``row`` is below it).
MAX_ROWS = 2**20
#: Records per row a stream tests (``label_horizon``, ``accept_horizon``).
MAX_HORIZON = 2**20
#: Values one stream tests, rows × horizon with the pads: 2**24 float64 are 128 MiB.
MAX_TESTED_VALUES = 2**24
#: ``step``, ``position`` and ``label`` are below this (token ids and positions of any real model are).
MAX_INDEX = 2**31
#: Records in one file (about 0.4 KB of memory each once loaded).
MAX_RECORDS = 2**24
#: Bytes of one JSONL line (a record takes about 200).
MAX_LINE_BYTES = 4096
_FIELDS = ("row", "step", "position", "kind", "label", "cdf_below", "mass", "accept_prob", "accepted")
_HEADER_KEYS = ("rows", "label_horizon", "accept_horizon")
_HEADER_LIMITS = {"rows": MAX_ROWS, "label_horizon": MAX_HORIZON, "accept_horizon": MAX_HORIZON}
_LIMITS = {"row": MAX_ROWS - 1, "step": MAX_INDEX - 1, "position": MAX_INDEX - 1, "label": MAX_INDEX - 1}
_INTEGER_FIELDS = ("row", "step", "position", "kind", "label", "accepted")  # kind and accepted: int8 codes in .npz


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


def _integer(where: str, name: str, value: Any, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or int(value) < 0:
        raise InvalidArgumentError(where, value, f"{name} must be an integer >= 0")
    if int(value) > maximum:
        raise InvalidArgumentError(where, value, f"{name} must be at most {maximum}",
                                   "see the limits in pcg_verify.e2e._records")
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
    row, step, position, label = (_integer(where, name, data[name], _LIMITS[name])
                                  for name in ("row", "step", "position", "label"))
    return Record(row, step, position, str(kind), label, below, mass, accept_prob, accepted)


def check_records(records: Sequence[Record], rows: int | None, where: Callable[[int], str],
                  prefix: str = "") -> None:
    """Refuse records that contradict ``rows`` or each other: a ``row`` of ``rows`` or more, one
    (``row``, ``position``) twice, or a row's positions not increasing in the order given.

    ``where(i)`` names record ``i`` in a message (a file's line, say), after ``prefix`` (the file). O(n log n).

    >>> twice = [Record(0, 0, 0, "ar", 1, 0.0, 1.0), Record(0, 1, 0, "ar", 1, 0.0, 1.0)]
    >>> check_records(twice, 1, lambda i: f"record {i}")
    Traceback (most recent call last):
    ...
    pcg_core.errors.InvalidArgumentError: record 1=(0, 0): repeats the row and position of record 0
    """
    if not records:
        return
    row = np.fromiter((r.row for r in records), np.int64, len(records))
    position = np.fromiter((r.position for r in records), np.int64, len(records))
    index = np.arange(row.size)
    if rows is not None and int(row.max()) >= rows:
        first = int(np.flatnonzero(row >= rows)[0])
        raise InvalidArgumentError(prefix + where(first), int(row[first]), f"row must be below rows={rows}",
                                   "rows is the number of rows decoded")
    # Each (row, position) once: sorted by (row, position, file order), a repeat sits next to its first.
    order = np.lexsort((index, position, row))
    repeats = np.flatnonzero((row[order][1:] == row[order][:-1]) & (position[order][1:] == position[order][:-1]))
    if repeats.size:
        pairs = [(int(order[k]), int(order[k + 1])) for k in repeats]
        earlier, later = min(pairs, key=lambda pair: pair[1])  # the first line that repeats one before it
        raise InvalidArgumentError(prefix + where(later), (int(row[later]), int(position[later])),
                                   f"repeats the row and position of {where(earlier)}")
    # In file order, each row's positions increase: sorted by (row, file order), positions go up.
    order = np.lexsort((index, row))
    bad = np.flatnonzero((row[order][1:] == row[order][:-1]) & (position[order][1:] < position[order][:-1]))
    if bad.size:
        pairs = [(int(order[k]), int(order[k + 1])) for k in bad]
        earlier, later = min(pairs, key=lambda pair: pair[1])
        raise InvalidArgumentError(prefix + where(later), (int(row[later]), int(position[later])),
                                   f"comes after position {int(position[earlier])} of its row ({where(earlier)})",
                                   "a row's records are written in the order they were emitted")


def _header(header: Any, where: str) -> dict[str, int | None]:
    if not isinstance(header, dict):
        raise InvalidArgumentError(where, _kind_of(header), "must be the records header (a JSON object)")
    if header.get("format") != FORMAT:
        raise InvalidArgumentError(where, _kind_of(header.get("format")), f"format must be {FORMAT!r}")
    if header.get("version") != RECORDS_VERSION:
        raise InvalidArgumentError(where, _kind_of(header.get("version")), f"version must be {RECORDS_VERSION}",
                                   "written by another version of pcg-verify")
    unknown = sorted(set(header) - {"format", "version", *_HEADER_KEYS})
    if unknown:
        raise InvalidArgumentError(where, unknown[0][:80], f"is no header field; the header holds format, version "
                                   f"and {list(_HEADER_KEYS)}")
    out: dict[str, int | None] = {}
    for key in _HEADER_KEYS:
        value = _kind_of(header.get(key))
        out[key] = None if value is None else _integer(where, key, value, _HEADER_LIMITS[key])
    for key in ("label_horizon", "accept_horizon"):  # the monitor checks this again, for rows it derives
        rows, horizon = out["rows"], out[key]
        if rows is not None and horizon is not None and rows * horizon > MAX_TESTED_VALUES:
            raise InvalidArgumentError(where, horizon, f"rows × {key} = {rows} × {horizon} values would be "
                                       f"tested; at most {MAX_TESTED_VALUES}")
    return out


def _kind_of(value: Any) -> Any:
    """``value`` for a message: a container by its kind only (its repr could be deep or long)."""
    return f"<JSON {'object' if isinstance(value, dict) else 'list'}>" if isinstance(value, dict | list) else value


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
    first bad line or record (module docstring: every size is bounded before it is allocated)."""
    file = Path(path)
    if file.suffix not in (".jsonl", ".npz"):
        raise InvalidArgumentError("path", os.fspath(path), "must end in .jsonl or .npz")
    try:
        records, header = _load_jsonl(file) if file.suffix == ".jsonl" else _load_npz(file)
    except OSError as error:
        raise InvalidArgumentError("path", os.fspath(path), f"cannot be read: {error}") from None
    label, first = ("line", 2) if file.suffix == ".jsonl" else ("record", 0)
    check_records(records, header["rows"], lambda i: f"{label} {i + first}", f"{file}: ")
    return records, header


def _lines(handle: IO[bytes], file: Path) -> Iterator[tuple[int, str]]:
    """(number, text) of each line, each read with a bounded read and decoded as UTF-8; at most
    MAX_RECORDS + 1 lines."""
    for number in range(1, MAX_RECORDS + 3):
        raw = handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        if len(raw) > MAX_LINE_BYTES:
            raise InvalidArgumentError("path", str(file), f"line {number} is longer than {MAX_LINE_BYTES} bytes",
                                       "a record takes about 200")
        if number > MAX_RECORDS + 1:
            raise InvalidArgumentError("path", str(file), f"holds more than {MAX_RECORDS} records")
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidArgumentError("path", str(file), f"line {number} is not UTF-8 text: byte {error.start} "
                                       f"({raw[error.start:error.start + 1]!r}) {error.reason}") from None


def _json(text: str, file: Path, where: str) -> Any:
    """One header or record: a flat JSON object. Parsed with the parser's own nesting limit caught, and
    nested values refused before anything formats them (their repr could recurse as deep)."""
    try:
        item = json.loads(text)
    except RecursionError:
        raise InvalidArgumentError("path", str(file), f"{where} nests JSON deeper than the parser can follow",
                                   "a header or record is one flat JSON object") from None
    except ValueError as error:  # JSONDecodeError, and integers longer than Python converts
        raise InvalidArgumentError("path", str(file), f"{where} is not JSON: {error}") from None
    if not isinstance(item, dict):
        shown = "JSON " + {list: "list", str: "string", bool: "bool", type(None): "null"}.get(type(item), "number")
        raise InvalidArgumentError("path", str(file), f"{where} is a {shown}, not a JSON object")
    for key, value in item.items():
        if isinstance(value, dict | list):
            shown = "JSON object" if isinstance(value, dict) else "JSON list"
            raise InvalidArgumentError("path", str(file), f"{where} field {key[:80]!r} holds a {shown}",
                                       "a header or record is one flat JSON object")
    return item


def _load_jsonl(file: Path) -> tuple[list[Record], dict[str, int | None]]:
    with file.open("rb") as handle:
        lines = _lines(handle, file)
        first = next(lines, None)
        if first is None:
            raise InvalidArgumentError("path", str(file), "is empty: the first line must be the records header")
        header = _header(_json(first[1], file, "line 1"), f"{file}: header")  # bounded before any record is read
        records = [validate_record(_json(text, file, f"line {number}"), f"{file}: line {number}")
                   for number, text in lines]
    return records, header


#: Expected dtype kinds of the .npz arrays: integers (signed or not) and floats.
_NPZ_KINDS = {**{name: "iu" for name in _INTEGER_FIELDS}, "cdf_below": "f", "mass": "f", "accept_prob": "f"}


def _npy_shape(archive: zipfile.ZipFile, name: str, file: Path) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """Shape and dtype from a member's .npy header, read before its data, with the member's declared size."""
    try:
        info = archive.getinfo(f"{name}.npy")
    except KeyError:
        raise InvalidArgumentError("path", str(file), f"has no {name!r} array") from None
    limit = 16 * MAX_LINE_BYTES if name == "header" else 16 * MAX_RECORDS + 4096
    if info.file_size > limit:
        raise InvalidArgumentError("path", str(file), f"array {name!r} is {info.file_size} bytes inflated; at most "
                                   f"{limit}")
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(member)
    if dtype.hasobject or math.prod(shape) * dtype.itemsize > info.file_size:
        raise InvalidArgumentError("path", str(file), f"array {name!r} has shape {shape} and dtype {dtype}, which "
                                   f"its {info.file_size} bytes cannot hold")
    return shape, dtype


def _load_npz(file: Path) -> tuple[list[Record], dict[str, int | None]]:
    try:
        with zipfile.ZipFile(file) as archive:
            shapes = {name: _npy_shape(archive, name, file) for name in ("header", *_FIELDS)}
    except InvalidArgumentError:
        raise
    except (zipfile.BadZipFile, ValueError, EOFError) as error:
        raise InvalidArgumentError("path", str(file), f"is not a readable .npz file: {error}") from None
    shape, dtype = shapes["header"]
    if shape != () or dtype.kind != "U":
        raise InvalidArgumentError("path", str(file), f"array 'header' has shape {shape} and dtype {dtype}; the "
                                   "header is 0-d text (JSON)")
    lengths = {shapes[name][0] for name in _FIELDS}
    if len(lengths) != 1 or len(next(iter(lengths))) != 1:
        raise InvalidArgumentError("path", str(file), "field arrays must be 1-D and of one length")
    if next(iter(lengths))[0] > MAX_RECORDS:
        raise InvalidArgumentError("path", str(file), f"holds more than {MAX_RECORDS} records")
    for name in _FIELDS:
        if shapes[name][1].kind not in _NPZ_KINDS[name]:
            raise InvalidArgumentError("path", str(file), f"array {name!r} has dtype {shapes[name][1]}; it must be "
                                       f"{'an integer' if 'i' in _NPZ_KINDS[name] else 'a float'} array")
    try:  # every member's shape and dtype are checked: reading them now allocates what the file holds
        with np.load(file, allow_pickle=False) as data:
            arrays = {name: data[name] for name in ("header", *_FIELDS)}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise InvalidArgumentError("path", str(file), f"is not a readable .npz file: {error}") from None
    header = _header(_json(str(arrays["header"]), file, "header"), f"{file}: header")
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
