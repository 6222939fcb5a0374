"""Validation and the sparse layout shared by the exact laws (private to :mod:`pcg_verify.laws`).

Math follows the paper: q is the target, p the draft. ``W`` [M, V] is the
sparse weight matrix of the groups, ``W[k, t] = w[k, t]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import scipy.sparse

from pcg_core.errors import InvalidArgumentError
from pcg_core.validation import SUM_TOLERANCE, check_groups, check_probs, check_real

if TYPE_CHECKING:
    from pcg_core import Groups

__all__ = [
    "DEFAULT_SUM_TOLERANCE",
    "FloatArray",
    "IntArray",
    "Layout",
    "as_probs",
    "check_sum_tolerance",
    "checked_layout",
    "coarse",
    "layout_of",
    "overlap",
    "pair_of_probs",
    "readonly",
    "sum_by",
    "vocab_of",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: |Σ_t probs(t) − 1| allowed by default: the float64 entry of
#: :data:`pcg_core.validation.SUM_TOLERANCE`, since the laws compute in float64.
#: Pass a larger ``sum_tolerance`` for low-precision inputs (e.g. that table's
#: float32 or float16 entry).
DEFAULT_SUM_TOLERANCE = SUM_TOLERANCE["float64"]


# --------------------------------------------------------------------------- validation
def check_sum_tolerance(sum_tolerance: Any) -> float:
    """The allowed |Σ probs − 1|: a finite real >= 0."""
    return check_real("sum_tolerance", sum_tolerance, minimum=0.0)


def as_probs(name: str, probs: Any, *, shape: tuple[int | None, ...], sum_tolerance: float) -> FloatArray:
    """``probs`` (torch tensor or numpy array) checked and copied to a float64 numpy array.

    The rule is :func:`pcg_core.validation.check_probs` with ``atol=sum_tolerance``
    (finite, >= 0, each row summing to 1, nothing renormalised), plus at least
    one token. ``shape`` is ``(None,)`` for one vector [V] or ``(rows, None)``
    for [rows, V].
    """
    check_probs(name, probs, shape=shape, values=False)
    if probs.shape[-1] < 1:
        raise InvalidArgumentError(name, probs, "must hold at least one token (V >= 1)")
    check_probs(name, probs, shape=shape, atol=sum_tolerance)
    if isinstance(probs, np.ndarray):
        return probs.astype(np.float64)
    array: FloatArray = probs.detach().cpu().double().numpy()  # a torch tensor of any float dtype
    return array


def pair_of_probs(draft_probs: Any, target_probs: Any, sum_tolerance: Any) -> tuple[FloatArray, FloatArray]:
    """The draft and target probabilities of one position [V], checked, as float64."""
    tol = check_sum_tolerance(sum_tolerance)
    draft = as_probs("draft_probs", draft_probs, shape=(None,), sum_tolerance=tol)
    target = as_probs("target_probs", target_probs, shape=(None,), sum_tolerance=tol)
    return draft, target


def vocab_of(draft: FloatArray, target: FloatArray) -> int:
    """V, the common last dimension of the draft and target probabilities."""
    if draft.shape[-1] != target.shape[-1]:
        raise InvalidArgumentError(
            "target_probs", target, f"has V={target.shape[-1]}, draft_probs has V={draft.shape[-1]}"
        )
    return int(draft.shape[-1])


# --------------------------------------------------------------------------- structure
@dataclass(frozen=True)
class Layout:
    """The groups as NumPy: W [M, V] CSR, and each membership's (group, token, weight)."""

    weights: Any  # scipy.sparse.csr_array, float64 [M, V]
    group_of: IntArray  # [nnz]
    token_of: IntArray  # [nnz]
    member_weights: FloatArray  # [nnz]


def readonly(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``array`` itself, made read-only: the laws are frozen values."""
    array.setflags(write=False)
    return array


def layout_of(groups: Groups) -> Layout:
    """W [M, V] as a CSR matrix built from the groups' forward CSR arrays, O(nnz + M)."""
    ptr = groups.group_ptr.detach().cpu().numpy().astype(np.int64)
    members = groups.group_members.detach().cpu().numpy().astype(np.int64)
    weights = groups.group_weights.detach().cpu().numpy().astype(np.float64)
    matrix = scipy.sparse.csr_array((weights, members, ptr), shape=(groups.num_groups, groups.vocab_size))
    group_of = np.repeat(np.arange(groups.num_groups, dtype=np.int64), np.diff(ptr))
    return Layout(matrix, readonly(group_of), readonly(members), readonly(weights))


def coarse(layout: Layout, probs: FloatArray) -> FloatArray:
    """``C = W probs``: [V] → [M], or [n, V] → [n, M]."""
    return np.asarray(layout.weights @ probs.T, dtype=np.float64).T


def sum_by(index: IntArray, weights: FloatArray, length: int) -> FloatArray:
    """``out[j] = Σ_{m : index[m] = j} weights[m]`` for j < length."""
    return np.bincount(index, weights=weights, minlength=length).astype(np.float64, copy=False)


def overlap(first: FloatArray, second: FloatArray) -> float:
    """Σ min(first, second) = 1 − TV, clipped to [0, 1] against rounding."""
    return min(1.0, max(0.0, float(np.minimum(first, second).sum())))


def checked_layout(groups: Any, vocab_size: int) -> Layout:
    """The layout of ``groups``, after checking that they are a Groups over ``vocab_size`` ids."""
    return layout_of(check_groups(groups, vocab_size=vocab_size))
