"""Faults of group files, caches and builders end as clear errors, never as a wrong law (issue 7).

One table of bad inputs: what is wrong, how it is made, the error type and a
fragment of its message. Files are a valid structure re-saved with one thing
changed (:func:`tampered`), so only the check under test can catch them;
``Groups.load`` must name the file (``path=``) and the broken invariant.
Cache paths are checked before any building (the build is replaced by a
function that fails the test), and the memory guard is triggered with small
vocabularies and a small ``max_pairs_bytes``.

Issue 20, item 8: files that claim more than they hold (a zip bomb, a lying
``.npy`` header, a member beyond the file, deep or long ``params_json``) are
refused before anything is inflated; one test measures the peak memory of a
bomb's refusal in a fresh process.
"""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import pcg_core._builder_args as builder_args
import pcg_core._builders as builders
from pcg_core import (
    Groups,
    InvalidArgumentError,
    InvalidTypeError,
    groups_from_threshold,
    groups_from_topk,
)
from pcg_core._similarity import ESTIMATE_ROWS, estimate_pairs, prepare_points, threshold_pairs

# {0,1,2}, {2,3}, {3,4,5}, {0,5}, {1}: V = 6, M = 5, nnz = 11, stored weights.
# Forward positions: group 2 holds token 4 at position 6; token 4's only reverse entry is at 8.
MEMBERS = [[0, 1, 2], [2, 3], [3, 4, 5], [0, 5], [1]]
RAW = [[2.0, 3.0, 1.0], [4.0, 1.0], [1.0, 1.0, 1.0], [5.0, 2.0], [2.0]]
VOCAB = 6
Call = Callable[[], Any]
Maker = Callable[[Path, pytest.MonkeyPatch], Call]


def good_groups() -> Groups:
    ptr = np.cumsum([0] + [len(m) for m in MEMBERS])
    members = np.array([t for m in MEMBERS for t in m])
    return Groups.from_memberships(VOCAB, ptr, members, np.array([w for ws in RAW for w in ws]))


def saved_arrays(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    path = good_groups().save(tmp_path / "g.npz")
    with np.load(path) as data:
        return path, {key: data[key] for key in data.files}


def tampered(change: Callable[[dict[str, np.ndarray]], None], *, allow_pickle: bool = False) -> Maker:
    """A maker: save a valid file, apply ``change`` to its arrays, re-save it; the call loads it."""

    def make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Call:
        path, arrays = saved_arrays(tmp_path)
        change(arrays)
        with path.open("wb") as handle:
            np.savez(handle, allow_pickle=allow_pickle, **arrays)
        return lambda: Groups.load(path)

    return make


def setting(key: str, index: Any, value: Any) -> Callable[[dict[str, np.ndarray]], None]:
    def change(arrays: dict[str, np.ndarray]) -> None:
        arrays[key] = arrays[key].copy()
        arrays[key][index] = value

    return change


def replacing(key: str, value: Any) -> Callable[[dict[str, np.ndarray]], None]:
    def change(arrays: dict[str, np.ndarray]) -> None:
        arrays[key] = value(arrays[key]) if callable(value) else value

    return change


def dropping(key: str) -> Callable[[dict[str, np.ndarray]], None]:
    def change(arrays: dict[str, np.ndarray]) -> None:
        del arrays[key]

    return change


def halve_token_4(arrays: dict[str, np.ndarray]) -> None:
    """Both directions agree, but token 4's weights sum to 0.5."""
    setting("group_weights", 6, arrays["group_weights"][6] / 2)(arrays)
    setting("token_weights", 8, arrays["token_weights"][8] / 2)(arrays)


def swap_token_0_weights(arrays: dict[str, np.ndarray]) -> None:
    """Token 0's two weights (2/7 in group 0, 5/7 in group 3) swapped in the reverse direction only."""
    setting("token_weights", [0, 1], arrays["token_weights"][[1, 0]])(arrays)


def file_bytes(content: Callable[[Path], bytes]) -> Maker:
    """A maker: a file of the given bytes (made from a valid file's bytes when needed)."""

    def make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Call:
        valid = good_groups().save(tmp_path / "valid.npz")
        path = tmp_path / "g.npz"
        path.write_bytes(content(valid))
        return lambda: Groups.load(path)

    return make


def flip_member_byte(valid: Path) -> bytes:
    """Corrupt one byte of group_members' stored data: the zip's CRC no longer matches."""
    with zipfile.ZipFile(valid) as archive:
        info = archive.getinfo("group_members.npy")
    data = bytearray(valid.read_bytes())
    data[info.header_offset + 30 + len(info.filename) + info.file_size - 1] ^= 0xFF  # the last data byte
    return bytes(data)


def a_npy(valid: Path) -> bytes:
    other = valid.with_suffix(".npy")
    np.save(other, np.arange(3))
    return other.read_bytes()


def load_at(where: Callable[[Path], Path]) -> Maker:
    return lambda tmp_path, monkeypatch: lambda: Groups.load(where(tmp_path))


def directory(tmp_path: Path) -> Path:
    (tmp_path / "d.npz").mkdir()
    return tmp_path / "d.npz"


# ---------------------------------------------------------------------------- files that claim more than they hold
def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array)
    return buffer.getvalue()


