"""The exact law of one position: coarse laws, acceptance probabilities and the joint law.

Math follows the paper: **q is the target** distribution and **p the draft**;
code says ``target_probs`` and ``draft_probs``. With weights ``w[k, t]`` the
coarse laws are ``P_c = W p`` and ``Q_c = W q`` for the sparse weight matrix
``W`` [M, V]. Every function is O(nnz + V) in time and memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pcg_core.errors import InvalidArgumentError
from pcg_verify.laws._common import (
    DEFAULT_SUM_TOLERANCE,
    FloatArray,
    IntArray,
    Layout,
    as_probs,
    check_sum_tolerance,
    checked_layout,
    coarse,
    overlap,
    pair_of_probs,
    readonly,
    sum_by,
    vocab_of,
)

if TYPE_CHECKING:
    from pcg_core import Groups

__all__ = [
    "JointLaw",
    "acceptance_probability",
    "coarse_distribution",
    "joint_from_layout",
    "joint_law",
    "token_acceptance_probability",
]


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
    tol = check_sum_tolerance(sum_tolerance)
    array = as_probs("probs", probs, shape=(None,), sum_tolerance=tol)
    return coarse(checked_layout(groups, array.shape[0]), array)


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
    draft, target = pair_of_probs(draft_probs, target_probs, sum_tolerance)
    layout = checked_layout(groups, vocab_of(draft, target))
    return overlap(coarse(layout, draft), coarse(layout, target))


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
    draft, target = pair_of_probs(draft_probs, target_probs, sum_tolerance)
    vocab_of(draft, target)
    return overlap(draft, target)


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
        """The emitted label's law Pr(K=k) [M], summed from the joint (equals Q_c: the paper's theorem)."""
        return sum_by(self.group_of, self.emitted(), self.num_groups)

    def token_law(self) -> FloatArray:
        """The emitted token's law Pr(T=t) [V]."""
        return sum_by(self.token_of, self.emitted(), self.vocab_size)

    def acceptance_probability(self) -> float:
        """Pr(accept), summed from the joint (equals 1 − TV(P_c, Q_c))."""
        return float(self.accept.sum())

    def accepted_group_joint(self) -> FloatArray:
        """Pr(accept, K=k) [M]: joint, not conditional on accepting; equals min(P_c, Q_c)."""
        return sum_by(self.group_of, self.accept, self.num_groups)

    def rejected_group_joint(self) -> FloatArray:
        """Pr(reject, K=k) [M]: joint, not conditional on rejecting; equals [Q_c − P_c]_+."""
        return sum_by(self.group_of, self.reject, self.num_groups)

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
        per_group = 0.5 * sum_by(self.group_of, gaps, self.num_groups)
        return float((self.coarse_target * per_group).sum())


def joint_from_layout(layout: Layout, draft: FloatArray, target: FloatArray, vocab_size: int) -> JointLaw:
    """The JointLaw of checked float64 probabilities [V] over a layout (shared with the block laws)."""
    coarse_draft, coarse_target = coarse(layout, draft), coarse(layout, target)
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
        accept=readonly(accept), reject=readonly(reject),
        coarse_draft=readonly(coarse_draft), coarse_target=readonly(coarse_target),
        vocab_size=vocab_size, num_groups=int(num_groups),
    )


def joint_law(
    draft_probs: Any, target_probs: Any, groups: Groups, *, sum_tolerance: float = DEFAULT_SUM_TOLERANCE
) -> JointLaw:
    """The reference joint law of (accepted?, group, token) at one position (docs/laws.md).

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
    draft, target = pair_of_probs(draft_probs, target_probs, sum_tolerance)
    vocab_size = vocab_of(draft, target)
    return joint_from_layout(checked_layout(groups, vocab_size), draft, target, vocab_size)
