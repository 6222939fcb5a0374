"""The gate's seeded case factory: one batch of drafted blocks from one integer.

Math follows the paper: q is the target, p the draft; code says
``target_probs`` and ``draft_probs``.

A :class:`Case` is B blocks of γ (draft, target) pairs plus B bonus rows over
one group structure, all float64. :func:`build_case` makes a case from a seed
and its names; :func:`draw_case` also chooses the names and the sizes from the
seed alone, so the gate can replay "case 17 of master seed 42" without the
Hypothesis engine; :func:`case_seed` derives that case's seed from the pair
(master seed, case index) without collisions, and :func:`split_case_seed`
recovers the pair. This module depends on numpy, torch and pcg_core only, never
on Hypothesis (:mod:`pcg_verify.cases.strategies` builds its strategies over it).

Each kind has one implementation (in a private module):

* :data:`DISTRIBUTION_KINDS` — one probability vector;
* :data:`RELATIONS` — how the draft p relates to the target q at one position;
* :data:`GROUP_KINDS` — the group structure.

Each list starts with its simplest member.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from pcg_core import Groups
from pcg_core.validation import check_choice, check_int
from pcg_verify.cases import _kinds
from pcg_verify.cases._kinds import (
    CONCENTRATIONS,
    DISTRIBUTION_KINDS,
    GROUP_KINDS,
    RELATIONS,
    TILE_UNALIGNED_SIZES,
)

__all__ = [
    "CONCENTRATIONS",
    "DISTRIBUTION_KINDS",
    "GROUP_KINDS",
    "RELATIONS",
    "TILE_UNALIGNED_SIZES",
    "Case",
    "build_case",
    "case_seed",
    "draw_case",
    "split_case_seed",
]

#: Entropy word that separates draw_case's choice of sizes from build_case's arrays.
_CHOOSER_KEY = 0x5EED


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
        γ, B and the seed of the NumPy generator that made the arrays (any
        size: a Python int, kept exactly).
    description : str
        How it was generated, e.g. ``"V=6 hub groups (hub=2, M=3), dirichlet(1) pairs 'reversed', B=2, γ=3"``.
    group_kind, relation, distribution_kind : str
        The names used; with ``seed``, V, γ and B they rebuild the case (:func:`build_case`).
    family : str
        For a family case (:mod:`pcg_verify.cases._families`): its family, which with
        ``seed`` rebuilds it; ``""`` for a drawn case. A family case's
        probabilities may be float32, float16 or bfloat16.
    contiguous : bool
        False: the gate hands the port transposed (non-contiguous) views of equal values.
    call_rows : tuple of int
        The cycle of rows per port call (multiples of B); empty: as many as fit.
    design : tuple of (str, str)
        For a designed case (:mod:`pcg_verify.cases._design`): its point, one
        value per coverage dimension, which with ``seed`` rebuilds it.
    decode_loop : bool
        The calls follow a decode loop: one generator for every call of an
        experiment (seeded once), results kept across calls, rows per call
        changing along ``call_rows`` (:mod:`pcg_verify._call_patterns`).
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
    family: str = ""
    contiguous: bool = True
    call_rows: tuple[int, ...] = ()
    decode_loop: bool = False
    design: tuple[tuple[str, str], ...] = ()

    @property
    def vocab_size(self) -> int:
        """V."""
        return int(self.draft_probs.shape[-1])

    def params(self) -> dict[str, Any]:
        """The keyword arguments of :func:`build_case` (of ``family_case`` for a family case) that
        rebuild this case exactly."""
        if self.design:
            return {"design": dict(self.design), "seed": self.seed}
        if self.family:
            return {"family": self.family, "seed": self.seed}
        return {
            "seed": self.seed, "vocab_size": self.vocab_size, "gamma": self.gamma, "batch": self.batch,
            "group_kind": self.group_kind, "relation": self.relation,
            "distribution_kind": self.distribution_kind,
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary: sizes, kinds, seed and description (not the arrays).

        The seed stays a Python int of any size (``json`` writes big ints exactly).
        """
        return {
            "description": self.description,
            "vocab_size": self.vocab_size,
            "gamma": self.gamma,
            "batch": self.batch,
            "seed": self.seed,
            "num_groups": self.groups.num_groups,
            "nnz": self.groups.nnz,
            "max_group_size": self.groups.max_group_size,
            "max_groups_per_token": self.groups.max_groups_per_token,
            "index_dtype": str(self.groups.group_members.dtype).removeprefix("torch."),
            "probs_dtype": str(self.target_probs.dtype).removeprefix("torch."),
            "contiguous": self.contiguous,
            "call_rows": list(self.call_rows),
            "family": self.family,
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

    The groups come first, then the Dirichlet concentration (one per case,
    from :data:`CONCENTRATIONS`), then per (b, i) a pair with ``relation`` of
    ``distribution_kind`` vectors, then the B bonus rows. Same arguments, same
    arrays. Cost O(B·γ·V) plus the group construction.

    Parameters
    ----------
    seed : int
        ≥ 0, any size (numpy integers accepted).
    vocab_size, gamma, batch : int
        V ≥ 2, γ ≥ 1, B ≥ 1.
    group_kind, relation, distribution_kind : str
        One of :data:`GROUP_KINDS`, :data:`RELATIONS`, :data:`DISTRIBUTION_KINDS`.

    Returns
    -------
    Case
        ``draft_probs`` float64 [B, γ, V], ``target_probs`` float64 [B, γ+1, V],
        every row ≥ 0 and summing to 1 within ~V·2⁻⁵³.

    Examples
    --------
    >>> case = build_case(0, vocab_size=4, gamma=2, batch=1, group_kind="partition",
    ...                   relation="equal", distribution_kind="uniform")
    >>> tuple(case.target_probs.shape)
    (1, 3, 4)
    """
    seed = check_int("seed", seed, minimum=0)
    vocab_size = check_int("vocab_size", vocab_size, minimum=2)
    gamma = check_int("gamma", gamma, minimum=1)
    batch = check_int("batch", batch, minimum=1)
    group_kind = check_choice("group_kind", group_kind, GROUP_KINDS)
    relation = check_choice("relation", relation, RELATIONS)
    distribution_kind = check_choice("distribution_kind", distribution_kind, DISTRIBUTION_KINDS)

    rng = np.random.default_rng(seed)
    groups, group_text = _kinds.group_structure(rng, vocab_size, group_kind)
    concentration = CONCENTRATIONS[int(rng.integers(len(CONCENTRATIONS)))]
    draft = np.empty((batch, gamma, vocab_size))
    target = np.empty((batch, gamma + 1, vocab_size))
    for b in range(batch):
        for i in range(gamma):
            draft[b, i], target[b, i] = _kinds.pair(
                rng, vocab_size, relation, distribution_kind, concentration, groups
            )
    for b in range(batch):
        target[b, gamma] = _kinds.distribution(rng, vocab_size, distribution_kind, concentration)
    description = (
        f"V={vocab_size} {group_text}, {_kinds.describe_distribution(distribution_kind, concentration)} "
        f"pairs {relation!r}, B={batch}, γ={gamma}"
    )
    return Case(
        draft_probs=torch.from_numpy(draft), target_probs=torch.from_numpy(target), groups=groups,
        gamma=gamma, batch=batch, seed=seed, description=description,
        group_kind=group_kind, relation=relation, distribution_kind=distribution_kind,
    )


def draw_case(
    seed: int,
    *,
    cycle_index: int | None = None,
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

    The names cycle with ``c = cycle_index`` (``seed`` when ``cycle_index`` is
    None): group kind ``group_kinds[c % len]``, relation ``relations[c % len]``,
    distribution kind ``distribution_kinds[c % len]`` (defaults: all 8, 7 and 5
    of them). Any 8 consecutive values of ``c`` cover every name, and 280
    consecutive values every combination. V, γ and B are uniform in their
    bounds, drawn from ``SeedSequence(seed, spawn_key=(0x5EED,))``; the arrays come
    from :func:`build_case` with ``seed`` (so ``case.params()`` replays it too).

    Parameters
    ----------
    seed : int
        ≥ 0, any size (numpy integers accepted). A gate draws case j of master
        seed s as ``draw_case(case_seed(s, j), cycle_index=j)``: distinct
        (s, j) give distinct seeds, and consecutive j cycle through the names.
    cycle_index : int, optional
        ≥ 0: the position in the cycle of names (default: ``seed``).
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
    >>> draw_case(case_seed(42, 17), cycle_index=17).group_kind == GROUP_KINDS[17 % len(GROUP_KINDS)]
    True
    """
    seed = check_int("seed", seed, minimum=0)
    cycle = seed if cycle_index is None else check_int("cycle_index", cycle_index, minimum=0)
    choices = _kinds.case_choices(
        min_vocab, max_vocab, min_gamma, max_gamma, min_batch, max_batch,
        group_kinds, relations, distribution_kinds, singleton_only,
    )
    # A spawn key, not a second entropy word: [seed, key] would alias the big seed seed + key·2^(32·words).
    chooser = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_CHOOSER_KEY,)))
    return build_case(
        seed,
        vocab_size=int(chooser.integers(choices.vocab[0], choices.vocab[1] + 1)),
        gamma=int(chooser.integers(choices.gamma[0], choices.gamma[1] + 1)),
        batch=int(chooser.integers(choices.batch[0], choices.batch[1] + 1)),
        group_kind=choices.group_kinds[cycle % len(choices.group_kinds)],
        relation=choices.relations[cycle % len(choices.relations)],
        distribution_kind=choices.distribution_kinds[cycle % len(choices.distribution_kinds)],
    )