def npy_header(descr: str, shape: tuple[int, ...]) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def rezipped(member: str, content: Callable[[np.ndarray], bytes]) -> Maker:
    """A maker: a valid file's members zipped again (stored), one member's bytes replaced by ``content(array)``."""

    def make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Call:
        path, arrays = saved_arrays(tmp_path)
        with zipfile.ZipFile(path, "w") as archive:
            for key, array in arrays.items():
                archive.writestr(f"{key}.npy", content(array) if key == member else npy_bytes(array))
        return lambda: Groups.load(path)

    return make


def write_bomb(path: Path, arrays: dict[str, np.ndarray], inflated_mib: int) -> Path:
    """A valid file's members, but group_members is ``inflated_mib`` MiB of zeros deflated (~230:1 at level 1)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for key, array in arrays.items():
            if key != "group_members":
                archive.writestr(f"{key}.npy", npy_bytes(array))
        with archive.open("group_members.npy", "w", force_zip64=True) as member:
            member.write(npy_header("<i4", ((inflated_mib << 20) // 4,)))
            zeros = bytes(1 << 20)
            for _ in range(inflated_mib):
                member.write(zeros)
    return path


def zip_bomb(inflated_mib: int) -> Maker:
    def make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Call:
        path, arrays = saved_arrays(tmp_path)
        return lambda: Groups.load(write_bomb(path, arrays, inflated_mib))

    return make


def oversized_member(valid: Path) -> bytes:
    """The zip's directory says group_ptr's stored bytes run 1 GB past the end of the file."""
    data = bytearray(valid.read_bytes())
    entry = data.rindex(b"PK\x01\x02", 0, data.rindex(b"group_ptr.npy"))  # its central directory entry
    data[entry + 20 : entry + 24] = (10**9).to_bytes(4, "little")  # compressed size
    data[entry + 24 : entry + 28] = (10**9).to_bytes(4, "little")  # uncompressed size (stored: the same)
    return bytes(data)


def equal_weights_unvalidated(change: Callable[[dict[str, np.ndarray]], None]) -> Maker:
    """A maker: an equal-weights file with ``change`` applied, loaded with ``validate=False``."""

    def make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Call:
        ptr = np.cumsum([0] + [len(m) for m in MEMBERS])
        path = Groups.from_memberships(VOCAB, ptr, [t for m in MEMBERS for t in m]).save(tmp_path / "g.npz")
        with np.load(path) as data:
            arrays = {key: data[key] for key in data.files}
        change(arrays)
        np.savez(path, **arrays)
        return lambda: Groups.load(path, validate=False)

    return make


# ---------------------------------------------------------------------------- caches and builders
EMB = torch.from_numpy(np.random.default_rng(0).standard_normal((12, 3)))
BIG = torch.from_numpy(np.random.default_rng(1).standard_normal((200, 3)))


def no_build(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the builder started building before checking its arguments")

    monkeypatch.setattr(builders, "prepare_points", fail)


def cache_at(where: Callable[[Path], Path]) -> Maker:
    def make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Call:
        path = where(tmp_path)
        no_build(monkeypatch)
        return lambda: groups_from_threshold(EMB, 0.5, cache=path)

    return make


def under_a_file(tmp_path: Path) -> Path:
    (tmp_path / "plain.txt").write_text("not a folder")
    return tmp_path / "plain.txt" / "sub" / "g.npz"


def unwritable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Call:
    """A folder where no file can be created (simulated: chmod does not stop root)."""
    no_build(monkeypatch)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(builder_args.tempfile, "mkstemp", refuse)
    return lambda: groups_from_threshold(EMB, 0.5, cache=tmp_path / "sub" / "g.npz")


def tampered_cache_hit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Call:
    """A builder's cache re-saved with one member changed: the hit is validated like Groups.load."""
    path = tmp_path / "cache.npz"
    groups_from_threshold(EMB, 0.5, cache=path)
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    members = arrays["group_members"].copy()
    members[0] = members[1]  # the first group now repeats its second member
    arrays["group_members"] = members
    np.savez(path, **arrays)
    no_build(monkeypatch)
    return lambda: groups_from_threshold(EMB, 0.5, cache=path)


