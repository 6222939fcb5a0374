"""Test cases for the gate: Hypothesis strategies and a seeded replay path.

Math follows the paper: q is the target, p the draft; code says
``target_probs`` and ``draft_probs``.

Every kind of distribution, pair relation and group structure has exactly one
implementation: a plain function of a :class:`numpy.random.Generator`. The
Hypothesis strategies draw the small, shrinkable choices (V, kind, γ, B) and a
32-bit seed, then call those functions with ``numpy.random.default_rng(seed)``;
shrinking therefore moves toward the first kind of each list (the simplest),
the smallest sizes and seed 0. :func:`draw_case` makes the same cases without
the Hypothesis engine, so the gate can replay "case 17 of master seed 42"
alone, and :func:`build_case` rebuilds any case from ``Case.to_dict()["params"]``.

Everything is float64: probability vectors are NumPy ``[V]`` arrays, a
:class:`Case` holds torch tensors. Each row is renormalised in float64, so it
sums to 1 within ~V·2⁻⁵³.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from pcg_core import (
    Groups,
    groups_from_labels,
    groups_from_threshold,
    groups_from_topk,
    singleton_groups,
)
from pcg_core._errors import InvalidArgumentError, InvalidTypeError

__all__ = [
    "CONCENTRATIONS",
    "DISTRIBUTION_KINDS",
    "GROUP_KINDS",
    "RELATIONS",
    "TILE_UNALIGNED_SIZES",
    "Case",
    "build_case",
    "cases",
    "distribution_pairs",
    "distributions",
    "draw_case",
    "group_structures",
    "vocab_sizes",
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

_SEED_MAX = 2**32 - 1
#: Entropy word that separates draw_case's choice of sizes from build_case's arrays.
_CHOOSER_KEY = 0x5EED
#: Peak mass of "peaked" vectors; the lower end stays above 0.9 after renormalisation.
_PEAK_RANGE = (0.905, 0.999)
#: Embedding width of the clustered embeddings behind "threshold" and "topk".
_EMBED_DIM = 8
#: Largest group the random structures ("partition", "hub", "heavy_overlap") make on their own.
_RANDOM_GROUP_CAP = 16


# ---------------------------------------------------------------------------- validation
def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidTypeError(name, value, "must be an int")
    if value < minimum:
        raise InvalidArgumentError(name, value, f"must be ≥ {minimum}")
    return int(value)


def _check_bounds(lo_name: str, lo: Any, hi_name: str, hi: Any, minimum: int) -> tuple[int, int]:
    lo = _check_int(lo_name, lo, minimum)
    hi = _check_int(hi_name, hi, minimum)
    if lo > hi:
        raise InvalidArgumentError(lo_name, lo, f"must be ≤ {hi_name}={hi}")
    return lo, hi


def _check_kind(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidArgumentError(name, value, f"must be one of {allowed}")
    return str(value)


def _check_kinds(name: str, values: Sequence[str] | None, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """``None`` means all of ``allowed``; otherwise a non-empty sequence of known names, in given order."""
    if values is None:
        return allowed
    if isinstance(values, str):
        raise InvalidTypeError(
            name, values, "must be a sequence of names, not one string (wrap it in a list)"
        )
    chosen = tuple(dict.fromkeys(values))
    if not chosen:
        raise InvalidArgumentError(name, values, f"must name at least one of {allowed}")
    for value in chosen:
        _check_kind(name, value, allowed)
    return chosen


def _check_vocab(name: str, value: Any) -> int:
    return _check_int(name, value, 2)


def _check_max_group_size(value: Any) -> int | None:
    if value is None:
        return None
    return _check_int("max_group_size", value, 2)


def _check_min_zeros(min_zeros: int, vocab_size: int) -> None:
    if min_zeros > vocab_size - 1:
        raise InvalidArgumentError(
            "min_zeros", min_zeros, f"must be ≤ vocab_size − 1 = {vocab_size - 1} (one token keeps the mass)"
        )


def _check_group_cap(kind: str, vocab_size: int, cap: int | None) -> None:
    if kind == "all" and cap is not None and cap < vocab_size:
        raise InvalidArgumentError(
            "max_group_size", cap,
            f"kind='all' makes one group of all {vocab_size} tokens; must be ≥ vocab_size",
            "leave max_group_size=None or pick another kind",
        )


# ---------------------------------------------------------------------------- distributions
def _normalise(values: F64) -> F64:
    out: F64 = values / values.sum()
    return out


def _dirichlet(rng: np.random.Generator, size: int, concentration: float) -> F64:
    """Dirichlet(α·1) [size] via normalised Gamma(α) draws."""
    draws: F64 = rng.standard_gamma(concentration, size)
    if not draws.sum() > 0:  # every Gamma(α) underflowed (tiny α): all mass on one token
        draws = np.zeros(size)
        draws[rng.integers(size)] = 1.0
    return _normalise(draws)


def _distribution(
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


def _on_support(
    rng: np.random.Generator, size: int, support: I64, kind: str, concentration: float
) -> F64:
    """A ``kind`` vector [size] positive exactly on ``support`` (so relations on supports hold)."""
    inner = _distribution(rng, support.size, "dirichlet" if kind == "sparse" else kind, concentration)
    inner = _normalise(np.maximum(inner, np.finfo(np.float64).tiny))  # undo bfloat16 underflow to 0
    probs = np.zeros(size)
    probs[support] = inner
    return probs


def _describe_distribution(kind: str, concentration: float) -> str:
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


def _pair(
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
        return _distribution(rng, size, kind, concentration)

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
    """Groups from member sets, identical sets kept once (first occurrence)."""
    unique = list(dict.fromkeys(tuple(sorted(int(t) for t in members)) for members in sets))
    ptr = np.zeros(len(unique) + 1, np.int64)
    np.cumsum([len(members) for members in unique], out=ptr[1:])
    flat = np.fromiter((t for members in unique for t in members), np.int64, count=int(ptr[-1]))
    return Groups.from_memberships(size, ptr, flat, None if weights is None else weights(flat.size))


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


def _group_structure(
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
        groups = _from_sets(size, sets, lambda nnz: np.exp(1.5 * rng.standard_normal(nnz)))
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


# ---------------------------------------------------------------------------- cases
@dataclass(frozen=True, eq=False)
class Case:
    """One batch of drafted blocks for the gate.

    Attributes
    ----------
    draft_probs : torch.Tensor float64 [B, γ, V]
        p at each drafted position; (draft_probs[b, i], target_probs[b, i])
        is one pair drawn with ``relation``.
    target_probs : torch.Tensor float64 [B, γ+1, V]
        q at each drafted position and, in row γ, the bonus position (its own
        distribution).
    groups : Groups
        Validated, over the same V.
    gamma, batch, seed : int
        γ, B and the seed of the NumPy generator that made the arrays.
    description : str
        How it was generated, e.g. ``"V=6 hub groups (hub=2, M=3), dirichlet(1) pairs 'reversed', B=2, γ=3"``.
    group_kind, relation, distribution_kind : str
        The names used; with ``seed``, V, γ and B they rebuild the case (:func:`build_case`).
    """

    draft_probs: torch.Tensor
    target_probs: torch.Tensor
    groups: Groups
    gamma: int
    batch: int
    seed: int
    description: str
    group_kind: str = ""
    relation: str = ""
    distribution_kind: str = ""

    @property
    def vocab_size(self) -> int:
        """V."""
        return int(self.draft_probs.shape[-1])

    def params(self) -> dict[str, Any]:
        """The keyword arguments of :func:`build_case` that rebuild this case exactly."""
        return {
            "seed": self.seed, "vocab_size": self.vocab_size, "gamma": self.gamma, "batch": self.batch,
            "group_kind": self.group_kind, "relation": self.relation,
            "distribution_kind": self.distribution_kind,
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary: sizes, kinds, seed and description (not the arrays)."""
        return {
            "description": self.description,
            "vocab_size": self.vocab_size,
            "gamma": self.gamma,
            "batch": self.batch,
            "seed": self.seed,
            "num_groups": self.groups.num_groups,
            "nnz": self.groups.nnz,
            "max_group_size": self.groups.max_group_size,
            "params": self.params(),
        }


