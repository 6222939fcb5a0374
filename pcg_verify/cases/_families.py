"""Case families shaped like real engines' inputs, covering every dimension on every seed.

Math follows the paper: q is the target, p the draft; code says
``target_probs`` and ``draft_probs``.

The gate's drawn cases (:func:`pcg_verify.cases.draw_case`) are small and
float64. A **family** is a fixed recipe whose every case, whatever its seed,
has the properties in :data:`FAMILIES` (the seed only moves ids, masses and
memberships):

``llasa``
    The Llasa layout: V = 193,800 ids, text ids 0…128,263 singleton groups,
    speech id k at 128,264 + k (65,536 speech tokens) in neighbourhood
    groups of 4…8 (each speech id in one or two); M = 144,648 > 65,535
    groups, so 32-bit (int32) indices; bfloat16 softmax rows; γ = 2; stacked calls of as many
    rows as fit (about 16).
``codec``
    A codec vocabulary: V = 65,536 ids (the top id 65,535 = 0xFFFF always has
    mass); big groups (about 150 tokens on average, one of 4,096…8,192); hub
    tokens in 256…400 groups each; 16-bit indices at their limit; float32
    rows; γ = 3; stacked calls. Its position-0 and bonus target rows spread
    :data:`THIN_MASS` of their mass thinly over every id that belongs to one
    group only (≥ 16,384 ids, each below 2e-5: a half-precision accumulator
    stalls on them once its running sum passes 1/32).
``unaligned``
    A tile-unaligned vocabulary (4,097 or 8,193 ids, by the seed's parity) in
    overlapping windows of 8…16 ids; its last id, alone in the partial last
    tile (and a group of its own),
    always has mass; γ = 8; two case rows; float32 rows handed as
    non-contiguous views (first two dimensions transposed); calls of 2, 4
    and 6 rows.
``single_row``
    A small vocabulary (16…64 ids) with overlapping, log-normally weighted
    groups (each id in one to three); γ = 6; float16 rows as non-contiguous views; every call
    holds **one** row (B = 1, the single-utterance setting).

Every family case **rejects**: at every drafted position its design
acceptance ``a_i = 1 − TV(P_c, Q_c)`` lies in [0.3, 0.8], so the residual
runs. Every large case stays cheap: ``Groups`` come from
:meth:`pcg_core.Groups.from_memberships` in O(nnz), and p and q put all their
mass on a few ids (a few to a few hundred groups; the codec family's thin
spread adds hundreds of small labels and tokens that the tests pool); every other token has
probability exactly 0, so a few thousand samples test the coarse laws and an
emitted token or label of probability 0 is a structural failure at any size.

Rows are made as engines make them: ``softmax`` of logits **in the family's
dtype** (−inf outside the support), never renormalised in float64. The exact
laws are computed from those rows upcast to float64, with the dtype's row-sum
tolerance (:data:`pcg_core.SUM_TOLERANCE`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from pcg_core import Groups
from pcg_core.validation import check_bool, check_choice, check_int
from pcg_verify.cases._case import Case

__all__ = [
    "ACCEPTANCE_RANGE",
    "DIMENSIONS",
    "FAMILIES",
    "LLASA_SPEECH_OFFSET",
    "LLASA_SPEECH_TOKENS",
    "THIN_MASS",
    "Family",
    "coverage",
    "design_acceptance",
    "family_case",
    "family_params",
    "label_cells",
    "present",
]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

#: Llasa: speech token k has id 128,264 + k, for 65,536 speech tokens (V = 193,800).
LLASA_SPEECH_OFFSET = 128_264
LLASA_SPEECH_TOKENS = 65_536
#: Every family case's design acceptance at every drafted position lies in this range.
ACCEPTANCE_RANGE = (0.3, 0.8)
#: The codec family's thin spread: this much of a target row's mass, in equal parts over ≥ 16,384 ids.
THIN_MASS = 0.3


@dataclass(frozen=True)
class Family:
    """One family: fixed dimensions, the seed moves only ids, masses and memberships.

    ``call_rows`` is the cycle of rows per port call (each a multiple of
    ``batch``); empty means the gate's default stacking (as many rows as fit).
    """

    name: str
    summary: str
    gamma: int
    batch: int
    dtype: torch.dtype
    contiguous: bool
    call_rows: tuple[int, ...]


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("llasa", "Llasa layout V=193,800 (text singletons, speech at 128,264+k), M>65,535, int32",
           gamma=2, batch=1, dtype=torch.bfloat16, contiguous=True, call_rows=()),
    Family("codec", "codec V=65,536, big groups (~140, one ≥4,096), hubs in ≥256 groups, uint16",
           gamma=3, batch=1, dtype=torch.float32, contiguous=True, call_rows=()),
    Family("unaligned", "tile-unaligned V=4,097/8,193 with mass on the last id, γ=8",
           gamma=8, batch=2, dtype=torch.float32, contiguous=False, call_rows=(2, 4, 6)),
    Family("single_row", "small V, overlapping uneven groups, one row per call",
           gamma=6, batch=1, dtype=torch.float16, contiguous=False, call_rows=(1,)),
)}


# ---------------------------------------------------------------------------- groups in O(nnz)
def _groups(vocab: int, sets: list[I64], weights: F64 | None = None) -> Groups:
    """``Groups.from_memberships`` from a list of member arrays (each non-empty, distinct ids)."""
    sizes = np.array([s.size for s in sets], dtype=np.int64)
    ptr = np.concatenate([[0], np.cumsum(sizes)])
    return Groups.from_memberships(vocab, ptr, np.concatenate(sets), weights)


def _windows(order: I64, sizes: I64, step: int) -> I64:
    """Members of window j = order[j·step], …, order[j·step + sizes[j] − 1] (cyclic), one per size.

    With ``step ≤ sizes ≤ 2·step`` every id of ``order`` lies in one or two windows.
    """
    start = np.repeat(np.arange(sizes.size) * step, sizes)
    offset = np.arange(start.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    members: I64 = order[(start + offset) % order.size]
    return members


def _llasa_groups(rng: np.random.Generator) -> tuple[Groups, dict[str, I64]]:
    """Text singletons, then speech neighbourhoods: windows of 4…8 ids every 4th id of a random order."""
    text, speech = LLASA_SPEECH_OFFSET, LLASA_SPEECH_TOKENS
    order = text + rng.permutation(speech).astype(np.int64)
    sizes = rng.integers(4, 9, speech // 4).astype(np.int64)
    members = np.concatenate([np.arange(text, dtype=np.int64), _windows(order, sizes, 4)])
    ptr = np.concatenate([[0], np.arange(1, text + 1), text + np.cumsum(sizes)])
    groups = Groups.from_memberships(text + speech, ptr, members)
    pool = {"speech": rng.choice(order, 48, replace=False), "text": rng.choice(text, 12, replace=False),
            "must": np.array([text + speech - 1], dtype=np.int64)}
    return groups, pool


def _codec_groups(rng: np.random.Generator) -> tuple[Groups, dict[str, I64]]:
    """Clusters (a random order cut into sizes of mean ~140, one of 4,096), overlapping extra groups, hubs."""
    vocab = 65_536
    order = rng.permutation(vocab).astype(np.int64)
    sizes = [4096 + int(rng.integers(0, 4097))]
    while sum(sizes) < vocab:
        sizes.append(int(np.clip(rng.lognormal(np.log(120.0), 0.5), 8, 1024)))
    sizes[-1] -= sum(sizes) - vocab
    cuts = np.cumsum([0] + [s for s in sizes if s > 0])
    sets = [np.sort(order[a:b]) for a, b in itertools.pairwise(cuts)]
    giant = sets[0]
    sets += [np.sort(rng.choice(vocab, int(rng.integers(60, 260)), replace=False)) for _ in range(120)]
    hubs = rng.choice(vocab - 256, 3, replace=False).astype(np.int64)
    for hub in hubs:  # each hub joins 256…400 groups it is not yet in
        for k in rng.choice(len(sets), int(rng.integers(256, 401)), replace=False):
            if not np.isin(hub, sets[k]):
                sets[k] = np.sort(np.append(sets[k], hub))
    top = np.arange(vocab - 64, vocab, dtype=np.int64)
    groups = _groups(vocab, sets)
    alone = np.flatnonzero(groups.groups_per_token().numpy() == 1)  # ids in one group: ~3/4 of the vocabulary
    pool = {"top": top, "hub": hubs, "giant": rng.choice(np.intersect1d(giant, alone), 16, replace=False),
            "must": np.array([vocab - 1], dtype=np.int64), "thin": np.setdiff1d(alone, top)}
    return groups, pool


def _unaligned_groups(rng: np.random.Generator, vocab: int) -> tuple[Groups, dict[str, I64]]:
    """Windows of 8…16 ids every 8th id of a random order, plus the partial last tile as one group."""
    order = rng.permutation(vocab).astype(np.int64)
    sizes = rng.integers(8, 17, -(-vocab // 8)).astype(np.int64)
    tile = 1 << (vocab - 1).bit_length() - 1  # the aligned part; ids ≥ tile form the partial last tile
    sets = [np.sort(np.unique(w)) for w in np.split(_windows(order, sizes, 8), np.cumsum(sizes)[:-1])]
    sets.append(np.arange(tile, vocab, dtype=np.int64))
    pool = {"tail": np.arange(vocab - 48, vocab, dtype=np.int64), "random": rng.choice(vocab, 24, replace=False),
            "must": np.array([vocab - 1], dtype=np.int64)}
    return _groups(vocab, sets), pool


def _single_row_groups(rng: np.random.Generator) -> tuple[Groups, dict[str, I64]]:
    """Overlapping random sets (each token in 1…3 of them) with log-normal weights."""
    vocab = int(rng.integers(16, 65))
    num = max(3, vocab // 6)
    sets: list[list[int]] = [[] for _ in range(num)]
    for token in range(vocab):
        for k in rng.choice(num, int(rng.integers(1, 4)), replace=False):
            sets[int(k)].append(token)
    arrays = [np.array(s, dtype=np.int64) for s in sets if s]
    weights = np.exp(1.5 * rng.standard_normal(sum(a.size for a in arrays)))
    return _groups(vocab, arrays, weights), {"all": np.arange(vocab, dtype=np.int64)}


@dataclass(frozen=True)
class _Sparse:
    """A probability row [V] kept as its support and its values in the family's dtype."""

    support: I64
    values: torch.Tensor  # [|support|], dtype of the family

    def dense(self, vocab: int) -> torch.Tensor:
        out = torch.zeros(vocab, dtype=self.values.dtype)
        out[torch.from_numpy(self.support)] = self.values
        return out