def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Maker:
    return lambda tmp_path, monkeypatch: lambda: function(*args, **kwargs)


def wrong_estimate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Call:
    """The estimate says 0 pairs; the running count must still stop the build."""
    monkeypatch.setattr(builders, "estimate_pairs", lambda *args: 0)
    return lambda: groups_from_threshold(BIG, -1.0, block_size=50, max_pairs_bytes=20_000)


# ---------------------------------------------------------------------------- the table
BAD: list[tuple[str, Maker, type[Exception], str]] = [
    # item 7: files that are not what they claim
    ("one member changed, in range", tampered(setting("group_members", 2, 3)), InvalidArgumentError,
     "groups: forward and reverse CSR directions disagree"),
    ("weights of a token do not sum to 1", tampered(halve_token_4), InvalidArgumentError,
     "token_weights: weights of each token must sum to 1 within 1e-06; token 4 sums to 0.5"),
    ("reverse weights swapped", tampered(swap_token_0_weights), InvalidArgumentError,
     "forward and reverse CSR directions disagree"),
    ("reverse group ids swapped", tampered(setting("token_groups", [0, 1], 4)), InvalidArgumentError,
     "forward and reverse CSR directions disagree"),
    ("member id out of range", tampered(setting("group_members", 10, VOCAB)), InvalidArgumentError,
     "group_members: ids must lie in [0, 6)"),
    ("group id out of range", tampered(setting("token_groups", 0, 5)), InvalidArgumentError,
     "token_groups: ids must lie in [0, 5)"),
    ("members unsorted", tampered(setting("group_members", slice(0, 3), [1, 0, 2])), InvalidArgumentError,
     "members of group 0 must be distinct and ascending"),
    ("member repeated", tampered(setting("group_members", slice(5, 8), [3, 4, 4])), InvalidArgumentError,
     "members of group 2 must be distinct and ascending"),
    ("token in no group", tampered(replacing("token_ptr", np.array([0, 2, 4, 6, 8, 8, 11]))), InvalidArgumentError,
     "every token must belong to a group; token 4 does not"),
    ("offsets do not end at nnz", tampered(setting("group_ptr", -1, 10)), InvalidArgumentError,
     "group_ptr: must be non-decreasing offsets from 0 to nnz=11"),
    ("offsets of the wrong length", tampered(replacing("token_ptr", lambda a: a[:-1])), InvalidArgumentError,
     "token_ptr: must have shape [7]"),
    ("NaN weight", tampered(setting("group_weights", 0, np.nan)), InvalidArgumentError, "finite and > 0"),
    ("missing key", tampered(dropping("token_ptr")), InvalidArgumentError,
     "lacks the key 'token_ptr' of format version 1"),
    ("stored weights missing", tampered(dropping("token_weights")), InvalidArgumentError,
     "lacks the key 'token_weights'"),
    ("int32 offsets", tampered(replacing("group_ptr", lambda a: a.astype(np.int32))), InvalidArgumentError,
     "group_ptr must be a 1-D int64 array, found int32"),
    ("float member ids", tampered(replacing("group_members", lambda a: a.astype(np.float64))), InvalidArgumentError,
     "group_members must be a 1-D uint16 or int32 array, found float64"),
    ("float32 weights", tampered(replacing("token_weights", lambda a: a.astype(np.float32))), InvalidArgumentError,
     "token_weights must be a 1-D float64 array, found float32"),
    ("vocab_size as an array", tampered(replacing("vocab_size", np.array([6]))), InvalidArgumentError,
     "vocab_size must be an int64 scalar"),
    ("vocab_size 0", tampered(replacing("vocab_size", np.int64(0))), InvalidArgumentError,
     "vocab_size=0, must be >= 1"),
    ("unknown weights kind", tampered(replacing("weights_kind", np.str_("magic"))), InvalidArgumentError,
     "weights_kind='magic', must be 'equal' or 'stored'"),
    ("params not JSON", tampered(replacing("params_json", np.str_("{"))), InvalidArgumentError,
     "params_json is not valid JSON"),
    ("params not an object", tampered(replacing("params_json", np.str_("[1]"))), InvalidArgumentError,
     "params_json must hold a JSON object"),
    ("unknown format version", tampered(replacing("format_version", np.int64(2))), InvalidArgumentError,
     "format_version=2, this library reads 1"),
    ("format version not an integer", tampered(replacing("format_version", np.float64(1.0))), InvalidArgumentError,
     "format_version=float64 array of shape ()"),
    ("pickled data", tampered(replacing("params_json", np.array([{"a": 1}], dtype=object)), allow_pickle=True),
     InvalidArgumentError, "holds pickled (object) data, which is never loaded"),
    ("random bytes", file_bytes(lambda valid: bytes(np.random.default_rng(0).integers(0, 256, 500, np.uint8))),
     InvalidArgumentError, "is not a .npz file"),
    ("empty file", file_bytes(lambda valid: b""), InvalidArgumentError, "is not a .npz file"),
    ("a .npy file", file_bytes(a_npy), InvalidArgumentError, "is a single .npy array, not a .npz archive"),
    ("truncated archive", file_bytes(lambda valid: valid.read_bytes()[:400]), InvalidArgumentError,
     "is a corrupt .npz archive"),
    ("a flipped byte", file_bytes(flip_member_byte), InvalidArgumentError, "is a corrupt .npz archive (BadZipFile"),
    ("no such file", load_at(lambda tmp: tmp / "missing.npz"), InvalidArgumentError,
     "cannot be read (FileNotFoundError"),
    ("a directory", load_at(directory), InvalidArgumentError, "cannot be read (IsADirectoryError"),
    # issue 20, item 8: nothing is inflated or allocated before it is known to fit
    ("zip bomb", zip_bomb(8), InvalidArgumentError,  # 8 MiB from ~36 KB
     "group_members.npy would inflate "),
    ("zip bomb: the limit is stated", zip_bomb(8), InvalidArgumentError,
     "a member may inflate at most 100× (or to 1 MiB), so this is refused unread"),
    ("header declares more than the member holds",
     rezipped("group_ptr", lambda a: npy_header("<i8", (10**11,)) + a.tobytes()), InvalidArgumentError,
     "group_ptr.npy declares int64 of shape (100000000000,), 800,000,000,000 bytes, but holds 48 bytes of data"),
    ("header declares less than the member holds",
     rezipped("token_ptr", lambda a: npy_header("<i8", (2,)) + a.tobytes()), InvalidArgumentError,
     "token_ptr.npy declares int64 of shape (2,), 16 bytes, but holds 56 bytes of data"),
    ("header declares a negative shape", rezipped("group_ptr", lambda a: npy_header("<i8", (-1,)) + a.tobytes()),
     InvalidArgumentError, "is a corrupt .npz archive (group_ptr.npy declares shape (-1,))"),
    ("member beyond the end of the file", file_bytes(oversized_member), InvalidArgumentError,
     "is a corrupt .npz archive (group_ptr.npy claims 1,000,000,000 bytes at offset"),
    ("member is no .npy array", rezipped("group_ptr", lambda a: b"not an array at all"), InvalidArgumentError,
     "is a corrupt .npz archive (group_ptr.npy: the magic string is not correct"),
    ("params_json nested too deep", tampered(replacing("params_json", np.str_("[" * 100 + "]" * 100))),
     InvalidArgumentError, "params_json nests arrays or objects 100 deep; at most 32 levels are parsed"),
    ("params_json nested 10,000 deep",
     tampered(replacing("params_json", np.str_('{"a":' * 10_000 + "1" + "}" * 10_000))), InvalidArgumentError,
     "params_json nests arrays or objects 10,000 deep"),
    ("params_json too long", tampered(replacing("params_json", np.str_("{" + " " * 70_000 + "}"))),
     InvalidArgumentError, "params_json is a string of 70,002 characters; at most 65,536 are read"),
    ("offsets past nnz, equal weights, validate=False",
     equal_weights_unvalidated(setting("token_ptr", -1, 10**12)), InvalidArgumentError,
     "token_ptr: must be non-decreasing offsets from 0 to nnz=11"),
    ("id out of range, equal weights, validate=False",
     equal_weights_unvalidated(setting("group_members", 0, 60_000)), InvalidArgumentError,
     "group_members: ids must lie in [0, 6)"),
    ("tampered cache hit", tampered_cache_hit, InvalidArgumentError,
     "members of group 0 must be distinct and ascending"),
    # item 8: a cache that cannot be written is refused before building
    ("cache is a directory", cache_at(directory), InvalidArgumentError, "is a directory; must name a file"),
    ("cache under a regular file", cache_at(under_a_file), InvalidArgumentError,
     "plain.txt is a regular file, not a directory"),
    ("cache folder not writable", unwritable, InvalidArgumentError,
     "cannot be written: no file can be created in"),
    ("cache not a path", call(groups_from_threshold, EMB, 0.5, cache=3), InvalidTypeError, "must be a path"),
    # item 9: θ within the metric's range; memory guard before any O(V²) pair set
    ("cosine theta above 1", call(groups_from_threshold, EMB, 1.5), InvalidArgumentError,
     "theta=1.5: is a cosine similarity under metric='cosine'; must lie in [-1, 1]"),
    ("cosine theta below -1", call(groups_from_threshold, EMB, -1.01), InvalidArgumentError,
     "theta=-1.01: is a cosine similarity"),
    ("euclidean theta negative", call(groups_from_threshold, EMB, -0.5, metric="euclidean"), InvalidArgumentError,
     "theta=-0.5: is a maximum distance under metric='euclidean'; must be ≥ 0"),
    ("cosine min_similarity above 1", call(groups_from_topk, EMB, 3, min_similarity=2.0), InvalidArgumentError,
     "min_similarity=2.0: is a cosine similarity"),
    ("euclidean min_similarity negative", call(groups_from_topk, EMB, 3, metric="euclidean", min_similarity=-1.0),
     InvalidArgumentError, "min_similarity=-1.0: is a maximum distance"),
    ("pairs over the limit", call(groups_from_threshold, BIG, -1.0, max_pairs_bytes=100_000), InvalidArgumentError,
     "theta=-1.0: keeps an estimated 19,900 pairs t < t' of the 200 tokens"),
    ("streamed group size over the limit",
     call(groups_from_threshold, BIG, -1.0, max_group_size=100, max_pairs_bytes=100_000), InvalidArgumentError,
     "max_group_size=100: keeps 200×99 best members as the tiles stream"),
    ("estimate wrong, running count stops it", wrong_estimate, InvalidArgumentError,
     "so the build was stopped; over max_pairs_bytes=20,000"),
    ("top-k over the limit", call(groups_from_topk, BIG, 50, max_pairs_bytes=100_000), InvalidArgumentError,
     "k=50: keeps 200×50 neighbours"),
    ("max_pairs_bytes 0", call(groups_from_threshold, EMB, 0.5, max_pairs_bytes=0), InvalidArgumentError,
     "max_pairs_bytes=0: must be an integer >= 1"),
    ("path not a path", call(Groups.load, 3), InvalidTypeError, "path=3: must be a path"),
    ("validate not a bool", lambda tmp, mp: lambda: Groups.load(good_groups().save(tmp / "g.npz"), validate=1),
     InvalidTypeError, "validate=1: must be a bool"),
]


