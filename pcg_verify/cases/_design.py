"""Designed cases: a covering array over the gate's coverage dimensions, built afresh on every master seed.

Math follows the paper: q is the target, p the draft; code says
``target_probs`` and ``draft_probs``.

Coverage by design, not by recipe. :data:`DIMENSIONS` lists every dimension
along which real engines' inputs and calls vary, with the values the gate
must meet (docs/gate.md, "Coverage dimensions", is the same table in words):

================  =====================================================================
dimension         values
================  =====================================================================
layout            small (16…64 ids), unaligned (4,097 or 8,193 ids, a partial last
                  tile), codec (65,536 ids, the top 16-bit id 65,535 has mass),
                  llasa (193,800 ids: 128,264 text singletons, then 65,536 speech ids;
                  over 65,535 groups). The index width follows: ``uint16`` for the
                  first three, ``int32`` for llasa (pcg_core's rule: uint16 when every
                  id and group index fits 16 bits).
gamma             1, 2, 8, 9, 16 (the smallest, a typical one, a power of two and one
                  past it for workspaces sized for 8, the largest)
calls             one_row (B = 1, one row per call), few_rows (B = 2, calls of 2, 4, 6
                  rows), stacked (B = 1, as many rows as fit), decode_loop (B = 1, one
                  generator over all calls, results kept across calls, 3, 1, 4, 2 rows)
dtype             float64, float32, float16, bfloat16 (softmax computed in it)
mass              concentrated (a few ids), spread (a thin tail over every id of one
                  group: thousands of ids of tiny mass), near_one_hot (one id holds
                  all but ~1e-3), light_draft (the draft spreads ~10 % over ≥ 100,000
                  ids below 1e-6 each: a floor on the draft mass decides there)
weights           equal, stored (log-normal similarity weights)
groups            windows (overlapping, each id in one or two), clusters (a partition
                  with one group of ≥ 4,096 ids where V allows), hubs (windows plus three
                  ids in 256…400 groups each, which carry mass)
memory            contiguous, strided (non-contiguous views of equal values)
tested            first, last (the drafted position that rejects)
================  =====================================================================

Constraints: ``spread`` needs V ≥ 4,097 (a thin tail); ``light_draft`` needs
the llasa layout (groups light enough, P_c(k) < 1e-6, are its text
singletons); ``stored`` weights need overlapping groups (a partition
normalises every weight to 1); at γ = 1 the tested position is ``first``
(it is also the last). Pairs that break a constraint are not required.

**Every case tests what it designs.** At every drafted position except the
tested one, p = q (the same row): accepted with probability 1, so every
position and the tested one are reached in every replicate. The tested
position's design acceptance ``a_j = Σ_k min(P_c(k), Q_c(k))`` lies in
[0.3, 0.8], so its residual is drawn in a share 1 − a_j ≥ 0.2 of the
replicates and the bonus — after the last drafted position — in a share
a_j ≥ 0.3. The tested position's target and the bonus row have the case's
mass shape; hubs, the top ids (V − 64…V − 1) and the ids of the biggest group
carry mass where the layout has them.

**The array** (:func:`covering_array`) is greedy (AETG-style): it starts from
the four engine families' points (:data:`FAMILY_POINTS`), then adds the row
that covers the most uncovered pairs among random candidates, until every
allowed pair of values is covered. Randomness comes from the master seed, so
each seed gets a different array, and every array covers every pair by
construction (the loop ends only then). :func:`measured` reads a built case's
values back off its tensors, and ``tests/statistical/test_coverage.py``
proves over many master seeds that the built cases cover every pair.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Mapping
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
import torch

from pcg_core import Groups
from pcg_core.errors import DesignError
from pcg_core.validation import check_bool, check_choice, check_int
from pcg_verify.cases._case import Case
from pcg_verify.cases._families import (
    ACCEPTANCE_RANGE,
    LLASA_SPEECH_OFFSET,
    LLASA_SPEECH_TOKENS,
    _groups,
    _pair,
    _softmax,
    _Sparse,
    _TokenSide,
    _windows,
    design_acceptance,
)

__all__ = [
    "DIMENSIONS",
    "FAMILY_POINTS",
    "Point",
    "allowed",
    "covered_pairs",
    "covering_array",
    "designed_case",
    "expected_observations",
    "measured",
    "required_pairs",
]

I64 = npt.NDArray[np.int64]
#: One row of the covering array: a value for every dimension.
Point = Mapping[str, str]

DIMENSIONS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "layout": ("small", "unaligned", "codec", "llasa"),
    "gamma": ("1", "2", "8", "9", "16"),
    "calls": ("one_row", "few_rows", "stacked", "decode_loop"),
    "dtype": ("float64", "float32", "float16", "bfloat16"),
    "mass": ("concentrated", "spread", "near_one_hot", "light_draft"),
    "weights": ("equal", "stored"),
    "groups": ("windows", "clusters", "hubs"),
    "memory": ("contiguous", "strided"),
    "tested": ("first", "last"),
})

#: The four engine families of earlier releases, as points of the design (the array starts from them).
FAMILY_POINTS: tuple[Point, ...] = (
    {"layout": "llasa", "gamma": "2", "calls": "stacked", "dtype": "bfloat16", "mass": "concentrated",
     "weights": "equal", "groups": "windows", "memory": "contiguous", "tested": "last"},
    {"layout": "codec", "gamma": "2", "calls": "stacked", "dtype": "float32", "mass": "spread",
     "weights": "equal", "groups": "hubs", "memory": "contiguous", "tested": "first"},
    {"layout": "unaligned", "gamma": "8", "calls": "few_rows", "dtype": "float32", "mass": "concentrated",
     "weights": "equal", "groups": "windows", "memory": "strided", "tested": "last"},
    {"layout": "small", "gamma": "9", "calls": "one_row", "dtype": "float16", "mass": "concentrated",
     "weights": "stored", "groups": "windows", "memory": "strided", "tested": "first"},
)

#: Rows per call, batch and decode loop of each ``calls`` value.
_CALLS: Mapping[str, tuple[int, tuple[int, ...], bool]] = MappingProxyType({
    "one_row": (1, (1,), False),
    "few_rows": (2, (2, 4, 6), False),
    "stacked": (1, (), False),
    "decode_loop": (1, (3, 1, 4, 2), True),
})
_DTYPES = MappingProxyType({"float64": torch.float64, "float32": torch.float32, "float16": torch.float16,
                            "bfloat16": torch.bfloat16})
#: The least vocabulary each mass shape needs (a thin tail; a light draft tail below 1e-6 per id).
_MIN_LAYOUT = MappingProxyType({"spread": ("unaligned", "codec", "llasa"), "light_draft": ("llasa",)})
#: The light draft tail: this much of the tested draft row, in equal parts below 1e-6 per id.
LIGHT_MASS = 0.1
#: Random candidate rows the greedy array compares at each step.
_CANDIDATES = 24
#: Random streams :func:`covering_array` tries before it gives up on a size (one almost always suffices).
_ATTEMPTS = 64
#: Nominal vocabulary size of each layout, for the cost model of :func:`row_cost`.
_NOMINAL_VOCAB = MappingProxyType({"small": 40, "unaligned": 6145, "codec": 65_536,
                                   "llasa": LLASA_SPEECH_OFFSET + LLASA_SPEECH_TOKENS})


def row_cost(point: Point) -> float:
    """A designed case's cost in seconds on one core, modelled: a fixed 0.3 s (laws, determinism calls) plus
    100 replicates of B rows of (2γ + 1)·V probability entries at 1e8 entries/s (the floor of replicates a
    paper-scale case gets; smaller cases cost little either way)."""
    batch = _CALLS[point["calls"]][0]
    return 0.3 + 100 * batch * (2 * int(point["gamma"]) + 1) * _NOMINAL_VOCAB[point["layout"]] / 1e8


# ---------------------------------------------------------------------------- the covering array
def allowed(dim_a: str, value_a: str, dim_b: str, value_b: str) -> bool:
    """Whether values ``value_a`` of ``dim_a`` and ``value_b`` of ``dim_b`` may meet in one case."""
    pair = {dim_a: value_a, dim_b: value_b}
    if pair.get("gamma") == "1" and pair.get("tested") == "last":  # at γ = 1 the first position is the last
        return False
    if pair.get("weights") == "stored" and pair.get("groups") == "clusters":  # a partition normalises them to 1
        return False
    if "mass" in pair and "layout" in pair and pair["mass"] in _MIN_LAYOUT:
        return pair["layout"] in _MIN_LAYOUT[pair["mass"]]
    return True


def required_pairs() -> set[tuple[str, str, str, str]]:
    """Every allowed pair of values of two dimensions, as (dim_a, value_a, dim_b, value_b), dim_a before dim_b."""
    names = list(DIMENSIONS)
    return {(a, va, b, vb) for a, b in itertools.combinations(names, 2)
            for va in DIMENSIONS[a] for vb in DIMENSIONS[b] if allowed(a, va, b, vb)}


def _pairs_of(point: Point) -> set[tuple[str, str, str, str]]:
    names = list(DIMENSIONS)
    return {(a, point[a], b, point[b]) for a, b in itertools.combinations(names, 2)}


def _fits(point: Mapping[str, str], dim: str, value: str) -> bool:
    return all(allowed(dim, value, other, v) for other, v in point.items())


def _candidate(rng: np.random.Generator, uncovered: set[tuple[str, str, str, str]]) -> dict[str, str]:
    """One greedy row: seeded by a random uncovered pair, then each remaining dimension (in random order) takes
    the value that covers the most uncovered pairs with the values already chosen (ties broken at random)."""
    names = list(DIMENSIONS)
    a, va, b, vb = sorted(uncovered)[int(rng.integers(len(uncovered)))]
    point = {a: va, b: vb}
    for dim in rng.permutation([n for n in names if n not in point]).tolist():
        best: list[str] = []
        best_gain = -1
        for value in DIMENSIONS[dim]:
            if not _fits(point, dim, value):
                continue
            gain = sum(1 for other, v in point.items()
                       if ((dim, value, other, v) if names.index(dim) < names.index(other)
                           else (other, v, dim, value)) in uncovered)
            if gain > best_gain:
                best, best_gain = [value], gain
            elif gain == best_gain:
                best.append(value)
        point[dim] = best[int(rng.integers(len(best)))]
    return {n: point[n] for n in names}


@functools.lru_cache(maxsize=64)
def covering_array(seed: int, size: int | None = None) -> tuple[Point, ...]:
    """Rows covering every pair of :func:`required_pairs`, :data:`FAMILY_POINTS` first (deterministic in ``seed``).

    Each added row covers at least the uncovered pair it starts from, so a cover ends after at most
    ``len(required_pairs())`` rows; in practice 25…32 (the two largest dimensions alone need 5 · 4 = 20).
    With ``size``, a first cover longer than ``size`` is drawn again from the next random stream (a rare
    event: ``tests/statistical/test_coverage.py``), then a second cover pads it to exactly ``size`` rows
    (more pairs met twice).
    """
    seed = check_int("seed", seed, minimum=0)
    if size is None:
        return _cover(seed, 0, None)
    size = check_int("size", size, minimum=len(FAMILY_POINTS))
    for attempt in range(_ATTEMPTS):
        rows = _cover(seed, attempt, size)
        if rows:
            return rows
    raise DesignError("size", size, f"no covering array of master seed {seed} fits in {size} rows after "
                      f"{_ATTEMPTS} attempts", "raise Budget.designed")


def _cover(seed: int, attempt: int, size: int | None) -> tuple[Point, ...]:
    """One greedy cover from stream ``attempt`` of ``seed``, padded to ``size`` rows; () if it needs more."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0xC0DE, attempt)))
    uncovered = required_pairs()
    rows: list[Point] = [dict(point) for point in FAMILY_POINTS]
    for point in rows:
        uncovered -= _pairs_of(point)
    first_cover = True
    while (uncovered and first_cover) or (size is not None and len(rows) < size):
        if not uncovered:  # the first cover is complete: pad with a second one
            uncovered, first_cover = required_pairs(), False
        if size is not None and len(rows) == size:
            return ()
        # the candidate that covers the most uncovered pairs per modelled second (paper-scale cases are dear)
        best = max((_candidate(rng, uncovered) for _ in range(_CANDIDATES)),
                   key=lambda p: len(_pairs_of(p) & uncovered) / row_cost(p))
        rows.append(best)
        uncovered -= _pairs_of(best)
    return tuple(MappingProxyType(dict(r)) for r in rows)


