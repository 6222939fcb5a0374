"""The decoding options shared by ``pcg-verify e2e`` and ``pcg-verify tts``, defined once.

Standard library only (argparse): ``pcg-verify``'s parser is built on every
call, so this must stay cheap to import.
"""

from __future__ import annotations

import argparse

__all__ = ["add_decoding_arguments"]


def add_decoding_arguments(parser: argparse.ArgumentParser, *, temperature: float,
                           temperature_help: str = "") -> None:
    """Add the group, block and sampling options: ``--theta``, ``--top-k-groups``, ``--groups-cache``,
    ``--gamma``, ``--temperature``, ``--top-k``, ``--top-p``, ``--beta`` and ``--device``."""
    parser.add_argument("--theta", type=float, default=0.4, help="cosine threshold of the groups (default: 0.4)")
    parser.add_argument("--top-k-groups", type=int, default=None, metavar="K",
                        help="keep at most K neighbours per group (top-K rule intersected with --theta)")
    parser.add_argument("--groups-cache", metavar="PATH", default=None, help=".npz cache of the groups")
    parser.add_argument("--gamma", type=int, default=3, help="drafts per block (default: 3)")
    parser.add_argument("--temperature", type=float, default=temperature,
                        help=f"(default: {temperature:g}{temperature_help})")
    parser.add_argument("--top-k", type=int, default=None, metavar="K", help="top-k filter on every side")
    parser.add_argument("--top-p", type=float, default=None, metavar="P", help="top-p filter on every side")
    parser.add_argument("--beta", type=float, default=0.3, help="SSD tolerance (default: 0.3)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
