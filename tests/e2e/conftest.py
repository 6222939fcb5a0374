"""Shared models of the e2e tier: a tiny random Llama pair in a Llasa-shaped layout, and the trained toy pair.

Everything is built from configs or trained here, seeded; nothing is downloaded
(the hub is switched off for the whole tier).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


from pcg_verify.e2e import SpeechLayout
from pcg_verify.e2e._toy import ToyLanguage, perturbed_copy, tiny_llama, train_lm

#: The tiny pair's layout: Llasa's shape (text ids, then the speech range, then start/end) with a small offset.
LAYOUT = SpeechLayout(vocab_size=300 + 512 + 2, speech_offset=300, num_speech=512, speech_start_id=812,
                      speech_end_id=813)
#: How peaked and how context-dependent the random target is (see tiny_llama): a stale cache then changes
#: its law a lot (mean TV ≈ 0.6 between two contexts that differ by two junk tokens).
TINY_TARGET = {"hidden_size": 32, "layers": 2, "heads": 4, "seed": 1, "logit_scale": 40.0, "attention_scale": 10.0,
               "value_scale": 4.0}
#: The draft: the target with 10 % weight noise (acceptance about 0.3–0.4 per draft).
DRAFT_NOISE = 0.1


@dataclass(frozen=True)
class Pair:
    target: Any
    draft: Any
    layout: SpeechLayout


@pytest.fixture(scope="session")
def tiny_pair() -> Pair:
    target = tiny_llama(LAYOUT.vocab_size, **TINY_TARGET)
    return Pair(target, perturbed_copy(target, noise=DRAFT_NOISE, seed=2), LAYOUT)


#: The toy language: 16 hidden clusters of 8 speech tokens after 8 text/special ids.
TOY_LAYOUT = SpeechLayout(vocab_size=8 + 128, speech_offset=8, num_speech=128, speech_start_id=1, speech_end_id=2)
TOY_LANGUAGE = ToyLanguage(TOY_LAYOUT, clusters=16, cluster_size=8, successors=2, fine_peak=0.9, seed=0)


@pytest.fixture(scope="session")
def toy_pair() -> Pair:
    """Target (2 layers, width 64) and draft (1 layer, width 16) trained on the toy language, seeded."""
    target = train_lm(tiny_llama(TOY_LAYOUT.vocab_size, hidden_size=64, layers=2, heads=4, seed=3),
                      TOY_LANGUAGE, steps=300, seed=4)
    draft = train_lm(tiny_llama(TOY_LAYOUT.vocab_size, hidden_size=16, layers=1, heads=2, seed=5),
                     TOY_LANGUAGE, steps=100, seed=6)
    return Pair(target, draft, TOY_LAYOUT)
