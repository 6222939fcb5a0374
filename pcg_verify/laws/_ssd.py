"""The laws of the SSD acceptance rule, the inexact baseline ``u < min(1, q(x)/p(x)) + β``.

Math follows the paper: **q is the target** distribution and **p the draft**;
code says ``target_probs`` and ``draft_probs``. β = 0 is standard speculative
decoding, exact; β > 0 accepts more drafts and moves the emitted law towards p.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pcg_core.validation import check_ssd_tolerance
from pcg_verify.laws._common import DEFAULT_SUM_TOLERANCE, FloatArray, pair_of_probs, vocab_of

__all__ = ["ssd_acceptance_probability", "ssd_token_law"]


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
    beta = check_ssd_tolerance(tolerance)
    draft, target = pair_of_probs(draft_probs, target_probs, sum_tolerance)
    vocab_of(draft, target)
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
    beta = check_ssd_tolerance(tolerance)
    draft, target = pair_of_probs(draft_probs, target_probs, sum_tolerance)
    vocab_of(draft, target)
    rates = _ssd_accept_rates(draft, target, beta)
    accepted = draft * rates
    rejected = float((draft * (1.0 - rates)).sum())
    residual = np.maximum(target - draft, 0.0)
    total = float(residual.sum())
    fallback = residual / total if total > 0 else target
    return accepted + rejected * fallback
