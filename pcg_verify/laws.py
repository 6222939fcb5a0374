"""The exact laws of SPEC §4, computed from the probabilities and the groups alone.

Math follows the paper: **q is the target** distribution and **p the draft**;
code says ``target_probs`` and ``draft_probs``. With weights ``w[k, t]`` the
coarse laws are ``P_c = W p`` and ``Q_c = W q`` for the sparse weight matrix
``W`` [M, V].

Everything here is float64 NumPy on the CPU and shares no code with the
sampler in :mod:`pcg_core` (only the :class:`~pcg_core.Groups` container and
the error types): these are the reference laws that the gate tests a port
against, so they must not inherit a sampler bug. ``W`` is a
``scipy.sparse`` CSR matrix built from the forward CSR arrays, so every
function is O(nnz + V) in time and memory, never O(M·V).

Inputs are probability vectors (torch tensors or NumPy arrays of any floating
dtype). They are converted to float64 and checked: finite, non-negative, and
summing to 1 within ``sum_tolerance`` (default :data:`DEFAULT_SUM_TOLERANCE`).
Nothing is renormalised: a vector inside the tolerance is used as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse
import torch

from pcg_core._errors import InvalidArgumentError, InvalidTypeError
from pcg_core._groups import Groups

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

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: |Σ_t probs(t) − 1| allowed by default, after conversion to float64. Pass a
#: larger ``sum_tolerance`` for float32/float16 inputs (e.g. 1e-4 / 2e-2).
DEFAULT_SUM_TOLERANCE = 1e-6


# --------------------------------------------------------------------------- validation
def _check_sum_tolerance(sum_tolerance: Any) -> float:
    if (not isinstance(sum_tolerance, int | float) or isinstance(sum_tolerance, bool)
            or not math.isfinite(sum_tolerance) or sum_tolerance < 0):
        raise InvalidArgumentError("sum_tolerance", sum_tolerance, "must be a finite float >= 0")
    return float(sum_tolerance)


def _check_groups(groups: Any, vocab_size: int) -> Groups:
    if not isinstance(groups, Groups):
        raise InvalidTypeError("groups", groups, "must be a pcg_core.Groups")
    if groups.vocab_size != vocab_size:
        raise InvalidArgumentError(
            "groups", groups,
            f"was built for vocab_size={groups.vocab_size}, but the probabilities have V={vocab_size}",
        )
    return groups


def _as_probs(name: str, probs: Any, *, rows: int | None, sum_tolerance: float) -> FloatArray:
    """``probs`` as float64: shape [V] when ``rows`` is None, else [rows, V]."""
    if isinstance(probs, torch.Tensor):
        if not probs.is_floating_point():
            raise InvalidTypeError(name, probs, "dtype must be floating point")
        array = probs.detach().to("cpu", torch.float64).numpy()
    elif isinstance(probs, np.ndarray):
        if not np.issubdtype(probs.dtype, np.floating):
            raise InvalidTypeError(name, probs, "dtype must be floating point")
        array = probs.astype(np.float64)
    else:
        raise InvalidTypeError(name, probs, "must be a torch.Tensor or a numpy.ndarray")
    if rows is None:
        if array.ndim != 1 or array.shape[0] < 1:
            raise InvalidArgumentError(name, probs, "must be a non-empty 1-D probability vector [V]")
    elif array.ndim != 2 or array.shape[0] != rows or array.shape[1] < 1:
        raise InvalidArgumentError(name, probs, f"must have shape [{rows}, V]")
    if not np.all(np.isfinite(array)):
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise InvalidArgumentError(name, probs, f"must be finite; element {where} is {array[where]!r}")
    if np.any(array < 0):
        where = tuple(int(i) for i in np.argwhere(array < 0)[0])
        raise InvalidArgumentError(name, probs, f"must be >= 0; element {where} is {array[where]!r}")
    error = np.abs(array.sum(axis=-1) - 1.0)
    if np.any(error > sum_tolerance):
        row = int(np.argmax(np.atleast_1d(error)))
        total = float(np.atleast_1d(array.sum(axis=-1))[row])
        which = "" if rows is None else f"row {row} "
        raise InvalidArgumentError(
            name, probs, f"must sum to 1 within sum_tolerance={sum_tolerance:g}; {which}sums to {total!r}",
            "pass a larger sum_tolerance for low-precision inputs; nothing is renormalised here",
        )
    return array


def _check_vocab_match(draft: FloatArray, target: FloatArray) -> int:
    if draft.shape[-1] != target.shape[-1]:
        raise InvalidArgumentError(
            "target_probs", target, f"has V={target.shape[-1]}, draft_probs has V={draft.shape[-1]}"
        )
    return int(draft.shape[-1])


# --------------------------------------------------------------------------- structure
@dataclass(frozen=True)
class _Layout:
    """The groups as NumPy: W [M, V] CSR, and each membership's (group, token, weight)."""

    weights: Any  # scipy.sparse.csr_array, float64 [M, V]
    group_of: IntArray  # [nnz]
    token_of: IntArray  # [nnz]
    member_weights: FloatArray  # [nnz]


