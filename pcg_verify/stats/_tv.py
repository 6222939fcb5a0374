"""A rigorous upper bound on the total-variation distance from a sampled law to a reference.

.. note:: Provisional: the gate does not use :func:`tv_upper_bound` yet; its
   interface may change without notice.
"""

from __future__ import annotations

import math

import numpy as np

from pcg_core.validation import check_probability
from pcg_verify.stats import _common as common
from pcg_verify.stats._results import TVBoundResult

__all__ = ["tv_upper_bound"]


def tv_upper_bound(counts: object, probs: object, *, confidence: float = 0.999) -> TVBoundResult:
    """A high-confidence upper bound on the TV distance between the sampled law and ``probs``.

    With probability at least ``confidence`` over the samples,
    ``TV(true law, probs) <= bound``.

    .. note:: Provisional: the gate does not use this bound yet.

    Parameters
    ----------
    counts : array_like of int, shape [K]
        Observed counts of n iid draws from the unknown true law on K categories.
    probs : array_like of float, shape [K]
        The reference law.
    confidence : float
        ``1 - δ`` in (0, 1).

    Returns
    -------
    TVBoundResult

    Notes
    -----
    Let P̂ be the empirical law, P the true one and n the number of draws.

    1. Triangle inequality: ``TV(P, probs) <= TV(P̂, probs) + TV(P̂, P)``.
    2. Expectation: ``E|P̂_k - P_k| <= sqrt(P_k (1 - P_k) / n)`` (Jensen), and by
       Cauchy–Schwarz ``Σ_k sqrt(P_k (1 - P_k)) <= sqrt(K Σ_k P_k (1 - P_k))
       <= sqrt(K - 1)``, so ``E TV(P̂, P) <= ½ sqrt((K - 1) / n)``.
    3. Concentration: changing one draw moves ``TV(P̂, P)`` by at most 1/n, so
       McDiarmid gives ``TV(P̂, P) <= E TV(P̂, P) + sqrt(ln(1/δ) / (2n))`` with
       probability ``>= 1 - δ``.

    Hence ``bound = TV(P̂, probs) + ½ sqrt((K - 1)/n) + sqrt(ln(1/δ)/(2n))``,
    capped at 1. The bound is rigorous for every n and K (no asymptotics).

    Examples
    --------
    >>> import numpy as np
    >>> from pcg_verify.stats import tv_upper_bound
    >>> law = np.array([0.1, 0.2, 0.3, 0.4])
    >>> counts = np.random.default_rng(2).multinomial(10_000, law)
    >>> result = tv_upper_bound(counts, law, confidence=0.999)
    >>> result.bound < 0.05
    True
    """
    count_array = common.count_vector("counts", counts)
    law = common.prob_vector("probs", probs, length=count_array.size, length_name="counts")
    n = common.total("counts", count_array, counts)
    level = check_probability("confidence", confidence, strict=True)
    n_cells = count_array.size
    empirical_tv = 0.5 * float(np.abs(count_array / n - law).sum())
    expectation_term = 0.5 * math.sqrt((n_cells - 1) / n)
    concentration_term = math.sqrt(math.log(1.0 / (1.0 - level)) / (2.0 * n))
    return TVBoundResult(
        bound=min(1.0, empirical_tv + expectation_term + concentration_term),
        empirical_tv=empirical_tv,
        expectation_term=expectation_term,
        concentration_term=concentration_term,
        confidence=level,
        n_samples=n,
        n_cells=n_cells,
    )