@pytest.mark.parametrize(("wrong", "make", "error", "fragment"), BAD, ids=[row[0] for row in BAD])
def test_bad_input(
    wrong: str, make: Maker, error: type[Exception], fragment: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = make(tmp_path, monkeypatch)
    with pytest.raises(error) as info:
        run()
    assert fragment in str(info.value)
    if isinstance(info.value, InvalidArgumentError) and info.value.name == "path":  # a file error names the file
        assert Path(info.value.value).parent == tmp_path, info.value.value
        assert info.value.hint is not None


# ---------------------------------------------------------------------------- what still works
def test_validate_false_trusts_the_file(tmp_path: Path) -> None:
    """validate=False skips the O(nnz) invariants (documented): in-range tampering then loads as it is."""
    run = tampered(halve_token_4)(tmp_path, pytest.MonkeyPatch())
    with pytest.raises(InvalidArgumentError, match=r"token 4 sums to 0\.5"):
        run()
    trusted = Groups.load(tmp_path / "g.npz", validate=False)
    assert float(trusted.token_weights[8]) == pytest.approx(0.5)
    with pytest.raises(InvalidArgumentError, match="lacks the key"):  # the O(1) checks still run
        tampered(dropping("group_ptr"))(tmp_path, pytest.MonkeyPatch())()


def test_brackets_inside_json_strings_do_not_count(tmp_path: Path) -> None:
    text = '{"a":"' + "[{" * 100 + '\\"","b":[[1]]}'  # depth 2; the string holds brackets and an escaped quote
    tampered(replacing("params_json", np.str_(text)))(tmp_path, pytest.MonkeyPatch())
    assert Groups.load(tmp_path / "g.npz").params == {"a": "[{" * 100 + '"', "b": [[1]]}


def test_big_endian_file_loads_as_the_same_structure(tmp_path: Path) -> None:
    """Byte order is stated in each .npy header: a file from a big-endian machine is swapped, not refused."""
    path, arrays = saved_arrays(tmp_path)
    swapped = {key: array.astype(array.dtype.newbyteorder(">")) for key, array in arrays.items()}
    assert all(array.dtype.byteorder == ">" for array in swapped.values() if array.dtype.itemsize > 1)
    np.savez(path, **swapped)
    loaded, good = Groups.load(path), good_groups()
    for name in ("group_ptr", "group_members", "group_weights", "token_ptr", "token_groups", "token_weights"):
        assert torch.equal(getattr(loaded, name), getattr(good, name)), name
    assert (loaded.weights_kind, loaded.params) == (good.weights_kind, good.params)


def test_compressed_file_within_the_limits_loads(tmp_path: Path) -> None:
    """Groups.save writes stored members, but a file compressed by other means still loads."""
    path, arrays = saved_arrays(tmp_path)
    np.savez_compressed(path, **arrays)
    with zipfile.ZipFile(path) as archive:
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_DEFLATED}
    assert torch.equal(Groups.load(path).token_weights, good_groups().token_weights)


