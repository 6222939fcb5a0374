"""From counts to evidence: one goodness-of-fit test per (row, position, law), and variability.

Math follows the paper: q is the target, p the draft. For each row of a case
the gate tests, against the exact laws of :mod:`pcg_verify.laws`:

* guarantee — the emitted group label at each reached position i ≤ γ has law Q_c^i;
* conformance — the joint law of (accepted?, group, token) at each drafted
  position, and of (group, token) at the bonus position (without labels: the
  same with the token alone);
* acceptance — the law of the number of accepted drafts A;
* bonus — the bonus token has law q_{γ+1}.

Each test keeps the few cells a reader would look at
(:class:`~pcg_verify.report.ShownCells`: the largest deviations, the rest
pooled); :func:`report_evidence` turns those of the worst tests, and the
variability of each case, into the report's ``evidence`` section (what its
plots draw).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from pcg_verify._experiment import Observations, RowCounts
from pcg_verify.budgets import Procedure
from pcg_verify.cases import Case
from pcg_verify.laws import BlockLaw, JointLaw
from pcg_verify.report import Category, CellCounts, LawCheck, ShownCells
from pcg_verify.stats import (
    check_categorical,
    min_detectable_discrepancy_for_categorical,
    pooled_cell_count,
)

__all__ = ["EVIDENCE_CELLS", "EVIDENCE_TESTS", "g_test", "law_checks", "report_evidence", "variability"]

Array = np.ndarray[Any, Any]

#: Tests whose cells the report keeps (smallest p-values; plus the worst test of each category),
#: and the cells shown per test (the largest standardised deviations; the rest pooled into one).
EVIDENCE_TESTS = 8
EVIDENCE_CELLS = 24


def _conformance_cells(law: JointLaw, has_labels: bool, vocab: int) -> Array:
    """Reference cells (accepted?, membership) — or (accepted?, token) without labels."""
    if has_labels:
        return law.cells()
    accept = np.bincount(law.token_of, weights=law.accept, minlength=vocab)
    reject = np.bincount(law.token_of, weights=law.reject, minlength=vocab)
    return np.concatenate([accept, reject])


def _bonus_cells(law: BlockLaw, case: Case, has_labels: bool) -> Array:
    """Bonus (group, token) cells q_{γ+1}(t) w[k, t] over memberships, or the token law alone."""
    if not has_labels:
        return law.bonus_token
    groups = case.groups
    token_of = groups.group_members.numpy().astype(np.int64)
    cells: Array = law.bonus_token[token_of] * groups.group_weights.numpy()
    return cells


def _row_laws(case: Case, law: BlockLaw, counts: RowCounts,
              has_labels: bool) -> list[tuple[Category, int, str, CellCounts]]:
    """(category, position, law name, observed counts and exact probabilities) for every test of one row."""
    g, vocab = case.gamma, case.groups.vocab_size
    items: list[tuple[Category, int, str, CellCounts]] = []
    if counts.labels is not None:
        items += [(Category.GUARANTEE, i, "group label law = Q_c",
                   CellCounts(counts.labels[i], law.group_law(i), "group")) for i in range(g + 1)]
    joint_name = "joint law of (accepted, group, token)" if has_labels else "joint law of (accepted, token)"
    items += [(Category.CONFORMANCE, i, joint_name,
               CellCounts(counts.joint[i], _conformance_cells(law.positions[i], has_labels, vocab),
                          "accepted×membership" if has_labels else "accepted×token",
                          law.positions[i].group_of, law.positions[i].token_of)) for i in range(g)]
    groups = case.groups
    items.append((Category.CONFORMANCE, g, "bonus (group, token) law" if has_labels else "bonus token law",
                  CellCounts(counts.bonus_joint, _bonus_cells(law, case, has_labels),
                             "membership" if has_labels else "token", token_of=groups.group_members.numpy(),
                             group_ptr=groups.group_ptr.numpy())))
    items.append((Category.ACCEPTANCE, -1, "accepted-length law",
                   CellCounts(counts.accepted_length, law.accepted_length, "length")))
    items.append((Category.BONUS, g, "bonus token law q_{γ+1}", CellCounts(counts.tokens[g], law.bonus_token, "token")))
    return items


def g_test(category: Category, cell_counts: CellCounts, *, case_index: int, row: int, position: int, law: str,
           stage: int, per_test_level: float, false_negative_rate: float, procedure: Procedure) -> LawCheck | None:
    """The gate's one goodness-of-fit test: a G test of ``cell_counts``' observed counts against its exact
    probabilities, cells pooled to ``procedure.min_expected`` expected counts (at most
    ``procedure.max_cells(n)`` cells), with the TV it detects at ``per_test_level`` and power
    1 − ``false_negative_rate``; None when n < ``procedure.min_test_samples`` or fewer than two cells remain.
    The record keeps only the cells a reader looks at (:data:`EVIDENCE_CELLS`)."""
    observed, probs = cell_counts.observed, cell_counts.probs
    n = int(observed.sum())
    max_cells = procedure.max_cells(n)
    if (n < procedure.min_test_samples
            or pooled_cell_count(n, probs, min_expected=procedure.min_expected, max_cells=max_cells) < 2):
        return None
    result = check_categorical(observed, probs, method="g", min_expected=procedure.min_expected, max_cells=max_cells)
    cells = result.n_cells
    detectable = (min_detectable_discrepancy_for_categorical(n, per_test_level, false_negative_rate, n_cells=cells)
                  if cells > 1 else 0.0)
    return LawCheck(category, case_index, row, position, law, stage, n, cells, float(result.statistic),
                    float(result.pvalue), float(detectable), counts=cell_counts.shown(EVIDENCE_CELLS))


def law_checks(obs: Observations, laws: list[BlockLaw], *, case_index: int, stage: int, alone: bool,
               per_test_level: float, false_negative_rate: float, procedure: Procedure) -> list[LawCheck]:
    """One test per (row, position, law) with enough samples; ``alone`` keeps only the guarantee
    tests and files them under batch invariance (the row ran without the rest of its batch)."""
    records = []
    for b, counts in enumerate(obs.rows):
        for category, position, name, cell_counts in _row_laws(obs.case, laws[b], counts, obs.has_labels):
            if alone:
                if category != Category.GUARANTEE:
                    continue
                category = Category.BATCH_INVARIANCE
            record = g_test(category, cell_counts, case_index=case_index, row=b, position=position, law=name,
                            stage=stage, per_test_level=per_test_level, false_negative_rate=false_negative_rate,
                            procedure=procedure)
            if record is not None:
                records.append(record)
    return records


def variability(all_obs: list[Observations], all_laws: list[list[BlockLaw]]) -> dict[str, float]:
    """Intra-group variability at drafted positions, weighted by observations.

    Observed H(T | K) (plug-in, nats) against the reference law's, and the
    within-group TV Σ_k Q_c(k) · TV(observed t | k, reference t | k).
    """
    observed_h = reference_h = tv = weight = 0.0
    for obs, laws in zip(all_obs, all_laws, strict=True):
        if not obs.has_labels or not obs.rows:
            continue
        for counts, law in zip(obs.rows, laws, strict=True):
            for i, joint in enumerate(law.positions):
                cells = counts.joint[i][: joint.nnz] + counts.joint[i][joint.nnz:]  # accept flag summed out
                n = float(cells.sum())
                if n == 0:
                    continue
                totals = np.bincount(joint.group_of, weights=cells, minlength=joint.num_groups)[joint.group_of]
                within = np.divide(cells, totals, out=np.zeros(joint.nnz), where=totals > 0)
                seen = within > 0
                observed_h -= float((cells[seen] * np.log(within[seen])).sum())
                reference_h += joint.conditional_entropy() * n
                tv += joint.within_group_total_variation(within) * n
                weight += n
    if weight == 0:
        return {}
    return {"observed_conditional_entropy_nats": observed_h / weight,
            "reference_conditional_entropy_nats": reference_h / weight,
            "within_group_tv": tv / weight}


def _worst_tests(tests: Sequence[LawCheck], k: int) -> list[dict[str, Any]]:
    """The ``k`` tests with the smallest p-values, then the worst test of each category not among them,
    with their cells; ``selected`` says why each is there."""
    ranked = sorted((t.pvalue if math.isfinite(t.pvalue) else math.inf, i)
                    for i, t in enumerate(tests) if t.counts is not None)
    chosen = {i: f"among the {k} smallest p-values" for _, i in ranked[:k]}
    for category in Category:
        worst = next((i for _, i in ranked if tests[i].category == category), None)
        if worst is not None and worst not in chosen:
            chosen[worst] = f"the smallest p-value of {category}"
    out = []
    for index, why in chosen.items():
        counts = tests[index].counts
        assert counts is not None
        cells = counts if isinstance(counts, ShownCells) else counts.shown(EVIDENCE_CELLS)
        out.append({"test_index": index, "selected": why, **tests[index].to_dict(), "cells": cells.to_list(),
                    "pooled_cells": cells.pooled})
    return out


def report_evidence(tests: Sequence[LawCheck],
                    cases: Sequence[tuple[int, Observations, list[BlockLaw]]]) -> dict[str, Any]:
    """The report's ``evidence``: the worst tests' cells and each case's variability.

    ``tests`` are the report's tests in order (``test_index`` points into
    them); ``cases`` holds (case index, stage-1 observations, row laws).
    """
    by_case = []
    for index, obs, laws in cases:
        figures = variability([obs], [laws])
        if figures:
            by_case.append({"case_index": index, **figures})
    return {"worst_tests": _worst_tests(tests, EVIDENCE_TESTS), "variability_by_case": by_case}
