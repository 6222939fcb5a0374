"""Step 1 of the gate (:mod:`pcg_verify.checks`): draw the cases of one master seed and size every experiment.

Math follows the paper: q is the target, p the draft.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

from pcg_core.errors import DesignError
from pcg_verify._call_patterns import pattern_test_count, pooled_test_count
from pcg_verify._experiment import row_laws
from pcg_verify._row_joint import row_joint_test_count
from pcg_verify._spread import spread_test_count
from pcg_verify.budgets import PROCEDURE, Budget, Procedure
from pcg_verify.cases import Case, case_seed, draw_case
from pcg_verify.cases._design import covering_array, designed_case
from pcg_verify.cases._families import family_case, label_cells
from pcg_verify.laws import BlockLaw
from pcg_verify.stats import min_samples_for_categorical

__all__ = ["GatePlan", "gate_case", "plan_gate"]


# --------------------------------------------------------------------------- 1. plan
@dataclass(frozen=True)
class GatePlan:
    """The cases of one master seed, sized before sampling, and how to replay each."""

    budget: Budget
    seed: int
    singleton_only: bool
    procedure: Procedure
    cases: tuple[Case, ...]
    samples_per_row: tuple[int, ...]
    planned_tests: int  # m: the most tests the cases can give (the Bonferroni count)
    per_test_level: float  # direct_rate / m
    alone_cases: frozenset[int]  # cases also run with row 0 alone (batch invariance)
    laws: dict[int, list[BlockLaw]] = field(default_factory=dict, compare=False)

    def laws_of(self, index: int) -> list[BlockLaw]:
        """The exact block law of every row of case ``index`` (computed once)."""
        if index not in self.laws:
            self.laws[index] = row_laws(self.cases[index])
        return self.laws[index]


def gate_case(budget: Budget, seed: int, index: int, *, singleton_only: bool = False) -> Case:
    """Case ``index`` of master seed ``seed``.

    Its seed is the Cantor pairing of (seed, index), so no two pairs share one;
    consecutive indices cycle through every group kind, relation and
    distribution kind. The last drawn case of a budget with ``unaligned_vocab``
    uses that tile-unaligned vocabulary size; then come one case of each family
    (:mod:`pcg_verify.cases._families`), in order, and the ``budget.designed`` cases: row
    ``index − drawn − len(families)`` of the master seed's covering array (:mod:`pcg_verify.cases._design`).
    """
    drawn = budget.drawn
    if index >= drawn + len(budget.families):
        row = covering_array(seed, size=budget.designed)[index - drawn - len(budget.families)]
        return designed_case(row, case_seed(seed, index), singleton_only=singleton_only)
    if index >= drawn:
        return family_case(budget.families[index - drawn], case_seed(seed, index), singleton_only=singleton_only)
    unaligned = budget.unaligned_vocab is not None and index == drawn - 1
    vocab = budget.unaligned_vocab if unaligned and budget.unaligned_vocab else budget.max_vocab
    return draw_case(case_seed(seed, index), cycle_index=index,
                     min_vocab=vocab if unaligned else 2, max_vocab=vocab,
                     max_gamma=budget.max_gamma, max_batch=budget.max_batch, singleton_only=singleton_only)


def plan_gate(budget: Budget, seed: int, *, singleton_only: bool = False,
              procedure: Procedure = PROCEDURE) -> GatePlan:
    """Step 1: draw the cases and size every experiment (raises DesignError before any sampling)."""
    cases = tuple(gate_case(budget, seed, i, singleton_only=singleton_only) for i in range(budget.cases))
    alone = frozenset([i for i, c in enumerate(cases) if c.batch > 1][: budget.batch_invariance_cases])
    # Bonferroni count: per row, γ+1 label tests, γ+1 conformance tests, acceptance and bonus;
    # the alone runs add γ+1 label tests for row 0; per case, the tests of what pooling hides
    # (adjacent rows of one call — their lengths and their final draws —, first and last row of every
    # call) and of the call patterns; per spread position of a row's laws, the collapsed-support test.
    laws: dict[int, list[BlockLaw]] = {}

    def laws_of(index: int) -> list[BlockLaw]:  # computed once, kept in the plan
        if index not in laws:
            laws[index] = row_laws(cases[index])
        return laws[index]

    tests = sum(c.batch * (2 * (c.gamma + 1) + 2) for c in cases)
    tests += sum(cases[i].gamma + 1 for i in alone)
    tests += sum(pooled_test_count(c) + row_joint_test_count(c) + pattern_test_count(c) for c in cases)
    tests += sum(spread_test_count(c.vocab_size, functools.partial(laws_of, i)) for i, c in enumerate(cases))
    per_test = procedure.direct_rate / tests
    samples = []
    for index, case in enumerate(cases):
        if case.family:  # sized on the groups that carry mass, capped (each test reports what it detects)
            cells = max(2, label_cells(case))
            n = min_samples_for_categorical(budget.discrepancy, per_test, budget.false_negative_rate, n_cells=cells)
            cap = budget.family_samples_per_row
            if case.design:  # a paper-scale designed case hands at most design_entries probability entries
                per_row = case.batch * (2 * case.gamma + 1) * case.vocab_size
                cap = min(cap, max(budget.design_min_samples, budget.design_entries // per_row))
            samples.append(int(min(n, cap)))
            continue
        cells = max(2, case.groups.num_groups)
        n = min_samples_for_categorical(budget.discrepancy, per_test, budget.false_negative_rate, n_cells=cells)
        # The promised tests are never coarsened: n / cells ≥ min_mean_expected.
        n = max(n, math.ceil(procedure.min_mean_expected * cells))
        if n > budget.max_samples_per_row:
            raise DesignError(
                "budget", budget.name,
                f"case {index} needs {n} samples per row to detect TV ≥ {budget.discrepancy} with power "
                f"{1 - budget.false_negative_rate:g} at level {per_test:.3g}, above max_samples_per_row="
                f"{budget.max_samples_per_row}",
                "raise max_samples_per_row or the discrepancy",
            )
        samples.append(int(n))
    return GatePlan(budget, seed, singleton_only, procedure, cases, tuple(samples), tests, per_test, alone, laws)
