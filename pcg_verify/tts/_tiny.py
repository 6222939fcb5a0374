"""A tiny Llasa-shaped system built from configs (no download): tokenizer, target, draft, layout, groups.

Used by the CPU tests and by ``benchmarks/bench_libritts.py --tiny`` (the
pipeline's timings on a GPU without checkpoints). The vocabulary keeps
Llasa's shape with a small text part: ids ``[0, T)`` are a character-level
tokenizer's (lower-case letters, digits, punctuation) plus the chat and
Llasa special tokens, and speech token k is id ``T + k`` for all 65,536
X-codec2 codes, so the real codec's tokens are the model's. The models are
random (``LlamaForCausalLM`` from a ``LlamaConfig``, pcg_verify.e2e's
builder): every measurement on them is real, none is meaningful as speech.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pcg_core.validation import check_int
from pcg_verify.tts._extras import require
from pcg_verify.tts._prompt import SPECIAL_TOKENS, LlasaPrompter

__all__ = ["TinyLlasa", "fsq_prefix_groups", "tiny_llasa", "tiny_llasa_tokenizer"]

_CHARS = list("abcdefghijklmnopqrstuvwxyz0123456789 '.,;:!?-\"")
_CHAT = ("<|unk|>", "<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>")
#: Llama 3's chat layout, reduced to what Llasa's prompt uses.
_TEMPLATE = ("{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>"
             "{{ m['content'] }}{% if not loop.last %}<|eot_id|>{% endif %}{% endfor %}")


def tiny_llasa_tokenizer() -> Any:
    """A character-level ``PreTrainedTokenizerFast`` with a chat template and Llasa's special tokens
    (text is lower-cased; 56 ids)."""
    tokenizers = require("tokenizers", "the tiny Llasa tokenizer")
    transformers = require("transformers", "the tiny Llasa tokenizer")
    vocab = {token: i for i, token in enumerate([*_CHAT, *SPECIAL_TOKENS, *_CHARS])}
    model = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token=_CHAT[0]))
    model.normalizer = tokenizers.normalizers.Lowercase()
    model.pre_tokenizer = tokenizers.pre_tokenizers.Split(pattern="", behavior="isolated")
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=model, unk_token=_CHAT[0], bos_token=_CHAT[1], eos_token=_CHAT[2],
        additional_special_tokens=[*_CHAT[3:], *SPECIAL_TOKENS])
    tokenizer.chat_template = _TEMPLATE
    return tokenizer


@dataclass(frozen=True)
class TinyLlasa:
    """A tiny target and draft sharing the tokenizer's vocabulary plus the 65,536 speech ids."""

    target: Any
    draft: Any
    prompter: LlasaPrompter


def tiny_llasa(*, seed: int = 0, hidden_size: int = 32, target_layers: int = 2, draft_layers: int = 1,
               num_speech: int = 65_536, logit_scale: float = 1.0, device: str = "cpu") -> TinyLlasa:
    """Tokenizer, random target (``target_layers``) and draft (``draft_layers``), and the prompter."""
    from pcg_verify.e2e import SpeechLayout
    from pcg_verify.e2e._toy import tiny_llama

    master = check_int("seed", seed, minimum=0)
    tokenizer = tiny_llasa_tokenizer()
    offset = len(tokenizer)
    layout = SpeechLayout(offset + check_int("num_speech", num_speech, minimum=1), offset, num_speech)
    target = tiny_llama(layout.vocab_size, hidden_size=hidden_size, layers=target_layers, seed=master,
                        logit_scale=logit_scale).to(device)
    draft = tiny_llama(layout.vocab_size, hidden_size=hidden_size, layers=draft_layers, seed=master + 1,
                       logit_scale=logit_scale).to(device)
    return TinyLlasa(target, draft, LlasaPrompter.create(tokenizer, layout))


def fsq_prefix_groups(layout: Any, *, low_digits: int = 2) -> Any:
    """Disjoint groups of speech codes sharing all but their ``low_digits`` lowest base-4 FSQ digits
    (``4**low_digits`` codes each: ``k // 4**low_digits``); every other id a singleton.

    A cheap stand-in for embedding groups where building those over 65,536
    tokens is too slow (CPU tests); the label structure is X-codec2's grid.
    """
    from pcg_core import groups_from_labels

    digits = check_int("low_digits", low_digits, minimum=0, maximum=8)
    start, stop = layout.speech_range
    labels = np.arange(layout.vocab_size, dtype=np.int64)
    speech = np.arange(layout.num_speech, dtype=np.int64) // (4 ** digits)
    labels[start:stop] = start + speech  # labels of speech ids start after every text id's own label
    return groups_from_labels(labels)