#: Inflated size of the bomb of the memory test, and the most its refusal may add to the peak RSS.
BOMB_MIB, BOMB_RSS_MIB = 128, 32


def test_zip_bomb_is_refused_before_it_is_inflated(tmp_path: Path) -> None:
    """A fresh process loads a 128 MiB bomb (a file of ~0.6 MB); its peak RSS may not grow by 32 MiB.

    Before the reader checked the zip's directory, the member was inflated
    whole before its size was compared with anything: the peak grew by the
    inflated size (2.3 GB and 35 s for a 2.2 MB file on a 2-core machine).
    """
    path, arrays = saved_arrays(tmp_path)
    write_bomb(path, arrays, BOMB_MIB)
    code = textwrap.dedent("""
        import resource, sys
        from pcg_core import Groups, InvalidArgumentError
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            Groups.load(sys.argv[1])
        except InvalidArgumentError as error:
            print(error)
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)  # KiB -> MiB on Linux
    """)
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True,
                          timeout=120)
    message, grown = done.stdout.splitlines()
    assert "group_members.npy would inflate" in message, message
    assert f"to {(BOMB_MIB << 20) + 128:,} " in message, message  # the .npy header is 128 bytes
    assert int(grown) < BOMB_RSS_MIB, f"peak RSS grew by {grown} MiB"


