"""Shared fixtures of the external-port tier: the example ports, built or located once per session.

The C example is compiled by the system compiler (``cc``) into a temporary
folder, as a program and as a shared library (the same verification code,
callable in-process through ctypes). The Python example runs under this
interpreter. ``scripted_port`` answers every request with canned bytes, so
each malformed response can be tested on its own.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from pcg_core import Groups

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "ports"
C_SOURCE = EXAMPLES / "pcg_port.c"
PYTHON_PORT = EXAMPLES / "python_port.py"
SCRIPTED_PORT = Path(__file__).with_name("scripted_port.py")


def compile_c(output: Path, *extra: str) -> Path:
    """``cc -O2 -std=c11 [extra] -o output pcg_port.c``: the docs' build line, with every warning an error."""
    compiler = shutil.which("cc")
    assert compiler, "the external-port tests need a C compiler on PATH as `cc`"
    subprocess.run([compiler, "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", *extra, "-o", str(output),
                    str(C_SOURCE)], check=True, capture_output=True, timeout=120)
    return output


@pytest.fixture(scope="session")
def c_port(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The C example, built into a temporary folder."""
    return compile_c(tmp_path_factory.mktemp("c_port") / "pcg_port")


@pytest.fixture(scope="session")
def c_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The C example's verification function as a shared library (for the in-process comparison)."""
    return compile_c(tmp_path_factory.mktemp("c_lib") / "libpcg_port.so", "-shared", "-fPIC", "-DPCG_PORT_LIBRARY")


@pytest.fixture(scope="session")
def python_port() -> list[str]:
    """The Python example's command line."""
    return [sys.executable, str(PYTHON_PORT)]


@pytest.fixture(scope="session")
def scripted_port() -> list[str]:
    """The canned-answer port's command line (append the answer's hex)."""
    return [sys.executable, str(SCRIPTED_PORT)]


def c_inprocess_port(library: Path) -> Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """The C example's ``pcg_port_verify`` called in this process through ctypes: the same code as the
    program, without the pipe. It takes the generator's seed, as the protocol sends it."""
    lib = ctypes.CDLL(str(library))
    pointer = ctypes.c_void_p
    # B, γ, V, M; the six CSR arrays and the three inputs; seed, accept_all; the three outputs.
    lib.pcg_port_verify.argtypes = ([ctypes.c_int64] * 4 + [pointer] * 9 + [ctypes.c_uint64, ctypes.c_int]
                                    + [pointer] * 3)
    lib.pcg_port_verify.restype = ctypes.c_int

    def port(draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor, groups: Groups, *,
             generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch, gamma = draft_tokens.shape
        arrays = [np.ascontiguousarray(getattr(groups, name).numpy(), dtype=dtype) for name, dtype in (
            ("group_ptr", np.int64), ("group_members", np.int32), ("group_weights", np.float64),
            ("token_ptr", np.int64), ("token_groups", np.int32), ("token_weights", np.float64))]
        # float64 probabilities, as ExecPort sends them to a program that announces only float64
        arrays += [np.ascontiguousarray(x.numpy()) for x in (draft_tokens, draft_probs.double(), target_probs.double())]
        tokens, labels = np.empty((batch, gamma + 1), np.int64), np.empty((batch, gamma + 1), np.int64)
        accepted = np.empty(batch, np.int64)
        status = lib.pcg_port_verify(batch, gamma, groups.vocab_size, groups.num_groups,
                                     *[a.ctypes.data for a in arrays], generator.initial_seed(), 0,
                                     tokens.ctypes.data, labels.ctypes.data, accepted.ctypes.data)
        assert status == 0, status
        return torch.from_numpy(tokens), torch.from_numpy(labels), torch.from_numpy(accepted)

    return port


@pytest.fixture(scope="session")
def c_inprocess(c_library: Path) -> Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """The C example's verification in this process (ctypes), for comparisons with the pipe."""
    return c_inprocess_port(c_library)
