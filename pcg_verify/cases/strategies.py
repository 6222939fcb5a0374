"""Hypothesis strategies for PCG test cases, built over :mod:`pcg_verify.cases`.

Math follows the paper: q is the target, p the draft; code says
``target_probs`` and ``draft_probs``.

Each strategy draws the small, shrinkable choices (V, kind, γ, B) and a 32-bit
seed, then calls the one implementation of that kind with
``numpy.random.default_rng(seed)``; shrinking therefore moves toward the first
kind of each list in :mod:`pcg_verify.cases` (the simplest), the smallest sizes
and seed 0. The gate itself never imports this module: it replays cases with
:func:`pcg_verify.cases.draw_case`.

Everything is float64: probability vectors are NumPy ``[V]`` arrays, a
:class:`~pcg_verify.cases.Case` holds torch tensors.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from pcg_core import Groups
from pcg_core.validation import check_choice, check_int
from pcg_verify.cases import _kinds
from pcg_verify.cases._case import Case, build_case

__all__ = [
    "cases",
    "distribution_pairs",
    "distributions",
    "group_structures",
    "vocab_sizes",
]

_SEED_MAX = 2**32 - 1


def _seeds() -> SearchStrategy[int]:
    return st.integers(0, _SEED_MAX)


def _sizes(vocab_size: int | SearchStrategy[int]) -> SearchStrategy[int]:
    """V ≥ 2, checked at definition when given, at draw time when drawn."""
    if isinstance(vocab_size, SearchStrategy):
        return vocab_size.map(lambda size: check_int("vocab_size", size, minimum=2))
    return st.just(check_int("vocab_size", vocab_size, minimum=2))


def _named(name: str, value: str | None, allowed: tuple[str, ...]) -> SearchStrategy[str]:
    if value is None:
        return st.sampled_from(allowed)
    return st.just(check_choice(name, value, allowed))


def vocab_sizes(
    *, min_value: int = 2, max_value: int = 64, tile_unaligned: bool = False
) -> SearchStrategy[int]:
    """Vocabulary sizes V in ``[min_value, max_value]``, shrinking toward ``min_value``.

    With ``tile_unaligned=True``, about one draw in 16 is instead one of
    :data:`~pcg_verify.cases.TILE_UNALIGNED_SIZES` that is ≥ ``min_value``
    (257, 4097, 8193: one more than a power of two, so blocked kernels get a
    partial last tile). Those ignore ``max_value`` and are expensive; they
    never appear when shrunk.

    Examples
    --------
    >>> from hypothesis import find
    >>> find(vocab_sizes(min_value=3), lambda v: True)
    3
    """
    low, high = _kinds.check_bounds("min_value", min_value, "max_value", max_value, 2)
    small = st.integers(low, high)
    unaligned = [size for size in _kinds.TILE_UNALIGNED_SIZES if size >= low]
    if not tile_unaligned or not unaligned:
        return small
    rare = st.sampled_from(unaligned)
    # A wide integer keeps the odds near 1/16 (Hypothesis enumerates small ranges) and shrinks to 0.
    return st.integers(0, 2**16 - 1).flatmap(lambda r: rare if r % 16 == 7 else small)


def distributions(
    vocab_size: int | SearchStrategy[int], *, kind: str | None = None, min_zeros: int = 0
) -> SearchStrategy[_kinds.F64]:
    """Probability vectors: float64 NumPy ``[V]``, ≥ 0, summing to 1 (normalised in float64).

    Parameters
    ----------
    vocab_size : int or strategy of int
        V ≥ 2.
    kind : str, optional
        One of :data:`~pcg_verify.cases.DISTRIBUTION_KINDS`: "uniform";
        "dirichlet" (α in :data:`~pcg_verify.cases.CONCENTRATIONS`); "peaked"
        (one token ≥ 0.9); "sparse" (exact zeros on a random subset, at least
        one positive); "bfloat16" (a Dirichlet rounded through
        torch.bfloat16). Default: any of them.
    min_zeros : int
        At least this many exact zeros (≤ V − 1); the largest entry is never zeroed.

    Examples
    --------
    >>> from hypothesis import find
    >>> find(distributions(4), lambda probs: True).tolist()
    [0.25, 0.25, 0.25, 0.25]
    """
    sizes = _sizes(vocab_size)
    kinds = _named("kind", kind, _kinds.DISTRIBUTION_KINDS)
    zeros = check_int("min_zeros", min_zeros, minimum=0)
    if not isinstance(vocab_size, SearchStrategy):
        _kinds.check_min_zeros(zeros, int(vocab_size))

    def make(size: int, name: str, concentration: float, seed: int) -> _kinds.F64:
        _kinds.check_min_zeros(zeros, size)
        return _kinds.distribution(np.random.default_rng(seed), size, name, concentration, zeros)

    return st.builds(make, sizes, kinds, st.sampled_from(_kinds.CONCENTRATIONS), _seeds())


def distribution_pairs(
    vocab_size: int | SearchStrategy[int], *, relation: str | None = None
) -> SearchStrategy[tuple[_kinds.F64, _kinds.F64]]:
    """Pairs ``(draft_probs, target_probs)``, float64 NumPy ``[V]`` each, both with positive mass.

    Parameters
    ----------
    vocab_size : int or strategy of int
        V ≥ 2.
    relation : str, optional
        One of :data:`~pcg_verify.cases.RELATIONS`: "equal" (p == q exactly);
        "close" (q = p perturbed multiplicatively by a few %, same support);
        "independent"; "partial_overlap" (supports share a token and differ);
        "disjoint" (disjoint supports); "reversed" (q descending,
        ``p = q[::-1]``: the adversarial pair); "swapped_in_group" (without
        groups: p a random permutation of q). Default: any of them. Both
        vectors are of one kind from :data:`~pcg_verify.cases.DISTRIBUTION_KINDS`.

    Examples
    --------
    >>> from hypothesis import find
    >>> draft, target = find(distribution_pairs(3, relation="reversed"), lambda pair: True)
    >>> bool((draft == target[::-1]).all())
    True
    """
    sizes = _sizes(vocab_size)
    relations = _named("relation", relation, _kinds.RELATIONS)

    def make(size: int, name: str, kind: str, concentration: float, seed: int) -> tuple[_kinds.F64, _kinds.F64]:
        return _kinds.pair(np.random.default_rng(seed), size, name, kind, concentration)

    return st.builds(
        make, sizes, relations, st.sampled_from(_kinds.DISTRIBUTION_KINDS),
        st.sampled_from(_kinds.CONCENTRATIONS), _seeds(),
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
        One of :data:`~pcg_verify.cases.GROUP_KINDS`: "singletons";
        "partition" (random labels, :func:`pcg_core.groups_from_labels`); "all"
        (one group of every token); "hub" (one token in every group);
        "threshold" (clustered 8-d embeddings, θ a quantile of their cosines
        giving ~1.5–6 tokens per group, :func:`pcg_core.groups_from_threshold`);
        "topk" (k in 2..5, :func:`pcg_core.groups_from_topk`); "heavy_overlap"
        (a random cover plus ~V/2…V random subsets); "uneven_weights" (the same
        with log-normal weights, normalised per token). Default: any of them
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
    cap = None if max_group_size is None else check_int("max_group_size", max_group_size, minimum=2)
    if kind is not None:
        check_choice("kind", kind, _kinds.GROUP_KINDS)
        if not isinstance(vocab_size, SearchStrategy):
            _kinds.check_group_cap(kind, int(vocab_size), cap)

    def kinds_for(size: int) -> SearchStrategy[tuple[int, str]]:
        if kind is not None:
            _kinds.check_group_cap(kind, size, cap)
            return st.just((size, kind))
        fitting = [name for name in _kinds.GROUP_KINDS if name != "all" or cap is None or cap >= size]
        return st.tuples(st.just(size), st.sampled_from(fitting))

    def make(chosen: tuple[int, str], seed: int) -> Groups:
        return _kinds.group_structure(np.random.default_rng(seed), chosen[0], chosen[1], cap)[0]

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
    """Whole :class:`~pcg_verify.cases.Case` objects: groups, B × γ pairs and B bonus rows.

    Hypothesis draws V, γ, B, the three names and a seed, then calls
    :func:`pcg_verify.cases.build_case`; a shrunk case has the smallest V, γ
    and B, singleton groups, equal uniform pairs and seed 0 (whatever the
    property still allows). Arguments are as in :func:`pcg_verify.cases.draw_case`.

    Examples
    --------
    >>> from hypothesis import find
    >>> find(cases(), lambda case: case.gamma >= 2).description
    "V=2 singleton groups, uniform pairs 'equal', B=1, γ=2"
    """
    choices = _kinds.case_choices(
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
