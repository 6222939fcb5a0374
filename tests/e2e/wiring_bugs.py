"""Planted wiring bugs of the decoding loop: test-side subclasses of it, each overriding one small method.

Math follows the paper: q is the target, p the draft. The production loop
(``pcg_verify.e2e._decode._Loop``) has no switches for these; each bug is a
subclass here that overrides one step of it, and :func:`decode_with_bug`
runs it as :func:`pcg_verify.e2e.generate` would (the arguments are the
tests' own, so the public validation is not repeated). docs/e2e.md says what
catches each one.
"""

from __future__ import annotations

from typing import Any

import torch

from pcg_core import Groups
from pcg_verify.e2e import Generation, Monitor, SamplingConfig
from pcg_verify.e2e._decode import _Loop

#: ``draft_temperature``: the draft samples at this multiple of the configured temperature.
TEMPERATURE_FACTOR = 2.0


class DraftTemperature(_Loop):
    """The draft samples at twice the temperature of the p handed to acceptance."""

    def _draft_laws(self) -> tuple[SamplingConfig, SamplingConfig]:
        hotter = SamplingConfig(self.sampling.temperature * TEMPERATURE_FACTOR, self.sampling.top_k,
                                self.sampling.top_p)
        return hotter, self.sampling


class TopKOneSide(_Loop):
    """The draft samples with top-k as configured; the p handed to acceptance is not top-k'ed."""

    def _draft_laws(self) -> tuple[SamplingConfig, SamplingConfig]:
        return self.sampling, SamplingConfig(self.sampling.temperature, None, self.sampling.top_p)


class TargetCache(_Loop):
    """The target's KV cache is not rolled back after a rejection (the draft's is)."""

    def _roll_back(self, accepted: torch.Tensor) -> None:
        assert self.draft is not None
        slots = torch.arange(1, self.gamma, device=self.device)[None, :]  # x_1..x_{γ-1} in the draft's cache
        self.draft.keep_last(slots <= accepted[:, None])


WIRING_BUGS: dict[str, type[_Loop]] = {
    "draft_temperature": DraftTemperature,
    "top_k_one_side": TopKOneSide,
    "target_cache": TargetCache,
}


def decode_with_bug(bug: str, target: Any, draft: Any, input_ids: torch.Tensor, *, groups: Groups, gamma: int,
                    beta: float, sampling: SamplingConfig, max_new_tokens: int, generator: torch.Generator,
                    monitor: Monitor, reference: str) -> Generation:
    """PCG decoding of ``input_ids`` [B, L] (no padding, no EOS) through the loop with wiring bug ``bug``."""
    loop = WIRING_BUGS[bug](target, draft, input_ids, torch.ones_like(input_ids), "pcg", groups, gamma, beta,
                            sampling, max_new_tokens, frozenset(), generator, monitor, reference)
    return loop.run()
