"""X-codec2 for real (xcodec2 0.1.5's modules) with random weights: the shim, encode/decode, local loading."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from pcg_core.errors import InvalidArgumentError
from pcg_verify.tts import CODEC_HOP, CODEC_NUM_CODES, MissingExtraError, XCodec2, load_audio

_FRESH_IMPORT = """
import sys
import pcg_verify.tts
heavy = ("torch", "transformers", "jiwer", "xcodec2", "faster_whisper", "resemblyzer", "torchtune")
print([m for m in heavy if m in sys.modules])
from pcg_verify.tts import import_xcodec2
modules = import_xcodec2()
from xcodec2.vq import bs_roformer5
from xcodec2.vq.codec_decoder_vocos import RotaryPositionalEmbeddings
print(sorted(m for m in sys.modules if m.split(".")[0] in ("torchaudio", "torchtune")))
print(RotaryPositionalEmbeddings.__module__, RotaryPositionalEmbeddings.__init__.__code__.co_filename)
try:
    bs_roformer5.torchaudio.load
except ImportError as error:
    print("placeholder:", error)
print(modules.modeling.XCodec2Model.__name__)
"""


def test_shim_imports_xcodec2_and_leaves_no_placeholder_behind() -> None:
    """In a fresh interpreter: importing pcg_verify.tts loads nothing heavy; the shim's stand-ins are gone from
    sys.modules afterwards; the rotary embeddings are torchtune's own installed file; torchaudio is inert."""
    out = subprocess.run([sys.executable, "-c", _FRESH_IMPORT], capture_output=True, text=True, timeout=120,
                         check=True).stdout.splitlines()
    assert out[0] == "[]"
    assert out[1] == "[]"
    module, filename = out[2].split()
    assert module == "torchtune.modules.position_embeddings"
    assert Path(filename).parts[-3:] == ("torchtune", "modules", "position_embeddings.py")
    assert out[3].startswith("placeholder: torchaudio is a placeholder put in place by pcg_verify.tts")
    assert out[4] == "XCodec2Model"


def test_missing_packages_name_the_extra_and_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from pcg_verify.tts._extras import require
    from pcg_verify.tts._shim import check_packages

    with pytest.raises(MissingExtraError, match=r"no_such_package is not installed .*bash scripts/install_tts.sh"):
        require("no_such_package", "a test")
    import importlib.metadata

    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version",
                        lambda name: "1.20.0" if name == "vector-quantize-pytorch" else real(name))
    with pytest.raises(MissingExtraError, match=r"found 1.20.0, need exactly 1.17.8"):
        check_packages()


def test_random_codec_encodes_to_fsq_ids_and_decodes_to_the_right_length(small_codec: Any, librivox: list) -> None:
    wave, rate = load_audio(librivox[1].path)  # 16 kHz, 2.99 s
    codes = small_codec.encode(wave, rate)
    assert codes.dtype == torch.int64 and codes.shape == (len(wave) // CODEC_HOP + 1,)
    assert 0 <= int(codes.min()) and int(codes.max()) < CODEC_NUM_CODES
    assert len(set(codes.tolist())) > len(codes) // 2  # many distinct FSQ codes, not one
    audio = small_codec.decode(codes)
    assert audio.dtype == torch.float32 and audio.shape == (CODEC_HOP * len(codes),)
    assert bool(torch.isfinite(audio).all()) and float(audio.abs().max()) > 0
    # 24 kHz input is resampled to 16 kHz first: same number of frames for the same duration.
    from pcg_verify.tts import resample

    assert small_codec.encode(resample(wave, rate, 24_000), 24_000).shape == codes.shape


def test_code_vectors_are_the_quantizer_outputs_of_each_code(small_codec: Any) -> None:
    vectors = small_codec.code_vectors(chunk=16_384)
    assert vectors.shape == (CODEC_NUM_CODES, 2048)
    ids = torch.tensor([0, 1, 4, 65_535])
    direct = small_codec.model.generator.quantizer.get_output_from_indices(ids[None, :, None])[0]
    assert torch.allclose(vectors[ids], direct)
    # FSQ's grid: codes differing in one base-4 digit are closer than the grid's opposite corners.
    cos = torch.nn.functional.cosine_similarity
    assert float(cos(vectors[0], vectors[1], dim=0)) > float(cos(vectors[0], vectors[65_535], dim=0))


@pytest.mark.slow
def test_save_and_load_from_a_local_directory_round_trip(small_codec: Any, saved_codec: Path, tmp_path: Path,
                                                         librivox: list) -> None:
    """from_pretrained never touches a hub: the semantic model comes from the checkpoint itself, or from a
    separate local w2v-bert directory; both give the same codes and audio as the model that was saved."""
    wave, rate = load_audio(librivox[4].path)
    codes = small_codec.encode(wave, rate)
    audio = small_codec.decode(codes)
    directory = saved_codec
    config = json.loads((directory / "config.json").read_text("utf-8"))
    assert config["decoder_depth"] == 1 and config["semantic_model_config"]["num_hidden_layers"] == 16
    loaded = XCodec2.from_pretrained(directory)
    assert torch.equal(loaded.encode(wave, rate), codes)
    assert torch.equal(loaded.decode(codes), audio)
    # The release layout without semantic weights + a local w2v-bert directory.
    from safetensors.torch import save_file

    split = tmp_path / "split"
    split.mkdir()
    state = {k: v.contiguous() for k, v in small_codec.model.state_dict().items()
             if not k.startswith("semantic_model.")}
    save_file(state, str(split / "model.safetensors"))
    (split / "config.json").write_text((directory / "config.json").read_text("utf-8"), "utf-8")
    small_codec.model.semantic_model.save_pretrained(tmp_path / "w2v")
    small_codec.model.feature_extractor.save_pretrained(tmp_path / "w2v")
    with pytest.raises(InvalidArgumentError, match="semantic_dir=None: is required"):
        XCodec2.from_pretrained(split)
    from_parts = XCodec2.from_pretrained(split, semantic_dir=tmp_path / "w2v")
    assert torch.equal(from_parts.encode(wave, rate), codes)


@pytest.mark.parametrize(("call", "message"), [
    (lambda c: c.decode(torch.tensor([CODEC_NUM_CODES])), r"codes=.*must lie in \[0, 65536\)"),
    (lambda c: c.decode(torch.tensor([0.5])), "must be a non-empty integer tensor"),
    (lambda c: c.encode(np.zeros((2, 10), np.float32), 16_000), "must be a non-empty mono signal"),
    (lambda c: c.encode(np.zeros(10, np.int16), 16_000), "must hold floating-point samples"),
    (lambda c: XCodec2.from_pretrained("/nowhere"), "must be an existing local directory"),
    (lambda c: XCodec2.random(seed=0, semantic_layers=15), "semantic_layers=15"),
])
def test_bad_inputs(call: Any, message: str) -> None:
    codec = XCodec2(torch.nn.Linear(1, 1))  # inputs are checked before the model is used
    with pytest.raises((InvalidArgumentError, TypeError), match=message):
        call(codec)
