"""pcg_core's samplers as ports: the reference the gate passes, and the two baselines.

Math follows the paper: q is the target, p the draft.
"""

from __future__ import annotations

from typing import Any

import torch

from pcg_core import Groups, ssd_verify, standard_verify, verify

__all__ = ["reference_port", "ssd_port", "standard_port"]


def reference_port(
    draft_tokens: torch.Tensor,
    draft_probs: torch.Tensor,
    target_probs: torch.Tensor,
    groups: Groups,
    *,
    generator: torch.Generator,
) -> Any:
    """pcg_core's :func:`~pcg_core.verify` with its defaults (thinning residual)."""
    return verify(draft_tokens, draft_probs, target_probs, groups, generator=generator)


def standard_port(
    draft_tokens: torch.Tensor,
    draft_probs: torch.Tensor,
    target_probs: torch.Tensor,
    groups: Groups,
    *,
    generator: torch.Generator,
) -> Any:
    """pcg_core's standard speculative decoding; labels drawn as k ~ w[·, t].

    Token-exact, so it keeps the group guarantee for any groups, but its joint
    law differs from PCG's reference (it accepts less): gate it with
    ``--groups singleton`` to check it as a plain speculative sampler.
    """
    return standard_verify(draft_tokens, draft_probs, target_probs, groups, generator=generator)


def ssd_port(
    draft_tokens: torch.Tensor,
    draft_probs: torch.Tensor,
    target_probs: torch.Tensor,
    groups: Groups,
    *,
    generator: torch.Generator,
) -> Any:
    """pcg_core's SSD tolerance rule with β = 0.3 (the paper's setting); inexact at every level."""
    return ssd_verify(draft_tokens, draft_probs, target_probs, groups, generator=generator, tolerance=0.3)
