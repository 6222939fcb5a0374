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
from collections.abc import Callable
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
                      "emitting the thinning draw", "a valid float32 path", "results copied before returning")
#: The classes issue 21's red team found (each an engine shortcut), by mutant name.
RED_TEAM_MUTANTS = ("bonus_uniform_slot", "bonus_tile_tail_dropped", "generator_not_advanced",
                    "uniforms_in_input_dtype", "weights_cumsum_float32", "label_first_32_groups",
                    "static_output_buffers", "bonus_systematic_across_batch", "group_order_by_hash",
                    "coarse_mass_input_dtype", "draft_mass_floor")


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


def test_every_red_team_class_is_a_mutant_naming_its_class_and_the_check_expected_to_kill_it() -> None:
    classes = [CATALOGUE[name].bug_class for name in RED_TEAM_MUTANTS]
    assert len(set(classes)) == len(classes)  # distinct classes, distinct from every older entry's
    older = {m.bug_class for name, m in CATALOGUE.items() if name not in RED_TEAM_MUTANTS}
    assert not set(classes) & older
    for name in RED_TEAM_MUTANTS:
        entry = CATALOGUE[name]
        assert entry.check and entry.needs and entry.expected and entry.to_dict()["check"] == entry.check


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


Inputs = tuple[torch.Tensor, torch.Tensor, torch.Tensor, Groups]


def _bonus_rows(batch: int, gamma: int, vocab: int, seed: int, tail: bool = False) -> Inputs:
    """p = q at every drafted position (every draft accepted, so every row draws its bonus), a random bonus row
    (``tail``: half its mass past the last whole tile of 1024), singleton groups."""
    tokens, draft, target = _inputs(batch, gamma, vocab, seed)
    target[:, :gamma] = draft
    if tail:
        target[:, gamma] = torch.cat((target[:, gamma, :1024] * 0.5 / target[:, gamma, :1024].sum(-1, keepdim=True),
                                      target[:, gamma, 1024:] * 0.5 / target[:, gamma, 1024:].sum(-1, keepdim=True)),
                                     -1)
    return tokens, draft, target, groups_from_labels(torch.arange(vocab))


