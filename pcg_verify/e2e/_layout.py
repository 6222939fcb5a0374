"""The Llasa vocabulary layout and the groups built over it.

Llasa-style speech LMs extend a text vocabulary with a speech range: speech
token k (a codec code, 0 ≤ k < ``num_speech``) is id ``speech_offset + k``
(Llasa: 128,264 + k for the 65,536 codes of X-codec2, V = 193,800). PCG's
groups cover the speech range only; text ids and special ids (speech
start/end, EOS) are singleton groups, verified exactly as in standard
speculative decoding.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_core.validation import check_choice, check_int, check_real

if TYPE_CHECKING:
    import torch

    from pcg_core import Groups

__all__ = ["LLASA_NUM_SPEECH", "LLASA_SPEECH_OFFSET", "LLASA_VOCAB_SIZE", "SpeechLayout", "groups_for_layout",
           "groups_from_model"]

#: Id of speech token 0 in Llasa's vocabulary (the text vocabulary and its special ids come first).
LLASA_SPEECH_OFFSET = 128_264
#: Speech tokens of Llasa (X-codec2's FSQ codebook).
LLASA_NUM_SPEECH = 65_536
#: Llasa's vocabulary size: the text ids followed by the speech ids.
LLASA_VOCAB_SIZE = LLASA_SPEECH_OFFSET + LLASA_NUM_SPEECH


@dataclass(frozen=True)
class SpeechLayout:
    """Where the speech tokens sit in a vocabulary of ``vocab_size`` ids.

    Parameters
    ----------
    vocab_size : int
        V, the models' vocabulary (rows of their output head).
    speech_offset : int
        Id of speech token 0; speech token k is id ``speech_offset + k``.
    num_speech : int
        Speech tokens; ``speech_offset + num_speech <= vocab_size``.
    speech_start_id, speech_end_id : int or None
        The special ids that open and close the speech segment (outside the
        speech range; singleton groups like every non-speech id).

    Examples
    --------
    >>> from pcg_verify.e2e import SpeechLayout
    >>> layout = SpeechLayout.llasa()
    >>> layout.speech_range, layout.vocab_size
    ((128264, 193800), 193800)
    """

    vocab_size: int
    speech_offset: int
    num_speech: int
    speech_start_id: int | None = None
    speech_end_id: int | None = None

    def __post_init__(self) -> None:
        vocab = check_int("vocab_size", self.vocab_size, minimum=1)
        offset = check_int("speech_offset", self.speech_offset, minimum=0)
        count = check_int("num_speech", self.num_speech, minimum=1)
        if offset + count > vocab:
            raise InvalidArgumentError("num_speech", count, f"speech ids [{offset}, {offset + count}) must lie "
                                       f"inside the vocabulary of vocab_size={vocab} ids")
        for name in ("speech_start_id", "speech_end_id"):
            value = getattr(self, name)
            if value is None:
                continue
            number = check_int(name, value, minimum=0, maximum=vocab - 1)
            if offset <= number < offset + count:
                raise InvalidArgumentError(name, value, f"must lie outside the speech ids [{offset}, {offset + count})")
            object.__setattr__(self, name, number)
        object.__setattr__(self, "vocab_size", vocab)
        object.__setattr__(self, "speech_offset", offset)
        object.__setattr__(self, "num_speech", count)

    @classmethod
    def llasa(cls, vocab_size: int = LLASA_VOCAB_SIZE, *, num_speech: int = LLASA_NUM_SPEECH,
              speech_start_id: int | None = None, speech_end_id: int | None = None) -> SpeechLayout:
        """Llasa's layout: speech token k is id 128,264 + k (pass the start/end ids from its tokenizer)."""
        return cls(vocab_size, LLASA_SPEECH_OFFSET, num_speech, speech_start_id, speech_end_id)

    @property
    def speech_range(self) -> tuple[int, int]:
        """The speech ids as ``[start, stop)``."""
        return self.speech_offset, self.speech_offset + self.num_speech

    def speech_id(self, k: int) -> int:
        """The vocabulary id of speech token ``k``."""
        return self.speech_offset + check_int("k", k, minimum=0, maximum=self.num_speech - 1)


