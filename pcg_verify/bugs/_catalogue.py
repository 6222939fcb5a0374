"""The catalogue: mutants of the two bases, each one realistic mistake, and equivalent variants.

Math follows the paper: q is the target, p the draft. Every entry is one of
two independent implementations of PCG with one configuration: the sparse
reference of :mod:`pcg_verify.bugs._reference` with its :class:`Switches`
(entries named after the flaw), or the dense matrix-form port of
:mod:`pcg_verify.bugs._dense` with its :class:`DenseSwitches` (entries named
``dense_<bug>``). A :class:`Mutant` names the real bug class it stands for,
says what it does and how the gate can see it, which categories are expected
to kill it, and what the gate's cases must contain for that (``needs``: a
mutant whose mistake only shows at scale survives a budget without such
cases). Equivalent variants are different but valid implementations (the
correct dense port among them): the gate must pass them.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType, SimpleNamespace
from typing import Any

import torch

from pcg_core import Groups
from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_verify.bugs._dense import DENSE_BUGS, DenseSwitches, dense_port
from pcg_verify.bugs._reference import (
    DEGREE_CAP,
    DRAFT_MASS_FLOOR,
    FLAWS,
    GAMMA_SLOTS,
    LABEL_CAP,
    MEMBER_CAP,
    RESIDUAL_FLOOR,
    SMALL_BATCH,
    TILE,
    UNIFORM_SLOTS,
    Switches,
    reference_sampler,
)
from pcg_verify.report import Category

__all__ = ["CATALOGUE", "EQUIVALENTS", "Mutant", "MutantPort", "equivalents", "mutant_port", "mutants", "reference"]

G, C, A, BO, BI, S, D = (Category.GUARANTEE, Category.CONFORMANCE, Category.ACCEPTANCE, Category.BONUS,
                         Category.BATCH_INVARIANCE, Category.STRUCTURE, Category.DETERMINISM)
LAWS = (G, C, A, BO)


@dataclass(frozen=True)
class Mutant:
    """One entry of the catalogue.

    name : str
        How the CLI and the score table name it (``pcg_verify.bugs:mutants.<name>``).
    bug_class : str
        The real bug class it stands for (issue 8's list).
    description : str
        What it does wrong, and how the gate can see it.
    expected : tuple of Category
        The categories expected to kill it (empty for an equivalent); for the
        dense port's mutants the first must fail over the standard budget.
    switches : Switches or DenseSwitches
        The configuration of its base: the sparse reference (:class:`Switches`)
        or the dense port (:class:`DenseSwitches`); :attr:`base` names which.
    needs : str
        What the gate's cases must contain to see it ("" when any overlap, rejection or batch does).
    equivalent : bool
        A valid variant that the gate must pass.
    check : str
        The gate check expected to kill it, where that is more than the law tests of its expected
        categories on the drawn and family cases ("": those tests). Some name checks being built
        (the decode-loop and ownership call patterns, cross-process determinism, the row joint law,
        designed cases): such a mutant may survive until that check is in the gate.
    """

    name: str
    bug_class: str
    description: str
    expected: tuple[Category, ...]
    switches: Switches | DenseSwitches
    needs: str = ""
    equivalent: bool = False
    check: str = ""

    @property
    def base(self) -> str:
        """The implementation it configures: ``"sparse"`` (the reference) or ``"dense"`` (the dense port)."""
        return "dense" if isinstance(self.switches, DenseSwitches) else "sparse"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "base": self.base, "bug_class": self.bug_class, "description": self.description,
                "expected": [str(c) for c in self.expected], "needs": self.needs, "equivalent": self.equivalent,
                "check": self.check}


def _mutant(name: str, bug_class: str, description: str, expected: tuple[Category, ...], needs: str = "",
            check: str = "", **switches: Any) -> Mutant:
    return Mutant(name, bug_class, description, expected, Switches(flaw=name, **switches), needs, check=check)


def _dense(bug: str, bug_class: str, description: str, expected: tuple[Category, ...], needs: str = "") -> Mutant:
    return Mutant(f"dense_{bug}", bug_class, description, expected, DenseSwitches(bug), needs)


_EXACT = "exact"  # residual mistakes live in the exact residual (thinning never samples a negative mass)
_DECODE_LOOP = "the decode-loop call pattern (one generator for every call, results kept across calls)"

#: The classes the red team found in real engines (issue 21): most need checks or cases being built, named in
#: each entry's ``check``.
_RED_TEAM = (
    _mutant("bonus_uniform_slot", "bonus uniform from a fixed-size workspace",
            f"keeps the uniforms of a row in a workspace of {UNIFORM_SLOTS} slots ({UNIFORM_SLOTS - 1} positions "
            f"+ the bonus): at γ ≥ {UNIFORM_SLOTS} the bonus token reuses the accept uniform of position "
            f"{UNIFORM_SLOTS - 1}, which is below Q_c/P_c there whenever the bonus is reached, so the bonus token "
            "leans to the start of the CDF (labels stay right; unlike gamma_buffer, nothing is structural)",
            (BO, C, G), needs=f"γ ≥ {UNIFORM_SLOTS}, the last drafted position rejecting sometimes, bonus rows",
            check="the bonus law in designed cases with γ = 8, 16 that reach the bonus often (the unaligned "
                  "family's γ = 8 rows seldom do)"),
    _mutant("bonus_tile_tail_dropped", "dropped tile tail in the bonus sampler",
            f"draws the bonus token over whole tiles of {TILE} ids only: ids past the last multiple of {TILE} "
            "are never bonus tokens (coarse masses, thinning and the residual stay right, unlike "
            "tile_tail_dropped); a bonus row with all its mass there emits a zero-mass id (structure)",
            (BO, C, G, S), needs=f"V > {TILE}, not a multiple of {TILE}, bonus mass past the last whole tile",
            check="the bonus law on designed tile-unaligned vocabularies that reach the bonus often (the "
                  "unaligned family's γ = 8 rows seldom do)"),
    _mutant("generator_not_advanced", "generator not advanced",
            "seeds a private generator with generator.initial_seed() and never advances the given one: every "
            "call of a decode loop (one generator, seeded once) replays the same uniforms; a fresh seed per call "
            "hides it", (*LAWS, D), needs="many calls sharing one generator",
            check=_DECODE_LOOP + ": the replayed draws fail the laws"),
    _mutant("uniforms_in_input_dtype", "inverse-CDF uniforms in the inputs' dtype",
            "draws the uniforms of its inverse-CDF draws (bonus, residual, thinning, final labels) in the inputs' "
            "dtype: bfloat16 uniforms lie on a grid of 2^-8 (float16: 2^-11), so a token whose CDF interval "
            "holds no grid point is never drawn and the others get multiples of the grid",
            (BO, C, G), needs="bfloat16 / float16 rows with token masses finer than the uniforms' grid",
            check="the bonus and conformance laws on designed bfloat16 / float16 rows with spread mass (the "
                  "llasa and single_row families' few heavy ids hide it)"),
    _mutant("weights_cumsum_float32", "label weights summed in float32",
            "draws labels by searching one float32 running sum over the whole token_weights array: past 2^17 "
            "entries its spacing is 2^-6, so a high id's small weights round away (never drawn) or grow",
            (G, C, A), needs="paper scale (≥ 2^17 weight entries) with uneven weights below 2^-7 on high ids",
            check="designed cases with weighted hubs at paper scale (V = 193,800)"),
    _mutant("label_first_32_groups", "label drawn from a token's first 32 groups",
            f"reads only the first {LABEL_CAP} groups of a token (a fixed-width label kernel): hub tokens never "
            f"get their other labels (degree_cap at {DEGREE_CAP} is the small sibling)",
            (G, C), needs=f"drafted or bonus tokens in > {LABEL_CAP} groups (hubs in ≥ 256)",
            check="guarantee and conformance on designed weighted hubs (in ≥ 256 groups) that are drafted "
                  "or emitted (the codec family's hubs never change an output today)"),
    _mutant("static_output_buffers", "static output buffers",
            "returns tensors kept per shape and overwrites them on the next call (a CUDA-graph style static "
            "output): results a caller keeps change under it", (S, D), needs="results kept across calls",
            check="the ownership check of " + _DECODE_LOOP),
    _mutant("bonus_systematic_across_batch", "bonus systematic across the batch",
            "draws one uniform offset u for the whole call and gives row b of n the bonus uniform (b + u)/n "
            "(systematic sampling): pooled over the positions a row takes the marginal is right, but the bonus "
            "tokens of one call are dependent and each row index sees only a slice of the CDF",
            (BI, BO), needs="several bonus rows per call",
            check="the row joint law (bonus tokens of rows of one call) and per-row-index bonus laws"),
    _mutant("group_order_by_hash", "group order from Python's string hashing",
            "orders a token's groups by hash(str(group id)) before drawing its label: exact in law and "
            "deterministic within a process, but another process with another PYTHONHASHSEED draws other labels "
            "from the same seed", (D,), needs="an isolated run in another process",
            check="cross-process determinism (one seed, two processes with different PYTHONHASHSEED)"),
    _mutant("coarse_mass_input_dtype", "coarse masses summed in the inputs' dtype",
            "sums the acceptance's coarse masses P_c, Q_c in the inputs' dtype: a bfloat16 accumulator stalls "
            "once its sum passes 2^8 times an addend, so a group spreading its mass over many members loses it "
            "and the ratio Q_c/P_c is off", (A, G, C),
            needs="bfloat16 / float16 rows with a group's mass spread over hundreds of members",
            check="designed cases with spread mass in low-precision rows"),
    _mutant("draft_mass_floor", "draft coarse mass floored",
            f"accepts with min(1, Q_c/max(P_c, {DRAFT_MASS_FLOOR:g})) (an ε-guarded division): a drafted group "
            f"with P_c < {DRAFT_MASS_FLOOR:g} is accepted too rarely", (A, G, C),
            needs=f"drafted groups with P_c < {DRAFT_MASS_FLOOR:g} and Q_c < {DRAFT_MASS_FLOOR:g} holding "
                  "percent-level mass together",
            check=f"designed cases with spread mass (draft groups below {DRAFT_MASS_FLOOR:g})"),
)

_MUTANTS = (
    _mutant("ratio_inverted", "ratio inverted",
            "accepts with min(1, P_c(K)/Q_c(K)) instead of min(1, Q_c(K)/P_c(K)): the labels follow the wrong law",
            (G, C, A)),
    _mutant("token_mass_ratio", "token masses in the ratio",
            "accepts with the drafted token's own masses, min(1, q(x)/p(x)), then the coarse residual: the label "
            "law is neither PCG's nor standard speculative decoding's", (G, C, A)),
    _mutant("label_uniform", "label uniform instead of by w",
            "draws the proposal label K uniformly from S(x), ignoring w[k, x]; identical under equal weights, "
            "wrong for uneven ones", (G, C), needs="uneven weights"),
    _mutant("weights_unnormalised", "weights not normalised per token",
            "computes P_c and Q_c as plain group sums (w = 1): a token in N groups counts N times, so every "
            "ratio with overlapping groups is off", (G, C, A), needs="overlapping groups"),
    _mutant("overlap_as_partition", "overlap treated as a partition (first group only)",
            "gives every token its first group only (proposal, thinning and bonus labels): Pr(K = k) is no "
            "longer P_c(k) when groups overlap", (G, C, A), needs="overlapping groups"),
    _mutant("residual_unclamped", "residual unclamped",
            "samples the residual label from Q_c − P_c without clamping at 0: a CDF with negative steps",
            (G, C), residual=_EXACT),
    _mutant("residual_unnormalised", "residual unnormalised",
            "searches the residual's CDF with u instead of u · Σ[Q_c − P_c]_+: whenever u exceeds the total "
            "the last group with residual mass is emitted", (G, C), residual=_EXACT),
    _mutant("residual_floored", "residual floored",
            f"floors the residual at {RESIDUAL_FLOOR:g} ('avoid exact zeros'): every group keeps some mass, "
            "so a rejection can emit a label with Q_c = 0, an impossible label that the structure check sees",
            (S, G, C), needs="groups with Q_c = 0 and rejections", residual=_EXACT),
    _mutant("residual_token_level", "residual at token level",
            "on rejection draws the token from standard speculative decoding's [q − p]_+ and its label from "
            "w[·, t]: the label law is not Q_c", (G, C)),
    _mutant("residual_from_draft", "residual from p",
            "draws the residual label from [P_c − Q_c]_+ (the letters swapped): labels of groups the target "
            "never reaches, often with Q_c = 0 (structure)", (G, C, S), residual=_EXACT),
    _mutant("thinning_keep_token_masses", "thinning with a wrong keep rule",
            "keeps a thinning proposal with probability max(0, 1 − p(y)/q(y)) (token masses) instead of "
            "max(0, 1 − P_c(k)/Q_c(k))", (G, C)),
    _mutant("thinning_cap_without_fallback", "thinning cap without exact fallback",
            "stops thinning after 4 trials and returns the last proposal (y, k) instead of falling back to "
            "the exact residual: biased towards Q_c where the residual is rare", (G, C)),
    _mutant("residual_token_outside_group", "rejected token drawn from q outside the group",
            "on rejection draws the token from q over the whole vocabulary instead of q(t | k): the token is "
            "often not a member of its label (structure)", (S, C)),
    _mutant("residual_token_mode", "within-group token collapsed to the mode",
            "on rejection emits the likeliest member of the residual group instead of t ~ q(t | k): the labels "
            "keep the guarantee, the tokens do not follow the reference law", (C,)),
    _mutant("bonus_from_draft", "bonus from the draft",
            "draws the bonus token from the draft's last row p_γ instead of q_{γ+1}", (BO, G, C, S)),
    _mutant("bonus_wrong_row", "bonus from the wrong row",
            "draws the bonus token from q_γ (the last drafted position) instead of q_{γ+1}", (BO, G, C, S)),
    _mutant("bonus_after_rejection", "bonus after a rejection",
            "also writes a bonus token after the replacement of a rejected draft: the block emits A + 2 "
            "tokens, and the padding check sees a token after the end", (S,)),
    _mutant("continue_after_rejection", "continuing after a rejection",
            "counts every accepted draft (a sum) instead of those before the first rejection (a cumulative "
            "product): blocks run on past a rejection", (A, G, C)),
    _mutant("uniform_reused", "one uniform reused",
            "uses one uniform both to pick the proposal label and to accept it: the accept decision "
            "depends on which group was picked", (G, C, A), needs="overlapping groups"),
    _mutant("rows_mixed", "rows mixed",
            "indexes the flattened target [B·(γ+1), V] with the draft's stride b·γ + i: every row after the "
            "first reads another row's target", (G, C, A, BO, S, BI), needs="B ≥ 2 with distinct rows"),
    _mutant("seed_ignored", "seed ignored (a fixed internal seed)",
            "draws from its own generator seeded with 0 on every call: deterministic, but every call replays "
            "the same uniforms, so the same input under many seeds gives one answer (replay detection)",
            (*LAWS, BI), needs="the same input under many seeds, or many calls per case"),
    _mutant("zero_uniform_accept", "`<=` against a uniform that can be 0",
            "accepts iff u · P_c ≤ Q_c with u drawn at bfloat16 resolution (u = 0 about once in 500): a label "
            "with Q_c(K) = 0 is accepted, an impossible label the structure check sees",
            (S,), needs="a drafted group with Q_c = 0"),
    _mutant("zero_uniform_inverse_cdf", "inverse CDF that returns a zero-mass index at u = 0",
            "draws the bonus token with bfloat16 uniforms and a left-closed search: at u = 0 it returns id 0 "
            "even when q_{γ+1}(0) = 0, an impossible token the structure check sees", (S,),
            needs="a bonus row with q(0) = 0"),
    _mutant("cdf_float16", "masses in float16",
            "accumulates token CDFs (bonus, thinning) in a float16 accumulator: once the running sum passes "
            "1/8, masses below 6e-5 round away and the CDF stalls, so a target that spreads its mass thinly "
            "over thousands of ids loses that mass", (BO, C, G), needs="target rows spread thinly over many ids"),
    _mutant("token_ids_16bit", "16-bit token ids",
            "keeps drafted ids in a 16-bit buffer: ids past 65,535 wrap, so the label comes from another "
            "token's groups (structure: the token is not a member)", (S, G, C, A), needs="ids > 65,535"),
    _mutant("group_ids_16bit", "16-bit group indices",
            "keeps labels in a 16-bit buffer: group ids past 65,535 wrap (structure: the token is not a member)",
            (S, G), needs="> 65,536 groups"),
    _mutant("member_cap", "member cap",
            f"reads only the first {MEMBER_CAP} members of a group (a fixed-width gather): coarse masses and "
            "within-group draws miss the rest (a group whose first members have no mass yields a zero-mass "
            "token: structure)", (G, C, A, S), needs=f"groups of > {MEMBER_CAP} members"),
    _mutant("degree_cap", "degree cap",
            f"reads only the first {DEGREE_CAP} groups of a token: the labels of hub tokens never reach their "
            "other groups", (G, C), needs=f"tokens in > {DEGREE_CAP} groups"),
    _mutant("tile_tail_dropped", "dropped tile tail",
            f"works over the vocabulary in tiles of {TILE} ids and drops the partial last tile: ids past the last "
            f"multiple of {TILE} add nothing to coarse masses (a drafted tail id has P_c = Q_c = 0 and is "
            "always rejected) and are never drawn as bonus or thinning tokens", (G, C, A, BO),
            needs=f"V > {TILE}, not a multiple of {TILE}"),
    _mutant("gamma_buffer", "fixed-size γ buffer",
            f"keeps the proposal labels in a ring of {GAMMA_SLOTS} slots: position i + {GAMMA_SLOTS} overwrites "
            "position i, whose emitted label then belongs to another draft's groups (structure: the token is "
            "not a member)", (S, G, C), needs=f"γ > {GAMMA_SLOTS}"),
    _mutant("small_batch_fast_path", "small-batch fast path",
            f"for B < {SMALL_BATCH} takes a 'decode' path that is standard speculative decoding (token ratio, "
            "token residual, labels from w): token-exact, so the guarantee holds, but not PCG's law",
            (C, A, BI), needs=f"port calls with B < {SMALL_BATCH}"),
    _mutant("cache_by_shape", "state kept between calls (cache keyed by shape)",
            "keeps the bonus CDF between calls, keyed by the input's shape: a later call with the same shape "
            "and other probabilities draws from the stale CDF", (BO, C, G, S, D),
            needs="two calls with one shape and different probabilities"),
    _mutant("cache_by_groups_id", "state kept between calls (cache keyed by id(groups))",
            "keeps the groups' index arrays between calls, keyed by id(groups): a freed Groups object's id is "
            "reused by the next one, whose stale arrays then give wrong memberships (structure)", (S, G, C, D),
            needs="Groups objects freed and recreated between calls"),
    _mutant("inputs_written", "inputs written",
            "writes its −1 padding into draft_tokens (an output buffer that aliases the input): the gate "
            "compares its copies after every call", (S,)),
    *_RED_TEAM,
)

#: The dense port's planted bugs. The first expected category is the one that must fail over the standard
#: budget's drawn cases (tests/statistical/test_power.py asserts it); the others are those its sparse sibling
#: declares, where the score's first failing case may see it first.
_DENSE_MUTANTS = (
    _dense("wrong_ratio_direction", "ratio inverted",
           "accepts with min(1, P_c(K)/Q_c(K)) instead of Q_c/P_c", (G, C, A)),
    _dense("token_mass_ratio", "token masses in the ratio",
           "accepts with the token masses min(1, q(x)/p(x)) in the ratio", (G, C, A)),
    _dense("uniform_group_pick", "label uniform instead of by w",
           "draws K uniformly from S(x), ignoring the weights w[k, x]", (G, C), needs="uneven weights"),
    _dense("residual_from_draft", "residual from p",
           "draws the residual from [P_c − Q_c]_+ instead of [Q_c − P_c]_+", (G, C, S)),
    _dense("unclamped_residual", "residual unclamped",
           "samples the residual from Q_c − P_c without clamping at 0", (G, C)),
    _dense("bonus_from_wrong_row", "bonus from the wrong row",
           "draws the bonus token from q_γ instead of q_{γ+1}", (G, BO, C, S)),
    _dense("shared_uniform", "one uniform reused (accept and residual)",
           "reuses the acceptance uniform to draw the residual group", (G, C)),
    _dense("batch_rows_mixed", "rows mixed",
           "reads the target row of the next batch row: right for a row alone, so never batch invariance",
           (G, C, A, BO, S), needs="B ≥ 2 with distinct rows"),
    _dense("within_group_token_choice", "within-group token collapsed to the mode",
           "on rejection emits the group's most likely target token instead of t ~ q(t | k)", (C,)),
    _dense("global_rng", "global RNG instead of the generator",
           "draws its uniforms from the global RNG instead of the generator", (D,)),
    _dense("padding_zero", "padding with 0 instead of −1",
           "pads after the block with 0 instead of -1", (S,)),
)

_EQUIVALENTS = (
    Mutant("exact_residual", "exact residual instead of thinning",
           "draws every residual label from the exact [Q_c − P_c]_+ over all groups (a sparse matvec)", (),
           Switches(residual="exact"), equivalent=True),
    Mutant("rng_reordered", "a different valid RNG stream",
           "draws the accept uniforms before the label uniforms, position-major, and the final-token pair "
           "transposed: other draws, the same law", (), Switches(stream="reordered"), equivalent=True),
    Mutant("thinning_draw_emitted", "emitting the thinning draw",
           "emits the accepted thinning proposal y with its label k (given k, y has law q(t | k)) instead of a "
           "fresh within-group draw", (), Switches(emit_thinning_draw=True), equivalent=True),
    Mutant("float32_path", "a valid float32 path",
           "computes masses and draws uniforms in float32 (strict comparisons, right-searched CDFs)", (),
           Switches(dtype=torch.float32), equivalent=True),
    Mutant("batch_chunked", "rows verified in chunks",
           "verifies the batch 1,000 rows at a time with one generator: other draws, the same law", (),
           Switches(chunk_rows=1000), equivalent=True),
    Mutant("results_copied", "results copied before returning",
           "copies its outputs into fresh tensors before returning them: the same values, other storage", (),
           Switches(copy_results=True), equivalent=True),
    Mutant("dense_port", "an independent dense matrix-form port",
           "the dense port without a bug: W [M, V] sparse, every coarse mass from one matrix product, the "
           "residual drawn exactly, its own RNG stream", (), DenseSwitches(), equivalent=True),
)

#: Every mutant, by name: each must be killed by the gate in one of its expected categories.
CATALOGUE: MappingProxyType[str, Mutant] = MappingProxyType({m.name: m for m in (*_MUTANTS, *_DENSE_MUTANTS)})
#: Every equivalent variant, by name: each must pass the gate.
EQUIVALENTS: MappingProxyType[str, Mutant] = MappingProxyType({m.name: m for m in _EQUIVALENTS})
assert set(CATALOGUE) == {*FLAWS, *(f"dense_{bug}" for bug in DENSE_BUGS)}, \
    "every flaw of the reference and every bug of the dense port is in the catalogue once, and nothing else"
assert not set(CATALOGUE) & set(EQUIVALENTS), "a name is a mutant or an equivalent, never both"


class MutantPort:
    """A port (the port contract) running one entry's base with its switches.

    Each instance carries its own state, so the ``cache_by_*`` mutants start
    empty in every fresh port (:func:`mutant_port`).
    """

    def __init__(self, entry: Mutant | None, qualname: str | None = None) -> None:
        self.entry = entry
        self.switches: Switches | DenseSwitches = Switches() if entry is None else entry.switches
        self.state: dict[str, Any] = {}
        self.__module__ = "pcg_verify.bugs"  # so that a replay line can name the namespace entry
        if qualname is not None:
            self.__qualname__ = qualname

    def __call__(self, draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor,
                 groups: Groups, *, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if isinstance(self.switches, DenseSwitches):
            return dense_port(draft_tokens, draft_probs, target_probs, groups, generator=generator,
                              bug=self.switches.bug)
        return reference_sampler(draft_tokens, draft_probs, target_probs, groups, generator=generator,
                                 switches=self.switches, state=self.state)

    def __repr__(self) -> str:
        return f"MutantPort({'reference' if self.entry is None else self.entry.name})"


def mutant_port(name: str) -> MutantPort:
    """A fresh port for catalogue entry or equivalent ``name`` (``"reference"``: the unmutated base)."""
    if not isinstance(name, str):
        raise InvalidTypeError("name", name, "must be a str")
    if name == "reference":
        return MutantPort(None)
    entry = CATALOGUE.get(name) or EQUIVALENTS.get(name)
    if entry is None:
        raise InvalidArgumentError("name", name, "must be 'reference' or a name in CATALOGUE or EQUIVALENTS",
                                   "pcg-verify bugs --list prints them")
    return MutantPort(entry)


#: For the command line: ``pcg-verify check pcg_verify.bugs:mutants.ratio_inverted`` fails,
#: ``pcg_verify.bugs:equivalents.exact_residual`` and ``pcg_verify.bugs:reference`` pass.
mutants = SimpleNamespace(**{n: MutantPort(m, f"mutants.{n}") for n, m in CATALOGUE.items()})
equivalents = SimpleNamespace(**{n: MutantPort(m, f"equivalents.{n}") for n, m in EQUIVALENTS.items()})
reference = MutantPort(None, "reference")
