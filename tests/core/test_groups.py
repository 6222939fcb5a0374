"""The Groups structure: both CSR directions, weights, invariants, files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from pcg_core import (
    FORMAT_VERSION,
    SUM_TOLERANCE,
    Groups,
    GroupsCacheMismatchError,
    InvalidArgumentError,
    groups_from_labels,
    singleton_groups,
)

# {0,1,2}, {2,3}, {3,4,5}, {0,5}, {1}: overlapping, V = 6, nnz = 11.
MEMBERS = [[2, 0, 1], [3, 2], [3, 4, 5], [0, 5], [1]]  # unsorted on purpose
RAW = [[1.0, 2.0, 3.0], [4.0, 1.0], [1.0, 1.0, 1.0], [5.0, 2.0], [2.0]]
VOCAB = 6


def build(raw: list[list[float]] | None = None, **kwargs) -> Groups:
    ptr = np.cumsum([0] + [len(m) for m in MEMBERS])
    members = np.array([t for m in MEMBERS for t in m])
    weights = None if raw is None else np.array([x for ws in raw for x in ws])
    return Groups.from_memberships(VOCAB, ptr, members, weights, **kwargs)


def expected_weights(raw: list[list[float]] | None) -> np.ndarray:
    """w[k, t], dense, renormalised per token, computed directly from the lists."""
    w = np.zeros((len(MEMBERS), VOCAB))
    for k, members in enumerate(MEMBERS):
        for j, t in enumerate(members):
            w[k, t] = 1.0 if raw is None else raw[k][j]
    return w / w.sum(0, keepdims=True)


# --------------------------------------------------------------------------- building
@pytest.mark.parametrize("raw", [None, RAW], ids=["equal", "custom"])
def test_from_memberships_both_directions(raw) -> None:
    groups = build(raw).validate()
    w = expected_weights(raw)
    assert groups.weights_kind == ("equal" if raw is None else "stored")
    assert (groups.vocab_size, groups.num_groups, groups.nnz) == (VOCAB, len(MEMBERS), 11)
    for k, members in enumerate(MEMBERS):
        assert groups.members_of(k).tolist() == sorted(members)
        got = groups.group_weights[int(groups.group_ptr[k]) : int(groups.group_ptr[k + 1])].numpy()
        np.testing.assert_allclose(got, w[k, sorted(members)], rtol=0, atol=1e-15)
    for t in range(VOCAB):
        owners = [k for k, members in enumerate(MEMBERS) if t in members]
        assert groups.groups_of(t).tolist() == owners
        got = groups.token_weights[int(groups.token_ptr[t]) : int(groups.token_ptr[t + 1])].numpy()
        np.testing.assert_allclose(got, w[owners, t], rtol=0, atol=1e-15)
        assert abs(got.sum() - 1.0) <= 1e-15
    np.testing.assert_allclose(groups.dense_weights().numpy(), w, rtol=0, atol=1e-15)


def test_equal_weights_are_one_over_n() -> None:
    groups = build()
    n_of_t = np.array([sum(t in m for m in MEMBERS) for t in range(VOCAB)])
    assert groups.groups_per_token().tolist() == n_of_t.tolist() == [2, 2, 2, 2, 1, 2]
    np.testing.assert_array_equal(groups.token_weights.numpy(), np.repeat(1.0 / n_of_t, n_of_t))


def test_custom_weights_renormalised_per_token() -> None:
    # Scaling every weight of one token changes nothing; token 1: raw 3 (group 0) and 2 (group 4) → 3/5, 2/5.
    scaled = [row[:] for row in RAW]
    scaled[0][2] *= 7.0  # token 1 in group 0
    scaled[4][0] *= 7.0  # token 1 in group 4
    a, b = build(RAW), build(scaled)
    np.testing.assert_allclose(a.group_weights.numpy(), b.group_weights.numpy(), rtol=1e-15, atol=0)
    assert a.groups_of(1).tolist() == [0, 4]
    np.testing.assert_allclose(a.token_weights[int(a.token_ptr[1]) : int(a.token_ptr[2])].numpy(), [0.6, 0.4])


def test_queries() -> None:
    groups = build(RAW)
    assert groups.sizes().tolist() == [3, 2, 3, 2, 1]
    assert groups.sizes().dtype == groups.groups_per_token().dtype == torch.int64
    assert groups.max_group_size == 3 and groups.max_groups_per_token == 2
    # ptrs int64, indices uint16, weights float64.
    nnz, m, v = 11, 5, 6
    assert groups.nbytes == (m + 1) * 8 + nnz * 2 + nnz * 8 + (v + 1) * 8 + nnz * 2 + nnz * 8
    assert groups.to("cpu") is groups and groups.to(torch.device("cpu")) is groups
    assert groups.device == torch.device("cpu")
    assert "num_groups=5" in repr(groups)
    assert groups_from_labels([1, 0, 1]).members_of(1).tolist() == [0, 2]
    assert singleton_groups(4).groups_of(3).tolist() == [3]


@pytest.mark.parametrize(
    ("vocab_size", "num_groups", "dtype"),
    [(65_536, 65_536, torch.uint16), (65_537, 65_537, torch.int32), (1, 65_537, torch.int32)],
)
def test_index_dtype(vocab_size: int, num_groups: int, dtype: torch.dtype) -> None:
    if vocab_size == num_groups:
        groups = singleton_groups(vocab_size)
    else:  # 65,537 copies of the group {0}: group ids overflow 16 bits although V = 1
        groups = Groups.from_memberships(1, np.arange(num_groups + 1), np.zeros(num_groups, np.int64))
    assert groups.group_members.dtype == groups.token_groups.dtype == dtype
    assert groups.group_ptr.dtype == groups.token_ptr.dtype == torch.int64
    assert groups.num_groups == num_groups
    assert int(groups.groups_of(vocab_size - 1)[-1]) == num_groups - 1
    assert int(groups.members_of(num_groups - 1)[0]) == vocab_size - 1


# --------------------------------------------------------------------------- validate()
def broken(**changes) -> Groups:
    """A valid structure's arrays with ``changes`` applied, bypassing from_memberships."""
    good = build(RAW)
    fields = {name: getattr(good, name).clone() for name in
              ("group_ptr", "group_members", "group_weights", "token_ptr", "token_groups", "token_weights")}
    fields.update(changes)
    return Groups(vocab_size=VOCAB, num_groups=5, **fields)


