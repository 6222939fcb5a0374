"""Importing ``xcodec2`` 0.1.5 on the project's CPU torch: the two documented import stand-ins.

The package's modules name two things they do not need at run time:

- ``import torchaudio`` (in ``xcodec2.vq.bs_roformer5``) is never used. The
  registry's torchaudio wheels are built against other torch releases and do
  not load with torch 2.13, so the import would fail for nothing.
- ``from torchtune.modules import RotaryPositionalEmbeddings`` needs one class
  from one file of torchtune (``torchtune/modules/position_embeddings.py``,
  which imports only torch), but ``import torchtune`` runs the package's
  ``__init__``, which requires torchao and imports the dataset, model and
  generation sub-packages (Hugging Face ``datasets``, pyarrow, pandas, ...).

What :func:`import_xcodec2` does, exactly:

1. When ``xcodec2.modeling_xcodec2`` is already imported, return it; nothing else.
2. Check that ``xcodec2``, ``torchtune`` (installed with ``--no-deps``),
   ``einops``, ``vector_quantize_pytorch`` (exactly 1.17.8: later releases
   change the FSQ codebook values, so checkpoints decode differently) and
   ``transformers`` are installed; otherwise raise
   :class:`~pcg_verify.tts._extras.MissingExtraError` with the install command.
3. Import transformers and resolve the four names xcodec2 takes from it, so
   that transformers' own lazy imports and its package-availability probes
   (``importlib.util.find_spec("torchaudio")``) run before any stand-in
   exists and see the real environment.
4. Unless ``torchaudio`` is already in ``sys.modules``, put a placeholder
   module named ``torchaudio`` there whose every attribute access raises
   ``ImportError`` (so any real use fails loudly, never silently).
5. Unless ``torchtune.modules`` is already in ``sys.modules``, put placeholder
   packages ``torchtune`` and ``torchtune.modules`` there (their ``__path__`` is
   the installed package's directory) and execute the installed
   ``torchtune/modules/position_embeddings.py`` as
   ``torchtune.modules.position_embeddings``; the placeholder
   ``torchtune.modules`` exposes its ``RotaryPositionalEmbeddings``. torchtune's
   own ``__init__`` files are not run.
6. Import ``xcodec2.modeling_xcodec2`` and ``xcodec2.configuration_bigcodec``.
7. Finally (also when the import fails) remove every name it added in 4–5
   from ``sys.modules``, so no later ``import torchaudio`` or ``import
   torchtune`` sees a placeholder; xcodec2's modules keep the references they
   took (the real RotaryPositionalEmbeddings class, an unused placeholder).

No file is copied or patched: the code that runs is the installed packages'.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

from pcg_verify.tts._extras import MissingExtraError

__all__ = ["VQ_VERSION", "XCodec2Modules", "check_packages", "import_xcodec2"]

#: The only vector-quantize-pytorch release whose FSQ matches X-codec2's checkpoints.
VQ_VERSION = "1.17.8"
_PURPOSE = "the X-codec2 speech codec"


class XCodec2Modules(NamedTuple):
    """The two xcodec2 modules the codec wrapper uses."""

    modeling: ModuleType  # xcodec2.modeling_xcodec2: XCodec2Model
    configuration: ModuleType  # xcodec2.configuration_bigcodec: BigCodecConfig


class _Placeholder(ModuleType):
    """A module that stands for a package xcodec2 imports but never uses."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise ImportError(f"{self.__name__} is a placeholder put in place by pcg_verify.tts while importing xcodec2 "
                          f"(which never uses it); {self.__name__}.{name} is not available")


def import_xcodec2() -> XCodec2Modules:
    """Import xcodec2 0.1.5 through the two stand-ins of the module docstring; return its modules.

    Raises
    ------
    MissingExtraError
        A package of the ``tts`` extra is missing, or vector-quantize-pytorch
        is not exactly :data:`VQ_VERSION`.
    """
    loaded = sys.modules.get("xcodec2.modeling_xcodec2")
    if loaded is not None:
        return XCodec2Modules(loaded, sys.modules["xcodec2.configuration_bigcodec"])
    check_packages()
    transformers = importlib.import_module("transformers")
    for name in ("PreTrainedModel", "PretrainedConfig", "Wav2Vec2BertModel", "AutoFeatureExtractor"):
        getattr(transformers, name)  # resolve transformers' lazy imports before any stand-in exists
    with _stand_ins():
        modeling = importlib.import_module("xcodec2.modeling_xcodec2")
        configuration = importlib.import_module("xcodec2.configuration_bigcodec")
    return XCodec2Modules(modeling, configuration)


def check_packages() -> None:
    """Raise :class:`MissingExtraError` unless xcodec2's real dependencies are installed, with
    vector-quantize-pytorch exactly :data:`VQ_VERSION`."""
    for module in ("xcodec2", "torchtune", "einops", "vector_quantize_pytorch", "transformers"):
        if importlib.util.find_spec(module) is None:
            raise MissingExtraError(module, _PURPOSE)
    version = importlib.metadata.version("vector-quantize-pytorch")
    if version != VQ_VERSION:
        raise MissingExtraError("vector_quantize_pytorch", f"{_PURPOSE} (found {version}, need exactly {VQ_VERSION})")


@contextmanager
def _stand_ins() -> Iterator[None]:
    added: list[str] = []
    try:
        if "torchaudio" not in sys.modules:
            sys.modules["torchaudio"] = _Placeholder("torchaudio")
            added.append("torchaudio")
        if "torchtune.modules" not in sys.modules:
            added.extend(_load_rotary_embeddings())
        yield
    finally:
        for name in added:
            sys.modules.pop(name, None)


def _load_rotary_embeddings() -> list[str]:
    """Put ``torchtune``, ``torchtune.modules`` (placeholders) and the real
    ``torchtune.modules.position_embeddings`` in ``sys.modules``; return their names."""
    spec = importlib.util.find_spec("torchtune")
    assert spec is not None and spec.submodule_search_locations is not None  # checked by import_xcodec2
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    source = package_dir / "modules" / "position_embeddings.py"
    if not source.is_file():
        raise MissingExtraError("torchtune", f"{_PURPOSE} (no {source}; torchtune==0.6.1 has it)")
    names = ["torchtune", "torchtune.modules", "torchtune.modules.position_embeddings"]
    top = _Placeholder("torchtune")
    top.__path__ = [str(package_dir)]
    sub = _Placeholder("torchtune.modules")
    sub.__path__ = [str(package_dir / "modules")]
    file_spec = importlib.util.spec_from_file_location(names[2], source)
    assert file_spec is not None and file_spec.loader is not None
    embeddings = importlib.util.module_from_spec(file_spec)
    sys.modules.update(zip(names, (top, sub, embeddings), strict=True))
    try:
        file_spec.loader.exec_module(embeddings)
    except BaseException:
        for name in names:
            sys.modules.pop(name, None)
        raise
    sub.RotaryPositionalEmbeddings = embeddings.RotaryPositionalEmbeddings  # type: ignore[attr-defined]
    return names
