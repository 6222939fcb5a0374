"""Rows of one call beyond their accepted lengths, and a collapsed spread tail: two wrong ports that the
row-joint test (:mod:`pcg_verify._row_joint`) and the collapsed-support test (:mod:`pcg_verify._spread`)
catch on the family case that exposes each; the reference passes both cases.

Each port is the catalogue's reference sampler (:mod:`pcg_verify.bugs._reference`) with one method
replaced, as an independent team would write it:

* ``systematic_rows``: every row's final draws (the exact residual's label or the bonus token, and the
  within-group token or the bonus label) use systematic sampling across the call's R rows — one offset U per call, row b uses frac(U + b/R) —
  so each row's law is exact and the rows are dependent (issue 21, class 6);
* ``bfloat16_bonus``: the bonus token is drawn by inverse CDF with bfloat16 uniforms (256 values): the
  codec family's spread tail (30 % of the bonus mass over ≥ 16,384 ids each < 2e-5) is reached on a few
  dozen ids only (issue 21, class 3).

Error rates: the gate's declared family-wise rate covers both new tests (each counted in the plan's
Bonferroni count, rejected at adjusted p ≤ 1e-4); the seeds are fixed, so the verdicts are deterministic.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from pcg_core import Groups
from pcg_verify import run_gate
from pcg_verify.budgets import BUDGETS
from pcg_verify.bugs._reference import Switches, _Index, _Run
from pcg_verify.report import GateReport

pytestmark = pytest.mark.slow  # tens of seconds: kept out of the fast tiers (-m 'not slow')

STANDARD = BUDGETS["standard"]


def family_index(name: str) -> int:
    return STANDARD.cases - len(STANDARD.families) + STANDARD.families.index(name)


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
    return run_gate(port, budget="standard", seed=0, case=family_index(family), port_name=port.__name__)


def rejected_laws(report: GateReport) -> list[str]:
    return [t.law for t in report.tests if t.rejected]


@pytest.mark.parametrize("family", ["unaligned", "codec"])
def test_the_reference_passes_the_new_tests(family: str) -> None:
    report = run_gate(budget="standard", seed=0, case=family_index(family))
    assert report.passed, report.summary()


def test_systematic_sampling_across_the_rows_fails_the_final_draw_joint() -> None:
    report = run(systematic_rows, "unaligned")
    assert report.categories["batch_invariance"].verdict == "fail", report.summary()
    assert any("final (residual or bonus) draws' bins" in law for law in rejected_laws(report)), report.summary()


def test_bfloat16_bonus_uniforms_fail_the_collapsed_support_test() -> None:
    report = run(bfloat16_bonus, "codec")
    assert report.categories["conformance"].verdict == "fail", report.summary()
    assert any("is not collapsed" in law for law in rejected_laws(report)), report.summary()
