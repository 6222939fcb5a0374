"""Builders of group structures from the target model's token embeddings.

Math follows the paper: q is the target, p the draft; ``G(t)`` is the group
defined by token t (its *center*), ``E`` the embedding matrix [N, D].

Two rules (docs/algorithm.md):

- threshold (the paper's): ``G(t) = {t' : cos(E[t], E[t']) ≥ θ} ∪ {t}``;
  reflexive and exactly symmetric.
- top-K (memory-bounded): ``G(t)`` = the K tokens most similar to t, t itself
  included and counted, optionally intersected with the threshold rule.

Identical sets are kept once, so ``N(t)`` counts distinct groups. Tokens
outside ``token_range`` are singleton groups. Groups are numbered by their
smallest member, groups sharing a smallest member by their center (the
smallest token t whose ``G(t)`` is that set): the numbering depends on the
relation ``t ↦ G(t)`` only, never on ``block_size`` or the device.

Shapes: ``b`` = ``block_size``; the similarity matrix is never held whole,
only ``b × b`` tiles (threshold) or ``b × (b + K)`` (top-K).

Memory. What grows with V is what a rule keeps: the pairs passing θ, or the
``V·K`` neighbours of top-K and of ``max_group_size``. Both builders work out
that size before storing anything (estimated from a row sample for θ, exact
for K) and refuse, saying how big it would be and what to change, when it
exceeds ``max_pairs_bytes`` (:data:`DEFAULT_MAX_PAIRS_BYTES`, 4 GiB); the
threshold build also counts the pairs as it goes, so a wrong estimate still
stops it in time. ``cache`` is checked (a writable place for a file) before
the build, a cache hit is validated like :meth:`Groups.load`.

Each builder reads as the rule: check the parameters
(:mod:`pcg_core._builder_args`, which also holds the cache), take the similar
pairs (:mod:`pcg_core._similarity`, the tile maths), make the relation
``t ↦ G(t)`` and assemble the distinct groups (:mod:`pcg_core._relation`, CSR
operations and de-duplication).
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from pcg_core._builder_args import (
    METRICS,
    cached,
    check_cache,
    check_embeddings,
    check_threshold,
    check_weights_rule,
    resolve_range,
)
from pcg_core._groups import Groups
from pcg_core._groups_file import canonical_json
from pcg_core._relation import Relation, WeightFn, assemble, filter_members, symmetric_relation, truncate
from pcg_core._rules import check_choice, check_int, check_int_array
from pcg_core._similarity import (
    PAIR_BYTES,
    SLOT_BYTES,
    PairLimitExceeded,
    Points,
    estimate_pairs,
    prepare_points,
    self_value,
    threshold_pairs,
    threshold_topk_relation,
    topk_relation,
)
from pcg_core.errors import InvalidArgumentError, InvalidTypeError

__all__ = [
    "DEFAULT_MAX_PAIRS_BYTES",
    "embedding_digest",
    "groups_from_labels",
    "groups_from_threshold",
    "groups_from_topk",
    "singleton_groups",
]

#: Bumped whenever a builder's output for the same inputs changes (invalidates caches).
BUILDER_VERSION = 1
_DIGEST_CHUNK_BYTES = 64 << 20
#: Default ``max_pairs_bytes``: what a build may hold for the pairs or neighbours it keeps.
DEFAULT_MAX_PAIRS_BYTES = 4 << 30
#: A pair list this small is built without planning, max_group_size or not.
_SMALL_BYTES = 64 << 20


# ---------------------------------------------------------------------------- public builders
def groups_from_threshold(
    embeddings: torch.Tensor,
    theta: float,
    *,
    metric: str = "cosine",
    token_range: tuple[int, int] | None = None,
    vocab_size: int | None = None,
    max_group_size: int | None = None,
    weights: str | WeightFn = "equal",
    block_size: int = 4096,
    cache: str | os.PathLike[str] | None = None,
    max_pairs_bytes: int = DEFAULT_MAX_PAIRS_BYTES,
) -> Groups:
    """Groups by the paper's threshold rule, ``G(t) = {t' : sim(t, t') ≥ θ} ∪ {t}``.

    Parameters
    ----------
    embeddings : torch.Tensor [N, D], floating, any device
        Token-embedding rows of the target model. Cosine similarity is taken
        between L2-normalised rows, computed in float32 (float64 input stays
        float64). Tiles are computed on the embeddings' device (CUDA included);
        only the (row, column) pairs that pass travel to the CPU.
    theta : float
        Cosine: the minimum similarity, in [−1, 1] (θ = −1 groups everything;
        beyond ±1 the rule would be void, so it is refused).
        ``metric="euclidean"``: the maximum distance,
        ``G(t) = {t' : ‖E[t] − E[t']‖ ≤ θ}`` (θ ≥ 0, unbounded above).
        Comparisons happen in the compute dtype.
    metric : {"cosine", "euclidean"}
    token_range : (start, stop), optional
        The speech ids ``[start, stop)`` of a vocabulary of ``vocab_size`` ids
        (required then). ``embeddings`` holds either ``stop − start`` rows
        (the speech ids, in order) or ``vocab_size`` rows (rows start:stop are
        used). Every id outside the range is a singleton group.
    vocab_size : int, optional
        V; without ``token_range`` it defaults to N and must equal N.
    max_group_size : int, optional
        Keep only the ``max_group_size`` most similar members of each ``G(t)``
        (t itself always kept and counted, ties by smaller id), before
        deduplication. This breaks symmetry. It bounds memory: when the pairs
        passing θ would take more room than ``V·max_group_size`` slots, the
        build keeps a running best per row as the tiles stream instead of
        the pairs (same result, ~``SLOT_BYTES`` = 128 bytes per slot).
    weights : "equal", "similarity" or callable
        ``"equal"``: ``w[k, t] = 1/N(t)``. ``"similarity"``: proportional to
        ``cos(E[t], E[center_k])`` (must be > 0: use θ > 0), or
        ``1 / (1 + distance)`` under euclidean. A callable receives the metric
        value (cosine, or distance) of every membership to its group's center
        as a float64 tensor [nnz] and returns weights > 0 of the same shape.
        Weights are renormalised per token.
    block_size : int
        Tile side ``b``; the result does not depend on it.
    cache : path, optional
        ``.npz`` file: loaded and validated when it exists (it must match the
        embedding and the parameters, else :class:`GroupsCacheMismatchError`;
        a damaged file is an :class:`InvalidArgumentError` naming it), else
        written. Checked before building: it must not be a directory, and its
        folder must exist or be creatable, and be writable.
    max_pairs_bytes : int
        The memory a build may spend on the pairs it keeps (default 4 GiB).
        Before storing any, the number of pairs passing θ is estimated from
        the exact counts of V/32 sampled rows, 256 to 1,024 (3 % of the tile
        work at V = 65,536, 6 % at 16,384; skipped when even every pair would
        fit), at ``PAIR_BYTES`` = 200 bytes each at the peak; above the
        limit the call is refused with the estimate and the ways out (a higher
        θ, ``max_group_size``, :func:`groups_from_topk`). The pairs are also
        counted exactly while building, and the build stops at the limit.

    Returns
    -------
    Groups
        Satisfies :meth:`Groups.validate`; ``params`` and ``embedding_digest``
        record how it was built.

    Notes
    -----
    Only tiles ``(I, J)`` with ``J ≥ I`` are computed and each pair ``t < t'``
    is mirrored, so rounding can never make the relation asymmetric.
    Time O(N² D / 2) for the products plus O(nnz log nnz); memory
    O(b² + b·D + pairs) besides the embedding (never copied whole), or
    O(b² + b·D + N·max_group_size) when streamed.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> emb = torch.randn(6, 4, generator=g)
    >>> groups = groups_from_threshold(emb, 0.5)
    >>> groups.validate().vocab_size
    6
    """
    metric = check_choice("metric", metric, METRICS)
    theta = check_threshold("theta", theta, metric)
    block_size = check_int("block_size", block_size, minimum=1)
    if max_group_size is not None:
        max_group_size = check_int("max_group_size", max_group_size, minimum=1)
    max_pairs_bytes = check_int("max_pairs_bytes", max_pairs_bytes, minimum=1)
    weights_name = check_weights_rule(weights, cache)
    cache_path = check_cache(cache)
    emb = check_embeddings(embeddings)
    start, stop, vocab, offset = resolve_range(int(emb.shape[0]), token_range, vocab_size)
    params = _params(
        "groups_from_threshold", theta=theta, metric=metric,
        token_range=None if token_range is None else [start, stop], vocab_size=vocab,
        max_group_size=max_group_size, weights=weights_name,
    )

    digest = embedding_digest(emb)

    def build() -> Groups:
        points = prepare_points(emb[offset : offset + stop - start], metric, block_size)
        relation = _threshold_relation(points, theta, max_group_size, block_size, max_pairs_bytes)
        return assemble(relation, start, vocab, weights, metric, params, digest)

    return cached(cache_path, digest, params, build)


def groups_from_topk(
    embeddings: torch.Tensor,
    k: int,
    *,
    metric: str = "cosine",
    min_similarity: float | None = None,
    token_range: tuple[int, int] | None = None,
    vocab_size: int | None = None,
    weights: str | WeightFn = "equal",
    block_size: int = 4096,
    cache: str | os.PathLike[str] | None = None,
    max_pairs_bytes: int = DEFAULT_MAX_PAIRS_BYTES,
) -> Groups:
    """Groups of the K nearest neighbours: ``G(t)`` = the k tokens most similar to t.

    t itself is always in ``G(t)`` and counts towards k; ties are broken by
    the smaller id. With ``min_similarity`` the neighbours are also filtered by
    the threshold rule (cosine ≥ it, or distance ≤ it under euclidean). The
    relation is not symmetric. Identical sets are kept once.

    ``embeddings``, ``metric``, ``token_range``, ``vocab_size``, ``weights``,
    ``block_size`` and ``cache`` are as in :func:`groups_from_threshold`;
    ``k`` must lie in ``[1, number of speech rows]``, ``min_similarity`` in
    the range of θ there.

    Memory: per block of b rows, the columns are scanned in chunks of b and
    merged into a running top-k, so the peak is O(b·(b + k)), not O(b·V),
    besides the N·k neighbours kept: ``N·k·SLOT_BYTES`` (128 bytes each) must
    not exceed ``max_pairs_bytes`` (default 4 GiB), checked before building.
    Time O(N² D + nnz log nnz).

    Examples
    --------
    >>> emb = torch.eye(4, dtype=torch.float64)
    >>> groups_from_topk(emb, 1).num_groups
    4
    """
    metric = check_choice("metric", metric, METRICS)
    k = check_int("k", k, minimum=1)
    block_size = check_int("block_size", block_size, minimum=1)
    if min_similarity is not None:
        min_similarity = check_threshold("min_similarity", min_similarity, metric)
    max_pairs_bytes = check_int("max_pairs_bytes", max_pairs_bytes, minimum=1)
    weights_name = check_weights_rule(weights, cache)
    cache_path = check_cache(cache)
    emb = check_embeddings(embeddings)
    start, stop, vocab, offset = resolve_range(int(emb.shape[0]), token_range, vocab_size)
    if k > stop - start:
        raise InvalidArgumentError("k", k, f"must be <= the number of speech tokens ({stop - start})")
    if (stop - start) * k * SLOT_BYTES > max_pairs_bytes:
        raise InvalidArgumentError(
            "k", k,
            f"keeps {stop - start:,}×{k} neighbours, {_size((stop - start) * k * SLOT_BYTES)} to build; "
            f"over max_pairs_bytes={max_pairs_bytes:,} ({_size(max_pairs_bytes)})",
            "lower k, or raise max_pairs_bytes if the memory is there",
        )
    params = _params(
        "groups_from_topk", k=k, metric=metric, min_similarity=min_similarity,
        token_range=None if token_range is None else [start, stop], vocab_size=vocab, weights=weights_name,
    )

    digest = embedding_digest(emb)

    def build() -> Groups:
        points = prepare_points(emb[offset : offset + stop - start], metric, block_size)
        relation = topk_relation(points, k, block_size)
        if min_similarity is not None:
            relation = filter_members(relation, min_similarity, metric)
        return assemble(relation, start, vocab, weights, metric, params, digest)

    return cached(cache_path, digest, params, build)


def singleton_groups(vocab_size: int) -> Groups:
    """One group per token, ``G_t = {t}``: standard, token-exact speculative decoding.

    >>> singleton_groups(3).num_groups
    3
    """
    vocab_size = check_int("vocab_size", vocab_size, minimum=1)
    ids = np.arange(vocab_size + 1, dtype=np.int64)
    return Groups.from_memberships(
        vocab_size, ids, ids[:-1], embedding_digest="",
        params=_params("singleton_groups", vocab_size=vocab_size),
    )


def groups_from_labels(labels: torch.Tensor | npt.ArrayLike) -> Groups:
    """A partition: tokens with the same label form one group.

    ``labels`` is a 1-D array of non-negative integers, one per token
    (V = its length). Group k holds the tokens with the k-th smallest distinct
    label (labels need not be contiguous). Every weight is 1.

    >>> groups_from_labels([2, 0, 2]).members_of(1).tolist()
    [0, 2]
    """
    values = check_int_array("labels", labels, ndim=1, nonempty=True)
    if values.min() < 0:
        raise InvalidArgumentError("labels", labels, f"must be >= 0; found {int(values.min())}")
    _, group_of = np.unique(values, return_inverse=True)
    order = np.argsort(group_of, kind="stable")
    counts = np.bincount(group_of)
    ptr = np.zeros(counts.size + 1, np.int64)
    np.cumsum(counts, out=ptr[1:])
    return Groups.from_memberships(
        int(values.size), ptr, order.astype(np.int64), embedding_digest="",
        params=_params("groups_from_labels", vocab_size=int(values.size)),
    )


def embedding_digest(embeddings: torch.Tensor) -> str:
    """sha256 (hex) of an embedding: its shape, its dtype and its values as float32.

    Read in row chunks of ~64 MB, so a CUDA tensor is never copied whole.
    Little-endian float32 bytes make it the same on every machine.

    >>> embedding_digest(torch.zeros(2, 3)) == embedding_digest(torch.zeros(2, 3))
    True
    """
    if not isinstance(embeddings, torch.Tensor):
        raise InvalidTypeError("embeddings", embeddings, "must be a torch.Tensor")
    digest = hashlib.sha256()
    digest.update(f"pcg-embedding|{list(embeddings.shape)}|{embeddings.dtype}|".encode())
    flat = embeddings.detach()
    if flat.dim() != 2:
        flat = flat.reshape(1, -1)
    row_bytes = max(1, int(flat.shape[1]) * 4)
    step = max(1, _DIGEST_CHUNK_BYTES // row_bytes)
    for lo in range(0, int(flat.shape[0]), step):
        chunk = flat[lo : lo + step].to(device="cpu", dtype=torch.float32).contiguous().numpy()
        digest.update(np.ascontiguousarray(chunk, dtype="<f4").tobytes())
    return digest.hexdigest()


# ---------------------------------------------------------------------------- the threshold relation
def _threshold_relation(
    points: Points, theta: float, limit: int | None, block_size: int, max_bytes: int
) -> Relation:
    """t ↦ G(t) of the threshold rule (cut to ``limit`` members), built within ``max_bytes``.

    Two ways give the same relation: the pair list (every kept pair t < t',
    ``PAIR_BYTES`` each) or, with ``limit``, a running best per row
    (``n·(limit − 1)`` slots, ``SLOT_BYTES`` each); the smaller is taken.
    No estimate is needed when even every pair would fit (and, with
    ``limit``, take under ``_SMALL_BYTES``: small vocabularies, where the
    pair list's fewer tile operations win).
    """
    n = points.count
    streamed = None if limit is None else n * min(limit - 1, n - 1) * SLOT_BYTES
    every_pair = n * (n - 1) // 2 * PAIR_BYTES
    if every_pair <= max_bytes and (streamed is None or every_pair <= max(streamed, _SMALL_BYTES)):
        pairs = threshold_pairs(points, theta, block_size)
    else:
        estimated = estimate_pairs(points, theta, block_size)
        if limit is not None and streamed is not None and streamed < estimated * PAIR_BYTES:
            if streamed > max_bytes:
                raise _over_budget("max_group_size", limit, f"keeps {n:,}×{limit - 1} best members as the tiles "
                                   f"stream, {_size(streamed)}", n, max_bytes)
            return threshold_topk_relation(points, theta, limit, block_size)
        if estimated * PAIR_BYTES > max_bytes:
            raise _over_budget("theta", theta, f"keeps an estimated {estimated:,} pairs t < t' of the {n:,} tokens, "
                               f"{_size(estimated * PAIR_BYTES)} to build", n, max_bytes)
        try:
            pairs = threshold_pairs(points, theta, block_size, max_pairs=max_bytes // PAIR_BYTES)
        except PairLimitExceeded as stop:
            if limit is not None and streamed is not None and streamed <= max_bytes:
                return threshold_topk_relation(points, theta, limit, block_size)
            raise _over_budget("theta", theta, f"kept {stop.pairs:,} pairs t < t' in {stop.fraction:.0%} of the "
                               f"tiles (estimated: {estimated:,} in all), so the build was stopped", n, max_bytes
                               ) from None
    relation = symmetric_relation(n, *pairs, self_value(points.metric))
    return relation if limit is None else truncate(relation, limit, points.metric)


def _over_budget(name: str, value: Any, what: str, n: int, max_bytes: int) -> InvalidArgumentError:
    group_size = "lower max_group_size" if name == "max_group_size" else "pass max_group_size"
    return InvalidArgumentError(
        name, value, f"{what}; over max_pairs_bytes={max_bytes:,} ({_size(max_bytes)})",
        f"raise theta; or {group_size}, streamed at {_size(n * SLOT_BYTES)} per member kept per group; "
        "or use groups_from_topk; or raise max_pairs_bytes if the memory is there",
    )


def _size(nbytes: int) -> str:
    """Bytes in the largest binary unit below them: '3.7 MiB'."""
    value, unit = float(nbytes), "B"
    for larger in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, larger
    return f"{value:.3g} {unit}"


def _params(builder: str, **values: Any) -> dict[str, Any]:
    """The parameters as their JSON round trip, so a built and a loaded structure agree."""
    record = {"builder": builder, "builder_version": BUILDER_VERSION, **values}
    loaded: dict[str, Any] = json.loads(canonical_json(record))
    return loaded
