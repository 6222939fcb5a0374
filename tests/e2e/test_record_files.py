"""A records file is untrusted input: every way of breaking one is refused with a named error, before allocation.

:data:`REJECTED` is the one table of refused record files and monitor
settings: what is wrong, how it is made, the error and a fragment of its
message. No command line reads a records file (an external engine's file
reaches the monitors through ``load_records`` / ``Monitor.load``), so there
is no exit code to check here. ``python tests/e2e/test_record_files.py``
prints the table with the exact messages, for the documentation.
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pcg_core.errors import InvalidArgumentError
from pcg_verify.e2e import Monitor, load_records
from pcg_verify.e2e._records import (
    MAX_HORIZON,
    MAX_INDEX,
    MAX_LINE_BYTES,
    MAX_ROWS,
    MAX_TESTED_VALUES,
    RECORDS_VERSION,
    Record,
    save_records,
)

HEADER = {"format": "pcg-e2e-records", "version": RECORDS_VERSION, "rows": None, "label_horizon": None,
          "accept_horizon": None}
GOOD = {"row": 0, "step": 0, "position": 0, "kind": "ar", "label": 3, "cdf_below": 0.2, "mass": 0.3}

Build = Callable[[Path], Callable[[], Any]]  # makes its input under a directory; returns the call that refuses it


def _jsonl(header: Any, *lines: Any) -> Build:
    """A JSONL file of ``header`` and ``lines`` (JSON values, or bytes written as they are), loaded."""
    def build(directory: Path) -> Callable[[], Any]:
        path = directory / "bad.jsonl"
        path.write_bytes(b"".join((x if isinstance(x, bytes) else json.dumps(x).encode()) + b"\n"
                                  for x in (header, *lines)))
        return lambda: Monitor.load(path).result()
    return build


def _bytes(data: bytes, name: str = "bad.jsonl") -> Build:
    def build(directory: Path) -> Callable[[], Any]:
        (directory / name).write_bytes(data)
        return lambda: load_records(directory / name)
    return build


def _npz(edit: Callable[[dict[str, Any]], None]) -> Build:
    """An .npz file of two good records with ``edit`` applied to its arrays (``header`` the JSON text)."""
    def build(directory: Path) -> Callable[[], Any]:
        records = [Record(**GOOD), Record(**dict(GOOD, position=1))]
        path = save_records(directory / "bad.npz", records, rows=1)
        with np.load(path) as data:
            arrays = {name: data[name] for name in data.files}
        edit(arrays)
        np.savez(path, **arrays)
        return lambda: load_records(path)
    return build


def _lying_npy(directory: Path) -> Callable[[], Any]:
    """An .npz whose 'row' member's .npy header claims 10**12 entries over 16 bytes of data."""
    path = directory / "bad.npz"
    _npz(lambda arrays: None)(directory)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<i8", "fortran_order": False, "shape": (10**12,)})
    members["row.npy"] = np.lib.format.MAGIC_PREFIX + bytes([1, 0]) + buffer.getvalue()[8:] + b"\0" * 16
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return lambda: load_records(path)


