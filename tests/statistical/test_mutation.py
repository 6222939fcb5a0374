"""The bug catalogue (pcg_verify.bugs) and the gate's mutation score.

The mutable reference is a second, sparse implementation of PCG and the dense
port a third; each mutant is one of them with one realistic mistake, each
equivalent a different valid variant (the correct dense port among them).
The gate must kill every mutant, in one of the categories the mutant
declares, and pass every equivalent. Seeds are fixed, so every verdict here is
deterministic; a correct port (the reference, an equivalent) fails a gate run
with probability ≤ the gate's declared 1e-3. The whole score at the standard
budget takes about 25 minutes on one core, so it is measured by
``benchmarks/bench_mutation.py`` (the same table as ``pcg-verify bugs``), not
here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from pcg_core import Groups, groups_from_labels
from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_verify import run_gate
from pcg_verify.bugs import (
    CATALOGUE,
    DENSE_BUGS,
    EQUIVALENTS,
    FLAWS,
    DenseSwitches,
    Switches,
    dense_port,
    equivalents,
    mutant_port,
    mutants,
    mutation_score,
    reference,
)
from pcg_verify.checks import CaseResult
from pcg_verify.cli import main
from pcg_verify.report import Category, LawCheck

#: The bug classes issue 8 asks the catalogue to cover (a catalogue entry's bug_class starts with one).
ISSUE_BUG_CLASSES = (
    "ratio inverted", "token masses in the ratio", "label uniform instead of by w",
    "weights not normalised per token", "overlap treated as a partition", "residual unclamped",
    "residual unnormalised", "residual floored", "residual at token level", "residual from p",
    "thinning with a wrong keep rule", "thinning cap without exact fallback",
    "rejected token drawn from q outside the group", "bonus from the draft", "bonus from the wrong row",
    "bonus after a rejection", "continuing after a rejection", "one uniform reused", "rows mixed",
    "seed ignored", "`<=` against a uniform that can be 0", "masses in float16", "16-bit token ids",
    "16-bit group indices", "member cap", "degree cap", "dropped tile tail", "fixed-size γ buffer",
    "small-batch fast path", "state kept between calls", "inputs written",
)
EQUIVALENT_CLASSES = ("exact residual instead of thinning", "a different valid RNG stream",
                      "emitting the thinning draw", "a valid float32 path")


# --------------------------------------------------------------------------- the catalogue itself (fast)
def test_the_catalogue_covers_every_bug_class_of_the_issue_with_at_least_30_mutants() -> None:
    assert len(CATALOGUE) >= 30 and len(EQUIVALENTS) >= 4
    classes = [m.bug_class for m in CATALOGUE.values()]
    missing = [c for c in ISSUE_BUG_CLASSES if not any(k.startswith(c) for k in classes)]
    assert not missing, missing
    assert all(any(m.bug_class == c for m in EQUIVALENTS.values()) for c in EQUIVALENT_CLASSES)
    assert set(CATALOGUE) == {*FLAWS, *(f"dense_{bug}" for bug in DENSE_BUGS)}
    assert not set(CATALOGUE) & set(EQUIVALENTS)
    for m in CATALOGUE.values():
        assert m.expected and not m.equivalent and m.description
        if m.base == "sparse":
            assert isinstance(m.switches, Switches) and m.switches.flaw == m.name
        else:
            assert isinstance(m.switches, DenseSwitches) and f"dense_{m.switches.bug}" == m.name
    for m in EQUIVALENTS.values():
        assert m.equivalent and not m.expected
        assert (m.switches.flaw if isinstance(m.switches, Switches) else m.switches.bug) is None
    assert EQUIVALENTS["dense_port"].base == "dense" and EQUIVALENTS["dense_port"].to_dict()["base"] == "dense"


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"flaw": "no_such_flaw"}, InvalidArgumentError, "flaw"),
    ({"residual": "approximate"}, InvalidArgumentError, "residual"),
    ({"stream": "random"}, InvalidArgumentError, "stream"),
    ({"dtype": torch.float16}, InvalidArgumentError, "dtype"),
    ({"chunk_rows": 0}, InvalidArgumentError, "chunk_rows"),
])
def test_invalid_switches_are_refused(kwargs: dict[str, object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        Switches(**kwargs)  # type: ignore[arg-type]


def test_the_dense_port_refuses_an_unknown_bug() -> None:
    with pytest.raises(InvalidArgumentError, match="bug"):
        DenseSwitches("no_such_bug")
    tokens, draft, target = _inputs(1, 2, 4, seed=0)
    with pytest.raises(InvalidArgumentError, match="bug"):
        dense_port(tokens, draft, target, groups_from_labels(torch.arange(4)), generator=torch.Generator(),
                   bug="no_such_bug")


@pytest.mark.parametrize(("call", "error"), [
    (lambda: mutant_port("no_such_mutant"), InvalidArgumentError),
    (lambda: mutant_port(3), InvalidTypeError),
    (lambda: mutation_score("quick", 0, names=["no_such_mutant"]), InvalidArgumentError),
    (lambda: mutation_score("no_such_budget", 0), InvalidArgumentError),
    (lambda: mutation_score("quick", -1), InvalidArgumentError),
    (lambda: mutation_score("quick", 0, workers=0), InvalidArgumentError),
])
def test_invalid_arguments_of_the_score_are_refused(call: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        call()  # type: ignore[operator]


def _inputs(batch: int, gamma: int, vocab: int, seed: int,
            dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(draft_tokens [B, γ], draft_probs [B, γ, V], target_probs [B, γ+1, V]): softmax rows in ``dtype``."""
    gen = torch.Generator().manual_seed(seed)
    draft = torch.softmax(torch.randn(batch, gamma, vocab, generator=gen, dtype=dtype), -1)
    target = torch.softmax(torch.randn(batch, gamma + 1, vocab, generator=gen, dtype=dtype), -1)
    tokens = torch.multinomial(draft.reshape(-1, vocab), 1, generator=gen).reshape(batch, gamma)
    return tokens, draft, target