def build_case(
    seed: int,
    *,
    vocab_size: int,
    gamma: int,
    batch: int,
    group_kind: str,
    relation: str,
    distribution_kind: str,
) -> Case:
    """Build one :class:`Case` deterministically from ``numpy.random.default_rng(seed)``.

    The groups come first, then the Dirichlet concentration (one per case),
    then per (b, i) a pair with ``relation`` of ``distribution_kind``
    vectors, then the B bonus rows. Same arguments, same arrays.

    Parameters
    ----------
    seed : int
        ≥ 0.
    vocab_size, gamma, batch : int
        V ≥ 2, γ ≥ 1, B ≥ 1.
    group_kind, relation, distribution_kind : str
        One of :data:`GROUP_KINDS`, :data:`RELATIONS`, :data:`DISTRIBUTION_KINDS`.

    Returns
    -------
    Case

    Examples
    --------
    >>> case = build_case(0, vocab_size=4, gamma=2, batch=1, group_kind="partition",
    ...                   relation="equal", distribution_kind="uniform")
    >>> tuple(case.target_probs.shape)
    (1, 3, 4)
    """
    seed = _check_int("seed", seed, 0)
    vocab_size = _check_vocab("vocab_size", vocab_size)
    gamma = _check_int("gamma", gamma, 1)
    batch = _check_int("batch", batch, 1)
    group_kind = _check_kind("group_kind", group_kind, GROUP_KINDS)
    relation = _check_kind("relation", relation, RELATIONS)
    distribution_kind = _check_kind("distribution_kind", distribution_kind, DISTRIBUTION_KINDS)

    rng = np.random.default_rng(seed)
    groups, group_text = _group_structure(rng, vocab_size, group_kind)
    concentration = CONCENTRATIONS[int(rng.integers(len(CONCENTRATIONS)))]
    draft = np.empty((batch, gamma, vocab_size))
    target = np.empty((batch, gamma + 1, vocab_size))
    for b in range(batch):
        for i in range(gamma):
            draft[b, i], target[b, i] = _pair(
                rng, vocab_size, relation, distribution_kind, concentration, groups
            )
    for b in range(batch):
        target[b, gamma] = _distribution(rng, vocab_size, distribution_kind, concentration)
    description = (
        f"V={vocab_size} {group_text}, {_describe_distribution(distribution_kind, concentration)} "
        f"pairs {relation!r}, B={batch}, γ={gamma}"
    )
    return Case(
        draft_probs=torch.from_numpy(draft), target_probs=torch.from_numpy(target), groups=groups,
        gamma=gamma, batch=batch, seed=seed, description=description,
        group_kind=group_kind, relation=relation, distribution_kind=distribution_kind,
    )


