"""Group builders against brute-force dense references (docs/algorithm.md)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import pcg_core._builders as builders
from pcg_core import (
    Groups,
    GroupsCacheMismatchError,
    InvalidArgumentError,
    InvalidTypeError,
    embedding_digest,
    groups_from_labels,
    groups_from_threshold,
    groups_from_topk,
    singleton_groups,
)
from pcg_core._builders import BUILDER_VERSION
from pcg_core._relation import dedupe, symmetric_relation, truncate
from pcg_core._similarity import SLOT_BYTES, prepare_points, self_value, threshold_pairs, threshold_topk_relation

SETTINGS = settings(derandomize=True, deadline=None, max_examples=100)
Family = list[tuple[int, ...]]


# ---------------------------------------------------------------------------- references
def dense_cosine(emb: np.ndarray) -> np.ndarray:
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    return np.clip(unit @ unit.T, -1.0, 1.0)


def dense_distance(emb: np.ndarray) -> np.ndarray:
    return np.sqrt(((emb[:, None, :] - emb[None, :, :]) ** 2).sum(-1))


def threshold_rows(values: np.ndarray, theta: float, metric: str = "cosine") -> list[np.ndarray]:
    """G(t) = {t' : sim ≥ θ} ∪ {t} (or distance ≤ θ), one sorted array per row."""
    close = values >= theta if metric == "cosine" else values <= theta
    np.fill_diagonal(close, True)
    return [np.flatnonzero(row) for row in close]


def ranked_rows(values: np.ndarray, metric: str = "cosine") -> list[np.ndarray]:
    """Each row's ids from most to least similar, itself first, ties by smaller id."""
    n = values.shape[0]
    score = values if metric == "cosine" else -values
    out = []
    for t in range(n):
        order = np.lexsort((np.arange(n), -score[t], np.arange(n) != t))
        out.append(order)
    return out


def family_of(rows: Sequence[np.ndarray]) -> tuple[Family, list[int]]:
    """Distinct sets ordered by (smallest member, center) and their centers."""
    center: dict[tuple[int, ...], int] = {}
    for t, row in enumerate(rows):
        center.setdefault(tuple(sorted(int(x) for x in row)), t)
    ordered = sorted(center.items(), key=lambda item: (item[0][0], item[1]))
    return [members for members, _ in ordered], [c for _, c in ordered]


def groups_family(groups: Groups) -> Family:
    return [tuple(groups.members_of(k).tolist()) for k in range(groups.num_groups)]


def random_embeddings(seed: int, n: int, d: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.standard_normal((n, d))).to(dtype)


def separated_theta(values: np.ndarray, quantile: float) -> float | None:
    """A θ halfway between two consecutive off-diagonal similarities, far from all of them."""
    off = np.sort(values[np.triu_indices(values.shape[0], 1)])
    if off.size < 2:
        return None
    i = min(int(quantile * (off.size - 1)), off.size - 2)
    if off[i + 1] - off[i] < 1e-9:
        return None
    return float((off[i] + off[i + 1]) / 2)


@st.composite
def cosine_cases(draw: st.DrawFn) -> tuple[torch.Tensor, np.ndarray, float]:
    n = draw(st.integers(2, 40))
    d = draw(st.integers(1, 6))
    emb = random_embeddings(draw(st.integers(0, 2**32 - 1)), n, d)
    sims = dense_cosine(emb.numpy())
    theta = separated_theta(sims, draw(st.floats(0.0, 1.0)))
    assume(theta is not None)
    assert theta is not None
    return emb, sims, theta


# ---------------------------------------------------------------------------- threshold
@SETTINGS
@given(case=cosine_cases(), block_size=st.sampled_from([1, 3, 8, 64]))
def test_threshold_matches_dense_reference(
    case: tuple[torch.Tensor, np.ndarray, float], block_size: int
) -> None:
    emb, sims, theta = case
    groups = groups_from_threshold(emb, theta, block_size=block_size).validate()
    expected, _ = family_of(threshold_rows(sims, theta))
    assert groups_family(groups) == expected
    assert groups.weights_kind == "equal"
    # N(t) counts distinct groups.
    counts = [sum(t in members for members in expected) for t in range(emb.shape[0])]
    assert groups.groups_per_token().tolist() == counts


def test_threshold_tile_unaligned_and_block_size_free() -> None:
    emb = random_embeddings(1, 37, 4)
    sims = dense_cosine(emb.numpy())
    theta = separated_theta(sims, 0.8)
    assert theta is not None
    expected, _ = family_of(threshold_rows(sims, theta))
    for block_size in (8, 5, 37, 4096):
        assert groups_family(groups_from_threshold(emb, theta, block_size=block_size)) == expected


def test_threshold_large_unaligned_vocabulary() -> None:
    """V = 8193 = 2·4096 + 1: a one-row last tile, against a chunked dense reference."""
    emb = random_embeddings(2, 8193, 6)
    theta = 0.97
    unit = emb.numpy() / np.linalg.norm(emb.numpy(), axis=1, keepdims=True)
    rows = []
    for lo in range(0, 8193, 2048):
        block = unit[lo : lo + 2048] @ unit.T >= theta
        block[np.arange(block.shape[0]), np.arange(lo, lo + block.shape[0])] = True
        rows.extend(np.flatnonzero(r) for r in block)
    expected, _ = family_of(rows)
    groups = groups_from_threshold(emb, theta, block_size=4096).validate()
    assert groups_family(groups) == expected
    assert groups.sizes().double().mean() > 2


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 30), block_size=st.integers(1, 9))
def test_threshold_relation_exactly_symmetric(seed: int, n: int, block_size: int) -> None:
    """With θ equal to a computed float32 similarity, rounding still cannot break symmetry."""
    emb = random_embeddings(seed, n, 3, torch.float32)
    points = prepare_points(emb, "cosine", block_size)
    unit = points.block(0, n)
    theta = float((unit @ unit.T)[0, n - 1])
    rows, cols, vals = threshold_pairs(points, theta, block_size)
    ptr, members, values = symmetric_relation(n, rows, cols, vals, 1.0)
    row_of = np.repeat(np.arange(n), np.diff(ptr))
    pairs = dict(zip(zip(row_of.tolist(), members.tolist(), strict=True), values.tolist(), strict=True))
    assert all(pairs.get((c, r)) == v for (r, c), v in pairs.items())
    assert all((t, t) in pairs for t in range(n))


