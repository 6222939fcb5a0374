"""The bug catalogue: mutants of two independent implementations of PCG, and the gate's mutation score.

Math follows the paper: q is the target, p the draft. Two implementations of
PCG verification, written independently of pcg_core's sampler and of each
other, are the bases: a sparse, batched reference that runs at the paper's
scale, with named switch points (:class:`Switches`), and a dense
matrix-form port (:func:`dense_port`, :class:`DenseSwitches`). Each
:class:`Mutant` of :data:`CATALOGUE` is one base with one realistic mistake
(the dense port's are named ``dense_<bug>``), naming the real bug class it
stands for and the gate's categories expected to kill it.
:data:`EQUIVALENTS` are different but valid variants, the correct dense port
among them, that the gate must pass. :func:`mutation_score` runs the gate on
all of them (``pcg-verify bugs``); ``pcg-verify list`` lists them.

Ports for the command line: ``pcg_verify.bugs:reference`` (the unmutated
sparse base, passes), ``pcg_verify.bugs:mutants.<name>`` (fails),
``pcg_verify.bugs:equivalents.<name>`` (passes, e.g. ``equivalents.dense_port``);
:func:`mutant_port` makes a fresh one (mutants that keep state between calls
start empty).

Modules: ``_ragged`` (CSR segments, segment sums and draws), ``_reference``
(the sparse mutable reference), ``_dense`` (the dense port), ``_catalogue``
(the entries), ``_score`` (the score).
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
from pcg_verify.bugs._dense import DENSE_BUGS, DenseSwitches, dense_port
from pcg_verify.bugs._reference import FLAWS, Switches, reference_sampler
from pcg_verify.bugs._score import MutationRow, MutationScore, mutation_score

__all__ = [
    "CATALOGUE",
    "DENSE_BUGS",
    "EQUIVALENTS",
    "FLAWS",
    "DenseSwitches",
    "Mutant",
    "MutantPort",
    "MutationRow",
    "MutationScore",
    "Switches",
    "dense_port",
    "equivalents",
    "mutant_port",
    "mutants",
    "mutation_score",
    "reference",
    "reference_sampler",
]
