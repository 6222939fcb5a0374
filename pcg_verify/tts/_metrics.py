"""Word and character error rates (jiwer) after one stated text normalisation.

Normalisation (:func:`normalize_text`, applied identically to references and
transcripts, in this order):

1. Unicode NFKC, then lower case.
2. The titles ``mr``, ``mrs``, ``dr`` and ``st`` (with or without a full stop)
   become ``mister``, ``missus``, ``doctor`` and ``saint`` (LibriVox and
   LibriTTS texts spell them either way; ASR models write the short form).
3. Hyphens and dashes become spaces (``ill-disposed`` = ``ill disposed``).
4. Every character other than a letter, a digit, an apostrophe inside a word
   or white space is removed; apostrophes at the edges of words are removed.
5. White space is collapsed to single spaces and trimmed.

Numbers are not spelt out: a transcript writing "1865" where the reference
says "eighteen sixty five" counts as errors (LibriTTS's normalised texts spell
numbers out, and so do the ASR models used here on read speech, mostly).

Rates are corpus-level, as the paper's tables: WER = (S + D + I) / N summed over
all utterances (N reference words), CER the same over characters of the
normalised texts (spaces included); fractions, not percent.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_verify.tts._extras import require

__all__ = ["ErrorRates", "error_rates", "normalize_text"]

_TITLES = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint"}
_TITLE_RE = re.compile(r"\b(mrs|mr|dr|st)\b\.?")
_DASH_RE = re.compile(r"[-‐‑‒–—―]")
_DROP_RE = re.compile(r"[^\w\s']|_")
_EDGE_APOSTROPHE_RE = re.compile(r"(?<!\w)'|'(?!\w)")


def normalize_text(text: str) -> str:
    """``text`` normalised as the module docstring states.

    >>> normalize_text("And Mr. John Dashwood -- ill-disposed, 'tis \\"so\\"!")
    'and mister john dashwood ill disposed tis so'
    """
    if not isinstance(text, str):
        raise InvalidTypeError("text", text, "must be a str")
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    text = _TITLE_RE.sub(lambda m: _TITLES[m.group(1)], text)
    text = _DASH_RE.sub(" ", text)
    text = _DROP_RE.sub(" ", text)
    text = _EDGE_APOSTROPHE_RE.sub(" ", text)
    return " ".join(text.split())


@dataclass(frozen=True)
class ErrorRates:
    """Corpus-level ``wer`` and ``cer`` (fractions) with their counts and the per-utterance WERs."""

    wer: float
    cer: float
    reference_words: int
    word_errors: int
    reference_chars: int
    char_errors: int
    per_utterance_wer: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"wer": self.wer, "cer": self.cer, "reference_words": self.reference_words,
                "word_errors": self.word_errors, "reference_chars": self.reference_chars,
                "char_errors": self.char_errors, "per_utterance_wer": list(self.per_utterance_wer)}


def error_rates(references: Sequence[str], hypotheses: Sequence[str]) -> ErrorRates:
    """Corpus WER and CER of ``hypotheses`` against ``references`` (same length) after :func:`normalize_text`.

    An empty hypothesis counts every reference word as deleted; a reference
    that normalises to nothing is an error (its rate would be undefined).

    >>> rates = error_rates(["he was not an ill disposed young man"], ["He was not an ill-disposed man."])
    >>> rates.wer, rates.word_errors, rates.reference_words
    (0.125, 1, 8)
    """
    jiwer = require("jiwer", "word and character error rates")
    if isinstance(references, str) or isinstance(hypotheses, str):
        raise InvalidTypeError("references", references, "must be a sequence of strings, not one string")
    if len(references) != len(hypotheses) or not references:
        raise InvalidArgumentError("hypotheses", len(hypotheses),
                                   f"must hold one transcript per reference ({len(references)}, at least one)")
    refs = [normalize_text(r) for r in references]
    hyps = [normalize_text(h) for h in hypotheses]
    for index, ref in enumerate(refs):
        if not ref:
            raise InvalidArgumentError(f"references[{index}]", references[index], "is empty after normalisation")
    words = jiwer.process_words(refs, hyps)
    chars = jiwer.process_characters(refs, hyps)
    word_errors = words.substitutions + words.deletions + words.insertions
    char_errors = chars.substitutions + chars.deletions + chars.insertions
    n_words = sum(len(r.split()) for r in refs)
    n_chars = sum(len(r) for r in refs)
    per = tuple(float(jiwer.wer(r, h)) for r, h in zip(refs, hyps, strict=True))
    return ErrorRates(word_errors / n_words, char_errors / n_chars, n_words, word_errors, n_chars, char_errors, per)