def _last_position_rejects(gamma: int) -> Inputs:
    """p = q before the last drafted position, p ≠ q there (it rejects sometimes), a random bonus row."""
    tokens, draft, target = _inputs(64, gamma, 20, seed=3)
    target[:, : gamma - 1] = draft[:, : gamma - 1]
    return tokens, draft, target, groups_from_labels(torch.arange(20) // 2)


def _hub(degree: int, vocab: int = 40) -> Inputs:
    """Token 0 in ``degree`` groups {0, k} with uneven weights, drafted at every position; the rest singletons."""
    sets = [[0, k] for k in range(1, degree + 1)] + [[t] for t in range(degree + 1, vocab)]
    ptr = torch.tensor([0, *torch.tensor([len(s) for s in sets]).cumsum(0).tolist()])
    weights = torch.tensor([float(1 + j % 3) for s in sets for j in range(len(s))])
    groups = Groups.from_memberships(vocab, ptr, torch.tensor([t for s in sets for t in s]), weights)
    tokens, draft, target = _inputs(16, 4, vocab, seed=4)
    tokens[:] = 0
    return tokens, draft, target, groups


def _high_id_small_weights() -> Inputs:
    """Paper scale (V = 193,800, > 2^17 weight entries): the top id is alone with weight 0.93 and in ten pairs
    {k, top} with weight 0.007 each (below 2^-7, half the float32 running sum's spacing there), drafted at every
    position: the pairs hold 7 % of its label draws."""
    vocab, pairs = 193_800, 10
    top = vocab - 1
    sets = [[t] for t in range(vocab)] + [[k, top] for k in range(pairs)]
    ptr = torch.tensor([0, *torch.tensor([len(s) for s in sets]).cumsum(0).tolist()])
    members = torch.tensor([t for s in sets for t in s])
    weights = torch.ones(members.numel(), dtype=torch.float64)
    weights[vocab - 1] = 0.93  # the singleton {top}
    weights[vocab + 1::2] = 0.007  # top in each pair
    groups = Groups.from_memberships(vocab, ptr, members, weights)
    batch, gamma = 16, 2
    draft = torch.zeros(batch, gamma, vocab, dtype=torch.float32)
    draft[..., top], draft[..., :8] = 0.5, 0.5 / 8
    target = torch.zeros(batch, gamma + 1, vocab, dtype=torch.float32)
    target[..., top], target[..., :16] = 0.5, 0.5 / 16
    return torch.full((batch, gamma), top), draft, target, groups


def _low_precision(dtype: torch.dtype, group_size: int) -> Inputs:
    """Rows spread over V = 2,000 ids (about 5e-4 each), rounded to ``dtype``; groups of ``group_size`` ids."""
    tokens, draft, target = _inputs(32, 3, 2000, seed=5)
    return tokens, draft.to(dtype), target.to(dtype), groups_from_labels(torch.arange(2000) // group_size)


def _tiny_draft_mass() -> Inputs:
    """Singleton groups; the drafted token 0 has p = 1e-7 and q = 5e-8 at every position: accepted with
    probability 1/2, or 1/20 under a floor of 1e-6 on P_c."""
    batch, gamma, vocab = 64, 2, 8
    draft = torch.full((batch, gamma, vocab), (1 - 1e-7) / (vocab - 1), dtype=torch.float64)
    draft[..., 0] = 1e-7
    target = torch.full((batch, gamma + 1, vocab), (1 - 5e-8) / (vocab - 1), dtype=torch.float64)
    target[..., 0] = 5e-8
    return torch.zeros(batch, gamma, dtype=torch.int64), draft, target, groups_from_labels(torch.arange(vocab))


#: For each red-team mutant: inputs where its mistake applies, and inputs where it must agree with the reference
#: (None: it never does, e.g. it draws other uniforms).
RED_TEAM_INPUTS: dict[str, tuple[Callable[[], Inputs], Callable[[], Inputs]]] = {
    "bonus_uniform_slot": (lambda: _last_position_rejects(8), lambda: _last_position_rejects(7)),
    "bonus_tile_tail_dropped": (lambda: _bonus_rows(16, 2, 1030, seed=6, tail=True),
                                lambda: _bonus_rows(16, 2, 1024, seed=6)),
    "uniforms_in_input_dtype": (lambda: _low_precision(torch.bfloat16, 1), lambda: _low_precision(torch.float32, 1)),
    "weights_cumsum_float32": (_high_id_small_weights, lambda: _hub(3)),
    "label_first_32_groups": (lambda: _hub(40, vocab=60), lambda: _hub(32, vocab=60)),
    "bonus_systematic_across_batch": (lambda: _bonus_rows(16, 2, 30, seed=7), lambda: _bonus_rows(1, 2, 30, seed=7)),
    "group_order_by_hash": (lambda: _hub(12), lambda: _bonus_rows(8, 2, 30, seed=8)),
    "coarse_mass_input_dtype": (lambda: _low_precision(torch.bfloat16, 400),
                                lambda: _low_precision(torch.float64, 400)),
    "draft_mass_floor": (_tiny_draft_mass, lambda: _bonus_rows(8, 2, 30, seed=9)),
}


def outputs_differ(name: str, inputs: Inputs, seeds: int = 10) -> bool:
    """Whether mutant ``name`` and the reference give different outputs on ``inputs`` under one of ``seeds``."""
    tokens, draft, target, groups = inputs
    mutant = mutant_port(name)
    for seed in range(seeds):
        ours = reference(tokens, draft, target, groups, generator=torch.Generator().manual_seed(seed))
        theirs = mutant(tokens, draft, target, groups, generator=torch.Generator().manual_seed(seed))
        if any(not torch.equal(a, b) for a, b in zip(ours, theirs, strict=True)):
            return True
    return False


@pytest.mark.parametrize("name", sorted(RED_TEAM_INPUTS))
def test_red_team_mutants_differ_from_the_reference_exactly_where_their_mistake_applies(name: str) -> None:
    """Each differs where its shortcut bites (γ ≥ 8, a partial tile, half-precision rows, hubs, tiny draft
    masses, …) and agrees with the reference, draw for draw, where it does not."""
    applies, harmless = RED_TEAM_INPUTS[name]
    assert outputs_differ(name, applies()), f"{name} never differs from the reference where its mistake applies"
    assert not outputs_differ(name, harmless(), seeds=3), f"{name} differs where its mistake does not apply"


def test_generator_not_advanced_replays_a_decode_loop_and_leaves_the_generator_alone() -> None:
    tokens, draft, target, groups = _bonus_rows(8, 2, 30, seed=10)
    mutant, generator = mutant_port("generator_not_advanced"), torch.Generator().manual_seed(11)
    state = generator.get_state()
    first, second = (mutant(tokens, draft, target, groups, generator=generator) for _ in range(2))
    assert torch.equal(generator.get_state(), state)  # never advanced
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))  # every call of the loop replays
    loop = torch.Generator().manual_seed(11)
    ours = [reference(tokens, draft, target, groups, generator=loop) for _ in range(2)]
    assert any(not torch.equal(a, b) for a, b in zip(*ours, strict=True))  # the reference moves on
    assert all(torch.equal(a, b) for a, b in zip(ours[0], first, strict=True))  # same first call: same seed


