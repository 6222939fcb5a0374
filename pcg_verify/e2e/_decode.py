"""One speculative decoding loop for Hugging Face causal LMs: AR, standard SD, SSD(β) and PCG.

Math follows the paper: q is the target, p the draft. A block of row b:

1. the draft samples x_1..x_γ, x_i ~ p_i = ``sampling.probs(draft logits)``;
2. one target pass over [last token, x_1..x_γ] gives q_1..q_{γ+1} (the same
   ``sampling.probs``);
3. pcg_core verifies the block (``verify`` for PCG, ``standard_verify`` for
   SD, ``ssd_verify`` for SSD) with the port contract's tensors: drafts
   [B, γ], p [B, γ, V], q [B, γ+1, V]; A drafts are accepted and one more
   token (residual or bonus) is emitted;
4. both caches are rolled back to what each row kept.

Caches (docs/e2e.md): each model keeps one transformers ``DynamicCache`` for
the batch and a [B, S] slot mask. Rows share the slot axis, so a row that kept
fewer tokens than another marks its rejected slots invalid in its mask (they
are never attended to again, and positions count valid slots only); slots
that no row kept are removed with ``DynamicCache.crop``. Left padding is the
same mechanism (invalid slots before the prompt). Finished rows leave the
batch (``batch_select_indices``). The draft's cache is rolled back too, though
the output law would stay exact without it: the p handed to acceptance is
always the law the draft sampled from, whatever its context.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import torch

from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_core.validation import check_choice, check_int, check_ssd_tolerance
from pcg_verify.e2e._monitor import Monitor, position_records
from pcg_verify.e2e._sampling import SamplingConfig

if TYPE_CHECKING:
    from pcg_core import Groups

__all__ = ["METHODS", "REFERENCES", "DecodeStats", "Generation", "generate"]

METHODS = ("ar", "sd", "ssd", "pcg")
#: Where the monitors' q comes from: the loop's own target rows, or a fresh no-cache pass (the audit mode).
REFERENCES = ("decoder", "recompute")
#: Temperature 1, no top-k, no top-p.
DEFAULT_SAMPLING = SamplingConfig()


@dataclass(frozen=True)
class DecodeStats:
    """Counts and time of one :func:`generate` call.

    ``target_calls`` and ``draft_calls`` count forward passes per row (a
    batched pass over 4 rows counts 4), prefill excluded, so autoregressive
    decoding makes exactly one target call per token. ``blocks``, ``drafted``
    and ``accepted`` are per row too (blocks verified, drafts proposed, drafts
    accepted); ``new_tokens`` counts emitted tokens (EOS included);
    ``seconds`` is the decoding wall time without the monitors' work
    (``monitor_seconds``).
    """

    target_calls: int
    draft_calls: int
    blocks: int
    drafted: int
    accepted: int
    new_tokens: int
    seconds: float
    monitor_seconds: float = 0.0

    @property
    def mean_accepted_per_block(self) -> float:
        """Accepted drafts per verified block (NaN without blocks)."""
        return self.accepted / self.blocks if self.blocks else math.nan

    @property
    def acceptance_rate(self) -> float:
        """Accepted drafts over proposed drafts (NaN without drafts)."""
        return self.accepted / self.drafted if self.drafted else math.nan

    @property
    def tokens_per_second(self) -> float:
        """Emitted tokens per second of decoding."""
        return self.new_tokens / self.seconds if self.seconds > 0 else math.nan

    @property
    def tokens_per_target_call(self) -> float:
        """Emitted tokens per target forward pass (per row); 1 for AR."""
        return self.new_tokens / self.target_calls if self.target_calls else math.nan

    def to_dict(self) -> dict[str, Any]:
        """Counts, times and the four derived rates (NaN as None)."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("mean_accepted_per_block", "acceptance_rate", "tokens_per_second", "tokens_per_target_call"):
            value = getattr(self, name)
            out[name] = None if math.isnan(value) else value
        return out


@dataclass(frozen=True)
class Generation:
    """What :func:`generate` returns: each row's new tokens (EOS included when hit) and the stats."""

    sequences: list[list[int]]
    stats: DecodeStats


