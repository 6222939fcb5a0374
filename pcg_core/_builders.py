"""Builders of group structures from the target model's token embeddings.

Math follows the paper: q is the target, p the draft; ``G(t)`` is the group
defined by token t (its *center*), ``E`` the embedding matrix [N, D].

Two rules (SPEC §2):

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
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from pcg_core._errors import InvalidArgumentError, InvalidTypeError
from pcg_core._groups import Groups, canonical_json

__all__ = [
    "embedding_digest",
    "groups_from_labels",
    "groups_from_threshold",
    "groups_from_topk",
    "singleton_groups",
]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
#: A vectorised weight function: metric values [nnz] float64 -> weights [nnz] > 0.
WeightFn = Callable[[torch.Tensor], torch.Tensor]

#: Bumped whenever a builder's output for the same inputs changes (invalidates caches).
BUILDER_VERSION = 1
_METRICS = ("cosine", "euclidean")
_WEIGHTS = ("equal", "similarity")
#: Fixed seed of the random 64-bit keys of the multiset hash used to find duplicate sets.
_DEDUPE_SEED = 20251113
_DIGEST_CHUNK_BYTES = 64 << 20


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
        Cosine: the minimum similarity. ``metric="euclidean"``: the maximum
        distance, ``G(t) = {t' : ‖E[t] − E[t']‖ ≤ θ}`` (θ ≥ 0). Comparisons
        happen in the compute dtype.
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
        deduplication. This breaks symmetry.
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
        ``.npz`` file: loaded when it exists (it must match the embedding and
        the parameters, else :class:`GroupsCacheMismatchError`), else written.

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
    O(b² + b·D + nnz) besides the embedding (never copied whole).

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> emb = torch.randn(6, 4, generator=g)
    >>> groups = groups_from_threshold(emb, 0.5)
    >>> groups.validate().vocab_size
    6
    """
    metric = _check_metric(metric)
    theta = _check_real("theta", theta)
    if metric == "euclidean" and theta < 0:
        raise InvalidArgumentError(
            "theta", theta, "is a maximum distance under metric='euclidean'; must be ≥ 0"
        )
    block_size = _check_int("block_size", block_size, 1)
    if max_group_size is not None:
        max_group_size = _check_int("max_group_size", max_group_size, 1)
    weights_name = _check_weights(weights, cache)
    emb = _check_embeddings(embeddings)
    start, stop, vocab, offset = _resolve_range(int(emb.shape[0]), token_range, vocab_size)
    params = _params(
        "groups_from_threshold", theta=theta, metric=metric,
        token_range=None if token_range is None else [start, stop], vocab_size=vocab,
        max_group_size=max_group_size, weights=weights_name,
    )

    digest = embedding_digest(emb)

    def build() -> Groups:
        points = _prepare(emb[offset : offset + stop - start], metric, block_size)
        rows, cols, vals = _threshold_pairs(points, theta, block_size)
        relation = _symmetric_relation(stop - start, rows, cols, vals, _self_value(metric))
        if max_group_size is not None:
            relation = _truncate(relation, max_group_size, metric)
        return _assemble(relation, start, vocab, weights, metric, params, digest)

    return _cached(cache, digest, params, build)


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
) -> Groups:
    """Groups of the K nearest neighbours: ``G(t)`` = the k tokens most similar to t.

    t itself is always in ``G(t)`` and counts towards k; ties are broken by
    the smaller id. With ``min_similarity`` the neighbours are also filtered by
    the threshold rule (cosine ≥ it, or distance ≤ it under euclidean). The
    relation is not symmetric. Identical sets are kept once.

    ``embeddings``, ``metric``, ``token_range``, ``vocab_size``, ``weights``,
    ``block_size`` and ``cache`` are as in :func:`groups_from_threshold`;
    ``k`` must lie in ``[1, number of speech rows]``.

    Memory: per block of b rows, the columns are scanned in chunks of b and
    merged into a running top-k, so the peak is O(b·(b + k)), not O(b·V).
    Time O(N² D + nnz log nnz).

    Examples
    --------
    >>> emb = torch.eye(4, dtype=torch.float64)
    >>> groups_from_topk(emb, 1).num_groups
    4
    """
    metric = _check_metric(metric)
    block_size = _check_int("block_size", block_size, 1)
    if min_similarity is not None:
        min_similarity = _check_real("min_similarity", min_similarity)
    weights_name = _check_weights(weights, cache)
    emb = _check_embeddings(embeddings)
    start, stop, vocab, offset = _resolve_range(int(emb.shape[0]), token_range, vocab_size)
    k = _check_int("k", k, 1)
    if k > stop - start:
        raise InvalidArgumentError("k", k, f"must be ≤ the number of speech tokens ({stop - start})")
    params = _params(
        "groups_from_topk", k=k, metric=metric, min_similarity=min_similarity,
        token_range=None if token_range is None else [start, stop], vocab_size=vocab, weights=weights_name,
    )

    digest = embedding_digest(emb)

    def build() -> Groups:
        points = _prepare(emb[offset : offset + stop - start], metric, block_size)
        relation = _topk_relation(points, k, block_size)
        if min_similarity is not None:
            relation = _filter(relation, min_similarity, metric)
        return _assemble(relation, start, vocab, weights, metric, params, digest)

    return _cached(cache, digest, params, build)


