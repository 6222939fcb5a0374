"""The exact laws of a whole block row (γ drafted positions and the bonus) and of thinning.

Math follows the paper: **q is the target** distribution and **p the draft**;
code says ``target_probs`` and ``draft_probs``. Positions are 0-based:
drafted positions 0..γ−1, the bonus position γ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pcg_core.errors import InvalidArgumentError
from pcg_core.validation import check_int, check_probs
from pcg_verify.laws._common import (
    DEFAULT_SUM_TOLERANCE,
    FloatArray,
    as_probs,
    check_sum_tolerance,
    checked_layout,
    coarse,
    overlap,
    pair_of_probs,
    readonly,
    vocab_of,
)
from pcg_verify.laws._joint import JointLaw, joint_from_layout

if TYPE_CHECKING:
    from pcg_core import Groups

__all__ = ["BlockLaw", "ThinningLaw", "block_law", "thinning_trials_law"]


@dataclass(frozen=True, eq=False)
class BlockLaw:
    """The laws of one block row with γ drafted positions (docs/laws.md, block laws).

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
        return check_int("position", position, minimum=0, maximum=self.gamma)

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
    tol = check_sum_tolerance(sum_tolerance)
    check_probs("draft_probs", draft_probs, values=False)  # type and dtype, before reading the shape
    if draft_probs.ndim != 2 or draft_probs.shape[0] < 1:
        raise InvalidArgumentError("draft_probs", draft_probs, "must have shape [gamma, V] with gamma >= 1")
    gamma = int(draft_probs.shape[0])
    draft = as_probs("draft_probs", draft_probs, shape=(gamma, None), sum_tolerance=tol)
    target = as_probs("target_probs", target_probs, shape=(gamma + 1, None), sum_tolerance=tol)
    vocab_size = vocab_of(draft, target)
    layout = checked_layout(groups, vocab_size)
    positions = tuple(joint_from_layout(layout, draft[i], target[i], vocab_size) for i in range(gamma))
    acceptance = np.array([overlap(law.coarse_draft, law.coarse_target) for law in positions])
    # reach[i] = Pr(A ≥ i) = Π_{j<i} a_j;  Pr(A = j) = reach[j] (1 − a_j) for j < γ, reach[γ] for j = γ.
    reach = np.concatenate([[1.0], np.cumprod(acceptance)])
    accepted_length = np.concatenate([reach[:-1] * (1.0 - acceptance), reach[-1:]])
    bonus_token = target[gamma].copy()
    return BlockLaw(
        acceptance=readonly(acceptance), accepted_length=readonly(accepted_length), reach=readonly(reach),
        positions=positions, bonus_token=readonly(bonus_token),
        bonus_group=readonly(coarse(layout, bonus_token)),
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
    trials = check_int("max_trials", max_trials, minimum=1)
    draft, target = pair_of_probs(draft_probs, target_probs, sum_tolerance)
    layout = checked_layout(groups, vocab_of(draft, target))
    excess = np.maximum(coarse(layout, target) - coarse(layout, draft), 0.0)
    keep = min(1.0, float(excess.sum()))
    # Survival (1 − s)^(j−1) before trial j, j = 1..max_trials.
    survival = (1.0 - keep) ** np.arange(trials, dtype=np.float64)
    kept_at = np.concatenate([[0.0], survival * keep])
    return ThinningLaw(
        kept_at=readonly(kept_at),
        fallback=float((1.0 - keep) ** trials),
        keep_probability=keep,
        expected_trials=1.0 / keep if keep > 0 else math.inf,
        expected_capped_trials=float(survival.sum()),
    )