def test_cache_folder_is_created(tmp_path: Path) -> None:
    path = tmp_path / "new" / "deeper" / "g.npz"
    groups_from_threshold(EMB, 0.5, cache=path)
    assert path.is_file()
    assert sorted(p.name for p in path.parent.iterdir()) == ["g.npz"]  # no probe or temp file left


def test_guard_leaves_room_for_normal_builds() -> None:
    """The same 200 tokens fit once θ keeps fewer pairs, or max_group_size streams them."""
    sparse = groups_from_threshold(BIG, 0.99, max_pairs_bytes=100_000).validate()
    assert sparse.nnz < 2 * 250 + 200
    streamed = groups_from_threshold(BIG, -1.0, max_group_size=3, max_pairs_bytes=100_000).validate()
    assert streamed.max_group_size == 3
    assert groups_from_topk(BIG, 3, max_pairs_bytes=100_000).validate().max_group_size == 3


def test_estimate_is_exact_for_small_vocabularies_and_close_for_large() -> None:
    low, _ = ESTIMATE_ROWS
    for n, theta in ((low, 0.3), (1000, 0.8), (4000, 0.8)):
        emb = torch.from_numpy(np.random.default_rng(n).standard_normal((n, 4)))
        points = prepare_points(emb, "cosine", 512)
        exact = int(threshold_pairs(points, theta, 512)[0].size)
        estimate = estimate_pairs(points, theta, 512)
        if n <= low:
            assert abs(estimate - exact) <= 1  # every row counted: exact but for rounding of the half
        else:  # 256 sampled rows: a few % (seeded, so this is one fixed draw)
            assert abs(estimate - exact) <= 0.1 * exact, (estimate, exact)
