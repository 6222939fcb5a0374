"""A port exact in law whose outputs follow Python's string hashing: deterministic in one process only.

It verifies the rows of a call in 16 chunks (rows ``r ≡ c mod 16``), one
``pcg_core.verify`` call per chunk with the caller's generator, in the order
of iterating ``{str(c) for c in range(16)}``: a set of strings, whose order
follows ``PYTHONHASHSEED``. Every row keeps its law (rows are independent and
each draws from the generator's stream), and a process repeats itself under
one seed; another process with another hash seed hands the rows other
random numbers, so the gate's replay lines would not replay it.
"""

from __future__ import annotations

import torch

from pcg_core import Groups, verify

CHUNKS = 16


def port(draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor, groups: Groups, *,
         generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    rows, gamma = draft_tokens.shape
    tokens = torch.full((rows, gamma + 1), -1, dtype=torch.int64)
    labels = torch.full((rows, gamma + 1), -1, dtype=torch.int64)
    accepted = torch.zeros(rows, dtype=torch.int64)
    for chunk in {str(c) for c in range(CHUNKS)}:  # the order of a set of str: PYTHONHASHSEED's
        index = torch.arange(int(chunk), rows, CHUNKS)
        if len(index):
            out = verify(draft_tokens[index], draft_probs[index], target_probs[index], groups, generator=generator)
            assert out.group_ids is not None
            tokens[index], labels[index], accepted[index] = out.tokens, out.group_ids, out.num_accepted
    return tokens, labels, accepted