def test_threshold_euclidean_with_exact_ties() -> None:
    """Integer points: distances are exact, so θ on a distance is included (≤)."""
    rng = np.random.default_rng(3)
    emb = torch.from_numpy(rng.integers(0, 4, size=(30, 2)).astype(np.float64))
    dist = dense_distance(emb.numpy())
    for theta in (0.0, 1.0, float(np.sqrt(2.0)), 2.0):
        expected, _ = family_of(threshold_rows(dist, theta, "euclidean"))
        for block_size in (4, 30):
            groups = groups_from_threshold(emb, theta, metric="euclidean", block_size=block_size)
            assert groups_family(groups.validate()) == expected


@SETTINGS
@given(case=cosine_cases(), limit=st.integers(1, 6), block_size=st.sampled_from([2, 7, 64]))
def test_threshold_max_group_size(
    case: tuple[torch.Tensor, np.ndarray, float], limit: int, block_size: int
) -> None:
    emb, sims, theta = case
    ranked = ranked_rows(sims)
    full = threshold_rows(sims, theta)
    rows = [np.array([x for x in ranked[t] if x in set(full[t].tolist())][:limit]) for t in range(len(full))]
    expected, _ = family_of(rows)
    groups = groups_from_threshold(emb, theta, max_group_size=limit, block_size=block_size).validate()
    assert groups_family(groups) == expected
    assert groups.max_group_size <= limit


