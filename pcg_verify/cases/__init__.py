"""The gate's cases: what a port is called on, drawn from one integer.

Math follows the paper: q is the target, p the draft. Modules:

* ``_kinds`` — each distribution kind, relation (how p relates to q) and group
  kind, one implementation each;
* ``_case`` — :class:`Case`, :func:`build_case` and :func:`draw_case` (a case
  from a seed alone, replayable without Hypothesis), :func:`case_seed`;
* ``_families`` — the engine-scale family cases (Llasa's layout, codec rows,
  unaligned vocabularies, single rows) and what they cover;
* ``strategies`` — Hypothesis strategies over the same factory
  (``from pcg_verify.cases import strategies``).

Nothing here imports Hypothesis except ``strategies``.
"""

from __future__ import annotations

from pcg_verify.cases._case import (
    CONCENTRATIONS,
    DISTRIBUTION_KINDS,
    GROUP_KINDS,
    RELATIONS,
    TILE_UNALIGNED_SIZES,
    Case,
    build_case,
    case_seed,
    draw_case,
    split_case_seed,
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