def _softmax(support: I64, logits: F64, dtype: torch.dtype, thin: I64 | None = None) -> _Sparse:
    """softmax in ``dtype`` of logits that are −inf outside ``support`` (as an engine computes it).

    With ``thin`` (ids outside ``support``), those ids get one common logit
    chosen so that they hold :data:`THIN_MASS` of the row in exact arithmetic:
    log(THIN_MASS / (1 − THIN_MASS) · Σ exp(logits)) − log |thin|.
    Computed over the support alone (exp(−inf) = 0 adds nothing): O(|support| + |thin|).
    """
    if thin is not None and thin.size:
        thin = np.setdiff1d(thin, support)
        level = np.log(THIN_MASS / (1 - THIN_MASS)) + np.logaddexp.reduce(logits) - np.log(thin.size)
        order = np.argsort(np.concatenate([support, thin]), kind="stable")
        support = np.concatenate([support, thin])[order]
        logits = np.concatenate([logits, np.full(thin.size, level)])[order]
    return _Sparse(support, torch.softmax(torch.from_numpy(logits).to(dtype), dim=-1))


class _TokenSide:
    """The groups' reverse CSR as NumPy, to get coarse masses of a sparse vector in O(Σ_{t∈S} N(t))."""

    def __init__(self, groups: Groups) -> None:
        self.ptr = groups.token_ptr.numpy()
        self.groups = groups.token_groups.numpy().astype(np.int64)
        self.weights = groups.token_weights.numpy()

    def coarse(self, row: _Sparse) -> dict[int, float]:
        """{k: C(k)} for the groups with C(k) = Σ_t w[k, t] probs(t) > 0 (values upcast to float64)."""
        values = row.values.double().numpy()
        support = row.support[values > 0]
        values = values[values > 0]
        starts, stops = self.ptr[support], self.ptr[support + 1]
        lengths = stops - starts
        where = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        mass = np.repeat(values, lengths) * self.weights[where]
        keys, inverse = np.unique(self.groups[where], return_inverse=True)
        sums = np.bincount(inverse, weights=mass, minlength=keys.size)
        return dict(zip(keys.tolist(), sums.tolist(), strict=True))

    def acceptance(self, draft: _Sparse, target: _Sparse) -> float:
        """Σ_k min(P_c(k), Q_c(k)) for one position."""
        coarse_draft, coarse_target = self.coarse(draft), self.coarse(target)
        return float(sum(min(v, coarse_target.get(k, 0.0)) for k, v in coarse_draft.items()))