@dataclass(frozen=True)
class _Choices:
    """Validated bounds (inclusive pairs) and name lists shared by :func:`cases` and :func:`draw_case`."""

    vocab: tuple[int, int]
    gamma: tuple[int, int]
    batch: tuple[int, int]
    group_kinds: tuple[str, ...]
    relations: tuple[str, ...]
    distribution_kinds: tuple[str, ...]


def _case_choices(
    min_vocab: int, max_vocab: int, min_gamma: int, max_gamma: int, min_batch: int, max_batch: int,
    group_kinds: Sequence[str] | None, relations: Sequence[str] | None,
    distribution_kinds: Sequence[str] | None, singleton_only: bool,
) -> _Choices:
    vocab = _check_bounds("min_vocab", min_vocab, "max_vocab", max_vocab, 2)
    gammas = _check_bounds("min_gamma", min_gamma, "max_gamma", max_gamma, 1)
    batches = _check_bounds("min_batch", min_batch, "max_batch", max_batch, 1)
    kinds = _check_kinds("group_kinds", group_kinds, GROUP_KINDS)
    if not isinstance(singleton_only, bool):
        raise InvalidTypeError("singleton_only", singleton_only, "must be a bool")
    if singleton_only:
        if group_kinds is not None and kinds != ("singletons",):
            raise InvalidArgumentError(
                "group_kinds", group_kinds, "must be None or ['singletons'] when singleton_only=True"
            )
        kinds = ("singletons",)
    return _Choices(
        vocab, gammas, batches, kinds, _check_kinds("relations", relations, RELATIONS),
        _check_kinds("distribution_kinds", distribution_kinds, DISTRIBUTION_KINDS),
    )