@pytest.mark.parametrize(("name", "overwritten"), [("static_output_buffers", True), ("results_copied", False)])
def test_static_output_buffers_overwrite_what_the_caller_kept_and_copied_results_do_not(
        name: str, overwritten: bool) -> None:
    tokens, draft, target, groups = _bonus_rows(8, 2, 30, seed=12)
    port = mutant_port(name)
    kept = port(tokens, draft, target, groups, generator=torch.Generator().manual_seed(0))
    snapshot = [t.clone() for t in kept]
    again = port(tokens, draft, target, groups, generator=torch.Generator().manual_seed(1))
    assert any(not torch.equal(a, b) for a, b in zip(snapshot, again, strict=True))  # the second call differs
    assert any(not torch.equal(a, b) for a, b in zip(kept, snapshot, strict=True)) is overwritten
    ours = reference(tokens, draft, target, groups, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(ours, snapshot, strict=True))  # right values when returned


_HASH_RUN = """
import torch
from pcg_core import Groups
from pcg_verify.bugs import mutant_port
sets = [[0, k] for k in range(1, 13)] + [[t] for t in range(13, 40)]  # token 0 in 12 groups
ptr = torch.tensor([0, *torch.tensor([len(s) for s in sets]).cumsum(0).tolist()])
groups = Groups.from_memberships(40, ptr, torch.tensor([t for s in sets for t in s]))
probs = torch.full((16, 5, 40), 1 / 40, dtype=torch.float64)
out = mutant_port({name!r})(torch.zeros(16, 4, dtype=torch.int64), probs[:, :4], probs, groups,
                            generator=torch.Generator().manual_seed(0))
print([t.tolist() for t in out])
"""


@pytest.mark.slow
@pytest.mark.parametrize(("name", "same"), [("group_order_by_hash", False), ("reference", True)])
def test_group_order_by_hash_answers_differently_in_processes_with_other_hash_seeds(name: str, same: bool) -> None:
    """One seed, two processes with PYTHONHASHSEED 1 and 2: the reference agrees, the mutant does not."""
    import os
    import subprocess
    import sys

    root = str(Path(__file__).resolve().parents[2])
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "OMP_NUM_THREADS": "1", "PYTHONPATH": root}
        run = subprocess.run([sys.executable, "-c", _HASH_RUN.format(name=name)], env=env,
                             capture_output=True, text=True, timeout=300, check=True)
        outputs.append(run.stdout)
    assert (outputs[0] == outputs[1]) is same


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