@settings(derandomize=True, deadline=None, max_examples=40)
@given(
    seed=st.integers(0, 2**32 - 1), n=st.integers(1, 40), metric=st.sampled_from(["cosine", "euclidean"]),
    ties=st.booleans(), single=st.booleans(), quantile=st.floats(0.0, 1.0), limit=st.integers(1, 8),
    block_size=st.integers(2, 12),
)
def test_streamed_max_group_size_equals_the_pair_list(
    seed: int, n: int, metric: str, ties: bool, single: bool, quantile: float, limit: int, block_size: int
) -> None:
    """The running top-L per row gives exactly truncate(pair list): same members, same values, same ties."""
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 3, size=(n, 2)) + (1.0 if metric == "cosine" else 0.0) if ties else rng.normal(size=(n, 3))
    emb = torch.from_numpy(np.asarray(values, dtype=np.float64)).to(torch.float32 if single else torch.float64)
    points = prepare_points(emb, metric, block_size)
    theta = (2 * quantile - 1) if metric == "cosine" else 3 * quantile
    pairs = symmetric_relation(n, *threshold_pairs(points, theta, block_size), self_value(metric))
    expected = truncate(pairs, limit, metric)
    streamed = threshold_topk_relation(points, theta, limit, block_size)
    for want, got in zip(expected, streamed, strict=True):
        np.testing.assert_array_equal(got, want)


