"""The mutable reference: sparse, batched PCG with named switch points where mistakes are planted.

Math follows the paper: q is the target, p the draft (code: ``target_probs``,
``draft_probs``). This is a second implementation of PCG verification
(docs/algorithm.md), written from the specification and independently of
pcg_core's sampler: it reads only the CSR arrays of ``pcg_core.Groups``. It is
sparse and batched, so it runs at the paper's scale (V = 193,800 ids, more
than 65,535 groups of ~140 members, B in the thousands, γ up to 8):

1. proposal labels ``K ~ w[·, x]`` for every drafted token (a segment of the
   token → group CSR);
2. the two coarse masses ``P_c(K)``, ``Q_c(K)`` (a segment of the group →
   member CSR): O(|G_K|) work per position;
3. accept iff ``u · P_c(K) < Q_c(K)`` (probability ``min(1, Q_c/P_c)``;
   never when ``Q_c(K) = 0``), and ``A`` = accepted drafts before the first rejection;
4. a rejected row draws its label from the residual ``[Q_c − P_c]_+`` by
   thinning (the paper's way: ``y ~ q``, ``k ~ w[·, y]``, keep with
   probability ``max(0, 1 − P_c(k)/Q_c(k))``), at most
   :data:`THINNING_TRIALS` trials, then the exact residual over all groups
   (a sparse matrix-vector product); its token is drawn from ``q(t | k) ∝ w[k, t] q(t)``;
5. a row that accepted all γ drafts draws the bonus token from ``q_{γ+1}`` and its label from ``w[·, t]``.

Dense token-level work (a target row's CDF over V) is done a chunk of rows at
a time, so memory stays O(chunk · V + Σ segment lengths); nothing is
``[M, V]``.

:class:`Switches` selects a planted mistake (``flaw``, one of :data:`FLAWS`)
or a valid variant (the equivalent mutants). ``pcg_verify.bugs`` documents
what each flaw stands for and which checks of the gate must catch it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from pcg_core import Groups
from pcg_core.errors import InvalidArgumentError
from pcg_verify.bugs._ragged import Segments, dense_draw, group_sums, segment_draw, segment_sum, segments

__all__ = ["FLAWS", "THINNING_TRIALS", "Switches", "reference_sampler"]

#: Thinning trials before the exact residual takes over (small, so that both paths run in every gate).
THINNING_TRIALS = 4
#: Rows · V entries of one chunk of dense token-level work: 2^22 float64 = 32 MB.
DENSE_ENTRIES = 1 << 22
#: Constants of planted mistakes: fixed kernel widths, a floor, a mask.
MEMBER_CAP, DEGREE_CAP, TILE, GAMMA_SLOTS, SMALL_BATCH = 64, 8, 1024, 4, 8
RESIDUAL_FLOOR = 1e-5
SIXTEEN_BITS = 0xFFFF
#: A workspace of uniforms per row sized for 7 drafted positions + 1 bonus; the groups a label kernel reads
#: per token; the floor of an ε-guarded division.
UNIFORM_SLOTS, LABEL_CAP, DRAFT_MASS_FLOOR = 8, 32, 1e-6
#: The dtypes whose uniforms and sums the ``*_input_dtype`` flaws use (other inputs: the working dtype).
HALF_DTYPES = (torch.bfloat16, torch.float16)

#: Every planted mistake the switch points know (``pcg_verify.bugs.CATALOGUE`` says what each stands for).
FLAWS: tuple[str, ...] = (
    "ratio_inverted", "token_mass_ratio", "label_uniform", "weights_unnormalised", "overlap_as_partition",
    "residual_unclamped", "residual_unnormalised", "residual_floored", "residual_token_level",
    "residual_from_draft", "thinning_keep_token_masses", "thinning_cap_without_fallback",
    "residual_token_outside_group", "residual_token_mode", "bonus_from_draft", "bonus_wrong_row",
    "bonus_after_rejection", "continue_after_rejection", "uniform_reused", "rows_mixed", "seed_ignored",
    "zero_uniform_accept", "zero_uniform_inverse_cdf", "cdf_float16", "token_ids_16bit", "group_ids_16bit",
    "member_cap", "degree_cap", "tile_tail_dropped", "gamma_buffer", "small_batch_fast_path",
    "cache_by_shape", "cache_by_groups_id", "inputs_written",
    # the red team's classes (issue 21): engine shortcuts most of which only designed cases and call patterns see
    "bonus_uniform_slot", "bonus_tile_tail_dropped", "generator_not_advanced", "uniforms_in_input_dtype",
    "weights_cumsum_float32", "label_first_32_groups", "static_output_buffers", "bonus_systematic_across_batch",
    "group_order_by_hash", "coarse_mass_input_dtype", "draft_mass_floor",
)


@dataclass(frozen=True)
class Switches:
    """One configuration of the mutable reference; the defaults are correct PCG.

    flaw : str or None
        One planted mistake from :data:`FLAWS`, or None.
    residual : {"thinning", "exact"}
        Thinning with an exact fallback (default), or the exact residual for every rejected row.
    stream : {"standard", "reordered"}
        The layout of the uniforms drawn from the generator; both are valid.
    emit_thinning_draw : bool
        Emit the token ``y`` of the accepted thinning trial instead of a fresh
        draw from ``q(t | k)`` (valid: given ``k``, ``y`` has law ``q(t | k)``).
    dtype : torch.dtype
        float64 (default) or float32: the precision of masses and uniforms.
    chunk_rows : int or None
        Verify the batch this many rows at a time with one generator (valid).
    copy_results : bool
        Return fresh copies of the outputs (valid: the caller owns them either way).
    """

    flaw: str | None = None
    residual: str = "thinning"
    stream: str = "standard"
    emit_thinning_draw: bool = False
    dtype: torch.dtype = torch.float64
    chunk_rows: int | None = None
    copy_results: bool = False

    def __post_init__(self) -> None:
        if self.flaw is not None and self.flaw not in FLAWS:
            raise InvalidArgumentError("flaw", self.flaw, f"must be None or one of {sorted(FLAWS)}")
        if self.residual not in ("thinning", "exact"):
            raise InvalidArgumentError("residual", self.residual, "must be 'thinning' or 'exact'")
        if self.stream not in ("standard", "reordered"):
            raise InvalidArgumentError("stream", self.stream, "must be 'standard' or 'reordered'")
        if self.dtype not in (torch.float64, torch.float32):
            raise InvalidArgumentError("dtype", self.dtype, "must be torch.float64 or torch.float32")
        if self.chunk_rows is not None and self.chunk_rows < 1:
            raise InvalidArgumentError("chunk_rows", self.chunk_rows, "must be None or ≥ 1")


@dataclass(frozen=True)
class _Index:
    """The Groups arrays as int64 ids and weights in the working dtype."""

    group_ptr: torch.Tensor  # [M+1]
    members: torch.Tensor  # [nnz] token ids, group order
    group_weights: torch.Tensor  # [nnz] w[k, t], group order
    token_ptr: torch.Tensor  # [V+1]
    token_groups: torch.Tensor  # [nnz] group ids, token order
    token_weights: torch.Tensor  # [nnz] w[k, t], token order

    @classmethod
    def of(cls, groups: Groups, dtype: torch.dtype) -> _Index:
        return cls(groups.group_ptr.long(), groups.group_members.long(), groups.group_weights.to(dtype),
                   groups.token_ptr.long(), groups.token_groups.long(), groups.token_weights.to(dtype))


class _Rows:
    """Flat rows of a probability tensor [B, P, V] (row f is (f // P, f % P)), read lazily in ``dtype``.

    Reading only the rows and entries a step needs avoids copying the whole
    input (non-contiguous, or in a low-precision dtype) on every call.
    """

    def __init__(self, probs: torch.Tensor, dtype: torch.dtype) -> None:
        self.probs = probs if probs.dim() == 3 else probs[:, None, :]  # a matrix [n, V] is [n, 1, V]
        self.per_row, self.dtype = int(self.probs.shape[1]), dtype
        self.input_dtype = probs.dtype

    def __getitem__(self, rows: torch.Tensor) -> torch.Tensor:
        """Whole rows → [n, V]."""
        return self.probs[rows // self.per_row, rows % self.per_row].to(self.dtype)

    def at(self, rows: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Entries (row, token) → [n]."""
        return self.at_input(rows, tokens).to(self.dtype)

    def at_input(self, rows: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Entries (row, token) → [n], in the input's own dtype."""
        return self.probs[rows // self.per_row, rows % self.per_row, tokens]


class _Run:
    """One call: the inputs as flat rows, the generator, the switches, and the sparse steps."""

    def __init__(self, draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor,
                 index: _Index, generator: torch.Generator, switches: Switches, state: dict[str, Any]) -> None:
        self.batch, self.gamma = (int(n) for n in draft_tokens.shape)
        self.vocab = int(draft_probs.shape[-1])
        self.flaw, self.switches, self.state, self.index, self.generator = (
            switches.flaw, switches, state, index, generator)
        self.dtype = switches.dtype
        self.shape = tuple(target_probs.shape)
        self.drafts = draft_tokens.long()
        # Flat rows: draft row (b, i) is b·γ + i, target row (b, i) is b·(γ+1) + i.   [B·γ, V], [B·(γ+1), V]
        self.draft, self.target = _Rows(draft_probs, self.dtype), _Rows(target_probs, self.dtype)
        self.small = self.flaw == "small_batch_fast_path" and self.batch < SMALL_BATCH
        self.u_accept = torch.empty(0)  # [B, γ] once verify() draws them (the bonus_uniform_slot flaw reads them)

    # ------------------------------------------------------------------ randomness
    def rand(self, *shape: int, dtype: torch.dtype | None = None) -> torch.Tensor:
        """Uniforms in [0, 1) from the generator, returned in the working dtype."""
        u = torch.rand(shape, generator=self.generator, dtype=dtype or self.dtype)
        return u.to(self.dtype)

    def draw_uniforms(self, *shape: int) -> torch.Tensor:
        """Uniforms of the inverse-CDF draws (final tokens, their labels, thinning trials) → ``shape``.

        Under the ``uniforms_in_input_dtype`` flaw they are drawn in a half-precision input's dtype:
        a grid of 2^-8 (bfloat16) or 2^-11 (float16), so masses finer than the grid are drawn wrongly.
        """
        half = self.target.input_dtype if self.flaw == "uniforms_in_input_dtype" else None
        return self.rand(*shape, dtype=half if half in HALF_DTYPES else None)

    def step_uniforms(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(label, accept) uniforms, [B, γ] each."""
        b, g = self.batch, self.gamma
        if self.switches.stream == "reordered":
            u = self.rand(2, g, b).permute(2, 1, 0).flip(-1)  # accept uniforms first, position-major
        else:
            u = self.rand(b, g, 2, dtype=torch.bfloat16 if self.flaw == "zero_uniform_accept" else None)
        if self.flaw == "uniform_reused":
            return u[..., 0], u[..., 0]
        return u[..., 0], u[..., 1]

    # ------------------------------------------------------------------ rows
    def target_rows(self, b: torch.Tensor, i: torch.Tensor | int) -> torch.Tensor:
        """Flat target row of (b, i): b·(γ+1) + i."""
        stride = self.gamma if self.flaw == "rows_mixed" else self.gamma + 1  # the draft's stride: rows mixed
        return b * stride + i

    # ------------------------------------------------------------------ sparse steps
    def labels_for(self, tokens: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """K ~ w[·, t] for each token [n] with uniforms [n] → group ids [n] (a token → group segment each)."""
        ix, flaw = self.index, self.flaw
        if flaw == "token_ids_16bit":  # ids kept in a 16-bit buffer wrap past 65,535
            tokens = tokens & SIXTEEN_BITS
        if flaw == "overlap_as_partition":  # "the" group of a token: its first
            labels = ix.token_groups[ix.token_ptr[tokens]]
        else:
            cap = {"degree_cap": DEGREE_CAP, "label_first_32_groups": LABEL_CAP}.get(flaw or "")
            seg = segments(ix.token_ptr, tokens, cap=cap)
            if flaw == "group_order_by_hash":
                seg = self.hash_ordered(seg)
            masses = ix.token_weights[seg.position]
            if flaw == "label_uniform":
                masses = torch.ones_like(masses)
            elif flaw == "weights_cumsum_float32":
                masses = self.float32_running_masses(seg.position)
            labels = ix.token_groups[seg.position[segment_draw(seg, masses, u)]]
        return labels & SIXTEEN_BITS if flaw == "group_ids_16bit" else labels

    def hash_ordered(self, seg: Segments) -> Segments:
        """``seg`` (token → group segments) with each token's groups in the order of ``hash(str(group id))``.

        The ``group_order_by_hash`` flaw: a label drawn over that order has the same law, but Python's string
        hashing is salted per process (PYTHONHASHSEED), so another process draws other labels from one seed.
        """
        groups = self.index.token_groups[seg.position]
        unique, inverse = torch.unique(groups, return_inverse=True)
        keys = torch.tensor([hash(str(k)) for k in unique.tolist()], dtype=torch.int64)[inverse]
        order = torch.argsort(keys, stable=True)
        order = order[torch.argsort(seg.owner[order], stable=True)]  # back to segment order, hash order inside
        return Segments(seg.owner, seg.position[order], seg.start, seg.length)

    def float32_running_masses(self, positions: torch.Tensor) -> torch.Tensor:
        """The masses ``w[k, t]`` at ``positions`` [L] as a float32 running sum over all of ``token_weights`` sees them.

        The ``weights_cumsum_float32`` flaw: one float32 cumulative sum of the whole array (nnz entries,
        the running total near V), searched by differences. Past 2^17 the sum's spacing is 2^-6, so a
        high id's small weights round away or grow.
        """
        running = np.cumsum(self.index.token_weights.numpy(), dtype=np.float32)  # a float32 accumulator   [nnz]
        ends = torch.cat((torch.zeros(1, dtype=torch.float64), torch.from_numpy(running).to(torch.float64)))
        return (ends[positions + 1] - ends[positions]).clamp(min=0.0).to(self.dtype)  # the steps it searches

    def coarse_at(self, probs: _Rows, rows: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``Σ_{t∈G_k} w[k, t] probs[r, t]`` for each (row r, label k) → [n]: O(|G_k|) each."""
        ix = self.index
        seg = segments(ix.group_ptr, labels, cap=MEMBER_CAP if self.flaw == "member_cap" else None)
        weights, members = ix.group_weights[seg.position], ix.members[seg.position]
        if self.flaw == "weights_unnormalised":  # plain group sums: a token in N groups counts N times
            weights = torch.ones_like(weights)
        if self.flaw == "coarse_mass_input_dtype" and probs.input_dtype in HALF_DTYPES:  # a half accumulator
            half = probs.input_dtype
            products = self.untiled(weights, members).to(half) * probs.at_input(rows[seg.owner], members)
            return segment_sum(seg, products).to(self.dtype)
        return segment_sum(seg, self.untiled(weights, members) * probs.at(rows[seg.owner], members))

    def untiled(self, weights: torch.Tensor, members: torch.Tensor) -> torch.Tensor:
        """``weights`` of ``members``, zeroed past the last whole tile under the ``tile_tail_dropped`` flaw."""
        if self.flaw == "tile_tail_dropped" and self.vocab > TILE:
            return torch.where(members < self.vocab // TILE * TILE, weights, torch.zeros((), dtype=weights.dtype))
        return weights

    def token_cdf(self, probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(probabilities, their CDF) [n, V'] that token-level draws search."""
        if self.flaw == "tile_tail_dropped" and self.vocab > TILE:  # only whole tiles of 1024 ids
            probs = probs[:, : self.vocab // TILE * TILE]
        if self.flaw == "cdf_float16":  # a half-precision accumulator: every partial sum rounded to float16
            # (torch's CPU cumsum accumulates half in float32; NumPy's float16 accumulate rounds each step)
            half = np.cumsum(probs.to(torch.float16).numpy(), axis=-1, dtype=np.float16)
            return probs, torch.from_numpy(half).to(self.dtype)
        return probs, probs.cumsum(-1)

    def draw_tokens(self, probs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """t ~ probs[r] for each row [n, V] → [n]."""
        probs, cum = self.token_cdf(probs)
        return dense_draw(probs, u, cumulative=cum)

    def within_group(self, labels: torch.Tensor, target: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """t ~ q(t | k) ∝ w[k, t] q(t) for each label [n] and target row [n, V] → tokens [n]."""
        ix, flaw = self.index, self.flaw
        if flaw == "residual_token_outside_group":  # t ~ q over the whole vocabulary
            return self.draw_tokens(target, u)
        seg = segments(ix.group_ptr, labels, cap=MEMBER_CAP if flaw == "member_cap" else None)
        members = ix.members[seg.position]
        masses = ix.group_weights[seg.position] * target[seg.owner, members]
        if flaw == "residual_token_mode":  # the group's likeliest token, every time
            best = torch.zeros(seg.count, dtype=masses.dtype).scatter_reduce(0, seg.owner, masses, reduce="amax")
            masses = (masses == best[seg.owner]).to(masses.dtype)
            u = torch.zeros_like(u)
        return members[segment_draw(seg, masses, u)]

    def exact_residual(self, draft: torch.Tensor, target: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """k ~ [Q_c − P_c]_+ over all groups for rows [n, V] → labels [n] (sparse matvec, O(n · nnz))."""
        ix, flaw = self.index, self.flaw
        weights = self.untiled(ix.group_weights, ix.members)
        coarse_draft = group_sums(ix.group_ptr, ix.members, weights, draft)  # P_c [n, M]
        coarse_target = group_sums(ix.group_ptr, ix.members, weights, target)  # Q_c [n, M]
        excess = coarse_draft - coarse_target if flaw == "residual_from_draft" else coarse_target - coarse_draft
        if flaw == "residual_unclamped":
            residual = excess
        elif flaw == "residual_floored":  # "avoid exact zeros": every group keeps a little mass
            residual = excess.clamp(min=RESIDUAL_FLOOR)
        else:
            residual = excess.clamp(min=0.0)
        # R_c ≡ 0 means P_c = Q_c, where no row rejects; stay defined (Q_c) if rounding says otherwise.
        residual = torch.where(residual.sum(-1, keepdim=True) > 0, residual, coarse_target)
        labels = dense_draw(residual, u, unnormalised=flaw == "residual_unnormalised")
        return labels & SIXTEEN_BITS if flaw == "group_ids_16bit" else labels

    def thinning(self, draft: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Residual labels by thinning, exact fallback after :data:`THINNING_TRIALS` → (labels, tokens) [n].

        Trial: ``y ~ q``, ``k ~ w[·, y]``, keep iff ``u · Q_c(k) < Q_c(k) − P_c(k)``
        (probability ``max(0, 1 − P_c(k)/Q_c(k))``). ``tokens`` holds the kept
        ``y`` (−1 for rows the fallback decided).
        """
        n, flaw = int(draft.shape[0]), self.flaw
        labels = torch.full((n,), -1, dtype=torch.int64)
        tokens = torch.full((n,), -1, dtype=torch.int64)
        probs, cum = self.token_cdf(target)
        pending = torch.arange(n)
        for trial in range(THINNING_TRIALS):
            if pending.numel() == 0:
                break
            u = self.draw_uniforms(int(pending.numel()), 3)
            y = dense_draw(probs[pending], u[:, 0], cumulative=cum[pending])
            k = self.labels_for(y, u[:, 1])
            if flaw == "thinning_keep_token_masses":  # 1 − p(y)/q(y) in place of 1 − P_c(k)/Q_c(k)
                mass_draft, mass_target = draft[pending, y], target[pending, y]
            else:
                mass_draft = self.coarse_at(_Rows(draft, self.dtype), pending, k)
                mass_target = self.coarse_at(_Rows(target, self.dtype), pending, k)
            keep = u[:, 2] * mass_target < mass_target - mass_draft
            if flaw == "thinning_cap_without_fallback" and trial == THINNING_TRIALS - 1:
                keep = torch.ones_like(keep)  # out of trials: keep the last proposal
            labels[pending[keep]], tokens[pending[keep]] = k[keep], y[keep]
            pending = pending[~keep]
        if pending.numel():
            labels[pending] = self.exact_residual(draft[pending], target[pending], self.rand(int(pending.numel())))
        return labels, tokens

    def token_residual(self, draft: torch.Tensor, target: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """t ~ [q − p]_+ (standard speculative decoding's residual) for rows [n, V] → tokens [n]."""
        residual = (target - draft).clamp(min=0.0)
        residual = torch.where(residual.sum(-1, keepdim=True) > 0, residual, target)
        return self.draw_tokens(residual, u)

    def residual(self, draft: torch.Tensor, target: torch.Tensor,
                 u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(label, token) [n] for rejected rows: draft and target rows [n, V] of the rejected position."""
        if self.flaw == "residual_token_level" or self.small:  # token residual, then k ~ w[·, t]
            tokens = self.token_residual(draft, target, u[:, 0])
            return self.labels_for(tokens, u[:, 1]), tokens
        if self.switches.residual == "exact":
            labels = self.exact_residual(draft, target, u[:, 0])
            thinned = torch.full_like(labels, -1)
        else:
            labels, thinned = self.thinning(draft, target)
        tokens = self.within_group(labels, target, u[:, 1])
        if self.switches.emit_thinning_draw:
            tokens = torch.where(thinned >= 0, thinned, tokens)
        elif self.flaw == "thinning_cap_without_fallback":
            tokens = thinned
        return labels, tokens

    def bonus(self, rows: torch.Tensor, u: torch.Tensor, begin: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(label, token) [n] at the bonus position of batch rows [n]: t ~ q_{γ+1}, k ~ w[·, t]."""
        g, flaw = self.gamma, self.flaw
        if flaw == "bonus_from_draft":
            probs = self.draft[rows * g + g - 1]
        elif flaw == "bonus_wrong_row":
            probs = self.target[self.target_rows(rows, g - 1)]
        else:
            probs = self.target[self.target_rows(rows, g)]
        if flaw == "bonus_tile_tail_dropped" and self.vocab > TILE:  # the bonus kernel's whole tiles only
            probs = probs[:, : self.vocab // TILE * TILE]
        if flaw == "bonus_uniform_slot" and g >= UNIFORM_SLOTS:  # slot γ is past the workspace: position 7's
            u = torch.stack((self.u_accept[rows, UNIFORM_SLOTS - 1], u[:, 1]), 1)
        if flaw == "zero_uniform_inverse_cdf":  # half-precision uniforms, searched from the left: u = 0 → id 0
            half = self.rand(int(rows.numel()), dtype=torch.bfloat16)
            tokens = dense_draw(probs, half, left_closed=True)
        elif flaw == "cache_by_shape":  # the bonus CDF kept between calls, keyed by the input's shape
            cache = self.state.setdefault("bonus_cdf", {})
            key = (self.shape, begin, int(rows.numel()))
            if key not in cache:
                cache[key] = self.token_cdf(probs)
            cached_probs, cached_cum = cache[key]
            tokens = dense_draw(cached_probs, u[:, 0], cumulative=cached_cum)
        else:
            tokens = self.draw_tokens(probs, u[:, 0])
        return self.labels_for(tokens, u[:, 1]), tokens

    # ------------------------------------------------------------------ the block
    def verify(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Steps 1–5 of the module docstring → tokens [B, γ+1], group_ids [B, γ+1], num_accepted [B]."""
        b, g, flaw = self.batch, self.gamma, self.flaw
        u_label, u_accept = self.step_uniforms()  # [B, γ] each
        self.u_accept = u_accept
        rows = torch.arange(b).repeat_interleave(g)  # batch row of each drafted position   [B·γ]
        positions = torch.arange(g).repeat(b)  # its position   [B·γ]
        drafts = self.drafts.reshape(-1)
        labels = self.labels_for(drafts, u_label.reshape(-1))  # 1. K ~ w[·, x]   [B·γ]
        target_rows = self.target_rows(rows, positions)
        u = u_accept.reshape(-1)
        if flaw == "token_mass_ratio" or self.small:  # min(1, q(x)/p(x)): standard speculative decoding's ratio
            own_draft = self.draft.at(torch.arange(b * g), drafts)
            accepted = u * own_draft < self.target.at(target_rows, drafts)
        else:
            coarse_draft = self.coarse_at(self.draft, torch.arange(b * g), labels)  # 2. P_c(K)
            coarse_target = self.coarse_at(self.target, target_rows, labels)  # Q_c(K)
            if flaw == "draft_mass_floor":  # an ε-guarded division: Q_c / max(P_c, 1e-6)
                coarse_draft = coarse_draft.clamp(min=DRAFT_MASS_FLOOR)
            if flaw == "ratio_inverted":
                accepted = u * coarse_target < coarse_draft
            elif flaw == "zero_uniform_accept":  # u ≤ Q/P with u that can be 0: accepts Q_c(K) = 0
                accepted = u * coarse_draft <= coarse_target
            else:
                accepted = u * coarse_draft < coarse_target  # 3. probability min(1, Q_c/P_c)
        accepted = accepted.reshape(b, g)
        if flaw == "continue_after_rejection":  # counts every accepted draft, not those before the first rejection
            num_accepted = accepted.to(torch.int64).sum(1)
        else:
            num_accepted = accepted.to(torch.int64).cumprod(1).sum(1)
        final_labels, final_tokens, bonus_labels, bonus_tokens = self.final_tokens(num_accepted)  # 4.–5.

        tokens = torch.full((b, g + 1), -1, dtype=torch.int64)
        group_ids = torch.full((b, g + 1), -1, dtype=torch.int64)
        keep = torch.arange(g)[None, :] < num_accepted[:, None]
        tokens[:, :g] = torch.where(keep, self.drafts, -1)
        labels = labels.reshape(b, g)
        if flaw == "gamma_buffer":  # a ring of 4 label slots: position i's label is that of the last j ≡ i mod 4
            last_in_slot = {i % GAMMA_SLOTS: i for i in range(g)}  # later positions overwrite earlier ones
            labels = labels[:, [last_in_slot[i % GAMMA_SLOTS] for i in range(g)]]
        group_ids[:, :g] = torch.where(keep, labels, -1)
        batch_rows = torch.arange(b)
        tokens[batch_rows, num_accepted] = final_tokens
        group_ids[batch_rows, num_accepted] = final_labels
        if flaw == "bonus_after_rejection":  # a bonus token follows the replacement too
            cut = (num_accepted < g).nonzero()[:, 0]
            tokens[cut, num_accepted[cut] + 1] = bonus_tokens[cut]
            group_ids[cut, num_accepted[cut] + 1] = bonus_labels[cut]
        return tokens, group_ids, num_accepted

    def final_tokens(self, num_accepted: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(labels, tokens) of the final emitted token of every row, and the bonus draws → 4 × [B].

        A row with ``A < γ`` ends with the residual at position A, a row with
        ``A = γ`` with the bonus. Rows are taken in chunks of
        ``DENSE_ENTRIES // V``; each chunk draws ``u`` [n, 2] (label, token) and
        its thinning trials. The bonus draws are kept for every row where the
        residual replaced them (−1) except under the ``bonus_after_rejection`` flaw.
        """
        b, g, flaw = self.batch, self.gamma, self.flaw
        labels = torch.full((b,), -1, dtype=torch.int64)
        tokens = torch.full((b,), -1, dtype=torch.int64)
        bonus_labels, bonus_tokens = labels.clone(), tokens.clone()
        chunk = max(1, DENSE_ENTRIES // max(1, self.vocab))
        for begin in range(0, b, chunk):
            rows = torch.arange(begin, min(b, begin + chunk))
            u = self.rand(2, int(rows.numel())).T if self.switches.stream == "reordered" else self.draw_uniforms(
                int(rows.numel()), 2)  # [n, 2]
            rejected = num_accepted[rows] < g
            done = rows[~rejected] if flaw != "bonus_after_rejection" else rows
            if done.numel():
                where = done - begin
                u_bonus = u[where]
                if flaw == "bonus_systematic_across_batch":  # one offset for the chunk: row b gets slice b
                    u_bonus = torch.stack(((where + u[0, 0]) / int(rows.numel()), u_bonus[:, 1]), 1)
                bonus_labels[done], bonus_tokens[done] = self.bonus(done, u_bonus.to(self.dtype), begin)
            cut = rows[rejected]
            if cut.numel():
                at = num_accepted[cut]
                draft = self.draft[cut * g + at]  # p at the rejected position   [n, V]
                target = self.target[self.target_rows(cut, at)]  # q there   [n, V]
                labels[cut], tokens[cut] = self.residual(draft, target, u[cut - begin])
        finished = num_accepted >= g
        labels = torch.where(finished, bonus_labels, labels)
        tokens = torch.where(finished, bonus_tokens, tokens)
        return labels, tokens, bonus_labels, bonus_tokens


def reference_sampler(
    draft_tokens: torch.Tensor,
    draft_probs: torch.Tensor,
    target_probs: torch.Tensor,
    groups: Groups,
    *,
    generator: torch.Generator,
    switches: Switches = Switches(),
    state: dict[str, Any] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PCG verification of a batch of drafted blocks (the port contract), with ``switches`` applied.

    Parameters
    ----------
    draft_tokens : int64 [B, γ]
    draft_probs : float [B, γ, V]
    target_probs : float [B, γ+1, V]
    groups : pcg_core.Groups
    generator : torch.Generator
        The only source of randomness (unless the ``seed_ignored`` flaw is planted).
    switches : Switches
        The default is correct PCG; a flaw plants one mistake.
    state : dict, optional
        Where the ``cache_by_*`` flaws keep what they carry between calls (the
        reference keeps nothing).

    Returns
    -------
    tokens int64 [B, γ+1], group_ids int64 [B, γ+1], num_accepted int64 [B].

    Complexity: O(B·γ·(N(x) + |G_K|)) for steps 1–3, O(V) per finished or
    rejected row for its token-level CDF, O(nnz) per row that exhausts the
    thinning trials; memory never holds an ``[M, V]`` matrix.

    Examples
    --------
    >>> import torch
    >>> from pcg_core import singleton_groups
    >>> probs = torch.tensor([[[0.5, 0.5]]], dtype=torch.float64)
    >>> out = reference_sampler(torch.tensor([[0]]), probs, probs.repeat(1, 2, 1), singleton_groups(2),
    ...                         generator=torch.Generator().manual_seed(0))
    >>> int(out[2][0])  # p = q: the draft is always accepted
    1
    """
    state = {} if state is None else state
    flaw = switches.flaw
    if flaw == "seed_ignored":  # a fixed internal seed: the same uniforms on every call
        generator = torch.Generator().manual_seed(0)
    elif flaw == "generator_not_advanced":  # a private generator from the given one's seed; the given never moves
        generator = torch.Generator().manual_seed(generator.initial_seed())
    if flaw == "cache_by_groups_id":  # index arrays kept per id(groups): a freed object's id is reused
        index = state.setdefault("index", {}).setdefault(id(groups), _Index.of(groups, switches.dtype))
    else:
        index = _Index.of(groups, switches.dtype)
    batch = int(draft_tokens.shape[0])
    step = switches.chunk_rows or max(1, batch)
    parts = [
        _Run(draft_tokens[s:s + step], draft_probs[s:s + step], target_probs[s:s + step], index, generator,
             switches, state).verify()
        for s in range(0, batch, step)
    ] or [_Run(draft_tokens, draft_probs, target_probs, index, generator, switches, state).verify()]
    tokens, group_ids, num_accepted = (torch.cat(part) for part in zip(*parts, strict=True))
    if flaw == "inputs_written":  # the −1 padding written through an output buffer that aliases draft_tokens
        draft_tokens.masked_fill_(torch.arange(draft_tokens.shape[1])[None, :] >= num_accepted[:, None], -1)
    if flaw == "static_output_buffers":  # outputs live in buffers kept per shape, overwritten by the next call
        buffers = state.setdefault("outputs", {})
        kept = buffers.setdefault(tuple(tokens.shape), tuple(torch.empty_like(t) for t in (tokens, group_ids,
                                                                                            num_accepted)))
        tokens, group_ids, num_accepted = (buffer.copy_(t) for buffer, t in zip(kept, (tokens, group_ids,
                                                                                        num_accepted), strict=True))
    if switches.copy_results:
        tokens, group_ids, num_accepted = tokens.clone(), group_ids.clone(), num_accepted.clone()
    return tokens, group_ids, num_accepted