# ---------------------------------------------------------------------------- groups of each layout and shape
def _shaped(rng: np.random.Generator, ids: I64, shape: str) -> tuple[list[I64], dict[str, I64]]:
    """Groups over ``ids`` of ``shape``: (member arrays, pools of ids that carry mass)."""
    order = rng.permutation(ids)
    n = order.size
    if shape == "clusters":  # a partition: one big group (≥ 4,096 ids where n allows), then ~log-normal sizes
        first = min(n // 2, 4096 + int(rng.integers(0, 4097))) if n >= 8192 else max(1, n // 3)
        sizes = [first]
        while sum(sizes) < n:
            sizes.append(int(np.clip(rng.lognormal(np.log(min(120.0, n / 6 + 1)), 0.5), 2, 1024)))
        sizes[-1] -= sum(sizes) - n
        cuts = np.cumsum([0] + [s for s in sizes if s > 0])
        sets = [np.sort(order[lo:hi]) for lo, hi in itertools.pairwise(cuts)]
        pools = {"big": rng.choice(sets[0], min(16, sets[0].size), replace=False)}
    else:  # windows of step…2·step ids every step-th id of a random order: each id in one or two
        step = 2 if n <= 64 else 4 if n <= 2**17 else 8
        sizes_w = rng.integers(step, 2 * step + 1, -(-n // step)).astype(np.int64)
        members = _windows(order, sizes_w, step)
        sets = [np.sort(np.unique(w)) for w in np.split(members, np.cumsum(sizes_w)[:-1])]
        pools = {}
    if shape == "hubs":
        hubs = rng.choice(ids, 3, replace=False).astype(np.int64)
        for hub in hubs:  # each hub joins 256…400 groups (new small groups where there are too few)
            count = int(rng.integers(256, 401))
            while len(sets) < count + 1:
                sets.append(np.sort(rng.choice(ids, min(3, n), replace=False)))
            for k in rng.choice(len(sets), count, replace=False):
                if not np.isin(hub, sets[k]):
                    sets[k] = np.sort(np.append(sets[k], hub))
        pools["hub"] = hubs
    return sets, pools


def _layout_groups(rng: np.random.Generator, layout: str, shape: str,
                   weights: str) -> tuple[Groups, dict[str, I64]]:
    """The case's groups and the pools of ids that carry mass (hubs, the top ids, the biggest group, random)."""
    if layout == "llasa":
        text, vocab = LLASA_SPEECH_OFFSET, LLASA_SPEECH_OFFSET + LLASA_SPEECH_TOKENS
        speech, pools = _shaped(rng, np.arange(text, vocab, dtype=np.int64), shape)
        sets = speech
        singles = np.arange(text, dtype=np.int64)
        pools["text"] = rng.choice(text, 12, replace=False)
    else:
        vocab = {"small": int(rng.integers(16, 65)), "unaligned": int(rng.choice([4097, 8193])),
                 "codec": 65_536}[layout]
        sets, pools = _shaped(rng, np.arange(vocab, dtype=np.int64), shape)
        singles = np.zeros(0, dtype=np.int64)
        if layout == "unaligned":  # the partial last tile as one group of its own
            tile = 1 << (vocab - 1).bit_length() - 1
            sets.append(np.arange(tile, vocab, dtype=np.int64))
    top = np.arange(max(0, vocab - 64), vocab, dtype=np.int64)
    pools["top"] = top if vocab > 64 else rng.choice(vocab, min(8, vocab), replace=False)
    pools["random"] = rng.choice(vocab, min(24, vocab), replace=False)
    pools["must"] = np.array([vocab - 1], dtype=np.int64)
    nnz = singles.size + sum(s.size for s in sets)
    stored = np.exp(1.5 * rng.standard_normal(nnz)) if weights == "stored" else None
    if singles.size:
        ptr = np.concatenate([[0], np.arange(1, singles.size + 1),
                              singles.size + np.cumsum([s.size for s in sets])])
        groups = Groups.from_memberships(vocab, ptr, np.concatenate([singles, *sets]), stored)
    else:
        groups = _groups(vocab, sets, stored)
    return groups, pools


# ---------------------------------------------------------------------------- rows
def _one_group_ids(groups: Groups, exclude: I64) -> I64:
    """Ids in exactly one group, outside ``exclude``: the thin tail of a spread row."""
    alone = np.flatnonzero(groups.groups_per_token().numpy() == 1)
    return np.setdiff1d(alone, exclude)


def _near_one_hot(support: I64, dtype: torch.dtype, rng: np.random.Generator) -> _Sparse:
    """softmax in ``dtype`` with one logit 8 above the others (the top id holds ~1 − 1e-3 for |support| ≤ 8)."""
    logits = 0.3 * rng.standard_normal(support.size)
    logits[int(rng.integers(support.size))] += 8.0
    return _Sparse(support, torch.softmax(torch.from_numpy(logits).to(dtype), dim=-1))


def _tested_pair(rng: np.random.Generator, groups: Groups, side: _TokenSide, candidates: I64, must: I64,
                 dtype: torch.dtype, mass: str, tail: I64) -> tuple[_Sparse, _Sparse]:
    """(draft, target) of the tested position: design acceptance in [0.3, 0.8], the target in ``mass``'s shape."""
    size = int(min(8, max(4, candidates.size // 3)))
    if mass == "spread":  # softmax over the tail in float64, rounded to the dtype once (see _rounded)
        for _ in range(16):
            pair = _pair(rng, groups, side, candidates, must, size, torch.float64, tail)
            draft, target = _rounded(pair[0], dtype), _rounded(pair[1], dtype)
            if ACCEPTANCE_RANGE[0] <= side.acceptance(draft, target) <= ACCEPTANCE_RANGE[1]:
                return draft, target
        raise AssertionError("no spread pair with its design acceptance in range after rounding")
    if mass == "light_draft":  # the draft spreads LIGHT_MASS over the tail below 1e-6 per id; q equal there
        draft, target = _pair(rng, groups, side, candidates, must, size, dtype)
        return _with_light_tail(draft, tail, dtype), _with_light_tail(target, tail, dtype)
    if mass == "near_one_hot":
        for _ in range(64):  # the target near one-hot on a candidate; the draft shares it partly
            support = np.unique(np.concatenate([must, rng.choice(candidates, 3, replace=False)]))
            target = _near_one_hot(support, dtype, rng)
            heavy = support[int(target.values.double().argmax())]
            others = rng.choice(np.setdiff1d(candidates, [heavy]), 3, replace=False)
            draft_support = np.unique(np.concatenate([[heavy], others]))
            logits = rng.standard_normal(draft_support.size)
            logits[draft_support == heavy] += rng.uniform(0.0, 2.5)
            draft = _Sparse(draft_support, torch.softmax(torch.from_numpy(logits).to(dtype), dim=-1))
            if ACCEPTANCE_RANGE[0] <= side.acceptance(draft, target) <= ACCEPTANCE_RANGE[1]:
                return draft, target
        raise AssertionError("no near-one-hot pair with its design acceptance in range")
    return _pair(rng, groups, side, candidates, must, size, dtype)


def _rounded(row: _Sparse, dtype: torch.dtype) -> _Sparse:
    """``row`` rounded to ``dtype``: a float32 softmax over ~10^5 ids can drift from 1 by more than float32's
    row-sum tolerance (1e-4), so spread rows are computed in float64 and rounded, as engines that take the
    softmax of upcast logits do; each value keeps its dtype's rounding (what a low-precision sum loses)."""
    return _Sparse(row.support, row.values.to(dtype))


def _with_light_tail(row: _Sparse, tail: I64, dtype: torch.dtype) -> _Sparse:
    """``row`` scaled by 1 − LIGHT_MASS plus LIGHT_MASS in equal parts over ``tail`` (each below 1e-6 when
    |tail| > LIGHT_MASS · 1e6), computed in float64 and rounded to ``dtype`` once, as a softmax would."""
    values = np.concatenate([(1 - LIGHT_MASS) * row.values.double().numpy(),
                             np.full(tail.size, LIGHT_MASS / tail.size)])
    support = np.concatenate([row.support, tail])
    order = np.argsort(support, kind="stable")
    return _Sparse(support[order], torch.from_numpy(values[order]).to(dtype))


def _bonus(rng: np.random.Generator, candidates: I64, must: I64, dtype: torch.dtype, mass: str, tail: I64) -> _Sparse:
    """The bonus row q_{γ+1} in ``mass``'s shape (a spread row holds THIN_MASS on its tail, the rest on ~4 ids)."""
    support = np.unique(np.concatenate([must, rng.choice(candidates, 3 if mass == "spread" else 6, replace=False)]))
    if mass == "near_one_hot":
        return _near_one_hot(support, dtype, rng)
    if mass == "spread":
        return _rounded(_softmax(support, 0.3 * rng.standard_normal(support.size), torch.float64, tail), dtype)
    return _softmax(support, 1.5 * rng.standard_normal(support.size), dtype)


def designed_case(design: Point, seed: int, *, singleton_only: bool = False) -> Case:
    """The case of the point ``design`` (a value per dimension of :data:`DIMENSIONS`), deterministic in
    (design, seed); ``case.params()`` gives these arguments back.

    With ``singleton_only`` the groups are singletons over the same vocabulary (a plain speculative
    sampler is gated on the same scale, dtypes, masses and calls).

    Examples
    --------
    >>> point = dict(layout="small", gamma="2", calls="one_row", dtype="float32", mass="concentrated",
    ...              weights="equal", groups="windows", memory="contiguous", tested="last")
    >>> case = designed_case(point, 5)
    >>> case.gamma, case.batch, case.call_rows, case.family
    (2, 1, (1,), 'designed')
    """
    point = {dim: check_choice(dim, design.get(dim), values) for dim, values in DIMENSIONS.items()}
    seed = check_int("seed", seed, minimum=0)
    if not all(allowed(a, point[a], b, point[b]) for a, b in itertools.combinations(DIMENSIONS, 2)):
        raise ValueError(f"point {point} breaks a constraint of the design (see pcg_verify.cases._design)")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0xDE5, *map(len, point.values()))))
    groups, pools = _layout_groups(rng, point["layout"], point["groups"], point["weights"])
    if check_bool("singleton_only", singleton_only):
        vocab = groups.vocab_size
        groups = Groups.from_memberships(vocab, np.arange(vocab + 1), np.arange(vocab))
    gamma, dtype, mass = int(point["gamma"]), _DTYPES[point["dtype"]], point["mass"]
    batch, call_rows, decode_loop = _CALLS[point["calls"]]
    tested = 0 if point["tested"] == "first" else gamma - 1
    must = pools.pop("must")
    candidates = np.unique(np.concatenate([must, *pools.values()]))
    tail = _one_group_ids(groups, candidates) if mass in ("spread", "light_draft") else np.zeros(0, np.int64)
    side, vocab = _TokenSide(groups), groups.vocab_size
    draft = torch.zeros((batch, gamma, vocab), dtype=dtype)
    target = torch.zeros((batch, gamma + 1, vocab), dtype=dtype)
    for b in range(batch):
        for i in range(gamma):
            if i == tested:
                pair = _tested_pair(rng, groups, side, candidates, must, dtype, mass, tail)
                draft[b, i], target[b, i] = pair[0].dense(vocab), pair[1].dense(vocab)
            else:  # p = q: accepted with probability 1, so the tested position and the bonus are reached
                support = np.unique(np.concatenate([must, rng.choice(candidates, 4, replace=False)]))
                row = _softmax(support, 1.5 * rng.standard_normal(support.size), dtype).dense(vocab)
                draft[b, i], target[b, i] = row, row
        target[b, gamma] = _bonus(rng, candidates, must, dtype, mass, tail).dense(vocab)
    values = ", ".join(f"{k}={v}" for k, v in point.items())
    description = (f"designed: {values}; V={vocab}, M={groups.num_groups}, nnz={groups.nnz} "
                   f"({str(groups.group_members.dtype).removeprefix('torch.')}), B={batch}, γ={gamma}, "
                   f"tested position {tested}, rows per call {call_rows or 'stacked'}")
    return Case(draft_probs=draft, target_probs=target, groups=groups.validate(), gamma=gamma, batch=batch,
                seed=seed, description=description, family="designed", contiguous=point["memory"] == "contiguous",
                call_rows=call_rows, decode_loop=decode_loop, design=tuple(point.items()))


# ---------------------------------------------------------------------------- reading a case back
def tested_position(case: Case) -> int:
    """The drafted position where p ≠ q in some row (everywhere else p = q: accepted with probability 1)."""
    differs = (case.draft_probs != case.target_probs[:, :-1]).any(-1).any(0)  # [γ]
    return int(torch.nonzero(differs)[0])


def measured(case: Case) -> dict[str, str]:
    """The dimension values a built case has, read off its tensors and call settings (not its recipe).

    ``tested`` is the drafted position where p ≠ q (everywhere else p = q: accepted with probability 1).
    """
    vocab, groups = case.vocab_size, case.groups
    layout = ("llasa" if vocab == LLASA_SPEECH_OFFSET + LLASA_SPEECH_TOKENS and groups.num_groups > 65_535
              else "codec" if vocab == 65_536 else "unaligned" if vocab in (4097, 8193) else "small")
    if case.decode_loop:
        calls = "decode_loop"
    else:
        calls = {(1,): "one_row", (): "stacked"}.get(case.call_rows, "few_rows")
    tested_at = tested_position(case)
    j = tested_at
    target, draft = case.target_probs[:, j].double(), case.draft_probs[:, j].double()
    tiny_draft = ((draft > 0) & (draft < 1e-6)).sum(-1).min()
    thin = ((case.target_probs[:, -1] > 0) & (case.target_probs[:, -1].double() < 1e-3)).sum(-1).min()
    if int(tiny_draft) >= 65_536:
        mass = "light_draft"
    elif int(thin) >= 1_000:
        mass = "spread"
    elif float(target.max(-1).values.min()) > 0.99:
        mass = "near_one_hot"
    else:
        mass = "concentrated"
    weights = groups.group_weights.double()
    equal = bool(torch.allclose(weights, 1 / groups.groups_per_token().double()[groups.group_members.long()]))
    if groups.max_groups_per_token >= 256:
        shape = "hubs"
    elif groups.max_group_size >= min(4096, vocab // 3 if layout != "llasa" else 4096):
        shape = "clusters"
    else:
        shape = "windows"
    return {"layout": layout, "gamma": str(case.gamma), "calls": calls,
            "dtype": str(case.target_probs.dtype).removeprefix("torch."), "mass": mass,
            "weights": "equal" if equal else "stored", "groups": shape,
            "memory": "contiguous" if case.contiguous else "strided",
            "tested": "first" if tested_at == 0 else "last" if tested_at == case.gamma - 1 else str(tested_at)}


def expected_observations(case: Case, samples_per_row: int) -> tuple[float, float]:
    """(fewest, over the case rows, expected draws of the tested position's residual; of the bonus) at
    ``samples_per_row`` replicates: n·(1 − a_j) and n·Π_i a_i, with a_i the design acceptance of position i
    (1 up to the dtype's rounding where p = q)."""
    acceptance = design_acceptance(case.groups, case.draft_probs, case.target_probs[:, :-1])  # [B, γ]
    tested = tested_position(case)
    residual = samples_per_row * (1 - acceptance[:, tested])
    bonus = samples_per_row * np.minimum(acceptance, 1.0).prod(axis=1)
    return float(residual.min()), float(bonus.min())


def covered_pairs(points: Iterable[Point]) -> set[tuple[str, str, str, str]]:
    """The pairs of values that ``points`` cover."""
    return set().union(*(_pairs_of(p) for p in points))