class _CachedModel:
    """A causal LM, its DynamicCache over the batch's rows and the [B, S] mask of valid cache slots."""

    def __init__(self, model: Any, batch: int, device: torch.device) -> None:
        from transformers import DynamicCache

        self.model = model
        try:
            self.cache = DynamicCache(config=model.config)
        except TypeError:  # transformers versions whose DynamicCache takes no config
            self.cache = DynamicCache()
        parameters = inspect.signature(model.forward).parameters
        self.keyword = "cache" if "cache" in parameters else "past_key_values"
        self.mask = torch.zeros(batch, 0, dtype=torch.int64, device=device)

    def forward(self, tokens: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Append ``tokens`` [B, n] (``valid`` [B, n] bool: real tokens) to the cache; logits [B, n, V]."""
        mask = torch.cat([self.mask, valid.to(torch.int64)], 1)  # [B, S + n]
        positions = (mask.cumsum(1) - 1).clamp_min(0)[:, -tokens.shape[1]:]  # position = valid slots before
        with torch.no_grad():
            out = self.model(input_ids=tokens, attention_mask=mask, position_ids=positions, use_cache=True,
                             **{self.keyword: self.cache})
        self.mask = mask
        return out.logits  # type: ignore[no-any-return]

    def keep_last(self, keep: torch.Tensor) -> None:
        """Roll back: of the last ``keep.shape[1]`` slots, row b keeps those where ``keep[b]`` (bool); the
        slots no row keeps at the end of the cache are cropped."""
        n = keep.shape[1]
        if n:
            self.mask[:, -n:] *= keep.to(torch.int64)
        used = self.mask.any(0).nonzero()
        last = int(used.max()) + 1 if used.numel() else 0
        drop = self.mask.shape[1] - last
        if drop:
            self.cache.crop(-drop)  # a negative count removes that many slots from the end
            self.mask = self.mask[:, :last]

    def select(self, index: torch.Tensor) -> None:
        """Keep only the rows ``index`` [B'] (finished rows leave the batch)."""
        self.cache.batch_select_indices(index)
        self.mask = self.mask[index]


def generate(target: Any, draft: Any, input_ids: torch.Tensor, *, attention_mask: torch.Tensor | None = None,
             method: str, groups: Groups | None = None, gamma: int = 3, beta: float = 0.3,
             sampling: SamplingConfig = DEFAULT_SAMPLING, max_new_tokens: int,
             eos_token_id: int | Sequence[int] | None, generator: torch.Generator, monitor: Monitor | None = None,
             reference: str = "decoder") -> Generation:
    """Decode ``input_ids`` with ``method`` and feed ``monitor`` one record per verified position.

    Parameters
    ----------
    target, draft : transformers causal LMs
        In eval mode, sharing one vocabulary of V ids; ``draft`` may be None
        for ``"ar"``.
    input_ids : int64 [B, L]
        Prompts, left-padded when their lengths differ (each row ≥ 1 token).
    attention_mask : int [B, L] or None
        1 for real tokens; zeros only before a row's prompt.
    method : {"ar", "sd", "ssd", "pcg"}
    groups : Groups or None
        Over the V ids; required for ``"pcg"``. For ``"sd"``/``"ssd"``
        emitted tokens are labelled in these groups (default: singletons).
    gamma : int
        Drafts per block (≥ 1).
    beta : float
        SSD tolerance in [0, 1].
    sampling : SamplingConfig
        Applied identically to p, q, the residual, the bonus and AR sampling.
    max_new_tokens : int
        Tokens per row at most; a block that overshoots is cut.
    eos_token_id : int, sequence of int, or None
        A row stops after emitting one of these.
    generator : torch.Generator
        On the models' device; the only randomness of the decoding.
    monitor : Monitor or None
        Receives the records; its horizons default to ``max_new_tokens``
        (labels) and ``max_new_tokens − ⌊max_new_tokens / (γ+1)⌋`` (accepts,
        the fewest accept records a row can have before the length limit),
        its ``rows`` to B.
    reference : {"decoder", "recompute"}
        The monitors' q: the loop's target rows (cheap), or a fresh no-cache
        forward pass over each realised prefix (catches cache bugs).

    Returns
    -------
    Generation
    """
    method = check_choice("method", method, METHODS)
    reference = check_choice("reference", reference, REFERENCES)
    gamma = check_int("gamma", gamma, minimum=1)
    beta = check_ssd_tolerance(beta, "beta")
    max_new_tokens = check_int("max_new_tokens", max_new_tokens, minimum=1)
    if not isinstance(sampling, SamplingConfig):
        raise InvalidTypeError("sampling", sampling, "must be a SamplingConfig")
    if not isinstance(generator, torch.Generator):
        raise InvalidTypeError("generator", generator, "must be a torch.Generator")
    if monitor is not None and not isinstance(monitor, Monitor):
        raise InvalidTypeError("monitor", monitor, "must be a pcg_verify.e2e.Monitor or None")
    if method == "pcg" and groups is None:
        raise InvalidArgumentError("groups", None, "is required for method='pcg'",
                                   "build them with groups_from_model or groups_for_layout")
    _check_model("target", target)
    if method != "ar":
        _check_model("draft", draft)
    mask = _check_prompts(input_ids, attention_mask)
    eos = _eos_set(eos_token_id)
    loop = _Loop(target, None if method == "ar" else draft, input_ids, mask, method, groups, gamma, beta, sampling,
                 max_new_tokens, eos, generator, monitor, reference)
    return loop.run()


def _check_model(name: str, model: Any) -> None:
    if not callable(model) or not hasattr(model, "config"):
        raise InvalidTypeError(name, model, "must be a transformers causal LM (a PreTrainedModel)")
    if getattr(model, "training", False):
        raise InvalidArgumentError(name, type(model).__name__, "is in training mode (dropout would change its law)",
                                   "call model.eval() first")


def _check_prompts(input_ids: Any, attention_mask: Any) -> torch.Tensor:
    if not isinstance(input_ids, torch.Tensor) or input_ids.dtype != torch.int64 or input_ids.dim() != 2:
        raise InvalidTypeError("input_ids", input_ids, "must be an int64 tensor [B, L]")
    if input_ids.shape[0] < 1 or input_ids.shape[1] < 1:
        raise InvalidArgumentError("input_ids", input_ids, "must hold at least one row and one column")
    if attention_mask is None:
        return torch.ones_like(input_ids)
    if not isinstance(attention_mask, torch.Tensor) or attention_mask.shape != input_ids.shape:
        raise InvalidTypeError("attention_mask", attention_mask, f"must be a tensor of shape {list(input_ids.shape)}")
    mask = attention_mask.to(torch.int64)
    if bool(((mask != 0) & (mask != 1)).any()):
        raise InvalidArgumentError("attention_mask", attention_mask, "must hold only 0 and 1")
    if bool((mask[:, 1:] < mask[:, :-1]).any()) or bool((mask[:, -1] == 0).any()):
        raise InvalidArgumentError("attention_mask", attention_mask, "must be left padding: zeros, then ones to the "
                                   "end of every row", "pad prompts on the left (tokenizer.padding_side='left')")
    return mask


def _eos_set(eos_token_id: Any) -> frozenset[int]:
    if eos_token_id is None:
        return frozenset()
    values = [eos_token_id] if not isinstance(eos_token_id, Sequence) else list(eos_token_id)
    return frozenset(check_int("eos_token_id", v, minimum=0) for v in values)


class _Loop:
    """The state of one :func:`generate` call (rows still decoding, caches, counters)."""

    def __init__(self, target: Any, draft: Any, input_ids: torch.Tensor, mask: torch.Tensor, method: str,
                 groups: Groups | None, gamma: int, beta: float, sampling: SamplingConfig, max_new_tokens: int,
                 eos: frozenset[int], generator: torch.Generator, monitor: Monitor | None, reference: str) -> None:
        batch = input_ids.shape[0]
        self.device = input_ids.device
        self.method, self.groups, self.gamma, self.beta = method, groups, gamma, beta
        self.sampling, self.limit, self.eos, self.generator = sampling, max_new_tokens, eos, generator
        self.monitor, self.reference = monitor, reference
        self.target_model = target
        self.target = _CachedModel(target, batch, self.device)
        self.draft = None if draft is None else _CachedModel(draft, batch, self.device)
        self.prompts = [input_ids[b][mask[b].bool()].tolist() for b in range(batch)]
        self.sequences: list[list[int]] = [[] for _ in range(batch)]
        self.steps = [0] * batch
        self.active = torch.arange(batch, device=self.device)  # original row of each batch slot
        self.counts = dict.fromkeys(("target_calls", "draft_calls", "blocks", "drafted", "accepted"), 0)
        self.monitor_seconds = 0.0
        self.monitor_groups: Groups | None = None
        if monitor is not None:
            if monitor.rows is None:
                monitor.rows = batch
            if monitor.label_horizon is None:
                monitor.label_horizon = max_new_tokens
            if monitor.accept_horizon is None and method != "ar":
                monitor.accept_horizon = max_new_tokens - max_new_tokens // (gamma + 1)
        # Prefill all but the last prompt token; the last is the first input of the first step.
        if input_ids.shape[1] > 1:
            for stream in (self.target, self.draft):
                if stream is not None:
                    stream.forward(input_ids[:, :-1], mask[:, :-1].bool())
        self.pending = input_ids[:, -1]  # [B], the last token of each row, not yet in the target's cache
        self.draft_pending = input_ids[:, -1:]  # [B, 1 or 2], not yet in the draft's cache
        self.draft_valid = torch.ones_like(self.draft_pending, dtype=torch.bool)

    # ------------------------------------------------------------------ the loop
    def run(self) -> Generation:
        start = time.perf_counter()
        while self.active.numel():
            if self.method == "ar":
                self._ar_step()
            else:
                self._block()
        stats = DecodeStats(**self.counts, new_tokens=sum(len(s) for s in self.sequences),
                            seconds=time.perf_counter() - start - self.monitor_seconds,
                            monitor_seconds=self.monitor_seconds)
        return Generation([list(s) for s in self.sequences], stats)

    def _ar_step(self) -> None:
        rows = self.active.numel()
        logits = self.target.forward(self.pending[:, None], torch.ones(rows, 1, dtype=torch.bool,
                                                                        device=self.device))[:, -1]
        self.counts["target_calls"] += rows
        probs = self.sampling.probs(logits)  # q   [B', V]
        tokens = torch.multinomial(probs, 1, generator=self.generator)[:, 0]
        outcome = [([int(tokens[i])], [int(tokens[i])], 0) for i in range(rows)]
        self._monitor(outcome, probs[:, None], None, None)
        self.pending = tokens
        self._finish(outcome)

    def _block(self) -> None:
        assert self.draft is not None
        rows, gamma = self.active.numel(), self.gamma
        drafts, draft_probs = self._draft(rows)  # [B', γ], [B', γ, V]
        verify_input = torch.cat([self.pending[:, None], drafts], 1)  # [B', γ+1]
        logits = self.target.forward(verify_input, torch.ones_like(verify_input, dtype=torch.bool))
        self.counts["target_calls"] += rows
        target_probs = self.sampling.probs(logits)  # q_1..q_{γ+1}   [B', γ+1, V]
        out = self._verify(drafts, draft_probs, target_probs)
        accepted = out.num_accepted  # A   [B']
        self.counts["blocks"] += rows
        self.counts["drafted"] += rows * gamma
        self.counts["accepted"] += int(accepted.sum())
        self._roll_back(accepted)
        final = out.tokens.gather(1, accepted[:, None])[:, 0]  # the residual or bonus token   [B']
        full = accepted == gamma  # x_γ never went through the draft: it goes in with the final token
        if bool(full.any()):
            self.draft_pending = torch.stack([torch.where(full, drafts[:, -1], final), final], 1)
            self.draft_valid = torch.stack([full, torch.ones_like(full)], 1)
        else:
            self.draft_pending, self.draft_valid = final[:, None], torch.ones(rows, 1, dtype=torch.bool,
                                                                              device=self.device)
        labels = out.group_ids if out.group_ids is not None else out.tokens
        outcome = [(out.tokens[i, : int(accepted[i]) + 1].tolist(), labels[i, : int(accepted[i]) + 1].tolist(),
                    int(accepted[i])) for i in range(rows)]
        self._monitor(outcome, target_probs, draft_probs, drafts)
        self.pending = final
        self._finish(outcome)

    def _roll_back(self, accepted: torch.Tensor) -> None:
        """Step 4: each model's cache keeps what each row kept of this block (A = ``accepted`` [B'])."""
        assert self.draft is not None
        slots = torch.arange(self.gamma + 1, device=self.device)[None, :]
        self.target.keep_last(slots <= accepted[:, None])  # the target keeps [last token, x_1..x_A]
        # The draft's cache holds x_1..x_{γ-1} of this block: keep x_1..x_A.
        self.draft.keep_last(slots[:, 1:self.gamma] <= accepted[:, None])

    def _draft_laws(self) -> tuple[SamplingConfig, SamplingConfig]:
        """(the law the draft samples from, the law of the p handed to acceptance): both the configured one."""
        return self.sampling, self.sampling

    def _draft(self, rows: int) -> tuple[torch.Tensor, torch.Tensor]:
        """γ tokens from the draft, x_i ~ p_i; returns drafts [B', γ] and the p handed to acceptance [B', γ, V]."""
        assert self.draft is not None
        law, handed = self._draft_laws()
        tokens, valid = self.draft_pending, self.draft_valid
        drafts, probs = [], []
        for _ in range(self.gamma):
            logits = self.draft.forward(tokens, valid)[:, -1]
            self.counts["draft_calls"] += rows
            sample_law = law.probs(logits)
            draw = torch.multinomial(sample_law, 1, generator=self.generator)  # x_i   [B', 1]
            drafts.append(draw[:, 0])
            probs.append(sample_law if handed is law else handed.probs(logits))
            tokens, valid = draw, torch.ones_like(draw, dtype=torch.bool)
        return torch.stack(drafts, 1), torch.stack(probs, 1)

    def _verify(self, drafts: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor) -> Any:
        from pcg_core import ssd_verify, standard_verify, verify

        if self.method == "pcg":
            assert self.groups is not None
            return verify(drafts, draft_probs, target_probs, self.groups, generator=self.generator)
        if self.method == "sd":
            return standard_verify(drafts, draft_probs, target_probs, self.groups, generator=self.generator)
        return ssd_verify(drafts, draft_probs, target_probs, self.groups, generator=self.generator,
                          tolerance=self.beta)

    # ------------------------------------------------------------------ rows and records
    def _kept(self, row: int, tokens: list[int]) -> int:
        """How many of ``tokens`` row ``row`` keeps: up to the length limit and the first EOS."""
        room = self.limit - len(self.sequences[row])
        for j, token in enumerate(tokens[:room]):
            if token in self.eos:
                return j + 1
        return min(room, len(tokens))

    def _finish(self, outcome: list[tuple[list[int], list[int], int]]) -> None:
        """Append each row's kept tokens; drop finished rows from the batch."""
        alive = []
        for i, (tokens, _, _) in enumerate(outcome):
            row = int(self.active[i])
            kept = self._kept(row, tokens)
            self.sequences[row].extend(tokens[:kept])
            self.steps[row] += 1
            done = len(self.sequences[row]) >= self.limit or (kept and self.sequences[row][-1] in self.eos)
            if not done:
                alive.append(i)
        if len(alive) < self.active.numel():
            index = torch.tensor(alive, dtype=torch.int64, device=self.device)
            self.active, self.pending = self.active[index], self.pending[index]
            self.draft_pending, self.draft_valid = self.draft_pending[index], self.draft_valid[index]
            for stream in (self.target, self.draft):
                if stream is not None:
                    stream.select(index)

    def _monitor(self, outcome: list[tuple[list[int], list[int], int]], target_probs: torch.Tensor,
                 draft_probs: torch.Tensor | None, drafts: torch.Tensor | None) -> None:
        """Feed the monitor the records of this step (before ``_finish`` appends the tokens)."""
        if self.monitor is None:
            return
        start = time.perf_counter()
        from pcg_core import singleton_groups

        if self.monitor_groups is None:
            use_groups = self.method != "ar" and self.groups is not None
            self.monitor_groups = self.groups if use_groups else singleton_groups(target_probs.shape[-1]).to(
                self.device)
        assert self.monitor_groups is not None
        for i, (tokens, labels, accepted) in enumerate(outcome):
            row = int(self.active[i])
            kept = self._kept(row, tokens)
            if not kept:
                continue
            flags: list[bool | None]
            if self.method == "ar":
                kinds, flags = ["ar"], [None]
            else:
                kinds = ["draft"] * min(accepted + 1, self.gamma) + (["bonus"] if accepted == self.gamma else [])
                flags = [j < accepted for j in range(self.gamma)] + [None]
            kinds, flags = kinds[:kept], flags[:kept]
            reference = target_probs[i, :kept]
            if self.reference == "recompute":
                reference = self._recompute(row, [] if drafts is None else drafts[i].tolist(), kept)
            n_draft = kinds.count("draft")
            self.monitor.add(position_records(
                row=row, step=self.steps[row], first_position=len(self.sequences[row]), kinds=kinds,
                labels=labels[:kept], accepted=flags, target_probs=reference,
                draft_probs=None if draft_probs is None else draft_probs[i, :n_draft],
                groups=self.monitor_groups, token_level_accept=self.method != "pcg"))
        self.monitor_seconds += time.perf_counter() - start

    def _recompute(self, row: int, drafts: list[int], count: int) -> torch.Tensor:
        """q at the row's next ``count`` positions from one no-cache pass over prompt + output + drafts."""
        context = self.prompts[row] + self.sequences[row]
        sequence = torch.tensor([context + drafts], dtype=torch.int64, device=self.device)
        with torch.no_grad():
            logits = self.target_model(input_ids=sequence, use_cache=False).logits[0]
        return self.sampling.probs(logits[len(context) - 1 : len(context) - 1 + count])