def _sparse(row: torch.Tensor) -> _Sparse:
    support = torch.nonzero(row).reshape(-1)
    return _Sparse(support.numpy().astype(np.int64), row[support])


def design_acceptance(groups: Groups, draft_probs: torch.Tensor, target_probs: torch.Tensor) -> F64:
    """a_i = Σ_k min(P_c^i(k), Q_c^i(k)) for every drafted row: draft [..., V], target [..., V] → [...]."""
    side = _TokenSide(groups)
    draft = draft_probs.reshape(-1, draft_probs.shape[-1])
    target = target_probs.reshape(-1, target_probs.shape[-1])
    out = np.array([side.acceptance(_sparse(d), _sparse(t)) for d, t in zip(draft, target, strict=True)])
    return out.reshape(tuple(draft_probs.shape[:-1]))


def _pair(rng: np.random.Generator, groups: Groups, side: _TokenSide, candidates: I64, must: I64, size: int,
          dtype: torch.dtype, thin: I64 | None = None) -> tuple[_Sparse, _Sparse]:
    """(draft, target) rows in ``dtype`` whose design acceptance lies in :data:`ACCEPTANCE_RANGE`.

    The target sits on ``size`` candidates (``must`` among them); the draft shares a fraction
    ``shared`` of them and takes the rest elsewhere. Less sharing lowers the acceptance; the loop
    moves ``shared`` until the acceptance is in range (a few rounds at most). ``thin``: the target's
    thin spread (:func:`_softmax`).
    """
    low, high = ACCEPTANCE_RANGE
    low = max(low, 0.55)  # aim high in the range, so that late positions are reached too
    shared, best = 0.9, None
    for _ in range(24):
        target_support = np.unique(np.concatenate([must, rng.choice(candidates, size, replace=False)]))
        keep = rng.choice(target_support, max(1, int(shared * target_support.size)), replace=False)
        others = np.setdiff1d(candidates, target_support)
        fresh = rng.choice(others, min(others.size, target_support.size - keep.size), replace=False)
        draft_support = np.unique(np.concatenate([keep, fresh]))
        target = _softmax(target_support, 1.5 * rng.standard_normal(target_support.size), dtype, thin)
        draft = _softmax(draft_support, 1.5 * rng.standard_normal(draft_support.size), dtype)
        acceptance = side.acceptance(draft, target)
        if low <= acceptance <= high:
            return draft, target
        if ACCEPTANCE_RANGE[0] <= acceptance <= high and (best is None or acceptance > best[0]):
            best = (acceptance, draft, target)
        shared = max(0.0, shared - 0.1) if acceptance > high else min(1.0, shared + 0.1)
    if best is None:  # never reached for the families here (tests/verify/test_families.py draws many seeds)
        raise AssertionError(f"no pair with design acceptance in {ACCEPTANCE_RANGE}")
    return best[1], best[2]


