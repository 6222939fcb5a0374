"""The one implementation of each kind of distribution, pair relation and group structure.

Math follows the paper: q is the target, p the draft; code says
``target_probs`` and ``draft_probs``.

Every kind is a plain function of a :class:`numpy.random.Generator`, shared
by the seeded factory (:mod:`pcg_verify.cases`) and the Hypothesis strategies
(:mod:`pcg_verify.cases.strategies`), together with the argument rules both apply.
This module imports neither Hypothesis nor the gate.

Everything is float64: a probability vector is a NumPy ``[V]`` array that the
generator normalises itself (construction, not validation: it never accepts
and renormalises a caller's vector), so it sums to 1 within ~V·2⁻⁵³.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from pcg_core import Groups, groups_from_labels, groups_from_threshold, groups_from_topk, singleton_groups
from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_core.validation import check_bool, check_choice, check_int

__all__ = [
    "CONCENTRATIONS",
    "DISTRIBUTION_KINDS",
    "F64",
    "GROUP_KINDS",
    "RELATIONS",
    "TILE_UNALIGNED_SIZES",
    "Choices",
    "case_choices",
    "check_bounds",
    "check_group_cap",
    "check_min_zeros",
    "describe_distribution",
    "distribution",
    "group_structure",
    "pair",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

# Each list starts with its simplest member: Hypothesis shrinks toward it.
#: Kinds of one probability vector.
DISTRIBUTION_KINDS: tuple[str, ...] = ("uniform", "dirichlet", "peaked", "sparse", "bfloat16")
#: How the draft p relates to the target q at one position.
RELATIONS: tuple[str, ...] = (
    "equal", "close", "independent", "partial_overlap", "disjoint", "reversed", "swapped_in_group",
)
#: Kinds of group structure.
GROUP_KINDS: tuple[str, ...] = (
    "singletons", "partition", "all", "hub", "threshold", "topk", "heavy_overlap", "uneven_weights",
)
#: Dirichlet concentrations (1 first: the flat Dirichlet is the simplest).
CONCENTRATIONS: tuple[float, ...] = (1.0, 0.1, 10.0)
#: One more than a power of two: the sizes that leave a partial last tile in blocked kernels.
TILE_UNALIGNED_SIZES: tuple[int, ...] = (257, 4097, 8193)

#: Peak mass of "peaked" vectors; the lower end stays above 0.9 after renormalisation.
_PEAK_RANGE = (0.905, 0.999)
#: Embedding width of the clustered embeddings behind "threshold" and "topk".
_EMBED_DIM = 8
#: Largest group the random structures ("partition", "hub", "heavy_overlap") make on their own.
_RANDOM_GROUP_CAP = 16


# ---------------------------------------------------------------------------- argument rules
def check_bounds(lo_name: str, lo: Any, hi_name: str, hi: Any, minimum: int) -> tuple[int, int]:
    """An inclusive range ``minimum ≤ lo ≤ hi`` of ints (numpy integers accepted)."""
    low = check_int(lo_name, lo, minimum=minimum)
    high = check_int(hi_name, hi, minimum=minimum)
    if low > high:
        raise InvalidArgumentError(lo_name, low, f"must be ≤ {hi_name}={high}")
    return low, high


def _check_names(name: str, values: Sequence[str] | None, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """``None`` means all of ``allowed``; otherwise a non-empty sequence of known names, in given order."""
    if values is None:
        return allowed
    if isinstance(values, str):
        raise InvalidTypeError(name, values, "must be a sequence of names, not one string (wrap it in a list)")
    chosen = tuple(dict.fromkeys(values))
    if not chosen:
        raise InvalidArgumentError(name, values, f"must name at least one of {allowed}")
    return tuple(check_choice(name, value, allowed) for value in chosen)


def check_min_zeros(min_zeros: int, vocab_size: int) -> None:
    """At least one token keeps the mass: ``min_zeros ≤ V − 1``."""
    if min_zeros > vocab_size - 1:
        raise InvalidArgumentError(
            "min_zeros", min_zeros, f"must be ≤ vocab_size − 1 = {vocab_size - 1} (one token keeps the mass)"
        )


def check_group_cap(kind: str, vocab_size: int, cap: int | None) -> None:
    """Kind "all" makes one group of V tokens, so it needs ``max_group_size`` ≥ V (or none)."""
    if kind == "all" and cap is not None and cap < vocab_size:
        raise InvalidArgumentError(
            "max_group_size", cap,
            f"kind='all' makes one group of all {vocab_size} tokens; must be ≥ vocab_size",
            "leave max_group_size=None or pick another kind",
        )


@dataclass(frozen=True)
class Choices:
    """Validated bounds (inclusive pairs) and name lists shared by ``draw_case`` and ``cases()``."""

    vocab: tuple[int, int]
    gamma: tuple[int, int]
    batch: tuple[int, int]
    group_kinds: tuple[str, ...]
    relations: tuple[str, ...]
    distribution_kinds: tuple[str, ...]


def case_choices(
    min_vocab: Any, max_vocab: Any, min_gamma: Any, max_gamma: Any, min_batch: Any, max_batch: Any,
    group_kinds: Sequence[str] | None, relations: Sequence[str] | None,
    distribution_kinds: Sequence[str] | None, singleton_only: Any,
) -> Choices:
    """Check the arguments of ``draw_case``/``cases()``: V ≥ 2, γ ≥ 1, B ≥ 1, known names."""
    vocab = check_bounds("min_vocab", min_vocab, "max_vocab", max_vocab, 2)
    gammas = check_bounds("min_gamma", min_gamma, "max_gamma", max_gamma, 1)
    batches = check_bounds("min_batch", min_batch, "max_batch", max_batch, 1)
    kinds = _check_names("group_kinds", group_kinds, GROUP_KINDS)
    if check_bool("singleton_only", singleton_only):
        if group_kinds is not None and kinds != ("singletons",):
            raise InvalidArgumentError(
                "group_kinds", group_kinds, "must be None or ['singletons'] when singleton_only=True"
            )
        kinds = ("singletons",)
    return Choices(
        vocab, gammas, batches, kinds, _check_names("relations", relations, RELATIONS),
        _check_names("distribution_kinds", distribution_kinds, DISTRIBUTION_KINDS),
    )


# ---------------------------------------------------------------------------- distributions
def _normalise(values: F64) -> F64:
    """``values / Σ values`` for a generated non-negative vector with positive sum."""
    out: F64 = values / values.sum()
    return out


def _dirichlet(rng: np.random.Generator, size: int, concentration: float) -> F64:
    """Dirichlet(α·1) [size] via normalised Gamma(α) draws."""
    draws: F64 = rng.standard_gamma(concentration, size)
    if not draws.sum() > 0:  # every Gamma(α) underflowed (tiny α): all mass on one token
        draws = np.zeros(size)
        draws[rng.integers(size)] = 1.0
    return _normalise(draws)


def distribution(
    rng: np.random.Generator, size: int, kind: str, concentration: float, min_zeros: int = 0
) -> F64:
    """One probability vector [size] of ``kind``, with at least ``min_zeros`` exact zeros.

    uniform: 1/size each. dirichlet: Dirichlet(α). peaked: one token holds
    0.905–0.999, a Dirichlet(α) shares the rest. sparse: Dirichlet(α) on a
    random support, exact zeros elsewhere (at least one, at least one positive).
    bfloat16: Dirichlet(α) rounded through torch.bfloat16, then renormalised.
    """
    if size == 1:
        return np.ones(1)
    if kind == "uniform":
        probs = np.full(size, 1.0 / size)
    elif kind == "dirichlet":
        probs = _dirichlet(rng, size, concentration)
    elif kind == "peaked":
        peak, mass = int(rng.integers(size)), rng.uniform(*_PEAK_RANGE)
        probs = np.insert(_dirichlet(rng, size - 1, concentration) * (1.0 - mass), peak, mass)
    elif kind == "sparse":
        num_zeros = int(rng.integers(max(1, min_zeros), size))
        support = rng.permutation(size)[num_zeros:]
        probs = np.zeros(size)
        probs[support] = _dirichlet(rng, support.size, concentration)
    elif kind == "bfloat16":
        rounded = torch.from_numpy(_dirichlet(rng, size, concentration)).to(torch.bfloat16).double()
        probs = rounded.numpy()
    else:  # validated by every caller
        raise AssertionError(kind)
    missing = min_zeros - int(np.count_nonzero(probs == 0))
    if missing > 0:  # zero some positive tokens, never the largest
        candidates = np.setdiff1d(np.flatnonzero(probs > 0), [int(np.argmax(probs))])
        probs = probs.copy()
        probs[rng.choice(candidates, missing, replace=False)] = 0.0
    return _normalise(probs)


def _on_support(rng: np.random.Generator, size: int, support: I64, kind: str, concentration: float) -> F64:
    """A ``kind`` vector [size] positive exactly on ``support`` (so relations on supports hold)."""
    inner = distribution(rng, support.size, "dirichlet" if kind == "sparse" else kind, concentration)
    inner = _normalise(np.maximum(inner, np.finfo(np.float64).tiny))  # undo bfloat16 underflow to 0
    probs = np.zeros(size)
    probs[support] = inner
    return probs


def describe_distribution(kind: str, concentration: float) -> str:
    """``"uniform"``, ``"dirichlet(α)"`` or ``"<kind> dirichlet(α)"`` for a case description."""
    if kind == "uniform":
        return "uniform"
    alpha = f"dirichlet({concentration:g})"
    return alpha if kind == "dirichlet" else f"{kind} {alpha}"


# ---------------------------------------------------------------------------- pairs
def _swap_within_groups(rng: np.random.Generator, probs: F64, groups: Groups | None) -> F64:
    """``probs`` with its values permuted inside each group in turn (the whole vocabulary without groups)."""
    if groups is None:
        return probs[rng.permutation(probs.size)]
    swapped = probs.copy()
    for k in rng.permutation(groups.num_groups):
        members = groups.members_of(int(k)).numpy()
        swapped[members] = swapped[rng.permutation(members)]
    return swapped


def pair(
    rng: np.random.Generator,
    size: int,
    relation: str,
    kind: str,
    concentration: float,
    groups: Groups | None = None,
) -> tuple[F64, F64]:
    """(draft_probs, target_probs) [size] each, related by ``relation``; both have positive mass.

    equal: p == q. close: q = p·exp(σ·N(0,1)) renormalised, σ ∈ [0.01, 0.2]
    (same support). independent: two draws. disjoint: supports split the
    vocabulary. partial_overlap: supports share ≥ 1 token and differ.
    reversed: q sorted descending and p = q[::-1] (mass at opposite ends).
    swapped_in_group: p = q with values permuted inside groups.
    """
    def draw() -> F64:
        return distribution(rng, size, kind, concentration)

    if relation == "equal":
        target = draw()
        return target.copy(), target
    if relation == "close":
        draft = draw()
        noise = np.exp(rng.uniform(0.01, 0.2) * rng.standard_normal(size))
        return draft, _normalise(draft * noise)
    if relation == "independent":
        return draw(), draw()
    if relation in ("disjoint", "partial_overlap"):
        order = rng.permutation(size)
        if relation == "disjoint":
            cut = int(rng.integers(1, size))
            draft_support, target_support = order[:cut], order[cut:]
        else:
            common = int(rng.integers(1, size))  # shared tokens; the rest belong to one side only
            draft_only = int(rng.integers(0, size - common + 1))
            draft_support = order[: common + draft_only]
            target_support = np.concatenate([order[:common], order[common + draft_only :]])
        return (_on_support(rng, size, draft_support, kind, concentration),
                _on_support(rng, size, target_support, kind, concentration))
    if relation == "reversed":
        target = np.sort(draw())[::-1].copy()
        return target[::-1].copy(), target
    if relation == "swapped_in_group":
        target = draw()
        return _swap_within_groups(rng, target, groups), target
    raise AssertionError(relation)


# ---------------------------------------------------------------------------- group structures
def _chunks(rng: np.random.Generator, ids: I64, low: int, high: int) -> list[I64]:
    """``ids`` cut into consecutive pieces of random sizes in [low, high] (the last may be shorter)."""
    pieces: list[I64] = []
    start = 0
    while start < ids.size:
        step = int(rng.integers(low, high + 1))
        pieces.append(ids[start : start + step])
        start += step
    return pieces


def _from_sets(size: int, sets: list[I64], weights: Callable[[int], F64] | None = None) -> Groups:
    """Groups from member sets, identical sets kept once (first occurrence).

    ``weights(nnz)`` draws positive raw weights [nnz]; they are normalised here,
    per token, to w[k, t] = raw[k, t] / Σ_{j ∈ S(t)} raw[j, t] (so Σ_k w[k, t] = 1).
    """
    unique = list(dict.fromkeys(tuple(sorted(int(t) for t in members)) for members in sets))
    ptr = np.zeros(len(unique) + 1, np.int64)
    np.cumsum([len(members) for members in unique], out=ptr[1:])
    flat = np.fromiter((t for members in unique for t in members), np.int64, count=int(ptr[-1]))
    if weights is None:
        return Groups.from_memberships(size, ptr, flat)
    raw = weights(flat.size)
    per_token = np.asarray(np.bincount(flat, raw, minlength=size), np.float64)  # [V]: Σ_{j ∈ S(t)} raw[j, t]
    return Groups.from_memberships(size, ptr, flat, raw / per_token[flat])


def _overlapping_sets(rng: np.random.Generator, size: int, cap: int) -> list[I64]:
    """A random cover of the vocabulary plus about size/2 … size random subsets of 2..cap tokens."""
    high = max(2, min(cap, size, _RANDOM_GROUP_CAP, max(2, size // 2)))
    sets = _chunks(rng, rng.permutation(size), 1, high)
    for _ in range(int(rng.integers(size // 2 + 1, size + 2))):
        sets.append(np.unique(rng.integers(0, size, int(rng.integers(2, high + 1)))))
    return sets


def _clustered_embeddings(rng: np.random.Generator, size: int) -> F64:
    """[size, 8]: a few Gaussian clusters plus ~10% isotropic noise tokens."""
    num_clusters = int(rng.integers(1, min(4, size) + 1))
    centers = rng.standard_normal((num_clusters, _EMBED_DIM))
    spread = rng.uniform(0.2, 0.8)
    labels = rng.integers(0, num_clusters, size)
    points: F64 = centers[labels] + spread * rng.standard_normal((size, _EMBED_DIM))
    noise = rng.random(size) < 0.1
    points[noise] = rng.standard_normal((int(noise.sum()), _EMBED_DIM))
    return points


def _overlap_theta(rng: np.random.Generator, points: F64) -> float:
    """A cosine threshold whose groups hold ~1.5–6 tokens on average: a quantile of sampled similarities."""
    size = points.shape[0]
    unit = points / np.linalg.norm(points, axis=1, keepdims=True)
    anchors = rng.choice(size, min(size, 64), replace=False)
    sims = unit[anchors] @ unit.T
    sims[np.arange(anchors.size), anchors] = np.nan  # drop each anchor's similarity to itself
    mean_size = rng.uniform(1.5, max(1.5, min(size, 6.0)))
    level = 1.0 - (mean_size - 1.0) / (size - 1)
    return round(float(np.nanquantile(sims, level)), 4)


def group_structure(
    rng: np.random.Generator, size: int, kind: str, cap: int | None = None
) -> tuple[Groups, str]:
    """A validated :class:`Groups` of ``kind`` over ``size`` tokens (groups ≤ ``cap``) and its description."""
    limit = size if cap is None else min(cap, size)
    if kind == "singletons":
        return singleton_groups(size).validate(), "singleton groups"
    if kind == "all":
        groups = Groups.from_memberships(size, np.array([0, size]), np.arange(size))
        return groups.validate(), "one all-covering group"
    if kind == "partition":
        high = min(limit, _RANDOM_GROUP_CAP)
        labels = np.zeros(size, np.int64)
        for label, members in enumerate(_chunks(rng, rng.permutation(size), 1, high)):
            labels[members] = label
        groups = groups_from_labels(labels)
        return groups.validate(), f"partition groups (M={groups.num_groups})"
    if kind == "hub":
        hub = int(rng.integers(size))
        others = rng.permutation(np.delete(np.arange(size), hub))
        sets = [np.append(chunk, hub) for chunk in _chunks(rng, others, 1, max(1, min(limit - 1, 8)))]
        groups = _from_sets(size, sets)
        return groups.validate(), f"hub groups (hub={hub}, M={groups.num_groups})"
    if kind in ("heavy_overlap", "uneven_weights"):
        sets = _overlapping_sets(rng, size, limit)
        if kind == "heavy_overlap":
            groups = _from_sets(size, sets)
            return groups.validate(), f"heavily overlapping groups (M={groups.num_groups})"
        groups = _from_sets(size, sets, lambda nnz: np.exp(1.5 * rng.standard_normal(nnz)))  # log-normal
        return groups.validate(), f"unevenly weighted groups (M={groups.num_groups})"
    if kind in ("threshold", "topk"):
        points = _clustered_embeddings(rng, size)
        embeddings = torch.from_numpy(points)
        if kind == "threshold":
            theta = _overlap_theta(rng, points)
            groups = groups_from_threshold(embeddings, theta, max_group_size=cap)
            return groups.validate(), f"threshold groups (θ={theta:g}, M={groups.num_groups})"
        k = int(rng.integers(2, min(5, limit) + 1))
        groups = groups_from_topk(embeddings, k)
        return groups.validate(), f"top-{k} groups (M={groups.num_groups})"
    raise AssertionError(kind)