def _readonly(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    array.setflags(write=False)
    return array


def _layout(groups: Groups) -> _Layout:
    ptr = groups.group_ptr.detach().cpu().numpy().astype(np.int64)
    members = groups.group_members.detach().cpu().numpy().astype(np.int64)
    weights = groups.group_weights.detach().cpu().numpy().astype(np.float64)
    matrix = scipy.sparse.csr_array((weights, members, ptr), shape=(groups.num_groups, groups.vocab_size))
    group_of = np.repeat(np.arange(groups.num_groups, dtype=np.int64), np.diff(ptr))
    return _Layout(matrix, _readonly(group_of), _readonly(members), _readonly(weights))


def _coarse(layout: _Layout, probs: FloatArray) -> FloatArray:
    """``C = W probs``: [V] → [M], or [n, V] → [n, M]."""
    return np.asarray(layout.weights @ probs.T, dtype=np.float64).T


def _sum_by(index: IntArray, weights: FloatArray, length: int) -> FloatArray:
    """``out[j] = Σ_{m : index[m] = j} weights[m]`` for j < length."""
    return np.bincount(index, weights=weights, minlength=length).astype(np.float64, copy=False)


def _overlap(first: FloatArray, second: FloatArray) -> float:
    """Σ min(first, second) = 1 − TV, clipped to [0, 1] against rounding."""
    return min(1.0, max(0.0, float(np.minimum(first, second).sum())))


# --------------------------------------------------------------------------- single position
def coarse_distribution(
    probs: Any, groups: Groups, *, sum_tolerance: float = DEFAULT_SUM_TOLERANCE
) -> FloatArray:
    """The coarse (group) law ``C(k) = Σ_{t∈G_k} w[k,t] probs(t)``.

    Parameters
    ----------
    probs : tensor or ndarray [V]
        A probability vector (draft or target).
    groups : pcg_core.Groups
        The groups and weights, ``groups.vocab_size == V``.
    sum_tolerance : float
        Allowed |Σ probs − 1| after conversion to float64.

    Returns
    -------
    ndarray float64 [M]
        Sums to Σ probs (1 up to ``sum_tolerance``) since each token's weights sum to 1.

    Complexity: O(nnz + V).

    Examples
    --------
    >>> import numpy as np
    >>> from pcg_core import Groups
    >>> groups = Groups.from_memberships(3, np.array([0, 2, 3]), np.array([0, 1, 2]))
    >>> coarse_distribution(np.array([0.5, 0.25, 0.25]), groups)
    array([0.75, 0.25])
    """
    tol = _check_sum_tolerance(sum_tolerance)
    array = _as_probs("probs", probs, rows=None, sum_tolerance=tol)
    return _coarse(_layout(_check_groups(groups, array.shape[0])), array)


def acceptance_probability(
    draft_probs: Any, target_probs: Any, groups: Groups, *, sum_tolerance: float = DEFAULT_SUM_TOLERANCE
) -> float:
    """PCG's acceptance probability ``Σ_k min(P_c(k), Q_c(k)) = 1 − TV(P_c, Q_c)``.

    Parameters
    ----------
    draft_probs, target_probs : tensor or ndarray [V]
        p and q at one position.
    groups : pcg_core.Groups
        The groups and weights over the same V ids.
    sum_tolerance : float
        Allowed |Σ probs − 1| after conversion to float64.

    Returns
    -------
    float
        In [0, 1] (clipped against rounding); never below the token-level
        :func:`token_acceptance_probability`.

    Examples
    --------
    >>> import numpy as np
    >>> from pcg_core import Groups
    >>> groups = Groups.from_memberships(3, np.array([0, 2, 3]), np.array([0, 1, 2]))
    >>> draft, target = np.array([0.5, 0.25, 0.25]), np.array([0.125, 0.125, 0.75])
    >>> acceptance_probability(draft, target, groups)
    0.5
    >>> token_acceptance_probability(draft, target)
    0.5
    """
    tol = _check_sum_tolerance(sum_tolerance)
    draft = _as_probs("draft_probs", draft_probs, rows=None, sum_tolerance=tol)
    target = _as_probs("target_probs", target_probs, rows=None, sum_tolerance=tol)
    layout = _layout(_check_groups(groups, _check_vocab_match(draft, target)))
    return _overlap(_coarse(layout, draft), _coarse(layout, target))


def token_acceptance_probability(
    draft_probs: Any, target_probs: Any, *, sum_tolerance: float = DEFAULT_SUM_TOLERANCE
) -> float:
    """Standard speculative decoding's acceptance probability ``Σ_t min(p(t), q(t)) = 1 − TV(p, q)``.

    Parameters
    ----------
    draft_probs, target_probs : tensor or ndarray [V]
        p and q at one position.
    sum_tolerance : float
        Allowed |Σ probs − 1| after conversion to float64.

    Returns
    -------
    float
        In [0, 1] (clipped against rounding).

    Examples
    --------
    >>> import numpy as np
    >>> token_acceptance_probability(np.array([0.5, 0.5]), np.array([0.25, 0.75]))
    0.75
    """
    tol = _check_sum_tolerance(sum_tolerance)
    draft = _as_probs("draft_probs", draft_probs, rows=None, sum_tolerance=tol)
    target = _as_probs("target_probs", target_probs, rows=None, sum_tolerance=tol)
    _check_vocab_match(draft, target)
    return _overlap(draft, target)


@dataclass(frozen=True, eq=False)
class JointLaw:
    """The reference joint law of (accepted?, group K, token T) at one position.

    One entry per membership (k, t), in the forward CSR order of the groups
    (group-major, tokens ascending within a group)::

        accept[m] = Pr(accept, K=k, T=t) = p(t) w[k,t] min(1, Q_c(k)/P_c(k))   (0 where P_c(k) = 0)
        reject[m] = Pr(reject, K=k, T=t) = [Q_c(k) − P_c(k)]_+ w[k,t] q(t)/Q_c(k)   (0 where Q_c(k) = 0)

    On accept the draft token x is emitted with label K; on reject the token
    comes from the residual group's within-group target conditional. All the
    arrays are read-only.

    Attributes
    ----------
    group_of, token_of : ndarray int64 [nnz]
        The group k and token t of each membership.
    accept, reject : ndarray float64 [nnz]
        The two halves of the joint law; together they sum to 1.
    coarse_draft, coarse_target : ndarray float64 [M]
        P_c and Q_c.
    vocab_size, num_groups : int
        V and M.
    """

    group_of: IntArray
    token_of: IntArray
    accept: FloatArray
    reject: FloatArray
    coarse_draft: FloatArray
    coarse_target: FloatArray
    vocab_size: int
    num_groups: int

    @property
    def nnz(self) -> int:
        """Number of memberships (cells per accept flag)."""
        return int(self.group_of.shape[0])

    def cells(self) -> FloatArray:
        """The flat categorical law the gate tests against: accept cells then reject cells, [2·nnz]."""
        return np.concatenate([self.accept, self.reject])

    def emitted(self) -> FloatArray:
        """Pr(K=k, T=t) with the accept flag summed out, [nnz]."""
        return self.accept + self.reject

    def group_law(self) -> FloatArray:
        """The emitted label's law [M], summed from the joint (equals Q_c: the paper's theorem)."""
        return _sum_by(self.group_of, self.emitted(), self.num_groups)

    def token_law(self) -> FloatArray:
        """The emitted token's law [V]."""
        return _sum_by(self.token_of, self.emitted(), self.vocab_size)

    def acceptance_probability(self) -> float:
        """Pr(accept), summed from the joint (equals 1 − TV(P_c, Q_c))."""
        return float(self.accept.sum())

    def accepted_group_law(self) -> FloatArray:
        """Pr(accept, K=k) [M] (joint, not conditional: equals min(P_c, Q_c))."""
        return _sum_by(self.group_of, self.accept, self.num_groups)

    def rejected_group_law(self) -> FloatArray:
        """Pr(reject, K=k) [M] (joint, not conditional: equals [Q_c − P_c]_+)."""
        return _sum_by(self.group_of, self.reject, self.num_groups)

    def accepted_token_law(self) -> FloatArray:
        """Pr(accept, T=t) [V] (joint)."""
        return _sum_by(self.token_of, self.accept, self.vocab_size)

    def rejected_token_law(self) -> FloatArray:
        """Pr(reject, T=t) [V] (joint)."""
        return _sum_by(self.token_of, self.reject, self.vocab_size)

    def within_group_token_law(self) -> FloatArray:
        """Pr(T=t | K=k) = (accept + reject) / Q_c(k) per membership [nnz]; 0 where Q_c(k) = 0."""
        label_mass = self.coarse_target[self.group_of]
        return np.divide(self.emitted(), label_mass, out=np.zeros(self.nnz), where=label_mass > 0)

    def conditional_entropy(self) -> float:
        """H(T | K) = Σ_k Q_c(k) H(T | K=k) in nats: the intra-group variability PCG keeps."""
        joint = self.emitted()
        within = self.within_group_token_law()
        live = (joint > 0) & (within > 0)
        return max(0.0, float(-(joint[live] * np.log(within[live])).sum()))

    def within_group_total_variation(self, within_law: Any) -> float:
        """Σ_k Q_c(k) · TV(within_law(· | k), Pr(· | K=k)) for another within-group law.

        Parameters
        ----------
        within_law : ndarray [nnz]
            Pr(T=t | K=k) per membership in the same order (e.g. estimated from
            a port's samples), each group's entries summing to 1 or all 0.

        Returns
        -------
        float
            0 for the reference itself; up to 1 for a sampler that moves every
            group's token choice elsewhere.
        """
        other = np.asarray(within_law, dtype=np.float64)
        if other.shape != (self.nnz,):
            raise InvalidArgumentError("within_law", within_law, f"must have shape [nnz] = [{self.nnz}]")
        gaps = np.abs(other - self.within_group_token_law())
        per_group = 0.5 * _sum_by(self.group_of, gaps, self.num_groups)
        return float((self.coarse_target * per_group).sum())


def _joint(layout: _Layout, draft: FloatArray, target: FloatArray, vocab_size: int) -> JointLaw:
    coarse_draft, coarse_target = _coarse(layout, draft), _coarse(layout, target)
    num_groups = coarse_draft.shape[0]
    # Per group: accept rate min(1, Q_c/P_c), and the residual share [Q_c − P_c]_+/Q_c = [1 − P_c/Q_c]_+.
    ratio = np.divide(coarse_target, coarse_draft, out=np.zeros(num_groups), where=coarse_draft > 0)
    accept_rate = np.minimum(1.0, ratio)
    excess = np.maximum(coarse_target - coarse_draft, 0.0)
    reject_share = np.divide(excess, coarse_target, out=np.zeros(num_groups), where=coarse_target > 0)
    group_of, token_of, w = layout.group_of, layout.token_of, layout.member_weights
    accept = draft[token_of] * w * accept_rate[group_of]
    reject = target[token_of] * w * reject_share[group_of]
    return JointLaw(
        group_of=group_of, token_of=token_of,
        accept=_readonly(accept), reject=_readonly(reject),
        coarse_draft=_readonly(coarse_draft), coarse_target=_readonly(coarse_target),
        vocab_size=vocab_size, num_groups=int(num_groups),
    )


def joint_law(
    draft_probs: Any, target_probs: Any, groups: Groups, *, sum_tolerance: float = DEFAULT_SUM_TOLERANCE
) -> JointLaw:
    """The reference joint law of (accepted?, group, token) at one position (SPEC §4).

    Parameters
    ----------
    draft_probs, target_probs : tensor or ndarray [V]
        p and q at one position.
    groups : pcg_core.Groups
        The groups and weights over the same V ids.
    sum_tolerance : float
        Allowed |Σ probs − 1| after conversion to float64.

    Returns
    -------
    JointLaw
        ``accept``/``reject`` [nnz] per membership; tokens with p(t) = 0 get
        exactly zero accept mass and tokens with q(t) = 0 exactly zero reject mass.

    Complexity: O(nnz + V) time and memory.

    Examples
    --------
    >>> import numpy as np
    >>> from pcg_core import Groups
    >>> groups = Groups.from_memberships(3, np.array([0, 2, 3]), np.array([0, 1, 2]))
    >>> law = joint_law(np.array([0.5, 0.25, 0.25]), np.array([0.125, 0.125, 0.75]), groups)
    >>> law.group_law()
    array([0.25, 0.75])
    >>> law.acceptance_probability()
    0.5
    >>> law.token_law()
    array([0.16666667, 0.08333333, 0.75      ])
    """
    tol = _check_sum_tolerance(sum_tolerance)
    draft = _as_probs("draft_probs", draft_probs, rows=None, sum_tolerance=tol)
    target = _as_probs("target_probs", target_probs, rows=None, sum_tolerance=tol)
    vocab_size = _check_vocab_match(draft, target)
    return _joint(_layout(_check_groups(groups, vocab_size)), draft, target, vocab_size)


# --------------------------------------------------------------------------- block
@dataclass(frozen=True, eq=False)
class BlockLaw:
    """The laws of one block row with γ drafted positions (SPEC §4, block laws).

    Valid when each position's p_i, q_i do not depend on the prefix. Positions
    are 0-based here: drafted positions 0..γ−1, the bonus position γ. ``A`` is
    the number of accepted drafts; position i is reached iff A ≥ i.

    Attributes
    ----------
    acceptance : ndarray float64 [γ]
        a_i = 1 − TV(P_c^i, Q_c^i).
    accepted_length : ndarray float64 [γ+1]
        Pr(A = j), with Pr(A ≥ j) = Π_{i<j} a_i.
    reach : ndarray float64 [γ+1]
        Pr(position i is reached) = Pr(A ≥ i); ``reach[0] = 1``, ``reach[γ] = Pr(A = γ)``.
    positions : tuple of γ JointLaw
        The law at each drafted position given that it is reached.
    bonus_token : ndarray float64 [V]
        q_{γ+1}: the bonus token's law given that it is reached.
    bonus_group : ndarray float64 [M]
        Q_c^{γ+1}: the bonus token's label law when labelled k ~ w[·, t].
    """

    acceptance: FloatArray
    accepted_length: FloatArray
    reach: FloatArray
    positions: tuple[JointLaw, ...]
    bonus_token: FloatArray
    bonus_group: FloatArray

    @property
    def gamma(self) -> int:
        """γ, the number of drafted positions."""
        return len(self.positions)

    def _check_position(self, position: Any) -> int:
        if not isinstance(position, int) or isinstance(position, bool) or not 0 <= position <= self.gamma:
            raise InvalidArgumentError("position", position, f"must be an int in [0, gamma={self.gamma}]")
        return position

    def group_law(self, position: int) -> FloatArray:
        """Q_c^i [M]: the label law at ``position`` (0..γ, γ = bonus) given that it is reached."""
        i = self._check_position(position)
        return self.bonus_group.copy() if i == self.gamma else self.positions[i].group_law()

    def token_law(self, position: int) -> FloatArray:
        """The emitted token's law [V] at ``position`` (0..γ) given that it is reached."""
        i = self._check_position(position)
        return self.bonus_token.copy() if i == self.gamma else self.positions[i].token_law()

    def slot_group_law(self, position: int) -> FloatArray:
        """Pr(group_ids[position] = k) [M], unconditional; 1 − its sum is Pr(group_ids[position] = −1)."""
        i = self._check_position(position)
        return np.asarray(self.reach[i] * self.group_law(i), dtype=np.float64)

    def slot_token_law(self, position: int) -> FloatArray:
        """Pr(tokens[position] = t) [V], unconditional; 1 − its sum is Pr(tokens[position] = −1)."""
        i = self._check_position(position)
        return np.asarray(self.reach[i] * self.token_law(i), dtype=np.float64)

    def emitted_length_law(self) -> FloatArray:
        """The law of the number of emitted tokens A + 1, indexed by length: [γ+2], entry 0 is 0."""
        return np.concatenate([[0.0], self.accepted_length])


def block_law(
    draft_probs: Any, target_probs: Any, groups: Groups, *, sum_tolerance: float = DEFAULT_SUM_TOLERANCE
) -> BlockLaw:
    """The exact laws of one block row: accepted length, per-position joint laws, bonus token.

    Parameters
    ----------
    draft_probs : tensor or ndarray [γ, V]
        p_i for each drafted position.
    target_probs : tensor or ndarray [γ+1, V]
        q_i for each drafted position and the bonus position.
    groups : pcg_core.Groups
        The groups and weights over the same V ids.
    sum_tolerance : float
        Allowed |Σ probs − 1| per row after conversion to float64.

    Returns
    -------
    BlockLaw

    Complexity: O(γ · (nnz + V)).

    Examples
    --------
    >>> import numpy as np
    >>> from pcg_core import Groups
    >>> groups = Groups.from_memberships(3, np.array([0, 2, 3]), np.array([0, 1, 2]))
    >>> draft = np.array([[0.5, 0.25, 0.25], [0.5, 0.25, 0.25]])
    >>> target = np.array([[0.125, 0.125, 0.75], [0.5, 0.25, 0.25], [0.0, 0.0, 1.0]])
    >>> law = block_law(draft, target, groups)
    >>> law.acceptance
    array([0.5, 1. ])
    >>> law.accepted_length
    array([0.5, 0. , 0.5])
    >>> law.group_law(2)
    array([0., 1.])
    """
    tol = _check_sum_tolerance(sum_tolerance)
    if not isinstance(draft_probs, torch.Tensor | np.ndarray):
        raise InvalidTypeError("draft_probs", draft_probs, "must be a torch.Tensor or a numpy.ndarray")
    if draft_probs.ndim != 2 or draft_probs.shape[0] < 1:
        raise InvalidArgumentError("draft_probs", draft_probs, "must have shape [gamma, V] with gamma >= 1")
    gamma = int(draft_probs.shape[0])
    draft = _as_probs("draft_probs", draft_probs, rows=gamma, sum_tolerance=tol)
    target = _as_probs("target_probs", target_probs, rows=gamma + 1, sum_tolerance=tol)
    vocab_size = _check_vocab_match(draft, target)
    layout = _layout(_check_groups(groups, vocab_size))
    positions = tuple(_joint(layout, draft[i], target[i], vocab_size) for i in range(gamma))
    acceptance = np.array([_overlap(law.coarse_draft, law.coarse_target) for law in positions])
    # reach[i] = Pr(A ≥ i) = Π_{j<i} a_j;  Pr(A = j) = reach[j] (1 − a_j) for j < γ, reach[γ] for j = γ.
    reach = np.concatenate([[1.0], np.cumprod(acceptance)])
    accepted_length = np.concatenate([reach[:-1] * (1.0 - acceptance), reach[-1:]])
    bonus_token = target[gamma].copy()
    return BlockLaw(
        acceptance=_readonly(acceptance), accepted_length=_readonly(accepted_length), reach=_readonly(reach),
        positions=positions, bonus_token=_readonly(bonus_token),
        bonus_group=_readonly(_coarse(layout, bonus_token)),
    )


# --------------------------------------------------------------------------- thinning
@dataclass(frozen=True, eq=False)
class ThinningLaw:
    """The number of thinning proposals the paper's residual draw uses, given a rejection.

    Each trial draws y ~ q, k ~ w[·, y] and keeps (k, y) with probability
    ``[1 − P_c(k)/Q_c(k)]_+``; the chance that a trial keeps is
    ``s = Σ_k [Q_c(k) − P_c(k)]_+ = TV(P_c, Q_c)``, independently per trial.
    A sampler capped at ``max_trials`` falls back to an exact residual draw
    when no trial keeps.

    Attributes
    ----------
    kept_at : ndarray float64 [max_trials + 1]
        ``kept_at[j]`` = Pr(the first kept trial is trial j) = (1 − s)^(j−1) s
        for j = 1..max_trials; ``kept_at[0] = 0``.
    fallback : float
        Pr(no trial within the cap keeps) = (1 − s)^max_trials; with
        ``kept_at`` it sums to 1. Equals 1 when s = 0.
    keep_probability : float
        s, the per-trial keep probability.
    expected_trials : float
        E[T] = 1/s without the cap (``inf`` when s = 0).
    expected_capped_trials : float
        E[min(T, max_trials)] = Σ_{j<max_trials} (1 − s)^j, the trials a capped
        sampler draws on average before keeping or falling back.
    """

    kept_at: FloatArray
    fallback: float
    keep_probability: float
    expected_trials: float
    expected_capped_trials: float

    @property
    def max_trials(self) -> int:
        """The cap on the number of trials."""
        return int(self.kept_at.shape[0]) - 1


def thinning_trials_law(
    draft_probs: Any,
    target_probs: Any,
    groups: Groups,
    *,
    max_trials: int,
    sum_tolerance: float = DEFAULT_SUM_TOLERANCE,
) -> ThinningLaw:
    """The law of the number of thinning trials after a rejection, and of the capped fallback.

    Parameters
    ----------
    draft_probs, target_probs : tensor or ndarray [V]
        p and q at one position.
    groups : pcg_core.Groups
        The groups and weights over the same V ids.
    max_trials : int
        The sampler's cap, >= 1.
    sum_tolerance : float
        Allowed |Σ probs − 1| after conversion to float64.

    Returns
    -------
    ThinningLaw

    Complexity: O(nnz + V + max_trials).

    Examples
    --------
    >>> import numpy as np
    >>> from pcg_core import Groups
    >>> groups = Groups.from_memberships(3, np.array([0, 2, 3]), np.array([0, 1, 2]))
    >>> law = thinning_trials_law(np.array([0.5, 0.25, 0.25]), np.array([0.125, 0.125, 0.75]), groups,
    ...                           max_trials=3)
    >>> law.kept_at, law.fallback, law.expected_trials
    (array([0.   , 0.5  , 0.25 , 0.125]), 0.125, 2.0)
    """
    if not isinstance(max_trials, int) or isinstance(max_trials, bool) or max_trials < 1:
        raise InvalidArgumentError("max_trials", max_trials, "must be an int >= 1")
    tol = _check_sum_tolerance(sum_tolerance)
    draft = _as_probs("draft_probs", draft_probs, rows=None, sum_tolerance=tol)
    target = _as_probs("target_probs", target_probs, rows=None, sum_tolerance=tol)
    layout = _layout(_check_groups(groups, _check_vocab_match(draft, target)))
    excess = np.maximum(_coarse(layout, target) - _coarse(layout, draft), 0.0)
    keep = min(1.0, float(excess.sum()))
    # Survival (1 − s)^(j−1) before trial j, j = 1..max_trials.
    survival = (1.0 - keep) ** np.arange(max_trials, dtype=np.float64)
    kept_at = np.concatenate([[0.0], survival * keep])
    return ThinningLaw(
        kept_at=_readonly(kept_at),
        fallback=float((1.0 - keep) ** max_trials),
        keep_probability=keep,
        expected_trials=1.0 / keep if keep > 0 else math.inf,
        expected_capped_trials=float(survival.sum()),
    )


# --------------------------------------------------------------------------- SSD
def _check_ssd_tolerance(tolerance: Any) -> float:
    if (not isinstance(tolerance, int | float) or isinstance(tolerance, bool)
            or not math.isfinite(tolerance) or not 0.0 <= tolerance <= 1.0):
        raise InvalidArgumentError("tolerance", tolerance, "must be a float in [0, 1] (the SSD β)")
    return float(tolerance)


def _ssd_accept_rates(draft: FloatArray, target: FloatArray, beta: float) -> FloatArray:
    """min(1, min(1, q/p) + β) per token [V]; 0 where p = 0 (never drafted)."""
    ratio = np.divide(target, draft, out=np.zeros_like(draft), where=draft > 0)
    rates = np.minimum(1.0, np.minimum(1.0, ratio) + beta)
    return np.where(draft > 0, rates, 0.0)


def ssd_acceptance_probability(
    draft_probs: Any, target_probs: Any, tolerance: float, *, sum_tolerance: float = DEFAULT_SUM_TOLERANCE
) -> float:
    """Acceptance probability of the SSD rule ``u < min(1, q(x)/p(x)) + β``, β = ``tolerance``.

    Parameters
    ----------
    draft_probs, target_probs : tensor or ndarray [V]
        p and q at one position.
    tolerance : float
        β in [0, 1]; 0 is standard speculative decoding.
    sum_tolerance : float
        Allowed |Σ probs − 1| after conversion to float64.

    Returns
    -------
    float
        Σ_x p(x) min(1, min(1, q(x)/p(x)) + β).

    Examples
    --------
    >>> import numpy as np
    >>> ssd_acceptance_probability(np.array([0.5, 0.5]), np.array([0.25, 0.75]), 0.25)
    0.875
    """
    beta = _check_ssd_tolerance(tolerance)
    tol = _check_sum_tolerance(sum_tolerance)
    draft = _as_probs("draft_probs", draft_probs, rows=None, sum_tolerance=tol)
    target = _as_probs("target_probs", target_probs, rows=None, sum_tolerance=tol)
    _check_vocab_match(draft, target)
    return min(1.0, float((draft * _ssd_accept_rates(draft, target, beta)).sum()))


def ssd_token_law(
    draft_probs: Any, target_probs: Any, tolerance: float, *, sum_tolerance: float = DEFAULT_SUM_TOLERANCE
) -> FloatArray:
    """The emitted-token law of the SSD rule at one position (β = ``tolerance``).

    Accept the draft x with probability min(1, min(1, q(x)/p(x)) + β); on
    reject emit from the residual ``[q − p]_+`` normalised, or from q when the
    residual is all zero. β = 0 gives q exactly (standard speculative
    decoding); β > 0 moves mass towards p.

    Parameters
    ----------
    draft_probs, target_probs : tensor or ndarray [V]
        p and q at one position.
    tolerance : float
        β in [0, 1].
    sum_tolerance : float
        Allowed |Σ probs − 1| after conversion to float64.

    Returns
    -------
    ndarray float64 [V]

    Examples
    --------
    >>> import numpy as np
    >>> ssd_token_law(np.array([0.5, 0.5]), np.array([0.25, 0.75]), 0.0)
    array([0.25, 0.75])
    >>> ssd_token_law(np.array([0.5, 0.5]), np.array([0.25, 0.75]), 0.25)
    array([0.375, 0.625])
    """
    beta = _check_ssd_tolerance(tolerance)
    tol = _check_sum_tolerance(sum_tolerance)
    draft = _as_probs("draft_probs", draft_probs, rows=None, sum_tolerance=tol)
    target = _as_probs("target_probs", target_probs, rows=None, sum_tolerance=tol)
    _check_vocab_match(draft, target)
    rates = _ssd_accept_rates(draft, target, beta)
    accepted = draft * rates
    rejected = float((draft * (1.0 - rates)).sum())
    residual = np.maximum(target - draft, 0.0)
    total = float(residual.sum())
    fallback = residual / total if total > 0 else target
    return accepted + rejected * fallback
