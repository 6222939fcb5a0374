"""The exact laws of docs/laws.md, computed from the probabilities and the groups alone.

Math follows the paper: **q is the target** distribution and **p the draft**;
code says ``target_probs`` and ``draft_probs``. With weights ``w[k, t]`` the
coarse laws are ``P_c = W p`` and ``Q_c = W q`` for the sparse weight matrix
``W`` [M, V].

Everything here is float64 NumPy on the CPU and shares no code with the
sampler in :mod:`pcg_core` (only the :class:`~pcg_core.Groups` container, the
errors and the argument rules of :mod:`pcg_core.validation`): these are the
reference laws that the gate tests a port against, so they must not inherit a
sampler bug. ``W`` is a ``scipy.sparse`` CSR matrix built from the forward CSR
arrays, so every function is O(nnz + V) in time and memory, never O(M·V).

Inputs are probability vectors (torch tensors or NumPy arrays of dtype
float64, float32, float16 or bfloat16). They are checked by
:func:`pcg_core.validation.check_probs` (finite, non-negative, summing to 1
within ``sum_tolerance``, default :data:`DEFAULT_SUM_TOLERANCE`, the float64
entry of :data:`pcg_core.validation.SUM_TOLERANCE`) and converted to float64.
Nothing is renormalised: a vector inside the tolerance is used as it is.

Naming: a ``*_law`` sums to 1 over its values (``slot_*_law`` leaves out
the slot's ``−1`` value) or is a conditional law that says so
(``within_group_token_law``, Pr(T = t | K = k)); a part of a joint law that
does not sum to 1 on its own, such as ``Pr(accept, K = k)``, is a ``*_joint``.

==============================  ===============================================
module                          contents
==============================  ===============================================
``_joint``                      coarse laws, acceptance probabilities, JointLaw
``_block``                      BlockLaw (γ positions and bonus), ThinningLaw
``_ssd``                        the SSD baseline's acceptance and token law
``_common``                     argument checks and the sparse layout of W
==============================  ===============================================
"""

from pcg_verify.laws._block import BlockLaw, ThinningLaw, block_law, thinning_trials_law
from pcg_verify.laws._common import DEFAULT_SUM_TOLERANCE
from pcg_verify.laws._joint import (
    JointLaw,
    acceptance_probability,
    coarse_distribution,
    joint_law,
    token_acceptance_probability,
)
from pcg_verify.laws._ssd import ssd_acceptance_probability, ssd_token_law

__all__ = [
    "DEFAULT_SUM_TOLERANCE",
    "BlockLaw",
    "JointLaw",
    "ThinningLaw",
    "acceptance_probability",
    "block_law",
    "coarse_distribution",
    "joint_law",
    "ssd_acceptance_probability",
    "ssd_token_law",
    "thinning_trials_law",
    "token_acceptance_probability",
]