def draw_case(
    seed: int,
    *,
    min_vocab: int = 2,
    max_vocab: int = 32,
    min_gamma: int = 1,
    max_gamma: int = 4,
    min_batch: int = 1,
    max_batch: int = 4,
    group_kinds: Sequence[str] | None = None,
    relations: Sequence[str] | None = None,
    distribution_kinds: Sequence[str] | None = None,
    singleton_only: bool = False,
) -> Case:
    """A :class:`Case` from ``seed`` alone, without the Hypothesis engine.

    The names cycle with the seed: group kind ``group_kinds[seed % len]``,
    relation ``relations[seed % len]``, distribution kind
    ``distribution_kinds[seed % len]`` (defaults: all 8, 7 and 5 of them).
    Any 8 consecutive seeds cover every name, and 280 consecutive seeds every
    combination. V, γ and B are uniform in their bounds, drawn from a generator
    seeded by ``(seed, 0x5EED)``; the arrays come from :func:`build_case`
    with ``seed`` (so ``case.params()`` replays it too).

    Parameters
    ----------
    seed : int
        ≥ 0; a gate draws case j of master seed s as ``draw_case(s * stride + j)``
        or any other injective, consecutive scheme.
    min_vocab, max_vocab, min_gamma, max_gamma, min_batch, max_batch : int
        Inclusive bounds: V ≥ 2, γ ≥ 1, B ≥ 1.
    group_kinds, relations, distribution_kinds : sequence of str, optional
        Subsets of :data:`GROUP_KINDS`, :data:`RELATIONS`,
        :data:`DISTRIBUTION_KINDS` to cycle through, in the order given.
    singleton_only : bool
        Every case uses singleton groups (gates a plain speculative sampler).

    Examples
    --------
    >>> draw_case(7).description == draw_case(7).description
    True
    """
    seed = _check_int("seed", seed, 0)
    choices = _case_choices(
        min_vocab, max_vocab, min_gamma, max_gamma, min_batch, max_batch,
        group_kinds, relations, distribution_kinds, singleton_only,
    )
    chooser = np.random.default_rng([seed, _CHOOSER_KEY])
    return build_case(
        seed,
        vocab_size=int(chooser.integers(choices.vocab[0], choices.vocab[1] + 1)),
        gamma=int(chooser.integers(choices.gamma[0], choices.gamma[1] + 1)),
        batch=int(chooser.integers(choices.batch[0], choices.batch[1] + 1)),
        group_kind=choices.group_kinds[seed % len(choices.group_kinds)],
        relation=choices.relations[seed % len(choices.relations)],
        distribution_kind=choices.distribution_kinds[seed % len(choices.distribution_kinds)],
    )


# ---------------------------------------------------------------------------- strategies
def _seeds() -> SearchStrategy[int]:
    return st.integers(0, _SEED_MAX)


def _sizes(vocab_size: int | SearchStrategy[int]) -> SearchStrategy[int]:
    if isinstance(vocab_size, SearchStrategy):
        return vocab_size.map(lambda size: _check_vocab("vocab_size", size))
    return st.just(_check_vocab("vocab_size", vocab_size))


