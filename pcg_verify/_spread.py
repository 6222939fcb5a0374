"""Collapsed support: a spread tail of the emitted token's law reached only on a few ids.

Math follows the paper: q is the target, p the draft. Where the exact law f of
an emitted token (the bonus token, f = q_{γ+1}; or the residual token at
drafted position i given a rejection there) spreads mass thinly — the
**spread part** T = {t : 0 < f(t) ≤ :data:`SPREAD_LEVEL`} holds at least
:data:`MIN_SPREAD_MASS` of the mass over at least :data:`MIN_SPREAD_IDS` ids —
draws that land in T almost never repeat an id. A port that inverts the CDF
with low-precision uniforms (bfloat16: 8 significant bits, 256 values) reaches
only a few of those ids, each far too often, yet keeps the mass of every
equal-mass bin to ~2^-8, so the G tests of pooled bins do not see it.

Statistic: of the n draws that landed in T, the **repeats**
R = n − #{distinct ids of T drawn}. Bound (one-sided, valid, conservative):
given n, the draws in T are i.i.d. from f restricted to T, f_T = f / F with
F = f(T). Before the j-th of them at most j − 1 distinct ids of T were seen, so
the j-th is a repeat with probability at most π_j = min(1, S_{j−1} / F), S_k
the sum of the k largest f(t), t ∈ T, whatever came before. Hence R is
stochastically below Σ_j Bernoulli(π_j) (independent), and each
Bernoulli(π) is below Poisson(−ln(1 − π)); so

    p-value = Pr(Poisson(Λ) ≥ R),    Λ = −Σ_{j=1..n} ln(1 − π_j)  (≥ E[R] under the law),

which never exceeds the true tail probability's bound: the test's false
positive rate is at most its level. A correct port fails it with probability ≤
the plan's per-test level; one test per (row, position) whose law has a spread
part, counted by :func:`spread_test_count` from the exact laws alone (category
``conformance``: the token law is wrong, though no pooled bin shows it).

The counts are those the experiment keeps anyway (``RowCounts.tokens[γ]`` for
the bonus, the reject cells of ``RowCounts.joint[i]``): no new memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from pcg_verify._experiment import Observations, RowCounts
from pcg_verify.laws import BlockLaw
from pcg_verify.report import Category, CellCounts, LawCheck

__all__ = ["MIN_SPREAD_IDS", "MIN_SPREAD_MASS", "SPREAD_LEVEL", "repeat_pvalue", "spread_positions",
           "spread_test_count", "spread_tests"]

Array = np.ndarray[Any, Any]

#: An id belongs to the spread part when 0 < f(t) ≤ SPREAD_LEVEL.
SPREAD_LEVEL = 1e-4
#: A law has a spread part (and a test) when its spread part holds this much mass over this many ids.
MIN_SPREAD_MASS = 0.05
MIN_SPREAD_IDS = 1024


def _token_laws(law: BlockLaw) -> list[tuple[int, Array]]:
    """(position, exact token law [V] there) of every emitted draw: the residual token at each drafted
    position i given a rejection there (none where a_i = 1), then the bonus token at position γ."""
    out = []
    for i, joint in enumerate(law.positions):
        reject = np.bincount(joint.token_of, weights=joint.reject, minlength=joint.vocab_size)
        if reject.sum() > 0:
            out.append((i, reject / reject.sum()))
    out.append((law.gamma, np.asarray(law.bonus_token, dtype=np.float64)))
    return out


def _spread(token_law: Array) -> Array | None:
    """The ids of the spread part of ``token_law`` [V], or None when it has none."""
    thin = np.flatnonzero((token_law > 0) & (token_law <= SPREAD_LEVEL))
    if thin.size < MIN_SPREAD_IDS or float(token_law[thin].sum()) < MIN_SPREAD_MASS:
        return None
    return thin


def spread_positions(law: BlockLaw) -> list[tuple[int, Array, Array]]:
    """(position, token law [V], spread ids) of every emitted draw of one row whose law has a spread part."""
    out = []
    for position, token_law in _token_laws(law):
        thin = _spread(token_law)
        if thin is not None:
            out.append((position, token_law, thin))
    return out


def spread_test_count(vocab_size: int, laws: Callable[[], list[BlockLaw]]) -> int:
    """The most tests :func:`spread_tests` gives for a case of ``vocab_size`` ids with row laws ``laws()``
    (called only when V ≥ MIN_SPREAD_IDS: a smaller vocabulary has no spread part): one per spread position."""
    if vocab_size < MIN_SPREAD_IDS:
        return 0
    return sum(len(spread_positions(law)) for law in laws())


def repeat_pvalue(counts: Array, thin_probs: Array) -> tuple[int, int, float]:
    """(n, R, p-value bound) of the module docstring for ``counts`` [T] of the spread ids with exact
    probabilities ``thin_probs`` [T] (unnormalised: f(t), t ∈ T)."""
    n = int(counts.sum())
    repeats = n - int((counts > 0).sum())
    if repeats <= 0:
        return n, 0, 1.0
    largest = np.sort(thin_probs)[::-1][: n - 1]
    pi = np.minimum(1.0, np.concatenate([[0.0], np.cumsum(largest)]) / float(thin_probs.sum()))
    if (pi >= 1.0).any():
        return n, repeats, 1.0
    rate = float(-np.log1p(-pi).sum())
    return n, repeats, float(stats.poisson.sf(repeats - 1, rate))


def _emitted_counts(counts: RowCounts, law: BlockLaw, position: int, has_labels: bool) -> Array:
    """Counts [V] of the tokens of one row's draws at ``position``: the bonus, or the residual there."""
    if position == law.gamma:
        return np.asarray(counts.tokens[position])
    joint = law.positions[position]
    half = counts.joint[position].shape[0] // 2
    reject = counts.joint[position][half:]
    return np.bincount(joint.token_of, weights=reject, minlength=joint.vocab_size) if has_labels else reject


def spread_tests(obs: Observations, laws: list[BlockLaw], *, case_index: int, stage: int) -> list[LawCheck]:
    """One collapsed-support test per (row, spread position) with at least two draws in the spread part.

    ``detectable_discrepancy`` is ∞: the test keeps no TV promise (it is built for a collapse of the
    spread part, which moves little TV per bin)."""
    tests = []
    for b, (counts, law) in enumerate(zip(obs.rows, laws, strict=True)):
        for position, token_law, thin in spread_positions(law):
            emitted = np.asarray(_emitted_counts(counts, law, position, obs.has_labels), dtype=np.int64)
            n, repeats, pvalue = repeat_pvalue(emitted[thin], token_law[thin])
            if n < 2:
                continue
            what = "bonus" if position == law.gamma else "residual"
            tests.append(LawCheck(
                Category.CONFORMANCE, case_index, b, position,
                f"{what} token law's spread part ({thin.size} ids ≤ {SPREAD_LEVEL:g}, mass "
                f"{float(token_law[thin].sum()):.3g}) is not collapsed: repeats among its draws", stage, n,
                int(thin.size), float(repeats), pvalue, math.inf,
                counts=CellCounts(emitted, token_law, "token")))
    return tests