def _monitor(options: dict[str, Any], records: list[dict[str, Any]], late: dict[str, Any] | None = None) -> Build:
    """A monitor with ``options`` and ``records`` (attributes ``late`` set after construction), tested."""
    def build(directory: Path) -> Callable[[], Any]:
        def run() -> Any:
            monitor = Monitor(**options)
            monitor.add(records)
            for name, value in (late or {}).items():
                setattr(monitor, name, value)
            return monitor.result()
        return run
    return build


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# (what is wrong, how it is made, error type, message fragment)
REJECTED: list[tuple[str, Build, type[Exception], str]] = [
    # the header: stated bounds, checked before anything is allocated for them
    ("header rows 10**12", _jsonl({**HEADER, "rows": 10**12, "label_horizon": 32}, GOOD), InvalidArgumentError,
     f"header=1000000000000: rows must be at most {MAX_ROWS} (see the limits in pcg_verify.e2e._records)"),
    ("header label_horizon 10**12", _jsonl({**HEADER, "rows": 1, "label_horizon": 10**12}, GOOD),
     InvalidArgumentError, f"header=1000000000000: label_horizon must be at most {MAX_HORIZON}"),
    ("header accept_horizon 2**20 + 1", _jsonl({**HEADER, "accept_horizon": MAX_HORIZON + 1}, GOOD),
     InvalidArgumentError, f"header={MAX_HORIZON + 1}: accept_horizon must be at most {MAX_HORIZON}"),
    ("header rows × horizon over 2**24", _jsonl({**HEADER, "rows": 4096, "label_horizon": 8192}, GOOD),
     InvalidArgumentError, "bad.jsonl: header=8192: rows × label_horizon = 4096 × 8192 values would be tested; "
     f"at most {MAX_TESTED_VALUES}"),
    ("header rows negative", _jsonl({**HEADER, "rows": -1}, GOOD), InvalidArgumentError,
     "header=-1: rows must be an integer >= 0"),
    ("header rows as text", _jsonl({**HEADER, "rows": "2"}, GOOD), InvalidArgumentError,
     "header='2': rows must be an integer >= 0"),
    ("header field misspelt", _jsonl({**HEADER, "row": 2}, GOOD), InvalidArgumentError,
     "header='row': is no header field; the header holds format, version and ['rows', 'label_horizon', "
     "'accept_horizon']"),
    ("header of another version", _jsonl({**HEADER, "version": 99}, GOOD), InvalidArgumentError,
     "header=99: version must be 1 (written by another version of pcg-verify)"),
    ("header of another format", _jsonl({**HEADER, "format": "other"}, GOOD), InvalidArgumentError,
     "header='other': format must be 'pcg-e2e-records'"),
    ("header a JSON list", _jsonl([1, 2], GOOD), InvalidArgumentError, "line 1 is a JSON list, not a JSON object"),
    ("header with a nested value", _jsonl({**HEADER, "rows": [[2]]}, GOOD), InvalidArgumentError,
     "line 1 field 'rows' holds a JSON list (a header or record is one flat JSON object)"),
    ("an empty file", _bytes(b""), InvalidArgumentError, "is empty: the first line must be the records header"),
    # records against their header and each other
    ("a record of a row the header does not have", _jsonl({**HEADER, "rows": 2}, GOOD, {**GOOD, "row": 5}),
     InvalidArgumentError, "bad.jsonl: line 3=5: row must be below rows=2 (rows is the number of rows decoded)"),
    ("a record repeated", _jsonl(HEADER, GOOD, {**GOOD, "position": 1, "step": 1}, GOOD), InvalidArgumentError,
     "bad.jsonl: line 4=(0, 0): repeats the row and position of line 2"),
    ("a row's positions out of order", _jsonl(HEADER, {**GOOD, "position": 3}, {**GOOD, "position": 1}),
     InvalidArgumentError, "bad.jsonl: line 3=(0, 1): comes after position 3 of its row (line 2) (a row's records "
     "are written in the order they were emitted)"),
    (f"a row id of {MAX_ROWS}", _jsonl(HEADER, {**GOOD, "row": MAX_ROWS}), InvalidArgumentError,
     f"bad.jsonl: line 2={MAX_ROWS}: row must be at most {MAX_ROWS - 1}"),
    ("a label of 2**31", _jsonl(HEADER, {**GOOD, "label": MAX_INDEX}), InvalidArgumentError,
     f"bad.jsonl: line 2={MAX_INDEX}: label must be at most {MAX_INDEX - 1}"),
    ("a record's kind unknown", _jsonl(HEADER, {**GOOD, "kind": "verify"}), InvalidArgumentError,
     "kind must be one of ['draft', 'bonus', 'ar']"),
    ("a record without mass", _jsonl(HEADER, {k: v for k, v in GOOD.items() if k != "mass"}), InvalidArgumentError,
     "has no 'mass' field"),
    ("mass above 1", _jsonl(HEADER, {**GOOD, "mass": 1.5}), InvalidArgumentError, "mass must lie in [0, 1]"),
    ("cdf_below + mass above 1", _jsonl(HEADER, {**GOOD, "cdf_below": 0.8}), InvalidArgumentError,
     "cdf_below + mass must not exceed 1"),
    ("a negative label", _jsonl(HEADER, {**GOOD, "label": -1}), InvalidArgumentError,
     "label must be an integer >= 0"),
    ("a draft without accepted", _jsonl(HEADER, {**GOOD, "kind": "draft", "accept_prob": 0.5}),
     InvalidArgumentError, "accepted must be true or false at a 'draft' record"),
    ("an ar record with accepted", _jsonl(HEADER, {**GOOD, "accepted": True}), InvalidArgumentError,
     "a 'ar' record has no accept_prob or accepted (null)"),
    ("an unknown record field", _jsonl(HEADER, {**GOOD, "extra": 1}), InvalidArgumentError,
     "has unknown field 'extra'"),
    # the bytes of a line
    (f"a line over {MAX_LINE_BYTES} bytes", _jsonl(HEADER, {**GOOD, "kind": "x" * MAX_LINE_BYTES}),
     InvalidArgumentError, f"line 2 is longer than {MAX_LINE_BYTES} bytes (a record takes about 200)"),
    ("a line that is not UTF-8", _jsonl(HEADER, b'{"row": 0, "kind": "\xff"}'), InvalidArgumentError,
     "line 2 is not UTF-8 text: byte 20 (b'\\xff') invalid start byte"),
    ("a line nested 2,000 deep", _jsonl(HEADER, _nested(2000)), InvalidArgumentError,
     "line 2 nests JSON deeper than the parser can follow (a header or record is one flat JSON object)"),
    ("a field nested 500 deep", _jsonl(HEADER, b'{"row": ' + _nested(500) + b"}"), InvalidArgumentError,
     "line 2 field 'row' holds a JSON list (a header or record is one flat JSON object)"),
    ("a record that is a number", _jsonl(HEADER, 7), InvalidArgumentError, "line 2 is a JSON number, not a JSON "
     "object"),
    ("a line that is not JSON", _bytes(b"{not json\n"), InvalidArgumentError, "line 1 is not JSON: Expecting "),
    ("a file neither .jsonl nor .npz", _bytes(b"", "bad.csv"), InvalidArgumentError, "must end in .jsonl or .npz"),
    # .npz files: member headers read and checked before their data
    ("not a zip", _bytes(b"not a zip", "bad.npz"), InvalidArgumentError, "is not a readable .npz file"),
    ("an array missing", _npz(lambda a: a.pop("mass")), InvalidArgumentError, "has no 'mass' array"),
    ("an .npy header claiming 10**12 rows", _lying_npy, InvalidArgumentError,
     "array 'row' has shape (1000000000000,) and dtype int64, which its "),
    ("rows as floats", _npz(lambda a: a.update(row=a["row"].astype(np.float64))), InvalidArgumentError,
     "array 'row' has dtype float64; it must be an integer array"),
    ("arrays of two lengths", _npz(lambda a: a.update(mass=a["mass"][:1])), InvalidArgumentError,
     "field arrays must be 1-D and of one length"),
    ("header not 0-d text", _npz(lambda a: a.update(header=np.array([str(a["header"])]))), InvalidArgumentError,
     "array 'header' has shape (1,) and dtype <U"),
    ("npz header rows 10**12", _npz(lambda a: a.update(header=np.array(json.dumps({**HEADER, "rows": 10**12})))),
     InvalidArgumentError, f"header=1000000000000: rows must be at most {MAX_ROWS}"),
    ("npz record of a row beyond rows", _npz(lambda a: a.update(row=np.array([0, 3]))), InvalidArgumentError,
     "bad.npz: record 1=3: row must be below rows=1"),
    # monitors fed in memory
    ("Monitor(rows=10**12)", _monitor({"rows": 10**12}, [GOOD]), InvalidArgumentError,
     f"rows=1000000000000: must be at most {MAX_ROWS}"),
    ("Monitor(label_horizon=2**21)", _monitor({"label_horizon": 2 * MAX_HORIZON}, [GOOD]), InvalidArgumentError,
     f"label_horizon=2097152: must be at most {MAX_HORIZON}"),
    ("rows set to 10**12 after construction", _monitor({}, [GOOD], late={"rows": 10**12}), InvalidArgumentError,
     f"rows=1000000000000: must be at most {MAX_ROWS}"),
    ("rows × horizon over 2**24 in memory", _monitor({"rows": MAX_ROWS, "label_horizon": MAX_HORIZON}, [GOOD]),
     InvalidArgumentError, f"rows × label_horizon = {MAX_ROWS} × {MAX_HORIZON} values would be tested"),
    ("a record beyond rows in memory", _monitor({"rows": 2}, [{**GOOD, "row": 5}]), InvalidArgumentError,
     "record 0=5: row must be below rows=2"),
    ("a record twice in memory", _monitor({}, [GOOD, GOOD]), InvalidArgumentError,
     "record 1=(0, 0): repeats the row and position of record 0"),
]


