"""Ports that break the call clauses of docs/port-contract.md while every single output is right.

Loaded by import path (``tests/verify/call_ports.py:NAME``) both in-process and in an isolated worker by
tests/verify/test_call_clauses.py. Each is the reference sampler with one fault in how it is called.
"""

from __future__ import annotations

from typing import Any

import torch

from pcg_core import Groups, verify

#: Rows of the static buffers (the gate's largest call, as a CUDA graph is captured for the largest batch).
CAPACITY = 16384
_BUFFERS: dict[str, torch.Tensor] = {}


def static_buffers(draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor,
                   groups: Groups, *, generator: torch.Generator) -> Any:
    """Right outputs, returned as views of buffers the next call overwrites (as with CUDA-graph capture)."""
    out = verify(draft_tokens, draft_probs, target_probs, groups, generator=generator)
    rows = out.tokens.shape[0]
    for name in ("tokens", "group_ids", "num_accepted"):
        value = getattr(out, name)
        buffer = _BUFFERS.get(name)
        if buffer is None or buffer.shape[0] < rows or buffer.shape[1:] != value.shape[1:]:
            buffer = _BUFFERS[name] = torch.empty((max(rows, CAPACITY), *value.shape[1:]), dtype=value.dtype)
        buffer[:rows].copy_(value)
    return _BUFFERS["tokens"][:rows], _BUFFERS["group_ids"][:rows], _BUFFERS["num_accepted"][:rows]


def initial_seed_stream(draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor,
                        groups: Groups, *, generator: torch.Generator) -> Any:
    """Draws from its own generator seeded with ``generator.initial_seed()``, never advancing ``generator``:
    exact under a fresh generator per call, the same draws at every step of a decode loop."""
    own = torch.Generator().manual_seed(generator.initial_seed())
    return verify(draft_tokens, draft_probs, target_probs, groups, generator=own)


def advances_but_replays(draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor,
                         groups: Groups, *, generator: torch.Generator) -> Any:
    """Like :func:`initial_seed_stream`, but draws one number from ``generator`` first, so it is advanced:
    only the joint law of consecutive calls shows that every step replays the same draws."""
    torch.rand(1, generator=generator)
    return initial_seed_stream(draft_tokens, draft_probs, target_probs, groups, generator=generator)
