"""Call-pattern checks: what pooling over stacked replicates hides, and how a port is called.

Math follows the paper: q is the target, p the draft. Every check here is
local to one case (its seeds come from the case's own), exact where it can be
and a goodness-of-fit test against an exact law otherwise:

* **rows of one call** (:func:`pooled_tests`, category ``batch_invariance``):
  the accepted lengths (A, A') of rows 2r and 2r + 1 of one call, as
  (min(A, 2), min(A', 2)) in 9 cells, against the exact product law — rows
  are independent given the inputs (contract clause 2); and the position-0
  law of (accepted?, label) of the first and of the last row of every call
  against its exact law — a row's law does not depend on its index in the
  call;
* **consecutive calls of a decode loop** (also in :func:`pooled_tests`, for a
  case with ``decode_loop``: one generator passed to every call): the accepted
  lengths of row 0 of calls 2s and 2s + 1, as (min(A, 2), min(A', 2)), against
  the exact product law — calls on one generator are independent (a port that
  advances the generator yet replays its draws fails here, one that leaves it
  unchanged fails structurally in :mod:`pcg_verify._experiment`). Filed under
  ``batch_invariance``: like the adjacent rows, it is a row's law unchanged by
  how the calls around it are made, and a G test can fail a correct port at
  its level, which ``determinism`` (exact checks only) never does;
* **first call** (:func:`first_call_differs`, ``determinism``): a case's very
  first port call, repeated after all its other calls with the same inputs and
  seed, returns the same outputs (the first call of a fresh process, or of a
  fresh isolated worker, is no different from a later one: clause 3);
* **determinism at large B** (:func:`determinism_differs`): two calls of
  thousands of rows (as many as fit) under one seed agree exactly;
* **one input under many seeds** (:func:`replay_case`): one fixed input — the
  case's row 0 with one-hot draft rows, so that the drafts are fixed yet still
  drawn from p — is called with many generator seeds; the outputs, pooled over
  the calls, must follow the exact laws (a port that replays random numbers
  captured per shape returns one output again and again, and fails);
* **groups changed between calls** (:func:`alternating_groups`): consecutive
  calls alternate two group structures with identical shapes (the second
  relabels the tokens of the first by a permutation: same V, M, nnz, sizes,
  dtypes), each call with a freshly built ``Groups`` object; each call's
  outputs are checked against its own structure and counted for its own laws
  (a port caching by object identity or by shape answers with stale groups).

Each check builds its schedule (inputs, structures, seeds) and exact laws here;
:mod:`pcg_verify._experiment` makes the calls, and every law is tested with
the one G test of :func:`pcg_verify._evidence.g_test`.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np
import torch

from pcg_core import Groups
from pcg_verify._evidence import g_test, law_checks
from pcg_verify._experiment import (
    CHUNK_ENTRIES,
    PAIR_LEVELS,
    Observations,
    call,
    derived_seed,
    draft_tokens_for,
    observe,
    observe_alternating,
    row_laws,
)
from pcg_verify.budgets import Procedure
from pcg_verify.cases import Case
from pcg_verify.laws import BlockLaw
from pcg_verify.ports import KeptResults, Port, PortOutput
from pcg_verify.report import Category, CellCounts, LawCheck

__all__ = [
    "DETERMINISM_ROWS",
    "PATTERN_FAMILIES",
    "REPLAY_CALLS",
    "alternating_groups",
    "determinism_differs",
    "first_call_differs",
    "outputs_differ",
    "pattern_test_count",
    "pattern_tests",
    "pooled_test_count",
    "pooled_tests",
    "relabelled_groups",
    "replay_case",
]

#: Rows of each determinism call (fewer when the case's rows are large: at most CHUNK_ENTRIES entries).
DETERMINISM_ROWS = 4096
#: Generator seeds the one fixed input of :func:`replay_case` is called with.
REPLAY_CALLS = 64
#: Rows per call (× B) of the alternating-groups experiment.
ALTERNATING_ROWS = 16
#: The family cases that also run the replay and alternating-groups experiments (small and cheap).
PATTERN_FAMILIES = ("unaligned", "single_row")


# ---------------------------------------------------------------------------- what pooling hides
def _levels(law: BlockLaw) -> np.ndarray[Any, Any]:
    """Pr(min(A, 2) = j) for j = 0, 1, 2 [PAIR_LEVELS]."""
    length = law.accepted_length
    head = length[: PAIR_LEVELS - 1]
    return np.concatenate([head, [max(0.0, 1.0 - float(head.sum()))]])


def _first_position(law: BlockLaw, has_labels: bool) -> np.ndarray[Any, Any]:
    """Pr(accepted at position 0, K_0 = k) then Pr(rejected there, K_0 = k) [2M] — over tokens [2V]
    without labels — from the reference joint law of position 0."""
    joint = law.positions[0]
    index, size = (joint.group_of, joint.num_groups) if has_labels else (joint.token_of, joint.vocab_size)
    accept = np.bincount(index, weights=joint.accept, minlength=size)
    reject = np.bincount(index, weights=joint.reject, minlength=size)
    cells = np.concatenate([accept, reject])
    return np.asarray(cells / cells.sum(), dtype=np.float64)


def pooled_test_count(case: Case) -> int:
    """The most tests :func:`pooled_tests` gives for ``case``: B adjacent-pair laws and two row-index laws,
    and in a decode loop the consecutive-call pair law."""
    return case.batch + 2 + int(case.decode_loop)


def pooled_tests(obs: Observations, laws: list[BlockLaw], *, case_index: int, stage: int, per_test_level: float,
                 false_negative_rate: float, procedure: Procedure) -> list[LawCheck]:
    """The adjacent-row, row-index and (decode loop) consecutive-call tests of one full-batch experiment
    (category batch_invariance)."""
    if obs.call_first is None or obs.call_last is None:
        return []
    batch = obs.case.batch
    test = functools.partial(g_test, Category.BATCH_INVARIANCE, stage=stage, per_test_level=per_test_level,
                             false_negative_rate=false_negative_rate, procedure=procedure, case_index=case_index)
    tests = []
    for b, pairs in enumerate(obs.pairs):
        product = np.outer(_levels(laws[b]), _levels(laws[(b + 1) % batch])).ravel()
        tests.append(test(CellCounts(pairs, product, "length pair"), row=b, position=-1,
                          law=f"joint law of (min(A, 2), min(A', 2)) of rows 2r, 2r+1 of one call "
                          f"(case rows {b}, {(b + 1) % batch}) = product law"))
    what = "label" if obs.has_labels else "token"
    tests.append(test(CellCounts(obs.call_first, _first_position(laws[0], obs.has_labels), "accepted×" + what),
                      row=0, position=0, law=f"position-0 (accepted?, {what}) law of the first row of every call"))
    tests.append(test(CellCounts(obs.call_last, _first_position(laws[batch - 1], obs.has_labels),
                                 "accepted×" + what),
                      row=batch - 1, position=0,
                      law=f"position-0 (accepted?, {what}) law of the last row of every call"))
    if obs.call_pairs is not None:
        product = np.outer(_levels(laws[0]), _levels(laws[0])).ravel()
        tests.append(test(CellCounts(obs.call_pairs, product, "length pair"), row=0, position=-1,
                          law="joint law of (min(A, 2), min(A', 2)) of row 0 of calls 2s, 2s+1 of a decode loop "
                          "(one generator) = product law"))
    return [t for t in tests if t is not None]


# ---------------------------------------------------------------------------- exact call checks
def outputs_differ(first: PortOutput, second: PortOutput) -> str | None:
    """The first of tokens, group_ids, num_accepted in which two outputs differ (None: identical)."""
    for name in ("tokens", "group_ids", "num_accepted"):
        a, b = getattr(first, name), getattr(second, name)
        if (a is None) != (b is None) or (a is not None and not bool((a == b).all())):
            return name
    return None


def first_call_differs(port: Port, case: Case, obs: Observations, kept: KeptResults | None = None) -> str | None:
    """Repeat the experiment's first call (same inputs, same seed) now; a message when the outputs differ.

    Raises :class:`~pcg_verify.ports.PortProtocolError` when the port breaks the contract on the repeat.
    """
    if obs.first_call is None:
        return None
    drafts, seed, first = obs.first_call
    again = call(port, obs.case, drafts, seed, kept=kept)
    name = outputs_differ(first, again)
    if name is None:
        return None
    return (f"the first call ({drafts.shape[0]} rows, generator seed {seed}) and its repeat after the case's "
            f"other calls returned different {name}: the port's answers depend on what ran before")


def determinism_rows(case: Case, replicates: int = 1) -> int:
    """Rows of each determinism call: at least ``replicates`` · B and DETERMINISM_ROWS, but no more than
    fit in CHUNK_ENTRIES probability entries (and at least B); a multiple of B."""
    fit = CHUNK_ENTRIES // ((2 * case.gamma + 1) * case.vocab_size)
    rows = min(max(DETERMINISM_ROWS, replicates * case.batch), fit)
    return max(case.batch, rows // case.batch * case.batch)


def determinism_differs(port: Port, case: Case, seed: int, replicates: int = 1,
                        kept: KeptResults | None = None) -> str | None:
    """Two calls of :func:`determinism_rows` rows with one seed must agree exactly; a message when not.

    Raises :class:`~pcg_verify.ports.PortProtocolError` when the port breaks the contract.
    """
    rows = determinism_rows(case, replicates)
    drafts = draft_tokens_for(case, rows // case.batch, np.random.default_rng(seed))
    first, second = call(port, case, drafts, seed, kept=kept), call(port, case, drafts, seed, kept=kept)
    name = outputs_differ(first, second)
    return None if name is None else f"two calls of {rows} rows with generator seed {seed} returned different {name}"


# ---------------------------------------------------------------------------- one input, many seeds
def replay_case(case: Case, samples: int) -> Case:
    """Row 0 of ``case`` with one-hot draft rows (at each position's likeliest draft token), called in
    REPLAY_CALLS calls of equal rows: every call gets the same input; only the generator seed changes.

    A one-hot p_i makes the drafted token fixed (x_i with p_i(x_i) = 1) and still drawn from p_i, so
    the block law of the row is exact for the fixed input.
    """
    draft = case.draft_probs[:1]
    onehot = torch.zeros_like(draft)
    onehot.scatter_(-1, draft.double().argmax(-1, keepdim=True), 1.0)
    rows = max(1, -(-samples // REPLAY_CALLS))
    return dataclasses.replace(case, draft_probs=onehot, target_probs=case.target_probs[:1], batch=1,
                               call_rows=(rows,), description=f"{case.description}; row 0, one-hot drafts, "
                               f"one input under {REPLAY_CALLS} seeds")


# ---------------------------------------------------------------------------- groups changed between calls
def relabelled_groups(groups: Groups, rng: np.random.Generator) -> Groups:
    """The structure with token t renamed π(t) for a random permutation π: same V, M, nnz, sizes, dtypes."""
    vocab = groups.vocab_size
    perm = rng.permutation(vocab)
    members = perm[groups.group_members.numpy().astype(np.int64)]
    weights = groups.group_weights.numpy()
    ptr = groups.group_ptr.numpy()
    # from_memberships sorts members within a group and renormalises per token; both keep w[k, π(t)] = w[k, t].
    return Groups.from_memberships(vocab, ptr, members, weights).validate()


def alternating_groups(port: Port, case: Case, laws: tuple[list[BlockLaw], list[BlockLaw]],
                       other: Groups, *, samples_per_row: int, seed: int,
                       kept: KeptResults | None = None) -> tuple[Observations, Observations]:
    """Calls that alternate ``case.groups`` and ``other`` (ALTERNATING_ROWS · B rows each, enough calls for
    ``samples_per_row`` replicates of each row); each structure's outputs checked and counted against its
    own laws (:func:`pcg_verify._experiment.observe_alternating`)."""
    calls = max(2, -(-samples_per_row * case.batch // (ALTERNATING_ROWS * case.batch)))
    return observe_alternating(port, (case, dataclasses.replace(case, groups=other)), laws,
                               samples_per_row=samples_per_row, rows_per_call=ALTERNATING_ROWS, calls=calls, seed=seed,
                               kept=kept)


def pattern_test_count(case: Case) -> int:
    """The most tests the replay and alternating-groups experiments give for ``case`` (0 unless a
    :data:`PATTERN_FAMILIES` case): one row's laws for the replay, every row's laws twice for the alternation."""
    if case.family not in PATTERN_FAMILIES:
        return 0
    per_row = 2 * (case.gamma + 1) + 2
    return per_row + 2 * case.batch * per_row


def _renamed(tests: list[LawCheck], suffix: str) -> list[LawCheck]:
    return [dataclasses.replace(t, law=f"{t.law} [{suffix}]") for t in tests]


def pattern_tests(port: Port, case: Case, *, case_index: int, stage: int, samples_per_row: int, seed: int,
                  per_test_level: float, false_negative_rate: float, procedure: Procedure,
                  kept: KeptResults | None = None) -> tuple[list[LawCheck], list[str]]:
    """The replay and alternating-groups experiments of a :data:`PATTERN_FAMILIES` case: their undecided
    tests and structural violation messages (no tests when there are violations)."""
    if case.family not in PATTERN_FAMILIES:
        return [], []
    checks = functools.partial(law_checks, case_index=case_index, stage=stage, alone=False,
                               per_test_level=per_test_level, false_negative_rate=false_negative_rate,
                               procedure=procedure)
    samples_per_row = max(1, samples_per_row // 2)  # half the case's samples for each experiment
    fixed = replay_case(case, samples_per_row)
    fixed_laws = row_laws(fixed)
    obs = observe(port, fixed, fixed_laws, samples_per_row=samples_per_row, seed=derived_seed(seed, 0), kept=kept)
    where = f"case {case_index}, stage {stage}"
    if obs.violation_count:
        return [], [f"{where} (one input under {REPLAY_CALLS} seeds): {obs.violation_count} violation(s), "
                    f"e.g. {obs.violations[0]}"]
    tests = _renamed(checks(obs, fixed_laws), f"one input under {REPLAY_CALLS} seeds")
    other = relabelled_groups(case.groups, np.random.default_rng(derived_seed(seed, 1)))
    laws = (row_laws(case), row_laws(dataclasses.replace(case, groups=other)))
    pair = alternating_groups(port, case, laws, other, samples_per_row=samples_per_row, seed=derived_seed(seed, 2),
                              kept=kept)
    if pair[0].violation_count:
        return [], [f"{where}: {pair[0].violation_count} violation(s), e.g. {pair[0].violations[0]}"]
    for which, (alt_obs, alt_laws) in enumerate(zip(pair, laws, strict=True)):
        tests += _renamed(checks(alt_obs, alt_laws), f"groups alternated between calls, structure "
                          f"{which}")
    return tests, []
