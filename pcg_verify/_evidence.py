"""From counts to evidence: one goodness-of-fit test per (row, position, law), and variability.

Math follows the paper: q is the target, p the draft. For each row of a case
the gate tests, against the exact laws of :mod:`pcg_verify.laws`:

* guarantee — the emitted group label at each reached position i ≤ γ has law Q_c^i;
* conformance — the joint law of (accepted?, group, token) at each drafted
  position, and of (group, token) at the bonus position (without labels: the
  same with the token alone);
* acceptance — the law of the number of accepted drafts A;
* bonus — the bonus token has law q_{γ+1}.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pcg_verify._experiment import Observations, RowCounts
from pcg_verify.budgets import Procedure
from pcg_verify.cases import Case
from pcg_verify.laws import BlockLaw, JointLaw
from pcg_verify.report import Category, LawCheck
from pcg_verify.stats import (
    check_categorical,
    min_detectable_discrepancy_for_categorical,
    pooled_cell_count,
)

__all__ = ["law_checks", "variability"]

Array = np.ndarray[Any, Any]


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
              has_labels: bool) -> list[tuple[Category, int, str, Array, Array]]:
    """(category, position, law name, observed counts, exact probabilities) for every test of one row."""
    g, vocab = case.gamma, case.groups.vocab_size
    items: list[tuple[Category, int, str, Array, Array]] = []
    if counts.labels is not None:
        items += [(Category.GUARANTEE, i, "group label law = Q_c", counts.labels[i], law.group_law(i))
                  for i in range(g + 1)]
    joint_name = "joint law of (accepted, group, token)" if has_labels else "joint law of (accepted, token)"
    items += [(Category.CONFORMANCE, i, joint_name, counts.joint[i],
               _conformance_cells(law.positions[i], has_labels, vocab)) for i in range(g)]
    items.append((Category.CONFORMANCE, g, "bonus (group, token) law" if has_labels else "bonus token law",
                  counts.bonus_joint, _bonus_cells(law, case, has_labels)))
    items.append((Category.ACCEPTANCE, -1, "accepted-length law", counts.accepted_length, law.accepted_length))
    items.append((Category.BONUS, g, "bonus token law q_{γ+1}", counts.tokens[g], law.bonus_token))
    return items


def law_checks(obs: Observations, laws: list[BlockLaw], *, case_index: int, stage: int, alone: bool,
               per_test_level: float, false_negative_rate: float, procedure: Procedure) -> list[LawCheck]:
    """One test per (row, position, law) with enough samples; ``alone`` keeps only the guarantee
    tests and files them under batch invariance (the row ran without the rest of its batch)."""
    records = []
    for b, counts in enumerate(obs.rows):
        for category, position, name, observed, probs in _row_laws(obs.case, laws[b], counts, obs.has_labels):
            if alone:
                if category != Category.GUARANTEE:
                    continue
                category = Category.BATCH_INVARIANCE
            n = int(observed.sum())
            if (n < procedure.min_test_samples
                    or pooled_cell_count(n, probs, min_expected=procedure.min_expected) < 2):
                continue
            result = check_categorical(observed, probs, method="g", min_expected=procedure.min_expected)
            cells = int(np.count_nonzero(probs > 0))
            detectable = (min_detectable_discrepancy_for_categorical(
                n, per_test_level, false_negative_rate, n_cells=cells) if cells > 1 else 0.0)
            records.append(LawCheck(category, case_index, b, position, name, stage, n, cells,
                                    float(result.statistic), float(result.pvalue), float(detectable)))
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