def _paper_scale_groups() -> Groups:
    """The Llasa layout at paper scale: 193,800 ids, text ids singletons, 65,536 speech ids in overlapping
    windows of 140 (ids 128,264 + k), so 193,800 groups (> 65,535) and 32-bit indices."""
    text, speech, size = 128_264, 65_536, 140
    sets = [[t] for t in range(text)]
    starts = range(0, speech, 70)  # windows of 140 every 70 ids: each speech id in 2 groups
    sets += [[text + (s + j) % speech for j in range(size)] for s in starts]
    ptr = torch.tensor([0, *torch.tensor([len(m) for m in sets]).cumsum(0).tolist()])
    members = torch.tensor([t for m in sets for t in sorted(m)])
    return Groups.from_memberships(text + speech, ptr, members)


@pytest.mark.slow
def test_the_reference_runs_at_paper_scale_and_keeps_the_contract() -> None:
    groups = _paper_scale_groups()
    assert groups.vocab_size == 193_800 and groups.num_groups > 65_535 and groups.group_members.dtype == torch.int32
    batch, gamma = 8, 8
    tokens, draft, target = _inputs(batch, gamma, groups.vocab_size, seed=1, dtype=torch.float32)
    out_tokens, labels, accepted = reference(tokens, draft, target, groups, generator=torch.Generator().manual_seed(0))
    assert out_tokens.shape == labels.shape == (batch, gamma + 1) and accepted.shape == (batch,)
    assert bool((accepted < gamma).any())  # the residual ran
    for b in range(batch):
        emitted = int(accepted[b]) + 1
        assert torch.equal(out_tokens[b, :emitted - 1], tokens[b, :emitted - 1])
        assert bool((out_tokens[b, emitted:] == -1).all()) and bool((labels[b, emitted:] == -1).all())
        for i in range(emitted):
            assert int(out_tokens[b, i]) in groups.members_of(int(labels[b, i])).tolist()


@pytest.mark.parametrize("name", ["token_ids_16bit", "group_ids_16bit", "member_cap", "degree_cap",
                                  "tile_tail_dropped", "gamma_buffer", "small_batch_fast_path"])
