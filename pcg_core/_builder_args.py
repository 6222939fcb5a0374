"""The builders' arguments, checked before any build, and their cache.

A build can take minutes, so everything that can be wrong with the call is
found first: θ within its metric's range, the embeddings' type and shape, the
token range against V, the weights rule (a callable cannot be cached), and
the cache path (a writable place for a file, probed by creating one). A cache
hit is loaded and validated like :meth:`pcg_core.Groups.load`, and must match
the embedding's digest and the parameters.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from pcg_core._groups import Groups
from pcg_core._rules import check_choice, check_int, check_real
from pcg_core.errors import InvalidArgumentError, InvalidTypeError

__all__ = ["cached", "check_cache", "check_embeddings", "check_threshold", "check_weights_rule", "resolve_range"]

METRICS = ("cosine", "euclidean")
WEIGHTS = ("equal", "similarity")


def check_threshold(name: str, value: Any, metric: str) -> float:
    """θ (or min_similarity) within the range of the metric: a cosine in [−1, 1], a distance ≥ 0."""
    number = check_real(name, value)
    if metric == "cosine" and not -1.0 <= number <= 1.0:
        raise InvalidArgumentError(
            name, value, "is a cosine similarity under metric='cosine'; must lie in [-1, 1]",
            "above 1 no pair passes (all singletons), below -1 every pair does; -1 already groups everything",
        )
    if metric == "euclidean" and number < 0:
        raise InvalidArgumentError(name, value, "is a maximum distance under metric='euclidean'; must be ≥ 0")
    return number


def check_cache(cache: Any) -> Path | None:
    """The cache path, checked before anything is built (a build can take minutes).

    An existing file is a hit (loaded and validated later). Otherwise the
    path must not be a directory, and its nearest existing folder must be a
    directory in which a file can be created: a probe file is made there and
    removed, which also catches read-only mounts and ACLs.
    """
    if cache is None:
        return None
    if not isinstance(cache, str | os.PathLike):
        raise InvalidTypeError("cache", cache, "must be a path (str or os.PathLike) to a .npz file")
    path = Path(cache)
    if path.is_dir():
        raise InvalidArgumentError("cache", str(path), "is a directory; must name a file, e.g. groups.npz")
    if path.exists():
        if not path.is_file():
            raise InvalidArgumentError("cache", str(path), "exists but is not a regular file")
        return path
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise InvalidArgumentError(
            "cache", str(path), f"cannot be created: {folder} is a regular file, not a directory",
            "point the cache at a path inside a directory",
        )
    try:
        handle, probe = tempfile.mkstemp(prefix=".pcg-cache-probe.", dir=folder)
    except OSError as error:
        raise InvalidArgumentError(
            "cache", str(path), f"cannot be written: no file can be created in {folder} ({error.strerror or error})",
            "point the cache at a writable folder, or build without cache",
        ) from error
    os.close(handle)
    os.unlink(probe)
    return path


def check_weights_rule(weights: Any, cache: Any) -> str:
    if callable(weights):
        if cache is not None:
            raise InvalidArgumentError(
                "cache", str(cache), "cannot be combined with a custom weights callable",
                "a function cannot be compared with the cached file; use weights='equal'/'similarity' "
                "or build without cache",
            )
        module = getattr(weights, "__module__", None) or "?"
        return f"custom:{module}.{getattr(weights, '__qualname__', type(weights).__name__)}"
    return check_choice("weights", weights, WEIGHTS)


def check_embeddings(embeddings: Any) -> torch.Tensor:
    if not isinstance(embeddings, torch.Tensor):
        raise InvalidTypeError("embeddings", embeddings, "must be a torch.Tensor [N, D]")
    if not embeddings.dtype.is_floating_point:
        raise InvalidTypeError(
            "embeddings", embeddings, "must have a floating dtype (float32, float64, bfloat16)"
        )
    if embeddings.dim() != 2 or embeddings.shape[0] < 1 or embeddings.shape[1] < 1:
        raise InvalidArgumentError("embeddings", embeddings, "must be 2-D [N, D] with N ≥ 1 and D ≥ 1")
    return embeddings.detach()


def resolve_range(
    num_rows: int, token_range: tuple[int, int] | None, vocab_size: int | None
) -> tuple[int, int, int, int]:
    """(start, stop, V, first embedding row used) for the speech ids [start, stop)."""
    if token_range is None:
        if vocab_size is not None and check_int("vocab_size", vocab_size, minimum=1) != num_rows:
            raise InvalidArgumentError(
                "vocab_size", vocab_size, f"must equal the number of embedding rows ({num_rows})",
                "pass token_range=(start, stop) when the embeddings cover only part of the vocabulary",
            )
        return 0, num_rows, num_rows, 0
    if vocab_size is None:
        raise InvalidArgumentError("vocab_size", None, "is required with token_range")
    vocab = check_int("vocab_size", vocab_size, minimum=1)
    if not isinstance(token_range, tuple | list) or len(token_range) != 2:
        raise InvalidTypeError("token_range", token_range, "must be a pair of integers (start, stop)")
    start, stop = (check_int(f"token_range[{i}]", bound) for i, bound in enumerate(token_range))
    if not 0 <= start < stop <= vocab:
        raise InvalidArgumentError(
            "token_range", token_range, f"must satisfy 0 ≤ start < stop ≤ vocab_size={vocab}"
        )
    if num_rows == stop - start:
        return start, stop, vocab, 0
    if num_rows == vocab:
        return start, stop, vocab, start
    raise InvalidArgumentError(
        "embeddings", f"{num_rows} rows",
        f"must have stop − start = {stop - start} rows (the speech ids) or vocab_size = {vocab} rows",
    )



def cached(cache: Path | None, digest: str, params: dict[str, Any], build: Callable[[], Groups]) -> Groups:
    """Load ``cache`` (validated, and matching ``digest`` and ``params``) if it exists, else build and save it."""
    if cache is not None and cache.exists():
        return Groups.load(cache, embedding_digest=digest, params=params)
    groups = build()
    if cache is not None:
        groups.save(cache)
    return groups
