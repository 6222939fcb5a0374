"""The within-group swap stress test (the paper's Table 2): are group members interchangeable as sound?

Each speech token t of an utterance is replaced, with probability
``fraction``, by a random member of one of its groups: a group k is drawn from
t's membership weights ``w[·, t]`` (the same draw as PCG's proposal coupling),
then a member uniformly from ``G_k``. The member may be t itself, so the share
of tokens that actually *changed* is reported separately (the paper: 91.4 %
changed, WER moved by +0.007). The test re-synthesises real recordings: the
target utterance's audio is encoded by the codec, decoded once as is (the
reference re-synthesis) and once after the swap, and WER/CER and speaker
similarity (to the original recording) are compared: ΔWER = WER(swapped) −
WER(re-synthesis), likewise for similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_core.validation import check_real

if TYPE_CHECKING:
    from pcg_core import Groups
    from pcg_verify.e2e import SpeechLayout

__all__ = ["SwapResult", "swap_within_groups"]


@dataclass(frozen=True)
class SwapResult:
    """Outcome of the swap stress test over the cases (fractions; Δ = swapped − re-synthesis)."""

    utterances: int
    tokens: int
    changed_fraction: float
    resynth_wer: float
    swapped_wer: float
    resynth_cer: float
    swapped_cer: float
    resynth_similarity: float
    swapped_similarity: float

    @property
    def delta_wer(self) -> float:
        return self.swapped_wer - self.resynth_wer

    @property
    def delta_similarity(self) -> float:
        return self.swapped_similarity - self.resynth_similarity

    def to_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out.update(delta_wer=self.delta_wer, delta_cer=self.swapped_cer - self.resynth_cer,
                   delta_similarity=self.delta_similarity)
        return out


def swap_within_groups(codes: Sequence[int] | npt.ArrayLike, groups: Groups, layout: SpeechLayout, *,
                       fraction: float = 1.0, rng: np.random.Generator) -> tuple[npt.NDArray[np.int64], int]:
    """Swap speech ``codes`` [F] (ints in ``[0, num_speech)``) for random members of their groups.

    Returns the swapped codes [F] and how many differ from the input. Groups
    are over the full vocabulary (``layout.vocab_size`` ids); speech code k is
    id ``layout.speech_offset + k``, and a member outside the speech range
    (possible only with hand-made groups) is refused.

    Examples
    --------
    >>> import numpy as np
    >>> from pcg_core import groups_from_labels
    >>> from pcg_verify.e2e import SpeechLayout
    >>> layout = SpeechLayout(vocab_size=6, speech_offset=2, num_speech=4)
    >>> groups = groups_from_labels([0, 1, 2, 2, 3, 3])   # speech codes {0, 1} and {2, 3}
    >>> swapped, changed = swap_within_groups([0, 0, 3, 3], groups, layout, rng=np.random.default_rng(0))
    >>> sorted(set(swapped[:2].tolist()) | {0, 1}) == [0, 1], set(swapped[2:].tolist()) <= {2, 3}
    (True, True)
    """
    from pcg_core import Groups

    if not isinstance(groups, Groups):
        raise InvalidTypeError("groups", groups, "must be a pcg_core.Groups")
    if groups.vocab_size != layout.vocab_size:
        raise InvalidArgumentError("groups", groups.vocab_size, f"must cover the layout's {layout.vocab_size} ids")
    if not isinstance(rng, np.random.Generator):
        raise InvalidTypeError("rng", rng, "must be a numpy.random.Generator")
    share = check_real("fraction", fraction, minimum=0.0, maximum=1.0)
    values = np.asarray(codes)
    if values.ndim != 1 or not np.issubdtype(values.dtype, np.integer):
        raise InvalidArgumentError("codes", values, "must be a one-dimensional integer array [F]")
    if values.size and (values.min() < 0 or values.max() >= layout.num_speech):
        raise InvalidArgumentError("codes", values, f"must lie in [0, {layout.num_speech})")
    ids = values.astype(np.int64) + layout.speech_offset  # [F] vocabulary ids
    token_ptr = groups.token_ptr.cpu().numpy()
    token_groups = groups.token_groups.cpu().numpy()
    token_weights = groups.token_weights.cpu().numpy().astype(np.float64)
    group_ptr = groups.group_ptr.cpu().numpy()
    members = groups.group_members.cpu().numpy()
    out = ids.copy()
    for i in np.flatnonzero(rng.random(ids.size) < share):
        start, stop = int(token_ptr[ids[i]]), int(token_ptr[ids[i] + 1])
        weights = token_weights[start:stop]
        k = int(token_groups[start + int(rng.choice(stop - start, p=weights / weights.sum()))])
        first, last = int(group_ptr[k]), int(group_ptr[k + 1])
        out[i] = int(members[first + int(rng.integers(last - first))])
    start, stop = layout.speech_range
    if out.size and (out.min() < start or out.max() >= stop):
        raise InvalidArgumentError("groups", groups, "has a speech token grouped with a non-speech id",
                                   "build groups with groups_for_layout")
    swapped = out - layout.speech_offset
    return swapped, int(np.count_nonzero(swapped != values))