def test_scale_mutants_differ_from_the_reference_where_their_mistake_applies(name: str) -> None:
    """The mutants that today's small cases cannot see do change the output where their mistake applies."""
    vocab, gamma, batch = 66_000, 6, 4
    labels = torch.arange(vocab) // 100  # 660 groups of 100 members (> 64), ids up to 65,999
    groups = groups_from_labels(labels) if name != "group_ids_16bit" else groups_from_labels(torch.arange(vocab))
    if name == "degree_cap":  # a token in 12 overlapping groups
        sets = [[0, k] for k in range(1, 13)] + [[t] for t in range(13, 40)]
        ptr = torch.tensor([0, *torch.tensor([len(s) for s in sets]).cumsum(0).tolist()])
        groups = Groups.from_memberships(40, ptr, torch.tensor([t for s in sets for t in s]))
        vocab = 40
    tokens, draft, target = _inputs(batch, gamma, vocab, seed=2)
    tokens[:, 0] = vocab - 1 if name in ("token_ids_16bit", "group_ids_16bit", "tile_tail_dropped") else 0
    mutant = mutant_port(name)
    for seed in range(10):
        ours = reference(tokens, draft, target, groups, generator=torch.Generator().manual_seed(seed))
        theirs = mutant(tokens, draft, target, groups, generator=torch.Generator().manual_seed(seed))
        if any(not torch.equal(a, b) for a, b in zip(ours, theirs, strict=True)):
            return
    raise AssertionError(f"{name} never differs from the reference on inputs where its mistake applies")


def test_the_command_line_ports_name_their_namespace_entries() -> None:
    assert mutants.ratio_inverted.entry is CATALOGUE["ratio_inverted"]
    assert mutants.dense_shared_uniform.entry is CATALOGUE["dense_shared_uniform"]
    assert equivalents.exact_residual.entry is EQUIVALENTS["exact_residual"]
    assert equivalents.dense_port.entry is EQUIVALENTS["dense_port"]
    assert reference.entry is None and mutant_port("reference").entry is None
    assert mutant_port("cache_by_shape").state == {} and mutant_port("cache_by_shape") is not mutant_port(
        "cache_by_shape")


# --------------------------------------------------------------------------- the score (quick budget)
@pytest.mark.slow
def test_the_score_attributes_failures_as_the_gate_does() -> None:
    """A mutant's row names the categories the gate itself fails in its first failing case."""
    score = mutation_score("quick", 0, names=["ratio_inverted", "exact_residual"])
    killed, kept = score.rows
    assert killed.killed and killed.as_expected and killed.failing_case is not None
    report = run_gate(mutant_port("ratio_inverted"), budget="quick", seed=0, case=killed.failing_case)
    assert set(killed.categories) == {str(c) for c, v in report.categories.items() if v.verdict == "fail"}
    assert killed.smallest_pvalue < 1e-6 and killed.samples > 0 and killed.replay.endswith(
        f"--case {killed.failing_case}")
    assert not kept.killed and kept.as_expected and kept.cases_run == score.rows[1].cases_run > 1
    assert score.to_dict()["rows"][0]["name"] == "ratio_inverted" and json.loads(score.to_json())["mutants"] == 1
    assert "ratio_inverted" in score.table() and score.passed


def _law_check(category: Category, rejected: bool) -> LawCheck:
    return LawCheck(category, 0, 0, 0, "label", 1, 100, 3, 1.0, 1e-9 if rejected else 0.5, 0.1,
                    adjusted_pvalue=1e-6 if rejected else 1.0, rejected=rejected)


def test_failing_categories_follow_the_gate_s_batch_invariance_rule() -> None:
    alone = CaseResult(0, tests=[_law_check(Category.BATCH_INVARIANCE, True), _law_check(Category.BONUS, False)])
    assert alone.failing_categories() == (Category.BATCH_INVARIANCE,)
    both = CaseResult(0, tests=[_law_check(Category.BATCH_INVARIANCE, True), _law_check(Category.GUARANTEE, True)])
    assert both.failing_categories() == (Category.GUARANTEE,)  # fails in the full batch too: not batch dependence
    exact = CaseResult(0, structure=["case 0: a violation"], determinism="outputs differ")
    assert exact.failing_categories() == (Category.STRUCTURE, Category.DETERMINISM)
    assert CaseResult(0, tests=[_law_check(Category.GUARANTEE, False)]).failing_categories() == ()


@pytest.mark.slow
def test_the_bugs_command_prints_the_table_writes_json_and_sets_the_exit_code(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "score.json"
    assert main(["bugs", "--budget", "quick", "--only", "bonus_from_draft", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "bonus_from_draft" in out and "mutation score 1/1 killed" in out
    assert json.loads(path.read_text())["rows"][0]["killed"] is True
    assert main(["bugs", "--list"]) == 0 and "inputs_written" in capsys.readouterr().out
    assert main(["bugs", "--only", "no_such_mutant"]) == 2
    assert main(["bugs", "--json", str(tmp_path), "--only", "bonus_from_draft"]) == 2  # a directory: before the run
