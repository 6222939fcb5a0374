"""Llasa's prompt format with a real (tiny, character-level) Hugging Face tokenizer built here."""

from __future__ import annotations

import pytest

from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_verify.e2e import SpeechLayout
from pcg_verify.tts import LlasaPrompter, tiny_llasa_tokenizer
from pcg_verify.tts._prompt import INSTRUCTION, SPECIAL_TOKENS


@pytest.fixture(scope="module")
def prompter() -> LlasaPrompter:
    tokenizer = tiny_llasa_tokenizer()
    offset = len(tokenizer)
    return LlasaPrompter.create(tokenizer, SpeechLayout(offset + 65_536, offset, 65_536))


def test_prompt_is_the_chat_up_to_speech_start_then_the_prompt_codes(prompter: LlasaPrompter) -> None:
    layout = prompter.layout
    text = prompter.text("He was not", "an ill disposed young man")
    assert text.endswith(f"{INSTRUCTION}{SPECIAL_TOKENS[0]}He was not an ill disposed young man{SPECIAL_TOKENS[1]}"
                         f"<|eot_id|><|start_header_id|>assistant<|end_header_id|>{SPECIAL_TOKENS[2]}")
    ids = prompter.input_ids("He was not", "an ill disposed young man", [0, 7, 65_535])
    assert ids[-4] == layout.speech_start_id
    assert ids[-3:] == [layout.speech_offset, layout.speech_offset + 7, layout.speech_offset + 65_535]
    assert all(i < layout.speech_offset for i in ids[:-3])
    tokens = prompter.tokenizer.convert_ids_to_tokens(ids[:-3])
    assert "".join(tokens).lower() == text.lower()  # one token per character or special token; text lower-cased
    assert tokens.count(SPECIAL_TOKENS[0]) == 1 and tokens[-1] == SPECIAL_TOKENS[2]


def test_speech_tokens_read_codes_up_to_the_end_token_and_count_dropped_ids(prompter: LlasaPrompter) -> None:
    layout = prompter.layout
    start = layout.speech_offset
    read = prompter.speech_tokens([start + 5, 3, start + 65_535, layout.speech_end_id, start + 1])
    assert (read.codes, read.ended, read.dropped) == ((5, 65_535), True, 1)
    assert prompter.speech_tokens([start, start + 2]).ended is False


def test_batch_left_pads(prompter: LlasaPrompter) -> None:
    ids, mask = prompter.batch([[5, 6, 7], [8]])
    assert ids.tolist()[1][-1] == 8 and ids.tolist()[0] == [5, 6, 7]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1]]


def test_bad_tokenizers_layouts_and_inputs_are_refused(prompter: LlasaPrompter) -> None:
    tokenizer = prompter.tokenizer
    with pytest.raises(InvalidTypeError, match=r"must be a pcg_verify\.e2e\.SpeechLayout"):
        LlasaPrompter.create(tokenizer, (1, 2))
    with pytest.raises(InvalidArgumentError, match="chat template"):
        LlasaPrompter.create(object(), prompter.layout)
    bare = tiny_llasa_tokenizer()
    bare.chat_template = None
    with pytest.raises(InvalidArgumentError, match="chat template"):
        LlasaPrompter.create(bare, prompter.layout)
    with pytest.raises(InvalidArgumentError, match=r"prompt_codes=.*must lie in \[0, 65536\)"):
        prompter.input_ids("a", "b", [65_536])
    with pytest.raises(InvalidArgumentError, match=r"target_text=''"):
        prompter.text("a", "")
    with pytest.raises(InvalidArgumentError, match="rows"):
        prompter.batch([])


def test_a_tokenizer_that_knows_speech_tokens_must_agree_with_the_layout() -> None:
    tokenizer = tiny_llasa_tokenizer()
    offset = len(tokenizer)
    tokenizer.add_tokens([f"<|s_{k}|>" for k in range(4)], special_tokens=True)
    LlasaPrompter.create(tokenizer, SpeechLayout(offset + 4, offset, 4))
    with pytest.raises(InvalidArgumentError, match=r"speech_offset must be the id of <\|s_0\|>"):
        LlasaPrompter.create(tokenizer, SpeechLayout(offset + 5, offset + 1, 4))