def singleton_groups(vocab_size: int) -> Groups:
    """One group per token, ``G_t = {t}``: standard, token-exact speculative decoding.

    >>> singleton_groups(3).num_groups
    3
    """
    vocab_size = _check_int("vocab_size", vocab_size, 1)
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
    if isinstance(labels, torch.Tensor):
        if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
            raise InvalidTypeError("labels", labels, "must hold integers")
        array = labels.detach().cpu().numpy()
    else:
        array = np.asarray(labels)
    if array.dtype.kind not in "iu":
        raise InvalidTypeError("labels", labels, "must hold integers")
    if array.ndim != 1 or array.size == 0:
        raise InvalidArgumentError("labels", labels, "must be a non-empty 1-D array, one label per token")
    values = array.astype(np.int64)
    if values.min() < 0:
        raise InvalidArgumentError("labels", labels, f"must be ≥ 0; found {int(values.min())}")
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


# ---------------------------------------------------------------------------- validation
def _check_metric(metric: str) -> str:
    if metric not in _METRICS:
        raise InvalidArgumentError("metric", metric, f"must be one of {_METRICS}")
    return metric


def _check_real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InvalidTypeError(name, value, "must be a real number")
    result = float(value)
    if not np.isfinite(result):
        raise InvalidArgumentError(name, value, "must be finite")
    return result


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidTypeError(name, value, "must be an int")
    if value < minimum:
        raise InvalidArgumentError(name, value, f"must be ≥ {minimum}")
    return int(value)


def _check_weights(weights: Any, cache: Any) -> str:
    if callable(weights):
        if cache is not None:
            raise InvalidArgumentError(
                "cache", str(cache), "cannot be combined with a custom weights callable",
                "a function cannot be compared with the cached file; use weights='equal'/'similarity' "
                "or build without cache",
            )
        module = getattr(weights, "__module__", None) or "?"
        return f"custom:{module}.{getattr(weights, '__qualname__', type(weights).__name__)}"
    if weights not in _WEIGHTS:
        raise InvalidArgumentError("weights", weights, f"must be one of {_WEIGHTS} or a callable")
    return str(weights)


def _check_embeddings(embeddings: Any) -> torch.Tensor:
    if not isinstance(embeddings, torch.Tensor):
        raise InvalidTypeError("embeddings", embeddings, "must be a torch.Tensor [N, D]")
    if not embeddings.dtype.is_floating_point:
        raise InvalidTypeError(
            "embeddings", embeddings, "must have a floating dtype (float32, float64, bfloat16)"
        )
    if embeddings.dim() != 2 or embeddings.shape[0] < 1 or embeddings.shape[1] < 1:
        raise InvalidArgumentError("embeddings", embeddings, "must be 2-D [N, D] with N ≥ 1 and D ≥ 1")
    return embeddings.detach()


