#!/usr/bin/env bash
# Install the optional packages of pcg_verify.tts (docs/tts.md) into the active Python environment.
#
# Idempotent (pip skips what is already there at the pinned version) and pinned throughout. torch stays
# 2.13.0: it is named on the one pip line that resolves dependencies, and the packages whose published
# requirements would replace it (xcodec2 pins torch 2.5.0 and torchaudio 2.5.0; torchtune pulls torchao,
# datasets, pyarrow and more) are installed with --no-deps; what they really import is on the first line.
set -euo pipefail

python=${PYTHON:-python}
torch_version() { "$python" -c "import torch; print(torch.__version__.split('+')[0])"; }
if [ "$(torch_version)" != "2.13.0" ]; then
    echo "install_tts.sh: torch 2.13.0 must be installed first (pip install -e '.[test,lint]')" >&2
    exit 1
fi

# Resolved normally, from the project's `tts` extra (pyproject.toml pins them): ASR, WER/CER, speaker
# similarity and what xcodec2 imports. torch is named on the same line, so pip cannot pick another.
root=$(cd "$(dirname "$0")/.." && pwd)
"$python" -m pip install --quiet torch==2.13.0 -e "$root[tts]"

# Without their declared requirements (see above): xcodec2's modules, torchtune for the one file xcodec2
# uses (torchtune/modules/position_embeddings.py, loaded by pcg_verify.tts's import shim), and resemblyzer
# (it requires webrtcvad, an sdist that needs a compiler; webrtcvad-wheels provides the same module).
"$python" -m pip install --quiet --no-deps \
    xcodec2==0.1.5 \
    torchtune==0.6.1 \
    resemblyzer==0.1.4

if [ "$(torch_version)" != "2.13.0" ]; then
    echo "install_tts.sh: torch was replaced ($(torch_version)); reinstall torch==2.13.0" >&2
    exit 1
fi
"$python" -c "from pcg_verify.tts import import_xcodec2; import_xcodec2(); print('install_tts.sh: tts extra ready')"