def present(tensor: torch.Tensor, contiguous: bool, replicates: int = 1) -> torch.Tensor:
    """How a family hands an input to the port: ``tensor`` ``[B, …]`` repeated ``replicates`` times along
    dimension 0 (row j is row j % B), as it is or in a non-contiguous but dense layout, which the gate's
    copies (``clone``) keep: the first two dimensions stored transposed (strides ``(V, R·V, 1)`` for
    ``[R, γ, V]``) or, for one row, the last two (strides ``(γV, 1, γ)``). A one-row ``[1, γ]`` tensor of
    draft tokens is contiguous in any dense layout. One copy, O(R·γ·V)."""
    shape = (replicates,) + (1,) * (tensor.dim() - 1)
    if contiguous or tensor.dim() < 2:
        return tensor.repeat(shape)
    if tensor.shape[0] * replicates == 1 and tensor.dim() == 3:
        return tensor.transpose(1, 2).contiguous().transpose(1, 2)
    swapped = tensor.transpose(0, 1)  # [γ, B, …]: repeating dimension 1 keeps row j = row j % B
    return swapped.repeat((1, replicates) + (1,) * (tensor.dim() - 2)).transpose(0, 1)


def family_case(name: str, seed: int, *, singleton_only: bool = False) -> Case:
    """Case ``seed`` of family ``name`` (see the module docstring); deterministic in (name, seed).

    With ``singleton_only`` the groups are singletons over the same vocabulary
    (a plain speculative sampler is gated on the same scale, dtype and calls).

    Examples
    --------
    >>> case = family_case("single_row", 3)
    >>> case.batch, case.gamma, case.call_rows, case.family
    (1, 6, (1,), 'single_row')
    """
    name = check_choice("family", name, tuple(FAMILIES))
    seed = check_int("seed", seed, minimum=0)
    singleton_only = check_bool("singleton_only", singleton_only)
    family = FAMILIES[name]
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0xFA, len(name))))
    built: tuple[Groups, dict[str, I64]]
    if name == "llasa":
        built = _llasa_groups(rng)
    elif name == "codec":
        built = _codec_groups(rng)
    elif name == "unaligned":
        built = _unaligned_groups(rng, 4097 if seed % 2 == 0 else 8193)
    else:
        built = _single_row_groups(rng)
    groups, pool = built
    if singleton_only:
        vocab = groups.vocab_size
        groups = Groups.from_memberships(vocab, np.arange(vocab + 1), np.arange(vocab))
    must = pool.pop("must", np.zeros(0, dtype=np.int64))
    thin = pool.pop("thin", None)  # the codec family's thin spread, at position 0 and the bonus
    candidates = np.unique(np.concatenate([must, *pool.values()]))
    size = int(min(8, max(4, candidates.size // 3)))  # few ids carry the mass: coarse laws of few cells
    vocab, gamma, batch, dtype = groups.vocab_size, family.gamma, family.batch, family.dtype
    side = _TokenSide(groups)
    draft = torch.empty((batch, gamma, vocab), dtype=dtype)
    target = torch.empty((batch, gamma + 1, vocab), dtype=dtype)
    for b in range(batch):
        for i in range(gamma):
            pair = _pair(rng, groups, side, candidates, must, size, dtype, thin if i == 0 else None)
            draft[b, i], target[b, i] = pair[0].dense(vocab), pair[1].dense(vocab)
        # the bonus row; with a thin spread, its other 70 % sits evenly on about four ids, so that no heavy
        # id is rare enough to be pooled with the thin tail (a sampler that loses the tail moves its mass there)
        support = np.unique(np.concatenate([must, rng.choice(candidates, size if thin is None else 3, replace=False)]))
        scale = 1.5 if thin is None else 0.3
        target[b, gamma] = _softmax(support, scale * rng.standard_normal(support.size), dtype, thin).dense(vocab)
    text = "singleton" if singleton_only else f"M={groups.num_groups}, nnz={groups.nnz}"
    description = (f"family {name}: V={vocab} ({text}, {groups.group_members.dtype}), {family.summary}; "
                   f"{str(dtype).removeprefix('torch.')} softmax rows, "
                   f"{'contiguous' if family.contiguous else 'non-contiguous'}, B={batch}, γ={gamma}, "
                   f"rows per call {family.call_rows or 'stacked'}")
    assert design_acceptance(groups, draft, target[:, :-1]).max() <= ACCEPTANCE_RANGE[1]
    return Case(draft_probs=draft, target_probs=target, groups=groups.validate(), gamma=gamma, batch=batch,
                seed=seed, description=description, family=name, contiguous=family.contiguous,
                call_rows=family.call_rows)


def label_cells(case: Case) -> int:
    """The most groups with Q_c(k) > 0 at position 0 over the case's rows: the label test's cells."""
    side = _TokenSide(case.groups)
    return max(len(side.coarse(_sparse(case.target_probs[b, 0]))) for b in range(case.batch))


#: The coverage dimensions every budget's cases have on every master seed (see :func:`coverage`).
DIMENSIONS: tuple[str, ...] = (
    "codec_vocabulary", "llasa_layout", "int32_indices", "over_65535_groups", "big_groups", "hubs",
    "tile_unaligned", "gamma_8", "one_row_calls", "few_row_calls", "float32", "float16", "bfloat16",
    "non_contiguous", "rejecting", "thin_spread",
)


def _has_mass(case: Case, token: int) -> bool:
    return bool((case.target_probs[..., token] > 0).any())


def coverage(cases: Sequence[Case]) -> dict[str, bool]:
    """Which of :data:`DIMENSIONS` the ``cases`` cover, read off the cases themselves (not their recipes).

    ``rejecting`` holds when every family case rejects: design acceptance ≤ 0.8 at every drafted position;
    ``thin_spread`` when some case's position-0 target rows each hold ≥ 16,384 ids of mass in (0, 2e-5).
    """
    def some(predicate: Callable[[Case], bool]) -> bool:
        return any(predicate(c) for c in cases)

    families = [c for c in cases if c.family]
    speech = LLASA_SPEECH_OFFSET

    def llasa(c: Case) -> bool:
        if c.vocab_size != speech + LLASA_SPEECH_TOKENS:
            return False
        sizes = c.groups.groups_per_token()[:speech]
        text_alone = bool((sizes == 1).all()) and bool((c.groups.sizes()[c.groups.token_groups[
            c.groups.token_ptr[:-1][:speech].long()].long()] == 1).all())
        return text_alone and bool((c.target_probs[..., speech:] > 0).any())

    def sizes(c: Case) -> torch.Tensor:
        return c.groups.sizes().double()

    return {
        "codec_vocabulary": some(lambda c: c.vocab_size == 65_536 and _has_mass(c, 65_535)),
        "llasa_layout": some(llasa),
        "int32_indices": some(lambda c: c.groups.group_members.dtype == torch.int32),
        "over_65535_groups": some(lambda c: c.groups.num_groups > 65_535),
        "big_groups": some(lambda c: float(sizes(c).mean()) >= 100 and c.groups.max_group_size >= 4096),
        "hubs": some(lambda c: c.groups.max_groups_per_token >= 256),
        "tile_unaligned": some(lambda c: c.vocab_size in (4097, 8193) and _has_mass(c, c.vocab_size - 1)),
        "gamma_8": some(lambda c: c.gamma >= 8),
        "one_row_calls": some(lambda c: c.call_rows == (1,)),
        "few_row_calls": some(lambda c: bool(c.call_rows) and all(2 <= r <= 7 for r in c.call_rows)),
        "float32": some(lambda c: c.target_probs.dtype == torch.float32),
        "float16": some(lambda c: c.target_probs.dtype == torch.float16),
        "bfloat16": some(lambda c: c.target_probs.dtype == torch.bfloat16),
        "non_contiguous": some(lambda c: not c.contiguous),
        "thin_spread": some(lambda c: bool(((c.target_probs[:, 0] > 0) & (c.target_probs[:, 0] < 2e-5)).sum(-1)
                                           .min() >= 16_384)),
        "rejecting": bool(families) and all(
            float(design_acceptance(c.groups, c.draft_probs, c.target_probs[:, :-1]).max()) <= ACCEPTANCE_RANGE[1]
            for c in families),
    }


def family_params(case: Case) -> dict[str, Any]:
    """The arguments of :func:`family_case` that rebuild ``case``."""
    return {"family": case.family, "seed": case.seed}