def _resolve_range(
    num_rows: int, token_range: tuple[int, int] | None, vocab_size: int | None
) -> tuple[int, int, int, int]:
    """(start, stop, V, first embedding row used) for the speech ids [start, stop)."""
    if token_range is None:
        if vocab_size is not None and (_check_int("vocab_size", vocab_size, 1) != num_rows):
            raise InvalidArgumentError(
                "vocab_size", vocab_size, f"must equal the number of embedding rows ({num_rows})",
                "pass token_range=(start, stop) when the embeddings cover only part of the vocabulary",
            )
        return 0, num_rows, num_rows, 0
    if vocab_size is None:
        raise InvalidArgumentError("vocab_size", None, "is required with token_range")
    vocab = _check_int("vocab_size", vocab_size, 1)
    if (not isinstance(token_range, tuple | list) or len(token_range) != 2
            or not all(isinstance(x, int | np.integer) and not isinstance(x, bool) for x in token_range)):
        raise InvalidArgumentError("token_range", token_range, "must be a pair of ints (start, stop)")
    start, stop = int(token_range[0]), int(token_range[1])
    if not 0 <= start < stop <= vocab:
        raise InvalidArgumentError(
            "token_range", token_range, f"must satisfy 0 ≤ start < stop ≤ vocab_size={vocab}"
        )
    if num_rows == stop - start:
        return start, stop, vocab, 0
    if num_rows == vocab:
        return start, stop, vocab, start
    raise InvalidArgumentError(
        "embeddings", f"{num_rows} rows",
        f"must have stop − start = {stop - start} rows (the speech ids) or vocab_size = {vocab} rows",
    )


def _params(builder: str, **values: Any) -> dict[str, Any]:
    """The parameters as their JSON round trip, so a built and a loaded structure agree."""
    record = {"builder": builder, "builder_version": BUILDER_VERSION, **values}
    loaded: dict[str, Any] = json.loads(canonical_json(record))
    return loaded


def _cached(
    cache: str | os.PathLike[str] | None, digest: str, params: dict[str, Any], build: Callable[[], Groups]
) -> Groups:
    if cache is not None and Path(cache).exists():
        return Groups.load(cache, embedding_digest=digest, params=params)
    groups = build()
    if cache is not None:
        groups.save(cache)
    return groups


# ---------------------------------------------------------------------------- tile maths
@dataclass(frozen=True)
class _Points:
    """The speech rows, read one block at a time in the compute dtype.

    No whole normalised (or converted) copy of the embedding is ever made:
    a block ``[b, D]`` is converted and, under cosine, divided by its norms
    when a tile needs it.
    """

    rows: torch.Tensor  # [n, D] as given: any floating dtype, any device
    dtype: torch.dtype  # float64 for float64 input, else float32
    metric: str
    norms: torch.Tensor  # [n]: ‖E[t]‖ under cosine, ‖E[t]‖² under euclidean

    @property
    def count(self) -> int:
        return int(self.rows.shape[0])

    def block(self, lo: int, hi: int) -> torch.Tensor:
        chunk = self.rows[lo:hi].to(self.dtype)
        return chunk / self.norms[lo:hi].unsqueeze(1) if self.metric == "cosine" else chunk

    def tile(self, left: torch.Tensor, i0: int, right: torch.Tensor, j0: int) -> torch.Tensor:
        """Cosine similarities [b_i, b_j] (clamped to [−1, 1]) or euclidean distances."""
        dots = left @ right.T
        if self.metric == "cosine":
            return dots.clamp_(-1.0, 1.0)
        # ‖a − b‖² = ‖a‖² + ‖b‖² − 2 a·b, clamped at 0 against cancellation
        rows = self.norms[i0 : i0 + left.shape[0]].unsqueeze(1)
        cols = self.norms[j0 : j0 + right.shape[0]].unsqueeze(0)
        return dots.mul_(-2.0).add_(rows).add_(cols).clamp_(min=0.0).sqrt_()


def _prepare(emb: torch.Tensor, metric: str, block_size: int) -> _Points:
    """Check every row for NaN/inf (and zero norm under cosine) and compute the norms, in row chunks."""
    dtype = torch.float64 if emb.dtype == torch.float64 else torch.float32
    norms = torch.empty(emb.shape[0], dtype=dtype, device=emb.device)
    for lo in range(0, int(emb.shape[0]), block_size):
        chunk = emb[lo : lo + block_size].to(dtype)
        finite = torch.isfinite(chunk).all(dim=1)
        if not bool(finite.all()):
            row = lo + int(torch.nonzero(~finite)[0, 0])
            raise InvalidArgumentError("embeddings", emb, f"row {row} is not finite (NaN or inf)")
        squared = (chunk * chunk).sum(dim=1)
        if metric == "cosine":
            zero = squared == 0
            if bool(zero.any()):
                row = lo + int(torch.nonzero(zero)[0, 0])
                raise InvalidArgumentError(
                    "embeddings", emb, f"row {row} has norm 0, so its cosine similarity is undefined",
                    "use metric='euclidean' or drop that token from token_range",
                )
            squared = squared.sqrt()
        norms[lo : lo + block_size] = squared
    return _Points(emb, dtype, metric, norms)


