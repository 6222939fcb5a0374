"""Shared models of the e2e tier: a tiny random Llama pair in a Llasa-shaped layout, and the trained toy pair.

Everything is built from configs or trained here, seeded; nothing is downloaded
(the hub is switched off for the whole tier).
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


from e2e_pairs import DRAFT_NOISE, LAYOUT, TINY_TARGET, TOY_LANGUAGE, TOY_LAYOUT, Pair

from pcg_verify.e2e._toy import perturbed_copy, tiny_llama, train_lm


@pytest.fixture(scope="session")
def tiny_pair() -> Pair:
    target = tiny_llama(LAYOUT.vocab_size, **TINY_TARGET)
    return Pair(target, perturbed_copy(target, noise=DRAFT_NOISE, seed=2), LAYOUT)


@pytest.fixture(scope="session")
def toy_pair() -> Pair:
    """Target (2 layers, width 64) and draft (1 layer, width 16) trained on the toy language, seeded."""
    target = train_lm(tiny_llama(TOY_LAYOUT.vocab_size, hidden_size=64, layers=2, heads=4, seed=3),
                      TOY_LANGUAGE, steps=300, seed=4)
    draft = train_lm(tiny_llama(TOY_LAYOUT.vocab_size, hidden_size=16, layers=1, heads=2, seed=5),
                     TOY_LANGUAGE, steps=100, seed=6)
    return Pair(target, draft, TOY_LAYOUT)
