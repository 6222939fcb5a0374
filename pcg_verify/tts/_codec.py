"""X-codec2: waveform (16 kHz) ↔ speech tokens (50 per second, 65,536 FSQ codes), from local files only.

xcodec2 0.1.5's ``XCodec2Model.__init__`` downloads the ``facebook/w2v-bert-2.0``
semantic model and its feature extractor from a hub. :class:`XCodec2` builds
the same module tree (attribute names, so checkpoints load unchanged) with the
semantic model given by the caller: read from a local directory, taken from the
codec checkpoint itself, or built from a ``Wav2Vec2BertConfig`` with random
weights (tests). Encoding and decoding are xcodec2's own ``encode_code`` /
``decode_code``; the package is imported through :mod:`pcg_verify.tts._shim`.

Shapes: ``T`` samples at 16 kHz; ``F = T // 320 + 1`` frames (xcodec2 pads
1..320 samples up to a multiple of the 320-sample hop); codes are int64 in
``[0, 65536)``; decoding ``F`` codes gives ``320·F`` samples.

Codec checkpoint directory (as published): ``config.json`` (a ``BigCodecConfig``)
and ``model.safetensors`` holding the keys ``SemanticEncoder_module.*``,
``CodecEnc.*``, ``generator.*``, ``fc_prior.*``, ``fc_post_a.*`` and, when the
checkpoint includes it, ``semantic_model.*``; otherwise pass ``semantic_dir``,
a local copy of w2v-bert-2.0 (``config.json``, ``model.safetensors``,
``preprocessor_config.json``).
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from pcg_core.atomic import atomic_writer, write_text_atomic
from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_core.validation import check_int
from pcg_verify.tts._audio import resample
from pcg_verify.tts._extras import require
from pcg_verify.tts._shim import import_xcodec2

__all__ = ["CODEC_HOP", "CODEC_NUM_CODES", "CODEC_SAMPLE_RATE", "XCodec2"]

CODEC_SAMPLE_RATE = 16_000
CODEC_HOP = 320
CODEC_NUM_CODES = 65_536
_SEMANTIC_LAYER = 16  # xcodec2 reads hidden_states[16] of the semantic model
_WEIGHTS = "model.safetensors"


class XCodec2:
    """The X-codec2 codec around xcodec2's model, loaded from local paths only.

    Parameters
    ----------
    model : xcodec2 ``XCodec2Model`` (as built by :meth:`from_pretrained` or :meth:`random`)

    Examples
    --------
    A small codec with random weights (the test suite's):

    >>> import torch
    >>> codec = XCodec2.random(seed=0, decoder_depth=1, encoder_channels=4, semantic_layers=16,
    ...                        semantic_intermediate=32)
    >>> codes = codec.encode(torch.zeros(16_000), 16_000)
    >>> codes.shape, codec.decode(codes).shape
    (torch.Size([51]), torch.Size([16320]))
    """

    sample_rate = CODEC_SAMPLE_RATE
    hop = CODEC_HOP
    num_codes = CODEC_NUM_CODES

    def __init__(self, model: Any) -> None:
        self.model = model.eval()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pretrained(cls, codec_dir: str | os.PathLike[str], *, semantic_dir: str | os.PathLike[str] | None = None,
                        device: str | torch.device = "cpu") -> XCodec2:
        """Load a codec checkpoint directory (module docstring) without any network access.

        The semantic model's weights come from ``codec_dir``'s ``model.safetensors``
        when it holds ``semantic_model.*`` keys (its architecture: the config's
        ``semantic_model_config``, else w2v-bert-2.0's), else from ``semantic_dir``
        (required then). Every parameter must be loaded: a missing or unexpected
        key raises. Optional config keys ``decoder_depth`` and ``encoder_channels``
        (absent in the release: 12 and 48) describe a smaller codec such as
        :meth:`random` builds and :meth:`save_pretrained` writes.
        """
        codec_path = _directory("codec_dir", codec_dir, ("config.json", _WEIGHTS))
        safetensors = require("safetensors.torch", "loading an X-codec2 checkpoint")
        transformers = require("transformers", "the X-codec2 semantic model")
        config_data = json.loads((codec_path / "config.json").read_text(encoding="utf-8"))
        state = safetensors.load_file(str(codec_path / _WEIGHTS))
        if semantic_dir is not None:
            semantic_path = _directory("semantic_dir", semantic_dir, ("config.json",))
            semantic = transformers.Wav2Vec2BertModel.from_pretrained(
                str(semantic_path), output_hidden_states=True, local_files_only=True)
            extractor = (transformers.AutoFeatureExtractor.from_pretrained(str(semantic_path), local_files_only=True)
                         if (semantic_path / "preprocessor_config.json").is_file() else _feature_extractor())
            state = {k: v for k, v in state.items() if not k.startswith("semantic_model.")}
        elif any(key.startswith("semantic_model.") for key in state):
            semantic_config = dict(config_data.get("semantic_model_config") or {}, output_hidden_states=True)
            semantic = transformers.Wav2Vec2BertModel(transformers.Wav2Vec2BertConfig(**semantic_config))
            extractor = _feature_extractor()
        else:
            raise InvalidArgumentError("semantic_dir", None, f"is required: {codec_path / _WEIGHTS} has no "
                                       "semantic_model.* weights", "pass a local copy of facebook/w2v-bert-2.0")
        model = _build(config_data, semantic, extractor)
        _load_state(model, state, skip_prefix=None if semantic_dir is None else "semantic_model.")
        return cls(model.to(device))

    @classmethod
    def random(cls, *, seed: int, decoder_depth: int = 12, encoder_channels: int = 48, semantic_layers: int = 24,
               semantic_intermediate: int = 4096, device: str | torch.device = "cpu") -> XCodec2:
        """X-codec2 with random weights (seeded): the real module tree, for tests and timing.

        ``decoder_depth`` (the Vocos backbone's transformer blocks, 12 in the
        release), ``encoder_channels`` (the acoustic encoder's first width, doubled
        at each of its 5 strides; 48 in the release), ``semantic_layers`` (≥ 16:
        xcodec2 reads hidden layer 16; 24 in w2v-bert-2.0) and
        ``semantic_intermediate`` (4096 in w2v-bert-2.0) shrink the model for CPU
        tests; every width the checkpoint fixes (1024, 2048, the FSQ levels [4]·8)
        is kept.
        """
        check_int("seed", seed, minimum=0)
        semantic_config = {"num_hidden_layers": check_int("semantic_layers", semantic_layers, minimum=_SEMANTIC_LAYER),
                           "intermediate_size": check_int("semantic_intermediate", semantic_intermediate, minimum=1)}
        config_data = {"decoder_depth": check_int("decoder_depth", decoder_depth, minimum=1),
                       "encoder_channels": check_int("encoder_channels", encoder_channels, minimum=1),
                       "semantic_model_config": semantic_config}
        transformers = require("transformers", "the X-codec2 semantic model")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            semantic = transformers.Wav2Vec2BertModel(transformers.Wav2Vec2BertConfig(
                **semantic_config, output_hidden_states=True))
            model = _build(config_data, semantic, _feature_extractor())
        return cls(model.to(device))

    def save_pretrained(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``config.json`` (with the sizes and the semantic model's architecture) and ``model.safetensors``
        (every weight, the semantic model's included) into ``directory``; :meth:`from_pretrained` reads it back."""
        safetensors = require("safetensors.torch", "saving an X-codec2 checkpoint")
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        config = self.model.config.to_dict()
        semantic = self.model.semantic_model.config
        config["semantic_model_config"] = {"num_hidden_layers": semantic.num_hidden_layers,
                                           "intermediate_size": semantic.intermediate_size}
        state = {k: v.detach().contiguous().cpu() for k, v in self.model.state_dict().items()}
        with atomic_writer(path / _WEIGHTS, "wb") as handle:
            handle.write(safetensors.save(state))
        write_text_atomic(path / "config.json", json.dumps(config, indent=2, sort_keys=True) + "\n")
        return path

    # ------------------------------------------------------------------ use
    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device  # type: ignore[no-any-return]

    def encode(self, waveform: torch.Tensor | npt.ArrayLike, sample_rate: int) -> torch.Tensor:
        """Speech tokens of a mono ``waveform`` [T] at ``sample_rate`` Hz: int64 [F] in [0, 65536),
        ``F = T' // 320 + 1`` where ``T'`` is the length after resampling to 16 kHz."""
        wave = waveform.detach().cpu().numpy() if isinstance(waveform, torch.Tensor) else np.asarray(waveform)
        if wave.ndim != 1 or wave.size == 0:
            raise InvalidArgumentError("waveform", wave, "must be a non-empty mono signal of shape [T]")
        if not np.issubdtype(wave.dtype, np.floating):
            raise InvalidTypeError("waveform", wave, "must hold floating-point samples in [-1, 1]")
        signal = torch.from_numpy(resample(wave, sample_rate, CODEC_SAMPLE_RATE))[None, :]  # [1, T']
        codes = self.model.encode_code(signal.to(self.device), sample_rate=CODEC_SAMPLE_RATE)  # [1, 1, F]
        out: torch.Tensor = codes.reshape(-1).to(torch.int64).cpu()
        return out

    def decode(self, codes: torch.Tensor | npt.ArrayLike) -> torch.Tensor:
        """Waveform [320·F] float32 at 16 kHz of speech tokens ``codes`` [F] (ints in [0, 65536))."""
        ids = torch.as_tensor(codes)
        if ids.ndim != 1 or ids.numel() == 0 or ids.dtype in (torch.bool,) or ids.is_floating_point():
            raise InvalidArgumentError("codes", ids, "must be a non-empty integer tensor of shape [F]")
        if int(ids.min()) < 0 or int(ids.max()) >= CODEC_NUM_CODES:
            raise InvalidArgumentError("codes", ids, f"must lie in [0, {CODEC_NUM_CODES})")
        wave = self.model.decode_code(ids.to(torch.int64).to(self.device)[None, None, :])  # [1, 1, 320·F]
        out: torch.Tensor = wave.reshape(-1).float().cpu()
        return out

    @torch.no_grad()
    def code_vectors(self, *, chunk: int = 8192) -> torch.Tensor:
        """The vector each code stands for in the codec: FSQ's output projection of its grid point,
        float32 [65536, 2048] (what the decoder receives before ``fc_post_a``). The paper's
        "raw acoustic" grouping ablation builds groups from these instead of the target's embeddings."""
        size = check_int("chunk", chunk, minimum=1)
        quantizer = self.model.generator.quantizer
        rows = []
        for start in range(0, CODEC_NUM_CODES, size):
            ids = torch.arange(start, min(start + size, CODEC_NUM_CODES), device=self.device)
            rows.append(quantizer.get_output_from_indices(ids[None, :, None])[0].float().cpu())  # [n, 2048]
        return torch.cat(rows)


# ---------------------------------------------------------------------- module tree
def _feature_extractor() -> Any:
    """w2v-bert-2.0's feature extractor, from its published settings (80 log-mel bins, stride 2, 16 kHz)."""
    transformers = require("transformers", "the X-codec2 semantic features")
    return transformers.SeamlessM4TFeatureExtractor(
        feature_size=80, num_mel_bins=80, sampling_rate=CODEC_SAMPLE_RATE, stride=2, padding_value=1.0)


def _build(config_data: dict[str, Any], semantic: Any, extractor: Any) -> Any:
    """xcodec2's ``XCodec2Model`` tree with ``semantic`` as its semantic model (no hub access); the optional
    ``decoder_depth`` and ``encoder_channels`` of ``config_data`` size the decoder and the acoustic encoder."""
    modules = import_xcodec2()
    decoder_class = importlib.import_module("xcodec2.vq.codec_decoder_vocos").CodecDecoderVocos
    encoder_class = importlib.import_module("xcodec2.vq.codec_encoder").CodecEncoder_Transformer
    semantic_encoder_class = importlib.import_module("xcodec2.vq.module").SemanticEncoder

    config = modules.configuration.BigCodecConfig(**{k: v for k, v in config_data.items()
                                                      if k not in ("architectures", "transformers_version")})
    decoder_depth = check_int("decoder_depth", config_data.get("decoder_depth", 12), minimum=1)
    encoder_channels = check_int("encoder_channels", config_data.get("encoder_channels", 48), minimum=1)
    model_class = modules.modeling.XCodec2Model
    model = model_class.__new__(model_class)
    super(model_class, model).__init__(config)  # PreTrainedModel.__init__: skips the hub-loading body
    width = config.semantic_hidden_size
    if semantic.config.hidden_size != width:
        raise InvalidArgumentError("semantic_dir", semantic.config.hidden_size,
                                   f"the semantic model's hidden size must be the codec's {width}")
    semantic.eval()
    model.semantic_model = semantic
    model.SemanticEncoder_module = semantic_encoder_class(width, width, width)
    model.CodecEnc = encoder_class(ngf=encoder_channels)
    model.generator = decoder_class(depth=decoder_depth)
    model.fc_prior = torch.nn.Linear(2048, 2048)
    model.fc_post_a = torch.nn.Linear(2048, 1024)
    model.feature_extractor = extractor
    return model


def _load_state(model: Any, state: dict[str, torch.Tensor], *, skip_prefix: str | None) -> None:
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if skip_prefix is None or not k.startswith(skip_prefix)]
    if missing or result.unexpected_keys:
        raise InvalidArgumentError("codec_dir", f"{len(state)} tensors",
                                   f"does not match X-codec2's modules: missing {missing[:5]}, "
                                   f"unexpected {list(result.unexpected_keys)[:5]}",
                                   "is it an xcodec2 0.1.5 checkpoint (model.safetensors)?")


def _directory(name: str, value: Any, files: tuple[str, ...]) -> Path:
    if not isinstance(value, str | os.PathLike):
        raise InvalidTypeError(name, value, "must be a path (str or os.PathLike) to a local directory")
    path = Path(value)
    if not path.is_dir():
        raise InvalidArgumentError(name, os.fspath(value), "must be an existing local directory")
    absent = [f for f in files if not (path / f).is_file()]
    if absent:
        raise InvalidArgumentError(name, os.fspath(value), f"has no {', '.join(absent)}",
                                   "see docs/tts.md for the expected layout")
    return path
