"""End-to-end speculative decoding on Hugging Face causal LMs, with online guarantee monitors.

Math follows the paper: q is the target, p the draft (code says
``target_probs`` and ``draft_probs``). One loop decodes with plain
autoregressive sampling, standard speculative decoding, SSD(β) or PCG on top
of pcg_core's samplers (:func:`generate`); monitors test, record by record,
that the emitted groups follow the target's coarse law and that the accepts
follow their exact probabilities (:class:`Monitor`); records round-trip
through JSONL and ``.npz`` so an external engine can feed them too. The
harness behind ``pcg-verify e2e`` is :func:`run_e2e`. See docs/e2e.md.

A lazy façade (PEP 562): importing this package loads neither torch nor
transformers; each name is imported from its module on first use, and
transformers only inside the functions that run models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pcg_core.lazy import lazy_attributes

if TYPE_CHECKING:
    from pcg_verify.e2e._decode import DecodeStats, Generation, generate
    from pcg_verify.e2e._harness import E2EOutcome, run_e2e
    from pcg_verify.e2e._layout import (
        LLASA_NUM_SPEECH,
        LLASA_SPEECH_OFFSET,
        LLASA_VOCAB_SIZE,
        SpeechLayout,
        groups_for_layout,
        groups_from_model,
    )
    from pcg_verify.e2e._monitor import Monitor, MonitorResult, StreamResult
    from pcg_verify.e2e._records import RECORDS_VERSION, Record, load_records, save_records
    from pcg_verify.e2e._sampling import SamplingConfig

__all__ = [
    "LLASA_NUM_SPEECH",
    "LLASA_SPEECH_OFFSET",
    "LLASA_VOCAB_SIZE",
    "RECORDS_VERSION",
    "DecodeStats",
    "E2EOutcome",
    "Generation",
    "Monitor",
    "MonitorResult",
    "Record",
    "SamplingConfig",
    "SpeechLayout",
    "StreamResult",
    "generate",
    "groups_for_layout",
    "groups_from_model",
    "load_records",
    "run_e2e",
    "save_records",
]

_HOME = {
    "pcg_verify.e2e._decode": ("DecodeStats", "Generation", "generate"),
    "pcg_verify.e2e._harness": ("E2EOutcome", "run_e2e"),
    "pcg_verify.e2e._layout": ("LLASA_NUM_SPEECH", "LLASA_SPEECH_OFFSET", "LLASA_VOCAB_SIZE", "SpeechLayout",
                               "groups_for_layout", "groups_from_model"),
    "pcg_verify.e2e._monitor": ("Monitor", "MonitorResult", "StreamResult"),
    "pcg_verify.e2e._records": ("RECORDS_VERSION", "Record", "load_records", "save_records"),
    "pcg_verify.e2e._sampling": ("SamplingConfig",),
}
_MODULE_OF = {name: module for module, names in _HOME.items() for name in names}


__getattr__, __dir__ = lazy_attributes(__name__, _MODULE_OF, __all__)
