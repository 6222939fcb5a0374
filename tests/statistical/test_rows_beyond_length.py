"""Rows of one call beyond their accepted lengths, and a collapsed spread tail: two wrong ports that the
row-joint test (:mod:`pcg_verify._row_joint`) and the collapsed-support test (:mod:`pcg_verify._spread`)
catch on the family case that exposes each; the reference passes both cases.

Each port is the catalogue's reference sampler (:mod:`pcg_verify.bugs._reference`) with one method
replaced, as an independent team would write it:

* ``systematic_rows``: every row's final draws (the exact residual's label or the bonus token, and the
  within-group token or the bonus label) use systematic sampling across the call's R rows — one offset U
  per call, row b uses frac(U + b/R) — so each row's law is exact and the rows are dependent (issue 21,
  class 6). On the ``unaligned`` family (γ = 8) a row reaches its bonus in ~2 % of blocks, so a port
  coupling only the bonus is seen on a case that reaches it (the fast test below, every row ends with
  its bonus), not on 400 pairs of that family;
* ``bfloat16_bonus``: the bonus token is drawn by inverse CDF with bfloat16 uniforms (256 values): the
  codec family's spread tail (30 % of the bonus mass over ≥ 16,384 ids each < 2e-5) is reached on a few
  dozen ids only (issue 21, class 3).

Error rates. Gate runs: the gate's declared family-wise rate covers both new tests (each counted in the
plan's Bonferroni count; stage 1 rejects at adjusted p ≤ 1e-4); the seeds are fixed, so each verdict is
deterministic, and a reference run fails with probability ≤ 1e-3 (the declared rate). The fast tests
state their own rates below.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.stats
import torch
from family_budgets import STANDARD_FAMILIES, family_index

from pcg_core import Groups, singleton_groups
from pcg_verify import run_gate
from pcg_verify._experiment import observe, row_laws
from pcg_verify._row_joint import ROW_JOINT_BINS, final_bins, final_cell_joint, row_joint_tests
from pcg_verify._spread import SPREAD_LEVEL, repeat_pvalue, spread_positions, spread_test_count
from pcg_verify.budgets import PROCEDURE
from pcg_verify.bugs._reference import Switches, _Index, _Run
from pcg_verify.cases import Case
from pcg_verify.cases._families import family_case
from pcg_verify.report import GateReport

slow = pytest.mark.slow  # the gate runs take tens of seconds: kept out of the fast tiers (-m 'not slow')

STANDARD = STANDARD_FAMILIES




class _SystematicRun(_Run):
    """Draws the uniforms of every row's final draws by systematic sampling across the call's rows."""

    systematic = False

    def final_tokens(self, num_accepted: torch.Tensor) -> tuple[torch.Tensor, ...]:
        self.systematic = True
        try:
            return super().final_tokens(num_accepted)
        finally:
            self.systematic = False

    def rand(self, *shape: int, dtype: torch.dtype | None = None) -> torch.Tensor:
        if not self.systematic or len(shape) != 2:
            return super().rand(*shape, dtype=dtype)
        rows, columns = shape
        offset = super().rand(1, columns, dtype=dtype)  # one U per kind of draw, shared by the call's rows
        return torch.remainder(offset + torch.arange(rows, dtype=offset.dtype)[:, None] / rows, 1.0)


class _Bfloat16BonusRun(_Run):
    """Draws the bonus token by inverse CDF with a bfloat16 uniform (8 significant bits)."""

    def bonus(self, rows: torch.Tensor, u: torch.Tensor, begin: int) -> tuple[torch.Tensor, torch.Tensor]:
        u = u.clone()
        u[:, 0] = self.rand(int(rows.numel()), dtype=torch.bfloat16)
        return super().bonus(rows, u, begin)


def _port(run: type[_Run], switches: Switches) -> Any:
    def port(draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor, groups: Groups,
             *, generator: torch.Generator) -> Any:
        return run(draft_tokens, draft_probs, target_probs, _Index.of(groups, switches.dtype), generator, switches,
                   {}).verify()
    port.__name__ = run.__name__.strip("_")
    return port


# The systematic port draws its residual labels exactly (inverse CDF over the groups), as most ports do;
# with the reference's thinning its trials re-index the pending rows, which weakens the coupling (at the
# unaligned case's 400 pairs the row-joint test then gives p ≈ 0.05: not caught).
systematic_rows = _port(_SystematicRun, Switches(residual="exact"))
bfloat16_bonus = _port(_Bfloat16BonusRun, Switches())


def run(port: Any, family: str) -> GateReport:
    return run_gate(port, budget=STANDARD, seed=0, case=family_index(family), port_name=port.__name__)


def rejected_laws(report: GateReport) -> list[str]:
    return [t.law for t in report.tests if t.rejected]


@slow
@pytest.mark.parametrize("family", ["unaligned", "codec"])
def test_the_reference_passes_the_new_tests(family: str) -> None:
    report = run_gate(budget=STANDARD, seed=0, case=family_index(family))
    assert report.passed, report.summary()


@slow
def test_systematic_sampling_across_the_rows_fails_the_final_draw_joint() -> None:
    report = run(systematic_rows, "unaligned")
    assert report.categories["batch_invariance"].verdict == "fail", report.summary()
    assert any("final (residual or bonus) draws' bins" in law for law in rejected_laws(report)), report.summary()


@slow
def test_bfloat16_bonus_uniforms_fail_the_collapsed_support_test() -> None:
    # Seed 0: stage 1 sees 3 repeats among ~30 spread draws (suspicious), stage 2 (4× the samples) 25 among
    # ~120 (p ≈ 1e-46): a collapse grows quadratically in the draws, the bound's Λ only linearly.
    report = run(bfloat16_bonus, "codec")
    assert report.categories["conformance"].verdict == "fail", report.summary()
    assert any("is not collapsed" in law for law in rejected_laws(report)), report.summary()


# ---------------------------------------------------------------------------- fast: the tests themselves
def bonus_only_case(vocab: int = 32) -> Case:
    """B = 2 rows, γ = 1, p = q at the drafted position (always accepted): every row ends with its bonus."""
    rng = np.random.default_rng(7)
    target = torch.from_numpy(rng.dirichlet(np.ones(vocab), size=(2, 2)))
    return Case(target[:, :1].clone(), target, singleton_groups(vocab), gamma=1, batch=2, seed=7,
                description="p = q, bonus every row", call_rows=(2, 4, 6))


def row_joint(port: Any, case: Case) -> list[Any]:
    laws = row_laws(case)
    obs = observe(port, case, laws, samples_per_row=400, seed=1)
    return row_joint_tests(obs, laws, case_index=0, stage=1, per_test_level=1e-4, false_negative_rate=0.01,
                           procedure=PROCEDURE)


def test_bonus_only_systematic_sampling_fails_the_row_joint_test_and_the_reference_passes() -> None:
    # 400 pairs, one test each at level 1e-4: the reference fails with probability ≤ 1e-4 (fixed seed).
    case = bonus_only_case()
    [coupled] = row_joint(_port(_SystematicRun, Switches()), case)
    assert coupled.pvalue < 1e-12, coupled
    [independent] = row_joint(_port(_Run, Switches()), case)
    assert independent.pvalue > 1e-4, independent


def test_the_final_cell_law_and_its_bins_are_exact() -> None:
    case = bonus_only_case()
    law = row_laws(case)[0]
    joint = final_cell_joint(law, case, has_labels=True)
    assert joint.shape == (2, case.groups.nnz) and joint.sum() == pytest.approx(1.0)
    assert joint[0].sum() == pytest.approx(0.0, abs=1e-12)  # p = q: never rejected
    table, bin_law = final_bins(joint)
    assert table.shape == joint.shape and set(np.unique(table[1])) <= set(range(ROW_JOINT_BINS))
    assert bin_law == pytest.approx(np.bincount(table[1], weights=joint[1], minlength=ROW_JOINT_BINS))


def spread_law(ids: int = 8192, thin_mass: float = 0.5) -> np.ndarray[Any, Any]:
    """A token law with a few heavy ids and ``thin_mass`` spread equally over ``ids`` ids (6.1e-5 each)."""
    heavy = np.full(8, (1 - thin_mass) / 8)
    return np.concatenate([heavy, np.full(ids, thin_mass / ids)])


def test_the_repeat_bound_is_valid_under_the_exact_law() -> None:
    # 2,000 seeded replicates of 400 draws from the exact law; the bound is conservative, so at each level
    # α the number of p ≤ α is below Bin(2000, α); the assertion's slack (its 1 − 1e-6 quantile) makes this
    # check fail a valid bound with probability ≤ 3e-6 (three levels).
    law = spread_law()
    thin = np.flatnonzero(law <= SPREAD_LEVEL)
    rng = np.random.default_rng(11)
    pvalues = np.array([repeat_pvalue(np.bincount(rng.choice(law.size, 400, p=law), minlength=law.size)[thin],
                                      law[thin])[2] for _ in range(2000)])
    for alpha in (0.01, 0.05, 0.2):
        assert (pvalues <= alpha).sum() <= scipy.stats.binom.ppf(1 - 1e-6, 2000, alpha), alpha


def test_bfloat16_inverse_cdf_draws_are_caught_by_the_repeat_bound() -> None:
    law = spread_law()
    thin = np.flatnonzero(law <= SPREAD_LEVEL)
    u = torch.rand(400, generator=torch.Generator().manual_seed(3), dtype=torch.bfloat16).double().numpy()
    draws = np.minimum(np.searchsorted(np.cumsum(law), u, side="right"), law.size - 1)
    n, repeats, pvalue = repeat_pvalue(np.bincount(draws, minlength=law.size)[thin], law[thin])
    assert n > 100 and repeats > 20 and pvalue < 1e-20, (n, repeats, pvalue)


def test_spread_positions_come_from_the_laws_alone() -> None:
    assert spread_test_count(32, lambda: row_laws(bonus_only_case())) == 0  # V < MIN_SPREAD_IDS: not even read
    codec = family_case("codec", 0)
    laws = row_laws(codec)
    assert [p for p, _, _ in spread_positions(laws[0])] == [0, codec.gamma]  # position-0 residual and bonus
    assert spread_test_count(codec.vocab_size, lambda: laws) == 2
