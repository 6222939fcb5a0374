"""Wrong ports that only the family cases and the call-pattern checks catch; the reference passes them.

Each port below is right on the gate's drawn cases pooled over stacked
replicates, and wrong in a way that real ports are: it replays random numbers
captured per shape, answers its first call differently, caches the groups by
shape, couples the rows of one call, takes a special path for row 0 of a call,
reads non-contiguous inputs as if they were contiguous, or accumulates its
token CDF in half precision (exact on a few ids, wrong on a codebook's thin
tail). Each is run on the
one family case that exposes it (``run_gate(..., case=i)``, standard budget,
seed 0); the seeds are fixed, so the verdicts are deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from family_budgets import STANDARD_FAMILIES, family_index

from pcg_core import Groups, verify
from pcg_verify import run_gate
from pcg_verify.bugs import mutant_port
from pcg_verify.report import GateReport

pytestmark = pytest.mark.slow  # tens of seconds: kept out of the fast tiers (-m 'not slow')

STANDARD = STANDARD_FAMILIES


def outputs(out: Any) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    return out.tokens, out.group_ids, out.num_accepted


class ShapeReplay:
    """Seeds its generator once per input shape and replays that stream for every later call of the shape."""

    def __init__(self) -> None:
        self.seeds: dict[tuple[int, ...], int] = {}

    def __call__(self, draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor,
                 groups: Groups, *, generator: torch.Generator) -> Any:
        seed = self.seeds.setdefault(tuple(draft_probs.shape), generator.initial_seed())
        return outputs(verify(draft_tokens, draft_probs, target_probs, groups,
                              generator=torch.Generator().manual_seed(seed)))


class FirstCallDiffers:
    """Its first call in the process draws from another stream (e.g. a lazily initialised state)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor,
                 groups: Groups, *, generator: torch.Generator) -> Any:
        self.calls += 1
        if self.calls == 1:
            generator = torch.Generator().manual_seed(generator.initial_seed() + 1)
        return outputs(verify(draft_tokens, draft_probs, target_probs, groups, generator=generator))


class ShapeCachedGroups:
    """Keeps the first Groups of each (V, M, nnz) and verifies every later call against it."""

    def __init__(self) -> None:
        self.cache: dict[tuple[int, int, int], Groups] = {}

    def __call__(self, draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor,
                 groups: Groups, *, generator: torch.Generator) -> Any:
        cached = self.cache.setdefault((groups.vocab_size, groups.num_groups, groups.nnz), groups)
        return outputs(verify(draft_tokens, draft_probs, target_probs, cached, generator=generator))


def coupled_rows(draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor,
                 groups: Groups, *, generator: torch.Generator) -> Any:
    """Even and odd rows verified separately with one seed: row 2r and row 2r + 1 share their uniforms.
    Every row's own law is exact; the rows of one call are not independent."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    batch = draft_tokens.shape[0]
    tokens = torch.empty((batch, draft_tokens.shape[1] + 1), dtype=torch.int64)
    labels, accepted = tokens.clone(), torch.empty(batch, dtype=torch.int64)
    for start in (0, 1):
        rows = torch.arange(start, batch, 2)
        if rows.numel():
            out = verify(draft_tokens[rows], draft_probs[rows], target_probs[rows], groups,
                         generator=torch.Generator().manual_seed(seed))
            tokens[rows], labels[rows], accepted[rows] = out.tokens, out.group_ids, out.num_accepted
    return tokens, labels, accepted


def first_row_retries(draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor,
                      groups: Groups, *, generator: torch.Generator) -> Any:
    """Row 0 of every call is verified again (up to 8 times) while it rejects its first draft (a fast
    path for the first row): every output is valid, row 0's law is not."""
    out = verify(draft_tokens, draft_probs, target_probs, groups, generator=generator)
    tokens, labels, accepted = out.tokens.clone(), out.group_ids.clone(), out.num_accepted.clone()
    for _ in range(8):
        if int(accepted[0]) >= 1:
            break
        again = verify(draft_tokens[:1], draft_probs[:1], target_probs[:1], groups, generator=generator)
        tokens[0], labels[0], accepted[0] = again.tokens[0], again.group_ids[0], again.num_accepted[0]
    return tokens, labels, accepted


def storage_order(draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor,
                  groups: Groups, *, generator: torch.Generator) -> Any:
    """Reads the probabilities' memory in row-major order whatever their strides (a kernel handed
    ``data_ptr()`` without ``.contiguous()``)."""

    def raw(tensor: torch.Tensor) -> torch.Tensor:
        flat = tensor.as_strided((tensor.numel(),), (1,))
        return flat.reshape(tensor.shape)

    draft, target = raw(draft_probs), raw(target_probs)
    return outputs(verify(draft_tokens, draft, target, groups, generator=generator, check_inputs=False))


def rejected_laws(report: GateReport) -> list[str]:
    return [t.law for t in report.tests if t.rejected]


def run(port: Callable[..., Any], family: str) -> GateReport:
    return run_gate(port, budget=STANDARD, seed=0, case=family_index(family), port_name=type(port).__name__)


def test_the_reference_passes_every_family_case() -> None:
    for family in STANDARD.families:
        report = run_gate(budget=STANDARD, seed=0, case=family_index(family))
        assert report.passed, report.summary()


@pytest.mark.parametrize("family", ["unaligned", "single_row"])
def test_replaying_random_numbers_per_shape_fails_the_many_seeds_check(family: str) -> None:
    report = run(ShapeReplay(), family)
    assert not report.passed
    assert any("one input under" in law for law in rejected_laws(report)), report.summary()


def test_a_different_first_call_fails_determinism() -> None:
    report = run(FirstCallDiffers(), "single_row")
    assert report.categories["determinism"].verdict == "fail", report.summary()
    assert "first call" in report.categories["determinism"].failures[0]


def test_caching_groups_by_shape_fails_when_the_groups_change_between_calls() -> None:
    report = run(ShapeCachedGroups(), "unaligned")
    assert not report.passed
    evidence = " ".join(f for c in report.categories.values() for f in c.failures)
    assert "groups alternated" in evidence, report.summary()


def test_rows_coupled_within_a_call_fail_batch_invariance() -> None:
    report = run(coupled_rows, "unaligned")
    assert report.categories["batch_invariance"].verdict == "fail", report.summary()
    assert any("rows 2r, 2r+1 of one call" in law for law in rejected_laws(report))
    for category in ("guarantee", "conformance", "acceptance", "bonus", "structure", "determinism"):
        assert report.categories[category].verdict != "fail", report.summary()  # every row's own law is exact


def test_a_first_row_fast_path_fails_the_row_index_law() -> None:
    report = run(first_row_retries, "unaligned")
    assert not report.passed
    assert any("first row of every call" in law for law in rejected_laws(report)), report.summary()


def test_reading_non_contiguous_inputs_as_contiguous_fails() -> None:
    report = run(storage_order, "unaligned")
    assert not report.passed, report.summary()


def test_a_half_precision_token_cdf_fails_on_the_codec_family_s_thin_mass() -> None:
    # its float16 accumulator stalls on the 30 % of the mass spread below 2e-5 per id: that mass is never drawn
    report = run(mutant_port("cdf_float16"), "codec")
    failed = {str(c) for c, v in report.categories.items() if v.verdict == "fail"}
    assert failed and failed <= {"guarantee", "conformance", "bonus"}, report.summary()