def vocab_sizes(
    *, min_value: int = 2, max_value: int = 64, tile_unaligned: bool = False
) -> SearchStrategy[int]:
    """Vocabulary sizes V in ``[min_value, max_value]``, shrinking toward ``min_value``.

    With ``tile_unaligned=True``, about one draw in 16 is instead one of
    :data:`TILE_UNALIGNED_SIZES` that is ≥ ``min_value`` (257, 4097, 8193:
    one more than a power of two, so blocked kernels get a partial last tile).
    Those ignore ``max_value`` and are expensive; they never appear when shrunk.

    Examples
    --------
    >>> from hypothesis import find
    >>> find(vocab_sizes(min_value=3), lambda v: True)
    3
    """
    low, high = _check_bounds("min_value", min_value, "max_value", max_value, 2)
    small = st.integers(low, high)
    unaligned = [size for size in TILE_UNALIGNED_SIZES if size >= low]
    if not tile_unaligned or not unaligned:
        return small
    rare = st.sampled_from(unaligned)
    # A wide integer keeps the odds near 1/16 (Hypothesis enumerates small ranges) and shrinks to 0.
    return st.integers(0, 2**16 - 1).flatmap(lambda r: rare if r % 16 == 7 else small)


def _named(name: str, value: str | None, allowed: tuple[str, ...]) -> SearchStrategy[str]:
    if value is None:
        return st.sampled_from(allowed)
    return st.just(_check_kind(name, value, allowed))


def distributions(
    vocab_size: int | SearchStrategy[int], *, kind: str | None = None, min_zeros: int = 0
) -> SearchStrategy[F64]:
    """Probability vectors: float64 NumPy ``[V]``, ≥ 0, summing to 1 (renormalised in float64).

    Parameters
    ----------
    vocab_size : int or strategy of int
        V ≥ 2.
    kind : str, optional
        One of :data:`DISTRIBUTION_KINDS`: "uniform"; "dirichlet" (α in
        :data:`CONCENTRATIONS`); "peaked" (one token ≥ 0.9); "sparse" (exact
        zeros on a random subset, at least one positive); "bfloat16" (a
        Dirichlet rounded through torch.bfloat16). Default: any of them.
    min_zeros : int
        At least this many exact zeros (≤ V − 1); the largest entry is never zeroed.

    Examples
    --------
    >>> from hypothesis import find
    >>> find(distributions(4), lambda probs: True).tolist()
    [0.25, 0.25, 0.25, 0.25]
    """
    sizes = _sizes(vocab_size)
    kinds = _named("kind", kind, DISTRIBUTION_KINDS)
    min_zeros = _check_int("min_zeros", min_zeros, 0)
    if isinstance(vocab_size, int):
        _check_min_zeros(min_zeros, vocab_size)

    def make(size: int, name: str, concentration: float, seed: int) -> F64:
        _check_min_zeros(min_zeros, size)
        return _distribution(np.random.default_rng(seed), size, name, concentration, min_zeros)

    return st.builds(make, sizes, kinds, st.sampled_from(CONCENTRATIONS), _seeds())


def distribution_pairs(
    vocab_size: int | SearchStrategy[int], *, relation: str | None = None
) -> SearchStrategy[tuple[F64, F64]]:
    """Pairs ``(draft_probs, target_probs)``, float64 NumPy ``[V]`` each, both with positive mass.

    Parameters
    ----------
    vocab_size : int or strategy of int
        V ≥ 2.
    relation : str, optional
        One of :data:`RELATIONS`: "equal" (p == q exactly); "close" (q = p
        perturbed multiplicatively by a few %, same support); "independent";
        "partial_overlap" (supports share a token and differ); "disjoint"
        (disjoint supports); "reversed" (q descending, ``p = q[::-1]``: the
        adversarial pair); "swapped_in_group" (without groups: p a random
        permutation of q). Default: any of them. Both vectors are of one
        kind from :data:`DISTRIBUTION_KINDS`.

    Examples
    --------
    >>> from hypothesis import find
    >>> draft, target = find(distribution_pairs(3, relation="reversed"), lambda pair: True)
    >>> bool((draft == target[::-1]).all())
    True
    """
    sizes = _sizes(vocab_size)
    relations = _named("relation", relation, RELATIONS)

    def make(size: int, name: str, kind: str, concentration: float, seed: int) -> tuple[F64, F64]:
        return _pair(np.random.default_rng(seed), size, name, kind, concentration)

    return st.builds(
        make, sizes, relations, st.sampled_from(DISTRIBUTION_KINDS), st.sampled_from(CONCENTRATIONS), _seeds()
    )


