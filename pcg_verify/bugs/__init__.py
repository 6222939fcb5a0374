"""The planted-bug catalogue: mutants of a sparse reference of PCG, and the gate's mutation score.

Math follows the paper: q is the target, p the draft. A second, independent
implementation of PCG verification, sparse and batched so that it runs at the
paper's scale, has named switch points (:class:`Switches`); each
:class:`Mutant` of :data:`CATALOGUE` is that reference with one realistic
mistake, naming the real bug class it stands for and the gate's categories
expected to kill it. :data:`EQUIVALENTS` are different but valid variants
that the gate must pass. :func:`mutation_score` runs the gate on all of them
(``pcg-verify bugs``).

Ports for the command line: ``pcg_verify.bugs:reference`` (the unmutated
base, passes), ``pcg_verify.bugs:mutants.<name>`` (fails),
``pcg_verify.bugs:equivalents.<name>`` (passes); :func:`mutant_port` makes a
fresh one (mutants that keep state between calls start empty).

Modules: ``_ragged`` (CSR segments, segment sums and draws), ``_reference``
(the mutable reference), ``_catalogue`` (the entries), ``_score`` (the score).
"""

from __future__ import annotations

from pcg_verify.bugs._catalogue import (
    CATALOGUE,
    EQUIVALENTS,
    Mutant,
    MutantPort,
    equivalents,
    mutant_port,
    mutants,
    reference,
)
from pcg_verify.bugs._reference import FLAWS, Switches, reference_sampler
from pcg_verify.bugs._score import MutationRow, MutationScore, mutation_score

__all__ = [
    "CATALOGUE",
    "EQUIVALENTS",
    "FLAWS",
    "Mutant",
    "MutantPort",
    "MutationRow",
    "MutationScore",
    "Switches",
    "equivalents",
    "mutant_port",
    "mutants",
    "mutation_score",
    "reference",
    "reference_sampler",
]