def case_seed(master_seed: int, index: int) -> int:
    """The seed of case ``index`` under ``master_seed``: the Cantor pairing π(m, i).

    π(m, i) = (m + i)(m + i + 1)/2 + i is a bijection from pairs of naturals
    onto the naturals, so distinct (master seed, case index) pairs never share
    a case seed, however large either is (Python ints, no overflow), and
    :func:`split_case_seed` recovers the pair. O(1) big-int arithmetic.

    Parameters
    ----------
    master_seed, index : int
        ≥ 0, any size (numpy integers accepted).

    Returns
    -------
    int
        ≥ 0 and < (m + i + 1)(m + i + 2)/2: the pairs on diagonal m + i = d
        fill [d(d + 1)/2, (d + 1)(d + 2)/2) in order of i.

    Examples
    --------
    >>> [case_seed(0, 0), case_seed(1, 0), case_seed(0, 1), case_seed(42, 17)]
    [0, 1, 2, 1787]
    """
    master = check_int("master_seed", master_seed, minimum=0)
    case = check_int("index", index, minimum=0)
    diagonal = master + case
    return diagonal * (diagonal + 1) // 2 + case


def split_case_seed(seed: int) -> tuple[int, int]:
    """The pair ``(master_seed, index)`` whose :func:`case_seed` is ``seed`` (the inverse of π).

    With w = ⌊(√(8z + 1) − 1)/2⌋ (exact integer square root) and
    t = w(w + 1)/2: index = z − t and master_seed = w − index.

    Parameters
    ----------
    seed : int
        ≥ 0, any size.

    Returns
    -------
    tuple of int
        ``(master_seed, index)``, both ≥ 0.

    Examples
    --------
    >>> split_case_seed(case_seed(42, 17))
    (42, 17)
    """
    value = check_int("seed", seed, minimum=0)
    diagonal = (math.isqrt(8 * value + 1) - 1) // 2
    index = value - diagonal * (diagonal + 1) // 2
    return diagonal - index, index
