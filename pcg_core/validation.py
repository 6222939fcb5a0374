"""The one copy of every argument rule of pcg_core and pcg_verify.

Each ``check_*`` function takes an argument's name and value and returns the
value in its canonical type, or raises :class:`~pcg_core.errors.InvalidTypeError`
(wrong type or dtype) or :class:`~pcg_core.errors.InvalidArgumentError` (wrong
value), whose message reads ``name=value: rule``.

Rules shared by every public function:

- An integer is a Python ``int`` or a numpy integer, never a ``bool`` and never
  a float, not even ``2.0`` (that is a type error, not a value error).
- A real is an ``int``, a ``float`` or a numpy real, never a ``bool``; finite
  unless a rule says otherwise.
- A probability array (torch tensor or numpy array, last axis the vocabulary)
  is finite, ``>= 0``, and each row sums to 1 within a tolerance; it is never
  renormalised.

Tolerance decision. :data:`SUM_TOLERANCE` gives the allowed
``|Σ_t probs[..., t] − 1|`` per dtype, applied at the sampler's boundary
(:func:`pcg_core.verify` and the baselines) to the dtype the caller passes:
low-precision rows from a softmax over ~200k ids drift by a few 1e-3, float64
rows should be exact. A tolerance cannot know where rows came from (float32
softmax rows cast with ``.double()`` drift by a few 1e-5 over 2e5 ids), so the
error says how to fix such rows, and :func:`pcg_core.verify` and the baselines
take ``sum_tolerance=`` (:func:`check_sum_tolerance`) for callers who know
their rows' origin. The exact laws of pcg_verify compute in float64 and use
the float64 entry (1e-6). The weights of a group structure are float64 and
renormalised per token when built, so each token's weights sum to 1 within the
float64 entry too (:meth:`pcg_core.Groups.validate`).

This module is the rules' public home; they live in three private modules,
each importing the one before: ``_rules`` (scalars, choices, integer arrays),
``_rows`` (probability rows and their tolerance) and ``_inputs`` (a group
structure, a generator, a verification block). Inside pcg_core the modules
import the rules from there, never from this façade, so that no module below
the group structure depends on the module that checks it (no import cycle).
All of it imports numpy only; torch and the group structure are imported
inside the functions that receive them, so ``import pcg_core.validation``
stays cheap (the statistics of pcg_verify depend on it and never load torch).
"""

from __future__ import annotations

from pcg_core._inputs import check_generator, check_groups, check_verify_inputs
from pcg_core._rows import SUM_TOLERANCE, check_has_values, check_probs, check_sum_tolerance, sum_tolerance
from pcg_core._rules import (
    check_bool,
    check_choice,
    check_int,
    check_int_array,
    check_probability,
    check_real,
    check_ssd_tolerance,
)

__all__ = [
    "SUM_TOLERANCE",
    "check_bool",
    "check_choice",
    "check_generator",
    "check_groups",
    "check_has_values",
    "check_int",
    "check_int_array",
    "check_probability",
    "check_probs",
    "check_real",
    "check_ssd_tolerance",
    "check_sum_tolerance",
    "check_verify_inputs",
    "sum_tolerance",
]
