"""Rows of one call beyond their accepted lengths: the joint law of what adjacent rows draw last.

Math follows the paper: q is the target, p the draft. Every row of a block
ends with one draw that is not a copied draft: at position A (its accepted
length) the residual draw after the first rejection, or the bonus draw from
q_{γ+1} when A = γ. Contract clause 2 makes the rows of one call independent
given the inputs, so for rows 2r and 2r + 1 of one call the pair of their final
emitted cells has the product law. The accepted-length pairs of
:func:`pcg_verify._call_patterns.pooled_tests` cannot see a port that couples
only these final draws (e.g. systematic sampling across the batch: one shared
offset U, row b drawing with frac(U + b/R) — every row's own law exact, the
rows dependent).

The statistic of a row is S = bin(A, c), c its final cell (the membership
(k, t) in forward CSR order, or the token without labels): given A = a the
final cell has the exact law f_a (the reject cells of position a given a
rejection there, or the bonus cells at a = γ), and S is the index among
:data:`ROW_JOINT_BINS` equal-mass bins of f_a in cell order at c's mid-CDF,
⌊L · (F_a(c) − f_a(c)/2)⌋ — a discretised probability integral transform, so a
port that inverts the CDF with coupled uniforms shows as coupled bins. The law
of S, Pr(S = s) = Σ_a Pr(A = a) Σ_{c: bin(a, c) = s} f_a(c), is exact whatever
the atoms; under the contract (S, S') has law Pr(S = s) Pr(S' = s'), tested
with the one G test of :func:`pcg_verify._evidence.g_test` (L² cells, category
``batch_invariance``): one test per case row b (row 2r being case row b), at
the plan's per-test level.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from pcg_verify._evidence import _bonus_cells, _conformance_cells, g_test
from pcg_verify._experiment import Observations
from pcg_verify.budgets import Procedure
from pcg_verify.cases import Case
from pcg_verify.laws import BlockLaw
from pcg_verify.report import Category, CellCounts, LawCheck

__all__ = ["ROW_JOINT_BINS", "final_bins", "row_joint_test_count", "row_joint_tests"]

Array = np.ndarray[Any, Any]

#: L, equal-mass bins of each row's final cell given A: L² = 16 cells, so that the few hundred pairs of a
#: family case test the joint with ≥ 25 expected pairs per cell.
ROW_JOINT_BINS = 4


def final_cell_joint(law: BlockLaw, case: Case, has_labels: bool) -> Array:
    """Pr(A = a, final cell = c) [γ+1, C]: reach[a] · Pr(reject, c | reached a) for a < γ (the residual
    draw), reach[γ] · bonus cells for a = γ; C = nnz with labels, V without. Sums to 1."""
    g = law.gamma
    rows = [law.reach[a] * _conformance_cells(law.positions[a], has_labels, case.vocab_size).reshape(2, -1)[1]
            for a in range(g)]
    rows.append(law.reach[g] * _bonus_cells(law, case, has_labels))
    return np.stack(rows)


def final_bins(joint: Array, bins: int = ROW_JOINT_BINS) -> tuple[Array, Array]:
    """(bin table int64 [γ+1, C], law of S [bins]) from ``joint`` = Pr(A = a, c) [γ+1, C].

    bin(a, c) = min(L − 1, ⌊L · (F_a(c) − f_a(c)/2)⌋) with f_a = joint[a] / Σ joint[a] and F_a its CDF
    in cell order (0 for a row A = a never takes); Pr(S = s) = Σ_{a, c: bin(a, c) = s} joint[a, c].
    """
    mass = joint.sum(axis=1, keepdims=True)
    conditional = np.divide(joint, mass, out=np.zeros_like(joint), where=mass > 0)
    mid = np.cumsum(conditional, axis=1) - conditional / 2
    table = np.minimum(bins - 1, np.floor(bins * mid)).astype(np.int64)
    law = np.bincount(table.ravel(), weights=joint.ravel(), minlength=bins)
    return table, law / law.sum()


def row_joint_test_count(case: Case) -> int:
    """The most tests :func:`row_joint_tests` gives for ``case``: one per case row (rows 2r, 2r+1 of a call)."""
    return case.batch


def _pair_counts(codes: list[Array], first: Array, second: Array, bins: int) -> Array:
    """[bins²] counts of (S, S') over the final-cell codes a·C + c [pairs, 2] of one case row's pairs."""
    if not codes:
        return np.zeros(bins * bins, np.int64)
    pairs = np.concatenate(codes)
    return np.bincount(first.ravel()[pairs[:, 0]] * bins + second.ravel()[pairs[:, 1]], minlength=bins * bins)


def row_joint_tests(obs: Observations, laws: list[BlockLaw], *, case_index: int, stage: int,
                    per_test_level: float, false_negative_rate: float, procedure: Procedure) -> list[LawCheck]:
    """The joint law of the final-draw bins of rows 2r, 2r+1 of one call against the product law, one test
    per case row b (category batch_invariance); none for an experiment without call pairs."""
    if not obs.final_pairs:
        return []
    case, batch, bins = obs.case, obs.case.batch, ROW_JOINT_BINS
    test = functools.partial(g_test, Category.BATCH_INVARIANCE, stage=stage, per_test_level=per_test_level,
                             false_negative_rate=false_negative_rate, procedure=procedure, case_index=case_index)
    binned = [final_bins(final_cell_joint(law, case, obs.has_labels), bins) for law in laws]
    tests = []
    for b, codes in enumerate(obs.final_pairs):
        (first, law_first), (second, law_second) = binned[b], binned[(b + 1) % batch]
        observed = _pair_counts(codes, first, second, bins)
        record = test(CellCounts(observed, np.outer(law_first, law_second).ravel(), "final-draw bin pair"),
                      row=b, position=-1,
                      law=f"joint law of the final (residual or bonus) draws' bins of rows 2r, 2r+1 of one call "
                      f"(case rows {b}, {(b + 1) % batch}) = product law")
        if record is not None:
            tests.append(record)
    return tests