def test_max_group_size_streams_instead_of_storing_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    """θ = −1 keeps every pair; with max_group_size the build holds V·L slots, never the pair list."""
    emb = random_embeddings(17, 300, 4)
    ranked = ranked_rows(dense_cosine(emb.numpy()))
    expected, _ = family_of([r[:4] for r in ranked])

    def no_pair_list(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("stored the pair list")

    monkeypatch.setattr(builders, "threshold_pairs", no_pair_list)
    groups = groups_from_threshold(emb, -1.0, max_group_size=4, block_size=64, max_pairs_bytes=300 * 3 * SLOT_BYTES)
    assert groups_family(groups.validate()) == expected


def test_running_count_falls_back_to_streaming(monkeypatch: pytest.MonkeyPatch) -> None:
    """An estimate that was wrong stops the pair list in time; with max_group_size the build streams instead."""
    emb = random_embeddings(18, 200, 4)
    ranked = ranked_rows(dense_cosine(emb.numpy()))
    expected, _ = family_of([r[:3] for r in ranked])
    monkeypatch.setattr(builders, "estimate_pairs", lambda *args: 0)
    groups = groups_from_threshold(emb, -1.0, max_group_size=3, block_size=32, max_pairs_bytes=200 * 2 * SLOT_BYTES)
    assert groups_family(groups.validate()) == expected


def test_threshold_limiting_cases() -> None:
    emb = random_embeddings(4, 25, 5)
    sims = dense_cosine(emb.numpy())
    top = float(sims[~np.eye(25, dtype=bool)].max())
    alone = groups_from_threshold(emb, top + 1e-6).validate()
    assert groups_family(alone) == [(t,) for t in range(25)]
    everything = groups_from_threshold(emb, -1.0, block_size=4).validate()
    assert groups_family(everything) == [tuple(range(25))]
    assert everything.token_weights.tolist() == [1.0] * 25


# ---------------------------------------------------------------------------- top-K
@SETTINGS
@given(
    case=cosine_cases(), k_fraction=st.floats(0.0, 1.0), block_size=st.sampled_from([1, 3, 8, 64]),
    with_min=st.booleans(),
)
def test_topk_matches_dense_reference(
    case: tuple[torch.Tensor, np.ndarray, float], k_fraction: float, block_size: int, with_min: bool
) -> None:
    emb, sims, theta = case
    n = emb.shape[0]
    k = 1 + int(k_fraction * (n - 1))
    min_similarity = theta if with_min else None
    ranked = ranked_rows(sims)
    rows = [r[:k] for r in ranked]
    if with_min:
        rows = [np.array([x for x in r if x == t or sims[t, x] >= theta]) for t, r in enumerate(rows)]
    expected, _ = family_of(rows)
    groups = groups_from_topk(emb, k, min_similarity=min_similarity, block_size=block_size).validate()
    assert groups_family(groups) == expected


def test_topk_ties_broken_by_smaller_id() -> None:
    rng = np.random.default_rng(5)
    emb = torch.from_numpy(rng.integers(0, 3, size=(40, 2)).astype(np.float64))
    dist = dense_distance(emb.numpy())
    ranked = ranked_rows(dist, "euclidean")
    for k in (1, 2, 5, 13, 40):
        expected, _ = family_of([r[:k] for r in ranked])
        for block_size in (3, 16, 40):
            groups = groups_from_topk(emb, k, metric="euclidean", block_size=block_size).validate()
            assert groups_family(groups) == expected, (k, block_size)
    limited, _ = family_of([np.array([x for x in r[:6] if dist[r[0], x] <= 1.0]) for r in ranked])
    groups = groups_from_topk(emb, 6, metric="euclidean", min_similarity=1.0, block_size=7)
    assert groups_family(groups) == limited


# ---------------------------------------------------------------------------- token_range, weights
@pytest.mark.parametrize("builder", ["threshold", "topk"])
def test_token_range_both_row_conventions(builder: str) -> None:
    vocab, start, stop = 20, 5, 15
    full = random_embeddings(6, vocab, 4)
    speech = full[start:stop]

    def build(emb: torch.Tensor, **kwargs: Any) -> Groups:
        if builder == "threshold":
            return groups_from_threshold(emb, 0.3, block_size=4, **kwargs).validate()
        return groups_from_topk(emb, 3, block_size=4, **kwargs).validate()

    inner = build(speech)
    from_speech_rows = build(speech, token_range=(start, stop), vocab_size=vocab)
    from_vocab_rows = build(full, token_range=(start, stop), vocab_size=vocab)
    expected = (
        [(t,) for t in range(start)]
        + [tuple(x + start for x in g) for g in groups_family(inner)]
        + [(t,) for t in range(stop, vocab)]
    )
    assert groups_family(from_speech_rows) == expected
    assert groups_family(from_vocab_rows) == expected
    assert from_vocab_rows.params["token_range"] == [start, stop]
    assert from_vocab_rows.params["vocab_size"] == vocab


def _expected_weights(
    rows: Sequence[np.ndarray], values: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """w[k, t] ∝ fn(value of t to the center of k), renormalised per token."""
    family, centers = family_of(rows)
    raw = np.zeros((len(family), values.shape[0]))
    for k, (members, center) in enumerate(zip(family, centers, strict=True)):
        raw[k, list(members)] = fn(values[center, list(members)])
    return raw / raw.sum(axis=0, keepdims=True)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("weights", ["similarity", "custom"])
def test_weights_follow_the_center(metric: str, weights: str) -> None:
    emb = random_embeddings(7, 30, 3)
    values = dense_cosine(emb.numpy()) if metric == "cosine" else dense_distance(emb.numpy())
    theta = separated_theta(values, 0.7 if metric == "cosine" else 0.3)
    assert theta is not None
    rows = threshold_rows(values, theta, metric)
    if weights == "custom":
        groups = groups_from_threshold(
            emb, theta, metric=metric, weights=lambda v: torch.exp(3 * v), block_size=8
        ).validate()
        expected = _expected_weights(rows, values, lambda v: np.exp(3 * v))
        assert str(groups.params["weights"]).startswith("custom:")
    else:
        groups = groups_from_threshold(
            emb, theta, metric=metric, weights="similarity", block_size=8
        ).validate()
        fn = (lambda v: v) if metric == "cosine" else (lambda v: 1 / (1 + v))
        expected = _expected_weights(rows, values, fn)
    assert groups.weights_kind == "stored"
    np.testing.assert_allclose(groups.dense_weights().numpy(), expected, rtol=1e-9, atol=1e-12)


def test_params_and_digest_are_recorded() -> None:
    emb = random_embeddings(16, 12, 3)
    groups = groups_from_threshold(emb, 0.25, weights=_square, max_group_size=4)
    assert dict(groups.params) == {
        "builder": "groups_from_threshold", "builder_version": BUILDER_VERSION, "theta": 0.25,
        "metric": "cosine", "token_range": None, "vocab_size": 12, "max_group_size": 4,
        "weights": f"custom:{__name__}._square",
    }
    assert groups.embedding_digest == embedding_digest(emb)
    topk = groups_from_topk(emb, 3, min_similarity=0.1, token_range=(2, 14), vocab_size=14)
    assert topk.params["builder"] == "groups_from_topk"
    assert (topk.params["k"], topk.params["min_similarity"], topk.params["weights"]) == (3, 0.1, "equal")


def test_equal_weights_are_one_over_n() -> None:
    emb = random_embeddings(8, 30, 3)
    groups = groups_from_threshold(emb, 0.5).validate()
    degrees = groups.groups_per_token().double()
    np.testing.assert_allclose(groups.dense_weights().sum(0).numpy(), 1.0)
    dense = groups.dense_weights()
    assert torch.all((dense == 0) | (dense == 1.0 / degrees)).item()


def test_similarity_weights_need_positive_similarity() -> None:
    emb = random_embeddings(9, 12, 3)
    with pytest.raises(InvalidArgumentError, match="positive theta"):
        groups_from_threshold(emb, -1.0, weights="similarity")
    groups_from_topk(emb, 2, min_similarity=0.01, weights="similarity").validate()


def test_float32_and_bfloat16_inputs() -> None:
    emb = random_embeddings(10, 50, 8)
    for dtype in (torch.float32, torch.bfloat16):
        low = emb.to(dtype)
        reference = dense_cosine(low.double().numpy())
        theta = separated_theta(reference, 0.9)
        assert theta is not None
        groups = groups_from_threshold(low, theta, block_size=16).validate()
        expected, _ = family_of(threshold_rows(reference, theta))
        assert groups_family(groups) == expected


# ---------------------------------------------------------------------------- dedupe, singletons, labels
def test_dedupe_survives_hash_collisions() -> None:
    """All-zero keys make every equal-size pair a candidate; exact comparison must still split them."""
    rows = [[0, 1], [0, 1], [2, 3], [1, 2], [0, 1], [2, 3], [5], [5], [4]]
    ptr = np.cumsum([0] + [len(r) for r in rows]).astype(np.int64)
    cols = np.array([x for r in rows for x in r], dtype=np.int64)
    honest = dedupe(ptr, cols)
    colliding = dedupe(ptr, cols, keys=np.zeros(len(rows), dtype=np.uint64))
    assert honest.tolist() == colliding.tolist() == [0, 3, 2, 8, 6]


def test_singleton_groups() -> None:
    groups = singleton_groups(5).validate()
    assert groups_family(groups) == [(t,) for t in range(5)]
    assert groups.params["builder"] == "singleton_groups"


@SETTINGS
@given(labels=st.lists(st.integers(0, 9), min_size=1, max_size=30))
def test_labels_partition_round_trip(labels: list[int]) -> None:
    groups = groups_from_labels(np.array(labels)).validate()
    distinct = sorted(set(labels))
    assert groups.num_groups == len(distinct)
    recovered = [distinct[int(groups.groups_of(t)[0])] for t in range(len(labels))]
    assert recovered == labels
    assert groups.groups_per_token().tolist() == [1] * len(labels)
    assert groups_family(groups_from_labels(torch.tensor(labels))) == groups_family(groups)


# ---------------------------------------------------------------------------- cache
def test_cache_round_trip_and_mismatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    emb = random_embeddings(12, 40, 4)
    path = tmp_path / "groups.npz"
    first = groups_from_threshold(emb, 0.4, weights="similarity", cache=path)
    assert path.exists()

    def no_rebuild(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("rebuilt instead of loading the cache")

    monkeypatch.setattr(builders, "threshold_pairs", no_rebuild)
    second = groups_from_threshold(emb, 0.4, weights="similarity", cache=path, block_size=7)
    for name in ("group_ptr", "group_members", "group_weights", "token_ptr", "token_groups", "token_weights"):
        assert torch.equal(getattr(first, name), getattr(second, name)), name
    assert first.params == second.params
    assert first.embedding_digest == second.embedding_digest == embedding_digest(emb)

    with pytest.raises(GroupsCacheMismatchError, match="theta"):
        groups_from_threshold(emb, 0.5, weights="similarity", cache=path)
    with pytest.raises(GroupsCacheMismatchError, match="another embedding"):
        groups_from_threshold(emb + 1, 0.4, weights="similarity", cache=path)
    with pytest.raises(GroupsCacheMismatchError, match="builder"):
        groups_from_topk(emb, 3, weights="similarity", cache=path)


def test_topk_cache(tmp_path: Path) -> None:
    emb = random_embeddings(13, 20, 4)
    path = tmp_path / "topk.npz"
    first = groups_from_topk(emb, 4, cache=path)
    second = groups_from_topk(emb, 4, cache=path)
    assert groups_family(first) == groups_family(second)
    with pytest.raises(GroupsCacheMismatchError, match="k: file 4 vs wanted 5"):
        groups_from_topk(emb, 5, cache=path)


def test_embedding_digest() -> None:
    emb = random_embeddings(14, 6, 3, torch.float32)
    assert embedding_digest(emb) == embedding_digest(emb.clone())
    assert embedding_digest(emb) != embedding_digest(emb.double())  # dtype is part of it
    assert embedding_digest(emb) != embedding_digest(emb.reshape(3, 6))  # so is the shape
    assert embedding_digest(emb.T.contiguous().T) == embedding_digest(emb)  # layout is not
    assert len(embedding_digest(emb)) == 64


# ---------------------------------------------------------------------------- invalid arguments
E = random_embeddings(15, 6, 3)
NAN = E.clone()
NAN[4, 1] = float("nan")
ZERO = E.clone()
ZERO[2] = 0.0


def _square(v: torch.Tensor) -> torch.Tensor:
    return v * v


INVALID: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any], type[Exception], str]] = [
    (groups_from_threshold, (E.numpy(), 0.5), {}, InvalidTypeError, "must be a torch.Tensor"),
    (groups_from_threshold, (E.long(), 0.5), {}, InvalidTypeError, "floating dtype"),
    (groups_from_threshold, (E[0], 0.5), {}, InvalidArgumentError, "must be 2-D"),
    (groups_from_threshold, (NAN, 0.5), {}, InvalidArgumentError, "row 4 is not finite"),
    (groups_from_threshold, (ZERO, 0.5), {}, InvalidArgumentError, "row 2 has norm 0"),
    (groups_from_threshold, (E, float("nan")), {}, InvalidArgumentError, "theta=nan: must be finite"),
    (groups_from_threshold, (E, "0.5"), {}, InvalidTypeError, "theta='0.5': must be a real number"),
    (groups_from_threshold, (E, -0.5), {"metric": "euclidean"}, InvalidArgumentError, "maximum distance"),
    (groups_from_threshold, (E, 0.5), {"metric": "dot"}, InvalidArgumentError, "metric='dot'"),
    (groups_from_threshold, (E, 0.5), {"weights": "uniform"}, InvalidArgumentError, "weights='uniform'"),
    (groups_from_threshold, (E, 0.5), {"block_size": 0}, InvalidArgumentError, "block_size=0: must be an integer >= 1"),
    (groups_from_threshold, (E, 0.5), {"max_group_size": 0}, InvalidArgumentError, "max_group_size=0"),
    (groups_from_threshold, (E, 0.5), {"vocab_size": 7}, InvalidArgumentError, "must equal the number"),
    (groups_from_threshold, (E, 0.5), {"token_range": (0, 6)}, InvalidArgumentError,
     "required with token_range"),
    (groups_from_threshold, (E, 0.5), {"token_range": (4, 2), "vocab_size": 9}, InvalidArgumentError,
     "0 ≤ start < stop"),
    (groups_from_threshold, (E, 0.5), {"token_range": (5, 10), "vocab_size": 9}, InvalidArgumentError,
     "0 ≤ start < stop"),
    (groups_from_threshold, (E, 0.5), {"token_range": (0, 5), "vocab_size": 9}, InvalidArgumentError,
     "rows (the speech ids) or vocab_size = 9 rows"),
    (groups_from_threshold, (E, 0.5), {"token_range": 3, "vocab_size": 9}, InvalidTypeError,
     "pair of integers"),
    (groups_from_threshold, (E, 0.5), {"token_range": (0, 6.0), "vocab_size": 9}, InvalidTypeError,
     "token_range[1]=6.0: must be an integer"),
    (groups_from_threshold, (E, 0.5), {"weights": _square, "cache": "x.npz"}, InvalidArgumentError,
     "custom weights callable"),
    (groups_from_threshold, (E, 0.5), {"weights": lambda v: v[:1]}, InvalidArgumentError, "one weight per"),
    (groups_from_threshold, (E, 0.5), {"weights": lambda v: v - 5}, InvalidArgumentError, "weights > 0"),
    (groups_from_topk, (E, 0), {}, InvalidArgumentError, "k=0: must be an integer >= 1"),
    (groups_from_topk, (E, 7), {}, InvalidArgumentError, "k=7: must be <= the number of speech tokens (6)"),
    (groups_from_topk, (E, 2.0), {}, InvalidTypeError, "k=2.0: must be an integer"),
    (groups_from_topk, (E, 2), {"min_similarity": float("inf")}, InvalidArgumentError, "must be finite"),
    (groups_from_topk, (E, 2), {"metric": "l1"}, InvalidArgumentError, "metric='l1'"),
    (singleton_groups, (0,), {}, InvalidArgumentError, "vocab_size=0"),
    (groups_from_labels, ([0.5, 1.0],), {}, InvalidTypeError, "must hold integers"),
    (groups_from_labels, ([],), {}, InvalidArgumentError, "labels=[]: is empty"),
    (groups_from_labels, (torch.tensor([], dtype=torch.float32),), {}, InvalidArgumentError, "is empty"),
    (groups_from_labels, (torch.tensor([True]),), {}, InvalidTypeError, "must hold integers"),
    (groups_from_labels, (torch.tensor([0.0]),), {}, InvalidTypeError, "must hold integers"),
    (groups_from_labels, (np.zeros((2, 2), np.int64),), {}, InvalidArgumentError, "1-D"),
    (groups_from_labels, ([1, -2],), {}, InvalidArgumentError, "found -2"),
    (embedding_digest, ([1.0],), {}, InvalidTypeError, "must be a torch.Tensor"),
]


@pytest.mark.parametrize(
    ("function", "args", "kwargs", "error", "fragment"), INVALID,
    ids=[f"{case[0].__name__}-{i}" for i, case in enumerate(INVALID)],
)
def test_invalid_arguments(
    function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception],
    fragment: str,
) -> None:
    with pytest.raises(error) as info:
        function(*args, **kwargs)
    assert fragment in str(info.value)
