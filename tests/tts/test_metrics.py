"""WER/CER with jiwer after the stated normalisation, checked against hand counts."""

from __future__ import annotations

import pytest

from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_verify.tts import error_rates, normalize_text


@pytest.mark.parametrize(("text", "normalised"), [
    ("And Mr. John Dashwood had then leisure", "and mister john dashwood had then leisure"),
    ("Mrs Jennings and Dr. Smith of St. Ives", "missus jennings and doctor smith of saint ives"),
    ("ill-disposed — cold–hearted", "ill disposed cold hearted"),
    ("'Tis John's \"book\"!  Isn't it?", "tis john's book isn't it"),
    ("ÉCOLE  café\tno", "école café no"),
    ("...", ""),
])
def test_normalisation(text: str, normalised: str) -> None:
    assert normalize_text(text) == normalised


def test_corpus_rates_count_substitutions_deletions_and_insertions() -> None:
    references = ["he was not an ill disposed young man", "he might even have been made amiable himself"]
    hypotheses = ["He was not an old-sposed young man.", "He might even have been made amiable himself, yes"]
    rates = error_rates(references, hypotheses)
    # utterance 1: "ill disposed" -> "old sposed" = 2 substitutions of 8 words; utterance 2: 1 insertion of 8.
    assert (rates.word_errors, rates.reference_words) == (3, 16)
    assert rates.wer == pytest.approx(3 / 16)
    assert rates.per_utterance_wer == pytest.approx((2 / 8, 1 / 8))
    # Characters: jiwer's counts equal a direct Levenshtein distance over the normalised texts.
    expected = _levenshtein(references[0], "he was not an old sposed young man") + \
        _levenshtein(references[1], "he might even have been made amiable himself yes")
    assert rates.char_errors == expected
    assert rates.cer == pytest.approx(expected / sum(len(r) for r in references))
    assert error_rates(["a b"], [""]).wer == 1.0


def _levenshtein(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def test_bad_inputs() -> None:
    with pytest.raises(InvalidArgumentError, match="must hold one transcript per reference"):
        error_rates(["a"], ["a", "b"])
    with pytest.raises(InvalidArgumentError, match="is empty after normalisation"):
        error_rates(["?!"], ["a"])
    with pytest.raises(InvalidTypeError, match="not one string"):
        error_rates("abc", "abc")
    with pytest.raises(InvalidTypeError, match="must be a str"):
        normalize_text(3)  # type: ignore[arg-type]
