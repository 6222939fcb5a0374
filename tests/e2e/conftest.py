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

from pcg_verify.e2e._toy import TOY_PAIRS, perturbed_copy, tiny_llama


@pytest.fixture(scope="session")
def tiny_pair() -> Pair:
    target = tiny_llama(LAYOUT.vocab_size, **TINY_TARGET)
    return Pair(target, perturbed_copy(target, noise=DRAFT_NOISE, seed=2), LAYOUT)


@pytest.fixture(scope="session")
def toy_pair() -> Pair:
    """The "small" toy pair: target (2 layers, width 64) and draft (1 layer, width 16) trained on the toy
    language, seeded (the benchmark's "sized" pair is too slow to train here)."""
    target, draft = TOY_PAIRS["small"].train(TOY_LANGUAGE)
    return Pair(target, draft, TOY_LAYOUT)