def _threshold_pairs(points: _Points, theta: float, block_size: int) -> tuple[I64, I64, F64]:
    """Every pair t < t' with sim(t, t') ≥ θ (or distance ≤ θ), from tiles J ≥ I only.

    Returns rows, cols (int64) and the metric values (float64: cosine or distance).
    """
    n = points.count
    rows: list[I64] = []
    cols: list[I64] = []
    vals: list[F64] = []
    for i0 in range(0, n, block_size):
        left = points.block(i0, min(i0 + block_size, n))
        for j0 in range(i0, n, block_size):
            right = left if j0 == i0 else points.block(j0, min(j0 + block_size, n))
            scores = points.tile(left, i0, right, j0)
            mask = scores >= theta if points.metric == "cosine" else scores <= theta
            r, c = torch.nonzero(mask, as_tuple=True)
            if j0 == i0:  # diagonal tile: the strict upper triangle only; the mirror gives the rest
                upper = c > r
                r, c = r[upper], c[upper]
            v = scores[r, c]
            rows.append(r.cpu().numpy().astype(np.int64) + i0)
            cols.append(c.cpu().numpy().astype(np.int64) + j0)
            vals.append(v.cpu().numpy().astype(np.float64))
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)


def _topk_select(
    scores: torch.Tensor, k: int, num_running: int, running_ids: torch.Tensor, first_col: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The k best of each row of ``scores`` [b, m], ties by smaller id; result [b, k] sorted by id.

    Columns ``< num_running`` are the running best (ids ``running_ids``), the
    rest are ids ``first_col, first_col + 1, …``; ids ascend along each row.
    """
    b, m = scores.shape
    if m <= k:
        take = torch.ones_like(scores, dtype=torch.bool)
    else:
        kth = torch.topk(scores, k, dim=1, sorted=False).values.amin(dim=1, keepdim=True)
        take = scores > kth
        tie = scores == kth
        need = k - take.sum(dim=1)
        crowded = tie.sum(dim=1) > need  # rows whose ties must be cut: keep the smallest ids
        if bool(crowded.any()):
            idx = torch.nonzero(crowded).squeeze(1)
            sub = tie[idx]
            tie[idx] = sub & (torch.cumsum(sub, dim=1) <= need[idx].unsqueeze(1))
        take |= tie
    r, c = torch.nonzero(take, as_tuple=True)  # row-major: exactly min(k, m) per row, ids ascending
    width = min(k, m)
    best = scores[r, c].view(b, width)
    from_running = c < num_running
    ids = torch.where(
        from_running,
        running_ids[r, c.clamp(max=max(num_running - 1, 0))] if num_running else c,
        c - num_running + first_col,
    )
    return best, ids.view(b, width)


def _topk_relation(points: _Points, k: int, block_size: int) -> tuple[I64, I64, F64]:
    """CSR (row_ptr, cols, values) of t ↦ its k best neighbours (itself first by score +inf)."""
    n, metric, device = points.count, points.metric, points.rows.device
    all_ids: list[I64] = []
    all_vals: list[F64] = []
    for i0 in range(0, n, block_size):
        i1 = min(i0 + block_size, n)
        left = points.block(i0, i1)
        running = torch.empty(i1 - i0, 0, dtype=points.dtype, device=device)
        running_ids = torch.empty(i1 - i0, 0, dtype=torch.int64, device=device)
        for j0 in range(0, n, block_size):
            j1 = min(j0 + block_size, n)
            tile = points.tile(left, i0, left if j0 == i0 else points.block(j0, j1), j0)
            scores = tile if metric == "cosine" else tile.neg_()  # larger is better
            lo, hi = max(i0, j0), min(i1, j1)
            if lo < hi:  # the token itself always belongs to its group
                diag = torch.arange(lo, hi, device=device)
                scores[diag - i0, diag - j0] = float("inf")
            merged = torch.cat([running, scores], dim=1)
            running, running_ids = _topk_select(merged, k, int(running_ids.shape[1]), running_ids, j0)
        all_ids.append(running_ids.cpu().numpy().astype(np.int64).reshape(-1))
        all_vals.append(running.cpu().numpy().astype(np.float64).reshape(-1))
    cols = np.concatenate(all_ids)
    vals = np.concatenate(all_vals)
    width = cols.size // n
    is_self = cols == np.repeat(np.arange(n, dtype=np.int64), width)
    vals = vals if metric == "cosine" else -vals
    vals[is_self] = _self_value(metric)
    return np.arange(n + 1, dtype=np.int64) * width, cols, vals


def _self_value(metric: str) -> float:
    return 1.0 if metric == "cosine" else 0.0


# ---------------------------------------------------------------------------- relation (CSR of t ↦ G(t))
def _symmetric_relation(n: int, rows: I64, cols: I64, vals: F64, self_value: float) -> tuple[I64, I64, F64]:
    """CSR of the reflexive, symmetric relation from its strict upper pairs; columns ascending."""
    diag = np.arange(n, dtype=np.int64)
    all_rows = np.concatenate([rows, cols, diag])
    all_cols = np.concatenate([cols, rows, diag])
    order = np.argsort(all_rows * n + all_cols)
    all_vals = np.concatenate([vals, vals, np.full(n, self_value)])[order]
    row_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(all_rows, minlength=n), out=row_ptr[1:])
    return row_ptr, all_cols[order], all_vals


def _truncate(relation: tuple[I64, I64, F64], limit: int, metric: str) -> tuple[I64, I64, F64]:
    """Keep, per row, the row itself and its ``limit − 1`` most similar columns (ties: smaller id)."""
    row_ptr, cols, vals = relation
    n = row_ptr.size - 1
    row_of = np.repeat(np.arange(n, dtype=np.int64), np.diff(row_ptr))
    closeness = vals if metric == "cosine" else -vals
    order = np.lexsort((cols, -closeness, cols != row_of, row_of))
    rank = np.arange(cols.size) - row_ptr[row_of[order]]
    keep = np.sort(order[rank < limit])  # back to (row, col) order
    counts = np.bincount(row_of[keep], minlength=n)
    new_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=new_ptr[1:])
    return new_ptr, cols[keep], vals[keep]


def _filter(relation: tuple[I64, I64, F64], limit: float, metric: str) -> tuple[I64, I64, F64]:
    """Drop members below ``limit`` (cosine) or above it (distance); the row itself stays."""
    row_ptr, cols, vals = relation
    n = row_ptr.size - 1
    row_of = np.repeat(np.arange(n, dtype=np.int64), np.diff(row_ptr))
    keep = (cols == row_of) | (vals >= limit if metric == "cosine" else vals <= limit)
    new_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(row_of[keep], minlength=n), out=new_ptr[1:])
    return new_ptr, cols[keep], vals[keep]


def _segments(ptr: I64, rows: I64) -> I64:
    """Positions of the concatenated segments ``ptr[r]:ptr[r+1]`` for r in ``rows``."""
    lengths = ptr[rows + 1] - ptr[rows]
    ends = np.cumsum(lengths)
    return np.repeat(ptr[rows] - (ends - lengths), lengths) + np.arange(int(ends[-1]) if ends.size else 0)


def _dedupe(row_ptr: I64, cols: I64, keys: npt.NDArray[np.uint64] | None = None) -> I64:
    """Centers of the distinct rows (the smallest row of each set), numbered by (smallest member, center).

    Candidates share a 64-bit multiset hash ``Σ_{t'∈G(t)} key[t'] mod 2⁶⁴`` and a size;
    each is then confirmed by comparing its sorted members, so a collision
    never merges two different sets.
    """
    n = row_ptr.size - 1
    if keys is None:
        keys = np.random.Generator(np.random.PCG64(_DEDUPE_SEED)).integers(
            0, np.iinfo(np.uint64).max, size=n, dtype=np.uint64, endpoint=True
        )
    sizes = np.diff(row_ptr)
    hashes = np.add.reduceat(keys[cols], row_ptr[:-1])  # uint64 sums wrap modulo 2⁶⁴; rows are non-empty
    order = np.lexsort((np.arange(n), sizes, hashes))
    same_key = np.zeros(n, dtype=bool)
    same_key[1:] = (hashes[order[1:]] == hashes[order[:-1]]) & (sizes[order[1:]] == sizes[order[:-1]])
    # Confirm each candidate against its predecessor in the sorted order.
    later, earlier = order[1:][same_key[1:]], order[:-1][same_key[1:]]
    equal = np.ones(later.size, dtype=bool)
    if later.size:
        differs = cols[_segments(row_ptr, later)] != cols[_segments(row_ptr, earlier)]
        owner = np.repeat(np.arange(later.size), sizes[later])
        equal = np.bincount(owner[differs], minlength=later.size) == 0
    run_start = np.flatnonzero(~same_key)
    run_of = np.cumsum(~same_key) - 1
    center = order[run_start][run_of]  # rows sorted by id within a run: the first is the smallest
    colliding = np.unique(run_of[1:][same_key[1:]][~equal])
    for run in colliding:  # a true hash collision: partition the run exactly (never seen in practice)
        seen: dict[bytes, int] = {}
        for position in np.flatnonzero(run_of == run):  # rows ascending, so the first seen is the center
            row = int(order[position])
            center[position] = seen.setdefault(cols[row_ptr[row] : row_ptr[row + 1]].tobytes(), row)
    centers = np.unique(center)
    first_member = cols[row_ptr[centers]]
    return centers[np.lexsort((centers, first_member))]


# ---------------------------------------------------------------------------- assembly
def _assemble(
    relation: tuple[I64, I64, F64],
    start: int,
    vocab_size: int,
    weights: str | WeightFn,
    metric: str,
    params: dict[str, Any],
    digest: str,
) -> Groups:
    """Distinct speech groups (ids offset by ``start``) between the singletons of the other ids."""
    row_ptr, cols, vals = relation
    n = row_ptr.size - 1
    centers = _dedupe(row_ptr, cols)
    positions = _segments(row_ptr, centers)
    sizes = row_ptr[centers + 1] - row_ptr[centers]
    before = np.arange(start, dtype=np.int64)
    after = np.arange(start + n, vocab_size, dtype=np.int64)
    members = np.concatenate([before, cols[positions] + start, after])
    group_sizes = np.concatenate([np.ones(before.size, np.int64), sizes, np.ones(after.size, np.int64)])
    ptr = np.zeros(group_sizes.size + 1, np.int64)
    np.cumsum(group_sizes, out=ptr[1:])
    group_weights: F64 | None = None
    if weights != "equal":
        own = np.full(before.size, _self_value(metric))
        tail = np.full(after.size, _self_value(metric))
        values = np.concatenate([own, vals[positions], tail])
        group_weights = _membership_weights(values, weights, metric, centers, ptr, members, start)
    return Groups.from_memberships(
        vocab_size, ptr, members, group_weights, embedding_digest=digest, params=params
    )


def _membership_weights(
    values: F64, weights: str | WeightFn, metric: str, centers: I64, ptr: I64, members: I64, start: int
) -> F64:
    """Unnormalised w[k, t] from the metric value of t to the center of k."""
    if callable(weights):
        out = weights(torch.from_numpy(values.copy()))
        result = np.asarray(out.detach().cpu().numpy() if isinstance(out, torch.Tensor) else out, np.float64)
        if result.shape != values.shape:
            raise InvalidArgumentError(
                "weights", weights,
                f"the callable must return one weight per membership, shape ({values.size},)",
            )
        if not (np.all(np.isfinite(result)) and np.all(result > 0)):
            raise InvalidArgumentError("weights", weights, "the callable must return finite weights > 0")
        return result
    if metric == "euclidean":
        return 1.0 / (1.0 + values)
    bad = np.flatnonzero(values <= 0)
    if bad.size:
        group = int(np.searchsorted(ptr, bad[0], side="right") - 1)
        center = int(centers[group - start]) + start
        raise InvalidArgumentError(
            "weights", "similarity",
            f"needs cos(E[t], E[center]) > 0 for every member; token {int(members[bad[0]])} has "
            f"{values[bad[0]]:.4g} to center {center} ({bad.size} such memberships)",
            "use a positive theta (or min_similarity), or weights='equal'",
        )
    return values