def groups_for_layout(speech_embeddings: torch.Tensor, layout: SpeechLayout, *, theta: float,
                      top_k: int | None = None, cache: str | os.PathLike[str] | None = None) -> Groups:
    """Groups of the speech range from ``speech_embeddings`` [num_speech, D]; every other id a singleton.

    ``top_k=None``: the paper's threshold rule, ``G(t) = {t' : cos(E[t], E[t']) ≥ θ}``
    (:func:`pcg_core.groups_from_threshold`). With ``top_k``: the ``top_k``
    most similar tokens that also pass θ (:func:`pcg_core.groups_from_topk`,
    bounded memory). ``cache`` is an ``.npz`` path: loaded when it matches the
    embedding and the parameters, else written (see pcg_core's builders).

    Returns a :class:`pcg_core.Groups` over ``layout.vocab_size`` ids.

    Examples
    --------
    >>> import torch
    >>> from pcg_verify.e2e import SpeechLayout, groups_for_layout
    >>> layout = SpeechLayout(vocab_size=10, speech_offset=4, num_speech=4)
    >>> emb = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
    >>> groups = groups_for_layout(emb, layout, theta=0.9)
    >>> groups.members_of(int(groups.groups_of(4)[0])).tolist(), groups.num_groups
    ([4, 5], 8)
    """
    from pcg_core import groups_from_threshold, groups_from_topk

    if not isinstance(layout, SpeechLayout):
        raise InvalidTypeError("layout", layout, "must be a SpeechLayout")
    theta = check_real("theta", theta, minimum=-1.0, maximum=1.0)
    rows = getattr(speech_embeddings, "shape", (None,))[0]
    if getattr(speech_embeddings, "ndim", None) != 2 or rows != layout.num_speech:
        raise InvalidArgumentError("speech_embeddings", speech_embeddings,
                                   f"must be a 2-D tensor with one row per speech token ({layout.num_speech})")
    span = layout.speech_range
    if top_k is None:
        return groups_from_threshold(speech_embeddings, theta, token_range=span, vocab_size=layout.vocab_size,
                                     cache=cache)
    k = check_int("top_k", top_k, minimum=1, maximum=layout.num_speech)
    return groups_from_topk(speech_embeddings, k, min_similarity=theta, token_range=span,
                            vocab_size=layout.vocab_size, cache=cache)


def groups_from_model(model: Any, layout: SpeechLayout, *, theta: float, top_k: int | None = None,
                      source: str = "input", cache: str | os.PathLike[str] | None = None) -> Groups:
    """Groups from the speech rows of a Hugging Face model's input embedding (or output head).

    ``source="input"`` reads ``model.get_input_embeddings().weight`` (the
    paper's choice), ``"output"`` ``model.get_output_embeddings().weight``;
    rows ``speech_offset .. speech_offset + num_speech`` go to
    :func:`groups_for_layout` with ``theta``, ``top_k`` and ``cache``.
    """
    source = check_choice("source", source, ("input", "output"))
    getter = getattr(model, "get_input_embeddings" if source == "input" else "get_output_embeddings", None)
    module = getter() if callable(getter) else None
    weight = getattr(module, "weight", None)
    if weight is None or getattr(weight, "ndim", 0) != 2:
        raise InvalidTypeError("model", model, f"must be a Hugging Face model with an {source} embedding matrix")
    start, stop = layout.speech_range
    if weight.shape[0] < stop:
        raise InvalidArgumentError("layout", layout, f"speech ids reach {stop}, but the model's {source} embedding "
                                   f"has {weight.shape[0]} rows")
    return groups_for_layout(weight.detach()[start:stop], layout, theta=theta, top_k=top_k, cache=cache)
