"""The e2e tier's model layouts and the Pair record, importable by its tests (``from e2e_pairs import …``).

They live here, not in conftest.py: two tiers have a conftest module, and ``from conftest import`` would
resolve to whichever was imported first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pcg_verify.e2e import SpeechLayout
from pcg_verify.e2e._toy import ToyLanguage

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


#: The toy language: 16 hidden clusters of 8 speech tokens after 8 text/special ids.
TOY_LAYOUT = SpeechLayout(vocab_size=8 + 128, speech_offset=8, num_speech=128, speech_start_id=1, speech_end_id=2)
TOY_LANGUAGE = ToyLanguage(TOY_LAYOUT, clusters=16, cluster_size=8, successors=2, fine_peak=0.9, seed=0)
