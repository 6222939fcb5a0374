"""Llasa's prompt for cross-sentence voice cloning, and reading speech tokens back from generated ids.

Llasa (a Llama with X-codec2's 65,536 speech tokens appended to its
vocabulary) is prompted through its tokenizer's chat template::

    user:      "Convert the text to speech:<|TEXT_UNDERSTANDING_START|>{prompt text} {target text}"
               "<|TEXT_UNDERSTANDING_END|>"
    assistant: "<|SPEECH_GENERATION_START|><|s_k1|><|s_k2|>..."     (the prompt audio's codes; message left open)

and continues the assistant message with the target's speech tokens until
``<|SPEECH_GENERATION_END|>``. Speech token ``<|s_k|>`` is the single id
``speech_offset + k``, so :meth:`LlasaPrompter.input_ids` renders the template
up to ``<|SPEECH_GENERATION_START|>`` as text, tokenizes it once, and appends
the prompt codes as ids (identical to tokenizing the ``<|s_k|>`` strings,
cheaper). When the tokenizer knows ``<|s_0|>`` its id must equal the layout's
offset, which is checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pcg_core.errors import InvalidArgumentError, InvalidTypeError

if TYPE_CHECKING:
    import torch

    from pcg_verify.e2e import SpeechLayout

__all__ = ["INSTRUCTION", "SPECIAL_TOKENS", "LlasaPrompter", "SpeechTokens"]

INSTRUCTION = "Convert the text to speech:"
#: Llasa's four special tokens that frame text and speech.
SPECIAL_TOKENS = ("<|TEXT_UNDERSTANDING_START|>", "<|TEXT_UNDERSTANDING_END|>",
                  "<|SPEECH_GENERATION_START|>", "<|SPEECH_GENERATION_END|>")


@dataclass(frozen=True)
class SpeechTokens:
    """Codes read from generated ids: ``codes`` (in [0, num_speech)), whether the end token was reached,
    and how many non-speech ids were dropped (Llasa's reader ignores them too)."""

    codes: tuple[int, ...]
    ended: bool
    dropped: int


@dataclass(frozen=True)
class LlasaPrompter:
    """Builds Llasa prompts with ``tokenizer`` (a Hugging Face tokenizer with a chat template and the four
    :data:`SPECIAL_TOKENS`) for the vocabulary ``layout``; use :meth:`create` to validate and fill the
    layout's start/end ids.
    """

    tokenizer: Any
    layout: SpeechLayout

    @classmethod
    def create(cls, tokenizer: Any, layout: SpeechLayout) -> LlasaPrompter:
        """Check the tokenizer against ``layout``; return a prompter whose layout carries the speech start/end ids."""
        from pcg_verify.e2e import SpeechLayout

        if not isinstance(layout, SpeechLayout):
            raise InvalidTypeError("layout", layout, "must be a pcg_verify.e2e.SpeechLayout")
        if not callable(getattr(tokenizer, "apply_chat_template", None)) or not getattr(tokenizer, "chat_template",
                                                                                        None):
            raise InvalidArgumentError("tokenizer", tokenizer, "must be a Hugging Face tokenizer with a chat template",
                                       "Llasa's tokenizer_config.json holds one")
        ids = {}
        unknown = getattr(tokenizer, "unk_token_id", None)
        for token in SPECIAL_TOKENS:
            value = tokenizer.convert_tokens_to_ids(token)
            if value is None or value == unknown:
                raise InvalidArgumentError("tokenizer", tokenizer, f"has no {token} token", "is it Llasa's tokenizer?")
            ids[token] = int(value)
        first = tokenizer.convert_tokens_to_ids("<|s_0|>")
        if first is not None and first != unknown and int(first) != layout.speech_offset:
            raise InvalidArgumentError("layout", layout, f"speech_offset must be the id of <|s_0|> ({first})")
        full = SpeechLayout(layout.vocab_size, layout.speech_offset, layout.num_speech,
                            speech_start_id=ids[SPECIAL_TOKENS[2]], speech_end_id=ids[SPECIAL_TOKENS[3]])
        return cls(tokenizer, full)

    def text(self, prompt_text: str, target_text: str) -> str:
        """The rendered chat up to and including ``<|SPEECH_GENERATION_START|>`` (no speech tokens)."""
        for name, value in (("prompt_text", prompt_text), ("target_text", target_text)):
            if not isinstance(value, str) or not value.strip():
                raise InvalidArgumentError(name, value, "must be a non-empty string")
        framed = f"{SPECIAL_TOKENS[0]}{prompt_text.strip()} {target_text.strip()}{SPECIAL_TOKENS[1]}"
        chat = [{"role": "user", "content": INSTRUCTION + framed},
                {"role": "assistant", "content": SPECIAL_TOKENS[2]}]
        rendered = self.tokenizer.apply_chat_template(chat, tokenize=False, continue_final_message=True)
        return str(rendered)

    def input_ids(self, prompt_text: str, target_text: str, prompt_codes: Sequence[int] | torch.Tensor) -> list[int]:
        """Token ids of the prompt: the rendered chat, then ``speech_offset + k`` for each prompt code ``k``."""
        codes = [int(k) for k in (prompt_codes.tolist() if hasattr(prompt_codes, "tolist") else prompt_codes)]
        if any(not 0 <= k < self.layout.num_speech for k in codes):
            raise InvalidArgumentError("prompt_codes", codes[:8], f"must lie in [0, {self.layout.num_speech})")
        ids = self.tokenizer(self.text(prompt_text, target_text), add_special_tokens=False)["input_ids"]
        return [int(i) for i in ids] + [self.layout.speech_offset + k for k in codes]

    def batch(self, rows: Sequence[list[int]], *, pad_id: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Left-padded ``input_ids`` [B, L] and ``attention_mask`` [B, L] (int64) of prompts of any lengths."""
        import torch

        if not rows:
            raise InvalidArgumentError("rows", rows, "must hold at least one prompt")
        pad = pad_id if pad_id is not None else (self.tokenizer.pad_token_id if self.tokenizer.pad_token_id
                                                 is not None else self.layout.speech_end_id)
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), int(pad or 0), dtype=torch.int64)
        mask = torch.zeros((len(rows), width), dtype=torch.int64)
        for b, row in enumerate(rows):
            ids[b, width - len(row):] = torch.tensor(row, dtype=torch.int64)
            mask[b, width - len(row):] = 1
        return ids, mask

    def speech_tokens(self, generated: Sequence[int]) -> SpeechTokens:
        """The speech codes of ``generated`` ids (the new tokens of one row), read up to the end token."""
        start, stop = self.layout.speech_range
        codes: list[int] = []
        dropped = 0
        for token in generated:
            if token == self.layout.speech_end_id:
                return SpeechTokens(tuple(codes), True, dropped)
            if start <= token < stop:
                codes.append(int(token) - start)
            else:
                dropped += 1
        return SpeechTokens(tuple(codes), False, dropped)