@pytest.mark.parametrize(("wrong", "build", "error", "message"), REJECTED, ids=[row[0] for row in REJECTED])
def test_a_bad_record_file_is_refused(wrong: str, build: Build, error: type[Exception], message: str,
                                      tmp_path: Path) -> None:
    refuse = build(tmp_path)
    start = time.perf_counter()
    with pytest.raises(error) as caught:
        refuse()
    assert message in str(caught.value), wrong
    assert time.perf_counter() - start < 30, wrong  # refused before the work: rows=10**12 used to hang


def test_a_row_of_positions_with_gaps_and_rows_without_records_are_accepted(tmp_path: Path) -> None:
    """What the checks must not refuse: positions need not be consecutive, and a row may have no record."""
    records = [GOOD, {**GOOD, "position": 4, "step": 1}, {**GOOD, "row": 2}]
    loaded, header = load_records(_write(tmp_path, {**HEADER, "rows": 4, "label_horizon": 3}, *records))
    assert [r.position for r in loaded] == [0, 4, 0] and header["rows"] == 4
    result = Monitor.from_records(loaded, rows=4, label_horizon=3).result()
    assert result.streams[0].n_padded == 4 * 3 - 3 and result.streams[0].n_dropped == 0


def test_the_horizon_is_applied_in_n_log_n() -> None:
    """The horizon used to loop over every row (rows = 10**12 hung); now a sort does it: 2**20 rows and 2**14
    records take well under a second."""
    rng = np.random.default_rng(0)
    rows = rng.integers(0, MAX_ROWS, 2**14)
    records = [dict(GOOD, row=int(row), position=i) for i, row in enumerate(rows)]
    monitor = Monitor.from_records(records, rows=MAX_ROWS, label_horizon=4)
    start = time.perf_counter()
    stream = monitor.result().streams[0]
    assert time.perf_counter() - start < 20  # generous: the test machine is shared
    assert stream.n_samples == 4 * MAX_ROWS and stream.n_padded == 4 * MAX_ROWS - len(records)


def _write(directory: Path, header: dict[str, Any], *records: dict[str, Any]) -> Path:
    path = directory / "records.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in (header, *records)), encoding="utf-8")
    return path


def markdown_table() -> str:
    """The refused inputs with their exact messages, as a markdown table (the scratch directory as DIR)."""
    lines = ["| input | error | message |", "|---|---|---|"]
    for wrong, build, error, _ in REJECTED:
        with tempfile.TemporaryDirectory() as scratch:
            message = "(accepted!)"
            try:
                build(Path(scratch))()
            except error as caught:
                message = str(caught).replace(scratch, "DIR")
        lines.append(f"| {wrong} | `{error.__name__}` | `{message}` |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(markdown_table() + "\n")