def group_structures(
    vocab_size: int | SearchStrategy[int], *, kind: str | None = None, max_group_size: int | None = None
) -> SearchStrategy[Groups]:
    """Validated :class:`pcg_core.Groups` covering all V tokens.

    Parameters
    ----------
    vocab_size : int or strategy of int
        V ≥ 2.
    kind : str, optional
        One of :data:`GROUP_KINDS`: "singletons"; "partition" (random labels,
        :func:`pcg_core.groups_from_labels`); "all" (one group of every
        token); "hub" (one token in every group); "threshold" (clustered 8-d
        embeddings, θ a quantile of their cosines giving ~1.5–6 tokens per
        group, :func:`pcg_core.groups_from_threshold`); "topk" (k in 2..5,
        :func:`pcg_core.groups_from_topk`); "heavy_overlap" (a random cover
        plus ~V/2…V random subsets); "uneven_weights" (the same with
        log-normal weights, renormalised per token). Default: any of them
        ("all" only when it fits ``max_group_size``).
    max_group_size : int, optional
        ≥ 2: no group is larger ("all" then needs V ≤ it).

    Examples
    --------
    >>> from hypothesis import find
    >>> find(group_structures(5), lambda groups: True).num_groups
    5
    """
    sizes = _sizes(vocab_size)
    cap = _check_max_group_size(max_group_size)
    if kind is not None:
        _check_kind("kind", kind, GROUP_KINDS)
        if isinstance(vocab_size, int):
            _check_group_cap(kind, vocab_size, cap)

    def kinds_for(size: int) -> SearchStrategy[tuple[int, str]]:
        if kind is not None:
            _check_group_cap(kind, size, cap)
            return st.just((size, kind))
        fitting = [name for name in GROUP_KINDS if name != "all" or cap is None or cap >= size]
        return st.tuples(st.just(size), st.sampled_from(fitting))

    def make(chosen: tuple[int, str], seed: int) -> Groups:
        return _group_structure(np.random.default_rng(seed), chosen[0], chosen[1], cap)[0]

    return st.builds(make, sizes.flatmap(kinds_for), _seeds())


def cases(
    *,
    min_vocab: int = 2,
    max_vocab: int = 32,
    min_gamma: int = 1,
    max_gamma: int = 4,
    min_batch: int = 1,
    max_batch: int = 4,
    group_kinds: Sequence[str] | None = None,
    relations: Sequence[str] | None = None,
    distribution_kinds: Sequence[str] | None = None,
    singleton_only: bool = False,
) -> SearchStrategy[Case]:
    """Whole :class:`Case` objects: groups, B × γ pairs and B bonus rows.

    Hypothesis draws V, γ, B, the three names and a seed, then calls
    :func:`build_case`; a shrunk case has the smallest V, γ and B, singleton
    groups, equal uniform pairs and seed 0 (whatever the property still allows).
    Arguments are as in :func:`draw_case`.

    Examples
    --------
    >>> from hypothesis import find
    >>> find(cases(), lambda case: case.gamma >= 2).description
    "V=2 singleton groups, uniform pairs 'equal', B=1, γ=2"
    """
    choices = _case_choices(
        min_vocab, max_vocab, min_gamma, max_gamma, min_batch, max_batch,
        group_kinds, relations, distribution_kinds, singleton_only,
    )
    # The seed is drawn last: Hypothesis shrinks earlier choices first, so V, γ, B and the names win.
    return st.builds(
        build_case,
        vocab_size=st.integers(*choices.vocab),
        gamma=st.integers(*choices.gamma),
        batch=st.integers(*choices.batch),
        group_kind=st.sampled_from(choices.group_kinds),
        relation=st.sampled_from(choices.relations),
        distribution_kind=st.sampled_from(choices.distribution_kinds),
        seed=_seeds(),
    )