def _set(name: str, index: int, value: float) -> torch.Tensor:
    out = getattr(build(RAW), name).clone()
    out[index] = value
    return out


def _halve_token_0() -> dict[str, torch.Tensor]:
    good = build(RAW)
    gw, tw = good.group_weights.clone(), good.token_weights.clone()
    gw[good.group_members.long() == 0] *= 0.5
    tw[: int(good.token_ptr[1])] *= 0.5
    return {"group_weights": gw, "token_weights": tw}


def _swap_token_groups() -> dict[str, torch.Tensor]:
    good = build(RAW)
    tg = good.token_groups.clone()
    tg[0], tg[1] = 4, 4  # token 0 claims group 4 = {1}
    return {"token_groups": tg}


def _weights_disagree() -> dict[str, torch.Tensor]:
    good = build(RAW)
    tw = good.token_weights.clone()
    tw[0], tw[1] = tw[1], tw[0]  # token 0's two weights swapped: sums still 1, directions differ
    return {"token_weights": tw}


@pytest.mark.parametrize(
    ("changes", "name", "fragment"),
    [
        pytest.param({"group_members": _set("group_members", 2, VOCAB)}, "group_members",
                     "ids must lie in [0, 6)", id="member-out-of-range"),
        pytest.param({"token_groups": _set("token_groups", 0, 5)}, "token_groups", "ids must lie in [0, 5)",
                     id="group-id-out-of-range"),
        pytest.param({"group_ptr": torch.tensor([0, 3, 5, 8, 8, 11])}, "group_ptr", "at least one member",
                     id="empty-group"),
        pytest.param({"group_ptr": torch.tensor([1, 3, 5, 8, 10, 11])}, "group_ptr",
                     "offsets from 0 to nnz=11", id="group-ptr-not-from-zero"),
        pytest.param({"token_ptr": torch.tensor([0, 2, 4, 6, 8, 8, 11])}, "token_ptr",
                     "every token must belong to a group; token 4 does not", id="uncovered-token"),
        pytest.param(_halve_token_0(), "token_weights", "must sum to 1", id="weights-not-summing-to-1"),
        pytest.param({"group_weights": _set("group_weights", 0, 0.0)}, "group_weights", "finite and > 0",
                     id="zero-weight"),
        pytest.param({"group_weights": _set("group_weights", 0, float("nan"))}, "group_weights",
                     "finite and > 0", id="nan-weight"),
        pytest.param(_swap_token_groups(), "groups", "directions disagree", id="directions-disagree"),
        pytest.param(_weights_disagree(), "groups", "directions disagree", id="weights-disagree"),
    ],
)
def test_validate_catches(changes: dict, name: str, fragment: str) -> None:
    groups = broken(**changes)
    with pytest.raises(InvalidArgumentError, match=r"^" + name + "=") as info:
        groups.validate()
    assert fragment in str(info.value)


def test_validate_catches_duplicate_member() -> None:
    # Group 0 lists token 0 twice; both directions agree and every token's weights sum to 1.
    groups = Groups(
        vocab_size=2, num_groups=2,
        group_ptr=torch.tensor([0, 2, 3]), group_members=torch.tensor([0, 0, 1], dtype=torch.uint16),
        group_weights=torch.tensor([0.5, 0.5, 1.0], dtype=torch.float64),
        token_ptr=torch.tensor([0, 2, 3]), token_groups=torch.tensor([0, 0, 1], dtype=torch.uint16),
        token_weights=torch.tensor([0.5, 0.5, 1.0], dtype=torch.float64),
    )
    with pytest.raises(InvalidArgumentError, match="members of group 0 must be distinct"):
        groups.validate()


