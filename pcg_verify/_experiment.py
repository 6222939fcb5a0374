"""Running a port on a case: draft tokens, port calls, hard structural checks, counts.

Math follows the paper: q is the target, p the draft. The gate, not the port,
draws the draft tokens: ``draft_tokens[b, i] ~ p_{b,i}`` independently, so the
per-position laws of docs/laws.md hold conditionally on reaching each position.

Replicates of the case's B rows are stacked row-major (batch row j is case row
``j % B``), so every port call sees a mixed batch; every call starts at case
row 0 (its size is a multiple of B). A case's ``call_rows`` fixes the cycle of
call sizes (one row, a few rows); by default a call holds as many rows as fit.
A family case's probabilities keep their dtype (float32, float16, bfloat16) and
may be handed as non-contiguous views; the gate reads them upcast to float64.

Besides the per-row counts, an experiment counts what pooling hides: the
accepted lengths of adjacent rows of one call (rows 2r and 2r + 1, for the
joint law against the exact product law), the final emitted cells of those
pairs (:mod:`pcg_verify._row_joint`) and the position-0 outcome of the
first and of the last row of every call (per-row-index laws).

Every schedule keeps the output-ownership clause: the results of the last
calls are kept with a private copy and compared after every later call
(:class:`~pcg_verify.ports.KeptResults`, one for all the calls of a case when
the gate runs it); a change is a structural violation.
Calls get a fresh generator each (seeded ``derived_seed(seed, k)``), except in
a **decode loop** (``case.decode_loop``): there one generator, seeded once,
and one ``Groups`` copy go to every call, as an engine's loop passes them to
every step. Each call must advance that generator (structural: a port draws
its random numbers from it), and the accepted lengths of row 0 of calls 2s
and 2s + 1 are counted for their joint law against the exact product law
(consecutive calls on one generator are independent).

This is the only module that calls the port (:func:`call`): the call-pattern
checks (:mod:`pcg_verify._call_patterns`) build their schedules — which
structure, which draft rows, which seed — and hand them here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from pcg_core import Groups
from pcg_core.validation import check_probs, sum_tolerance
from pcg_verify.cases import Case
from pcg_verify.cases._families import present
from pcg_verify.laws import BlockLaw, block_law
from pcg_verify.ports import KeptResults, Port, PortOutput, PortProtocolError, PortTooSlow, call_port, copy_groups

__all__ = [
    "PAIR_LEVELS",
    "Observations",
    "RowCounts",
    "call",
    "call_inputs",
    "call_sizes",
    "derived_seed",
    "draft_tokens_for",
    "observe",
    "observe_alternating",
    "row_laws",
]

#: Largest batch handed to a port in one call, and the most probability entries
#: (rows · (2γ+1) · V) one call may hold: 2^24 float64 = 128 MB.
CHUNK_ROWS = 16384
CHUNK_ENTRIES = 1 << 24
#: Structural violations kept verbatim per experiment (the count is always exact).
MAX_EXAMPLES = 5
#: Accepted lengths 0, 1 and ≥ 2: the levels of the adjacent-row pair counts (9 cells, so that a few
#: hundred pairs test independence where dependence shows first).
PAIR_LEVELS = 3


@dataclass
class RowCounts:
    """Counts for one case row over all its replicates.

    accepted_length [γ+1]; labels [γ+1, M] (None when the port reports none);
    joint [γ, 2·C] cells (accepted?, membership) — C = nnz with labels, V
    without; bonus_joint [C] at position γ; tokens [γ+1, V].
    """

    accepted_length: np.ndarray[Any, Any]
    labels: np.ndarray[Any, Any] | None
    joint: np.ndarray[Any, Any]
    bonus_joint: np.ndarray[Any, Any]
    tokens: np.ndarray[Any, Any]


@dataclass
class Observations:
    """What one experiment saw: counts per row and hard structural violations."""

    case: Case
    samples_per_row: int
    has_labels: bool
    rows: list[RowCounts]
    violations: list[str] = field(default_factory=list)
    violation_count: int = 0
    #: pairs[b]: [PAIR_LEVELS²] counts of (min(A, 2), min(A', 2)) for rows 2r, 2r+1 of one call, row 2r
    #: being case row b (A, A' their accepted lengths)
    pairs: list[np.ndarray[Any, Any]] = field(default_factory=list)
    #: [2·C] counts of (accepted at position 0?, position-0 label) — (accepted?, token) without labels,
    #: C = M or V, accepted first — of the first and of the last row of every call (case rows 0 and
    #: B − 1); the last only for calls of more than one row
    call_first: np.ndarray[Any, Any] | None = None
    call_last: np.ndarray[Any, Any] | None = None
    #: final_pairs[b]: per call, int64 [pairs, 2] codes A·C + c of the final emitted cell (c the membership
    #: index, the token without labels; at position A: the residual draw, or the bonus at A = γ) of rows 2r
    #: and 2r + 1 of one call, row 2r being case row b (:mod:`pcg_verify._row_joint` bins and tests them)
    final_pairs: list[list[np.ndarray[Any, Any]]] = field(default_factory=list)
    #: the experiment's first port call: its draft tokens, generator seed and output (first-call check)
    first_call: tuple[torch.Tensor, int, PortOutput] | None = None
    #: decode loop only: [PAIR_LEVELS²] counts of (min(A, 2), min(A', 2)) of row 0 (case row 0) of calls
    #: 2s and 2s + 1 of the experiment's one generator
    call_pairs: np.ndarray[Any, Any] | None = None

    def add_violation(self, count: int, message: str) -> None:
        self.violation_count += count
        if len(self.violations) < MAX_EXAMPLES:
            self.violations.append(message)


def derived_seed(*words: int) -> int:
    """A 63-bit seed spawned from ``words`` (master seed, case, stage, purpose, call): distinct words give
    statistically independent streams."""
    return int(np.random.SeedSequence(list(words)).generate_state(1, np.uint64)[0] >> np.uint64(1))


def row_laws(case: Case) -> list[BlockLaw]:
    """The exact block law of every row of ``case``.

    Rows in a low-precision dtype (a family's softmax output, handed to the port as it is) sum to 1
    only within their dtype's tolerance (:data:`pcg_core.SUM_TOLERANCE`); they are checked against it
    upcast to float64, and the law is that of the upcast rows divided by their sums (a sampler draws
    in proportion to the values it is given; the two differ by at most the tolerance in total variation,
    far below what any test here detects). Float64 rows are used as they are.
    """
    tol = sum_tolerance(case.target_probs.dtype)
    laws = []
    for b in range(case.batch):
        draft, target = case.draft_probs[b].double(), case.target_probs[b].double()
        check_probs("draft_probs", draft, atol=tol)
        check_probs("target_probs", target, atol=tol)
        if case.target_probs.dtype != torch.float64:
            draft, target = draft / draft.sum(-1, keepdim=True), target / target.sum(-1, keepdim=True)
        laws.append(block_law(draft, target, case.groups))
    return laws


def _draw(rng: np.random.Generator, probs: np.ndarray[Any, Any], n: int) -> np.ndarray[Any, Any]:
    """n i.i.d. draws from ``probs`` [V]; a zero-probability id is never drawn."""
    cum = np.cumsum(probs)
    idx = np.searchsorted(cum, rng.random(n) * cum[-1], side="right")
    out: np.ndarray[Any, Any] = np.minimum(idx, int(np.flatnonzero(probs > 0)[-1]))
    return out


def draft_tokens_for(case: Case, replicates: int, rng: np.random.Generator) -> torch.Tensor:
    """int64 [replicates·B, γ]: row j drafts from case row j % B."""
    draft = case.draft_probs.double().numpy()
    out = np.empty((replicates, case.batch, case.gamma), dtype=np.int64)
    for b in range(case.batch):
        for i in range(case.gamma):
            out[:, b, i] = _draw(rng, draft[b, i], replicates)
    return torch.from_numpy(out.reshape(replicates * case.batch, case.gamma))


class _Checker:
    """Hard structural assertions and counting for one case (outputs of docs/port-contract.md)."""

    def __init__(self, case: Case, laws: list[BlockLaw], has_labels: bool) -> None:
        groups = case.groups
        self.case, self.has_labels = case, has_labels
        self.vocab, self.num_groups, self.gamma = groups.vocab_size, groups.num_groups, case.gamma
        sizes = groups.sizes().numpy()
        members = groups.group_members.numpy().astype(np.int64)
        # (k, t) ↦ k·V + t is ascending in forward CSR order, so a membership is found by bisection.
        self.keys = np.repeat(np.arange(self.num_groups, dtype=np.int64), sizes) * self.vocab + members
        self.cells = groups.nnz if has_labels else self.vocab
        # possible[b, i, t]: some correct port may emit t at position i of row b. At a
        # drafted position that is p(t) > 0 or q(t) > 0 (the reference law's own support is
        # narrower, and checked by conformance); at the bonus position q_{γ+1}(t) > 0.
        positive_draft, positive_target = (case.draft_probs > 0).numpy(), (case.target_probs > 0).numpy()
        self.possible_tokens = np.concatenate(
            [positive_draft | positive_target[:, :-1], positive_target[:, -1:]], axis=1)
        self.possible_labels = np.stack([
            np.stack([law.group_law(i) > 0 for i in range(case.gamma + 1)]) for law in laws
        ])

    def membership(self, labels: np.ndarray[Any, Any], tokens: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Forward-CSR index of each (group, token) pair, -1 where the token is not a member."""
        key = labels * self.vocab + tokens
        idx = np.minimum(np.searchsorted(self.keys, key), self.keys.size - 1)
        return np.where(self.keys[idx] == key, idx, -1)

    def empty_counts(self) -> RowCounts:
        g, m, v, c = self.gamma, self.num_groups, self.vocab, self.cells
        return RowCounts(
            accepted_length=np.zeros(g + 1, np.int64),
            labels=np.zeros((g + 1, m), np.int64) if self.has_labels else None,
            joint=np.zeros((g, 2 * c), np.int64),
            bonus_joint=np.zeros(c, np.int64),
            tokens=np.zeros((g + 1, v), np.int64),
        )

    def check(self, out: PortOutput, drafts: torch.Tensor, obs: Observations) -> bool:
        """Record violations; return True when the output can be counted."""
        g, batch = self.gamma, self.case.batch
        if (out.group_ids is not None) != self.has_labels:
            obs.add_violation(1, "the port returned group_ids in some calls and None in others")
            return False
        tokens, accepted = out.tokens.numpy(), out.num_accepted.numpy()
        bad = (accepted < 0) | (accepted > g)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            obs.add_violation(int(bad.sum()), f"num_accepted[{j}]={int(accepted[j])} outside [0, γ={g}]")
            return False
        pos = np.arange(g + 1)[None, :]
        a = accepted[:, None]
        after = tokens[pos > a] if g else tokens[:0]
        if (after != -1).any():
            obs.add_violation(int((after != -1).sum()), "tokens after the end of the block are not -1 "
                              f"(found {int(after[after != -1][0])})")
        drafts_np = drafts.numpy()
        mismatch = (tokens[:, :g] != drafts_np) & (pos[:, :g] < a)
        if mismatch.any():
            j, i = (int(v) for v in np.argwhere(mismatch)[0])
            obs.add_violation(int(mismatch.sum()), f"row {j}: accepted position {i} emits {int(tokens[j, i])}, "
                              f"not the draft token {int(drafts_np[j, i])}")
            return False
        rows = np.arange(tokens.shape[0])
        final = tokens[rows, accepted]
        if ((final < 0) | (final >= self.vocab)).any():
            j = int(np.flatnonzero((final < 0) | (final >= self.vocab))[0])
            obs.add_violation(1, f"row {j}: emitted token {int(final[j])} at position {int(accepted[j])} "
                              f"outside [0, V={self.vocab})")
            return False
        case_row = rows % batch
        emitted = pos <= a
        safe_tokens = np.where(emitted, tokens, 0)
        impossible = emitted & ~self.possible_tokens[case_row[:, None], pos, safe_tokens]
        if impossible.any():
            j, i = (int(v) for v in np.argwhere(impossible)[0])
            obs.add_violation(int(impossible.sum()), f"row {j} position {i}: emitted token {int(tokens[j, i])} "
                              "has probability 0 under the law")
        if out.group_ids is None:
            return obs.violation_count == 0
        labels = out.group_ids.numpy()
        if (labels[~emitted] != -1).any():
            obs.add_violation(int((labels[~emitted] != -1).sum()), "group_ids after the end of the block are not -1")
        emitted_labels = labels[emitted]
        out_of_range = (emitted_labels < 0) | (emitted_labels >= self.num_groups)
        if out_of_range.any():
            obs.add_violation(1, f"an emitted group id lies outside [0, M={self.num_groups}) "
                              f"(found {int(emitted_labels[out_of_range][0])})")
            return False
        safe_labels = np.where(emitted, labels, 0)
        outside = emitted & (self.membership(safe_labels, safe_tokens) < 0)
        if outside.any():
            j, i = (int(v) for v in np.argwhere(outside)[0])
            obs.add_violation(int(outside.sum()), f"row {j} position {i}: token {int(tokens[j, i])} is not a "
                              f"member of its emitted group {int(labels[j, i])}")
        impossible = emitted & ~self.possible_labels[case_row[:, None], pos, safe_labels]
        if impossible.any():
            j, i = (int(v) for v in np.argwhere(impossible)[0])
            obs.add_violation(int(impossible.sum()), f"row {j} position {i}: emitted group {int(labels[j, i])} "
                              "has probability 0 under Q_c")
        return obs.violation_count == 0

    def count(self, out: PortOutput, obs: Observations) -> None:
        g, batch, c = self.gamma, self.case.batch, self.cells
        tokens, accepted = out.tokens.numpy(), out.num_accepted.numpy()
        labels = None if out.group_ids is None else out.group_ids.numpy()
        case_row = np.arange(tokens.shape[0]) % batch
        for b, counts in enumerate(obs.rows):
            mine = case_row == b
            a, tok = accepted[mine], tokens[mine]
            lab = None if labels is None else labels[mine]
            counts.accepted_length += np.bincount(a, minlength=g + 1)
            for i in range(g + 1):  # np.add.at: O(rows) per call, not O(V + nnz) (calls may hold one row)
                reached = a >= i
                np.add.at(counts.tokens[i], tok[reached, i], 1)
                cell = tok[reached, i] if lab is None else self.membership(lab[reached, i], tok[reached, i])
                if counts.labels is not None and lab is not None:
                    np.add.at(counts.labels[i], lab[reached, i], 1)
                if i < g:
                    np.add.at(counts.joint[i], (a[reached] <= i) * c + cell, 1)  # accepted first
                else:
                    np.add.at(counts.bonus_joint, cell, 1)
        rows = np.arange(tokens.shape[0])
        final = tokens[rows, accepted] if labels is None else self.membership(labels[rows, accepted],
                                                                              tokens[rows, accepted])
        self.count_within_call(accepted, tokens[:, 0] if labels is None else labels[:, 0], obs,
                               final=accepted * c + final)

    def count_within_call(self, accepted: np.ndarray[Any, Any], first: np.ndarray[Any, Any],
                          obs: Observations, final: np.ndarray[Any, Any]) -> None:
        """Adjacent-row pairs of accepted lengths and of final cells, and the position-0 outcome of the
        call's first and last row.

        ``first`` [rows] is each row's position-0 label (its token without labels); position 0 is
        always reached, and accepted there iff A ≥ 1. ``final`` [rows] is each row's code A·C + c of
        its final emitted cell (:attr:`Observations.final_pairs`).
        """
        batch, rows, levels = self.case.batch, accepted.shape[0], PAIR_LEVELS
        size = self.num_groups if self.has_labels else self.vocab
        if obs.call_first is None:
            obs.pairs = [np.zeros(levels ** 2, np.int64) for _ in range(batch)]
            obs.final_pairs = [[] for _ in range(batch)]
            obs.call_first, obs.call_last = np.zeros(2 * size, np.int64), np.zeros(2 * size, np.int64)
        assert obs.call_last is not None
        starts = np.arange(0, rows - 1, 2)  # rows 2r and 2r + 1 of this call
        level = np.minimum(accepted, levels - 1)
        for b in range(batch):
            mine = starts[starts % batch == b]
            np.add.at(obs.pairs[b], level[mine] * levels + level[mine + 1], 1)
            if mine.size:
                obs.final_pairs[b].append(np.stack([final[mine], final[mine + 1]], axis=1))
        obs.call_first[(accepted[0] < 1) * size + first[0]] += 1
        if rows > 1:
            obs.call_last[(accepted[-1] < 1) * size + first[-1]] += 1


def infer_labels(case: Case, out: PortOutput) -> PortOutput:
    """With singleton groups a token's group is known: fill in group_ids a port left out."""
    if out.group_ids is not None or case.groups.max_group_size != 1:
        return out
    group_of_token = case.groups.token_groups.long()
    labels = torch.where(out.tokens >= 0, group_of_token[out.tokens.clamp(min=0, max=case.groups.vocab_size - 1)], -1)
    return PortOutput(out.tokens, labels, out.num_accepted)


def call_sizes(case: Case, total: int) -> list[int]:
    """Rows of each port call for ``total`` stacked rows: the case's ``call_rows`` cycle, or as many
    rows as fit (≤ CHUNK_ROWS rows and CHUNK_ENTRIES probability entries); each a multiple of B."""
    batch = case.batch
    if case.call_rows:
        cycle = list(case.call_rows)
    else:
        fit = min(CHUNK_ROWS, CHUNK_ENTRIES // ((2 * case.gamma + 1) * case.vocab_size))
        cycle = [max(batch, fit // batch * batch)]
    sizes: list[int] = []
    done = 0
    while done < total:
        size = min(cycle[len(sizes) % len(cycle)], total - done)
        sizes.append(size)
        done += size
    return sizes


def call_inputs(case: Case, drafts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(draft_tokens, draft_probs, target_probs) of one call whose rows are ``drafts`` [R, γ] (R a multiple
    of B, row j from case row j % B), in the case's dtype and layout (non-contiguous views for some families)."""
    replicates = drafts.shape[0] // case.batch
    return (present(drafts, case.contiguous), present(case.draft_probs, case.contiguous, replicates),
            present(case.target_probs, case.contiguous, replicates))


def call(port: Port, case: Case, drafts: torch.Tensor, generator: torch.Generator | int, *,
         kept: KeptResults | None = None, handed_groups: Groups | None = None) -> PortOutput:
    """The gate's one call of a port: ``case``'s inputs for the draft rows ``drafts`` [R, γ] (R a multiple
    of B) and ``generator`` (an int: a fresh generator seeded with it); with ``kept``, the ownership
    clause; every failure is a :class:`~pcg_verify.ports.PortProtocolError`
    (:class:`~pcg_verify.ports.PortTooSlow` when it did not answer in time: the callers let it through)."""
    return call_port(port, *call_inputs(case, drafts), case.groups, generator, kept=kept,
                     handed_groups=handed_groups)


class _DecodeLoop:
    """One generator (seeded once with ``seed``) and one ``Groups`` copy for every call of a decode loop;
    each call must advance the generator, and row 0 of calls 2s, 2s + 1 is counted as a pair."""

    def __init__(self, case: Case, seed: int) -> None:
        self.generator = torch.Generator().manual_seed(seed)
        self.groups = copy_groups(case.groups)
        self.pending: int | None = None  # min(A, 2) of row 0 of the last unpaired call

    def call(self, port: Port, case: Case, drafts: torch.Tensor, k: int, kept: KeptResults) -> PortOutput:
        """Call ``k`` on the loop's generator; a :class:`PortProtocolError` when it left the generator as it was."""
        before = self.generator.get_state()
        out = call(port, case, drafts, self.generator, kept=kept, handed_groups=self.groups)
        if torch.equal(before, self.generator.get_state()):
            raise PortProtocolError(
                f"call {k} of a decode loop left its generator unchanged (a port draws its random numbers from "
                "generator, advancing it: the loop passes the same generator to every step, so a port that "
                "derives its stream from generator.initial_seed() repeats its draws every step)")
        return out

    def count(self, out: PortOutput, obs: Observations) -> None:
        """Pair (min(A, 2) of row 0 of this call) with that of the previous call, every second call."""
        if obs.call_pairs is None:
            obs.call_pairs = np.zeros(PAIR_LEVELS ** 2, np.int64)
        level = min(int(out.num_accepted[0]), PAIR_LEVELS - 1)
        if self.pending is None:
            self.pending = level
        else:
            obs.call_pairs[self.pending * PAIR_LEVELS + level] += 1
            self.pending = None


def observe(
    port: Port,
    case: Case,
    laws: list[BlockLaw],
    *,
    samples_per_row: int,
    seed: int,
    rows: list[int] | None = None,
    kept: KeptResults | None = None,
) -> Observations:
    """Run ``port`` on ``samples_per_row`` replicates of each case row and count.

    ``rows`` restricts the batch to some case rows (e.g. one row alone for the
    batch-invariance check). Seeds: drafts from ``numpy.random.default_rng(seed)``,
    the k-th port call gets a generator seeded with ``derived_seed(seed, k)`` — in a
    decode loop (``case.decode_loop``) every call gets one generator, seeded once with
    ``derived_seed(seed, 0)``, and must advance it. Calls follow :func:`call_sizes`; their
    inputs come from :func:`call_inputs`; the results of every call are kept and must not
    change during later calls (``kept``, shared by a case's experiments; default: this experiment's own).
    """
    sub = case if rows is None else dataclasses.replace(
        case, draft_probs=case.draft_probs[rows], target_probs=case.target_probs[rows], batch=len(rows)
    )
    sub_laws = laws if rows is None else [laws[b] for b in rows]
    rng = np.random.default_rng(seed)
    drafts = draft_tokens_for(sub, samples_per_row, rng)
    obs = Observations(sub, samples_per_row, has_labels=True, rows=[])
    checker: _Checker | None = None
    kept = kept if kept is not None else KeptResults("of this experiment")
    loop = _DecodeLoop(sub, derived_seed(seed, 0)) if sub.decode_loop else None
    start = 0
    for k, size in enumerate(call_sizes(sub, drafts.shape[0])):
        stop = start + size
        try:
            if loop is None:
                out = call(port, sub, drafts[start:stop], derived_seed(seed, k), kept=kept)
            else:
                out = loop.call(port, sub, drafts[start:stop], k, kept)
        except PortTooSlow:  # not a violation: the case is unfinished (checks.run_case)
            raise
        except PortProtocolError as error:  # every other failure of the port (see call_port) ends the run
            obs.add_violation(1, str(error))
            return obs
        if k == 0:
            obs.first_call = (drafts[start:stop], derived_seed(seed, k), out)
        out = infer_labels(sub, out)
        if checker is None:
            obs.has_labels = out.group_ids is not None
            checker = _Checker(sub, sub_laws, obs.has_labels)
            obs.rows = [checker.empty_counts() for _ in range(sub.batch)]
        if checker.check(out, drafts[start:stop], obs):
            checker.count(out, obs)
            if loop is not None:
                loop.count(out, obs)
        start = stop
    return obs


def observe_alternating(port: Port, cases: tuple[Case, Case], laws: tuple[list[BlockLaw], list[BlockLaw]], *,
                        samples_per_row: int, rows_per_call: int, calls: int, seed: int,
                        kept: KeptResults | None = None) -> tuple[Observations, Observations]:
    """Calls that alternate ``cases[0]`` and ``cases[1]`` (equal but for their groups), ``rows_per_call`` · B
    rows each; each call's outputs are checked and counted against its own structure's laws, and kept
    for the ownership clause (in ``kept``, default the schedule's own). The first structural violation
    ends the schedule (recorded in the first observations)."""
    rng = np.random.default_rng(seed)
    observations = tuple(Observations(c, samples_per_row, has_labels=True, rows=[]) for c in cases)
    checkers: list[_Checker | None] = [None, None]
    kept = kept if kept is not None else KeptResults("of this experiment")
    for k in range(calls):
        which = k % 2
        current, obs = cases[which], observations[which]
        drafts = draft_tokens_for(current, rows_per_call, rng)
        try:
            out = call(port, current, drafts, derived_seed(seed, k), kept=kept)
        except PortTooSlow:
            raise
        except PortProtocolError as error:
            observations[0].add_violation(1, f"groups alternated between calls: {error}")
            break
        out = infer_labels(current, out)
        checker = checkers[which]
        if checker is None:
            obs.has_labels = out.group_ids is not None
            checker = checkers[which] = _Checker(current, laws[which], obs.has_labels)
            obs.rows = [checker.empty_counts() for _ in range(current.batch)]
        if not checker.check(out, drafts, obs):
            observations[0].add_violation(obs.violation_count, "groups alternated between calls (structure "
                                          f"{which}): {obs.violations[0] if obs.violations else ''}")
            break
        checker.count(out, obs)
    return observations[0], observations[1]