def test_validate_tolerance() -> None:
    # Each token's weights sum to 1 within the float64 entry of SUM_TOLERANCE (1e-6):
    # a drift below it passes; above it fails.
    tolerance = SUM_TOLERANCE["float64"]
    for drift, ok in ((tolerance / 10, True), (tolerance * 10, False)):
        good = build(RAW)
        gw, tw = good.group_weights.clone(), good.token_weights.clone()
        gw[good.group_members.long() == 4] += drift  # token 4 is in one group only
        tw[int(good.token_ptr[4])] += drift
        groups = broken(group_weights=gw, token_weights=tw)
        if ok:
            groups.validate()
        else:
            with pytest.raises(InvalidArgumentError, match="token 4 sums to"):
                groups.validate()


def test_constructor_checks_shapes() -> None:
    good = build()
    with pytest.raises(InvalidArgumentError, match=r"^group_ptr=.*\[num_groups \+ 1\] = \[6\]"):
        broken(group_ptr=good.group_ptr[:-1])
    with pytest.raises(InvalidArgumentError, match=r"^token_weights=.*\[nnz\] = \[11\]"):
        broken(token_weights=good.token_weights[:-1])


# --------------------------------------------------------------------------- files
def arrays_equal(a: Groups, b: Groups) -> None:
    for name in ("group_ptr", "group_members", "group_weights", "token_ptr", "token_groups", "token_weights"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        assert torch.equal(x, y), name
    assert (a.vocab_size, a.num_groups, a.weights_kind) == (b.vocab_size, b.num_groups, b.weights_kind)
    assert (a.embedding_digest, dict(a.params)) == (b.embedding_digest, dict(b.params))


PARAMS = {"builder": "test", "theta": 0.4, "k": 3, "token_range": [0, 6]}
DIGEST = "ab" * 32


@pytest.mark.parametrize("raw", [None, RAW], ids=["equal", "stored"])
def test_save_load_round_trip(tmp_path: Path, raw) -> None:
    groups = build(raw, embedding_digest=DIGEST, params=PARAMS)
    path = groups.save(tmp_path / "sub" / "groups.npz")
    assert path == tmp_path / "sub" / "groups.npz"
    loaded = Groups.load(path, embedding_digest=DIGEST, params=dict(PARAMS))
    arrays_equal(groups, loaded)
    loaded.validate()
    with np.load(path) as data:
        assert int(data["format_version"]) == FORMAT_VERSION
        assert ("group_weights" in data) is (raw is not None)
    assert sorted(os.listdir(path.parent)) == ["groups.npz"]  # no temp file left


def test_load_refuses_another_embedding(tmp_path: Path) -> None:
    path = build(embedding_digest=DIGEST, params=PARAMS).save(tmp_path / "g.npz")
    with pytest.raises(GroupsCacheMismatchError, match="another embedding") as info:
        Groups.load(path, embedding_digest="cd" * 32)
    assert str(info.value).startswith("path=") and DIGEST[:16] in str(info.value)


def test_load_refuses_other_params(tmp_path: Path) -> None:
    path = build(embedding_digest=DIGEST, params=PARAMS).save(tmp_path / "g.npz")
    with pytest.raises(GroupsCacheMismatchError, match="other parameters") as info:
        Groups.load(path, embedding_digest=DIGEST, params={**PARAMS, "theta": 0.45, "extra": 1})
    message = str(info.value)
    assert "theta: file 0.4 vs wanted 0.45" in message and "extra: file None vs wanted 1" in message
    assert "k:" not in message  # only what differs is named
    # Tuples compare equal to the lists they were saved as.
    Groups.load(path, params={**PARAMS, "token_range": (0, 6)})


@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, None])
def test_load_refuses_other_format_versions(tmp_path: Path, version: int | None) -> None:
    path = build().save(tmp_path / "g.npz")
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files if key != "format_version"}
    if version is not None:
        arrays["format_version"] = np.int64(version)
    np.savez(path, **arrays)
    shown = -1 if version is None else version
    expected = f"format_version={shown}, this library reads {FORMAT_VERSION}"
    with pytest.raises(InvalidArgumentError, match=expected):
        Groups.load(path)


def test_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = build(RAW).save(tmp_path / "g.npz")
    before = path.read_bytes()

    def failing_savez(file, **arrays) -> None:
        file.write(b"partial garbage")
        raise RuntimeError("disk full")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(RuntimeError, match="disk full"):
        build(embedding_digest=DIGEST).save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["g.npz"]
    monkeypatch.undo()
    arrays_equal(Groups.load(path), build(RAW))
