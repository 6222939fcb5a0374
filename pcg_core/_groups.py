"""The group structure: Acoustic Similarity Groups in CSR form, both directions.

Math follows the paper: q is the target, p the draft. ``G_k`` is group k,
``S(t) = {k : t ∈ G_k}`` the groups of token t, ``w[k, t]`` the weight of t in
k, with ``Σ_{k∈S(t)} w[k, t] = 1`` for every token.

Storage (the port contract relies on these attribute names):

- forward, by group: ``group_ptr`` [M+1] int64, ``group_members`` [nnz],
  ``group_weights`` [nnz] float64; members of group k are
  ``group_members[group_ptr[k]:group_ptr[k+1]]``, sorted ascending.
- reverse, by token: ``token_ptr`` [V+1] int64, ``token_groups`` [nnz],
  ``token_weights`` [nnz] float64; the groups of token t are
  ``token_groups[token_ptr[t]:token_ptr[t+1]]``, sorted ascending.

Index arrays are ``torch.uint16`` when every id fits in 16 bits, else
``torch.int32``: 9.2 M memberships take 18.4 MB per direction at the paper's
scale. Index them with slices or int64 positions and convert the (small)
result with ``.long()``; see :meth:`Groups.members_of`.

File format (``.npz``, uncompressed, written atomically), version 1:

=================  =====================================================
key                content
=================  =====================================================
format_version     int64 scalar, 1
vocab_size         int64 scalar V
num_groups         int64 scalar M
group_ptr          int64 [M+1]
group_members      uint16 or int32 [nnz]
token_ptr          int64 [V+1]
token_groups       uint16 or int32 [nnz]
weights_kind       str: "equal" (weights are 1/N(t), not stored) or "stored"
group_weights      float64 [nnz], only when weights_kind == "stored"
token_weights      float64 [nnz], only when weights_kind == "stored"
embedding_digest   str: sha256 of the embedding it was built from, or ""
params_json        str: the builder and its parameters, canonical JSON
=================  =====================================================

:meth:`Groups.load` refuses, naming the file and what is wrong, anything
else: another container, pickled data, a missing key, another dtype or shape,
and (unless ``validate=False``) any broken invariant of :meth:`Groups.validate`.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from pcg_core._rows import sum_tolerance
from pcg_core._rules import check_bool, check_int, check_int_array
from pcg_core.atomic import atomic_writer
from pcg_core.errors import GroupsCacheMismatchError, InvalidArgumentError, InvalidTypeError

__all__ = ["FORMAT_VERSION", "Groups", "canonical_json", "index_dtype"]

FORMAT_VERSION = 1


def index_dtype(max_index: int) -> np.dtype[Any]:
    """The compact dtype that holds ids 0..max_index: uint16 if it fits, else int32."""
    return np.dtype(np.uint16) if max_index < 2**16 else np.dtype(np.int32)


def _np(tensor: torch.Tensor) -> np.ndarray[Any, Any]:
    return tensor.detach().cpu().numpy()


@dataclass(frozen=True, eq=False)
class Groups:
    """Overlapping groups over a vocabulary, with per-(group, token) weights.

    Build one with :func:`pcg_core.groups_from_threshold`,
    :func:`pcg_core.groups_from_topk`, :func:`pcg_core.groups_from_labels`,
    :func:`pcg_core.singleton_groups` or :meth:`Groups.from_memberships`.
    The constructor takes both directions as they are and only checks shapes;
    call :meth:`validate` for the full invariants.
    """

    vocab_size: int
    num_groups: int
    group_ptr: torch.Tensor
    group_members: torch.Tensor
    group_weights: torch.Tensor
    token_ptr: torch.Tensor
    token_groups: torch.Tensor
    token_weights: torch.Tensor
    weights_kind: str = "stored"
    embedding_digest: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    #: largest |G_k| and largest N(t), used to pad batched gathers.
    max_group_size: int = field(init=False)
    max_groups_per_token: int = field(init=False)

    def __post_init__(self) -> None:
        if self.group_ptr.shape != (self.num_groups + 1,):
            raise InvalidArgumentError(
                "group_ptr", self.group_ptr, f"must have shape [num_groups + 1] = [{self.num_groups + 1}]"
            )
        if self.token_ptr.shape != (self.vocab_size + 1,):
            raise InvalidArgumentError(
                "token_ptr", self.token_ptr, f"must have shape [vocab_size + 1] = [{self.vocab_size + 1}]"
            )
        nnz = int(self.group_members.shape[0])
        for name in ("group_weights", "token_groups", "token_weights"):
            if tuple(getattr(self, name).shape) != (nnz,):
                raise InvalidArgumentError(name, getattr(self, name), f"must have shape [nnz] = [{nnz}]")
        sizes = self.group_ptr[1:] - self.group_ptr[:-1]
        degrees = self.token_ptr[1:] - self.token_ptr[:-1]
        object.__setattr__(self, "max_group_size", int(sizes.max()) if self.num_groups else 0)
        object.__setattr__(self, "max_groups_per_token", int(degrees.max()) if self.vocab_size else 0)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_memberships(
        cls,
        vocab_size: int,
        group_ptr: np.ndarray[Any, Any] | torch.Tensor,
        group_members: np.ndarray[Any, Any] | torch.Tensor,
        group_weights: np.ndarray[Any, Any] | torch.Tensor | None = None,
        *,
        embedding_digest: str = "",
        params: Mapping[str, Any] | None = None,
    ) -> Groups:
        """Build both directions from the forward CSR arrays.

        Parameters
        ----------
        vocab_size : int
            V; every token 0..V-1 must belong to at least one group.
        group_ptr : int array [M+1]
            Offsets of each group's members.
        group_members : int array [nnz]
            Token ids; sorted within each group here.
        group_weights : float array [nnz], optional
            Unnormalised non-negative weights, renormalised per token so that
            ``Σ_{k∈S(t)} w[k,t] = 1``. ``None`` gives the equal split 1/N(t).

        Complexity: O(nnz log nnz) (one stable sort per direction).

        Examples
        --------
        >>> from pcg_core import Groups
        >>> g = Groups.from_memberships(2, [0, 2, 3], [0, 1, 1])  # G_0 = {0, 1}, G_1 = {1}
        >>> g.groups_of(1).tolist(), g.token_weights.tolist()
        ([0, 1], [1.0, 0.5, 0.5])
        """
        vocab_size = check_int("vocab_size", vocab_size, minimum=1)
        ptr = check_int_array("group_ptr", group_ptr)
        members = check_int_array("group_members", group_members)
        if ptr.ndim != 1 or ptr.size < 2 or ptr[0] != 0 or ptr[-1] != members.size or np.any(np.diff(ptr) < 0):
            raise InvalidArgumentError(
                "group_ptr", ptr, "must be non-decreasing offsets from 0 to len(group_members), one per group + 1"
            )
        if np.any(np.diff(ptr) == 0):
            raise InvalidArgumentError("group_ptr", ptr, "every group must have at least one member")
        if members.size and (members.min() < 0 or members.max() >= vocab_size):
            raise InvalidArgumentError(
                "group_members", members, f"ids must lie in [0, vocab_size={vocab_size})"
            )
        num_groups = ptr.size - 1
        group_of = np.repeat(np.arange(num_groups, dtype=np.int64), np.diff(ptr))
        # Sort members within each group (lexicographic on (group, token)).
        order = np.lexsort((members, group_of))
        members, group_of = members[order], group_of[order]
        dup = (np.diff(members) == 0) & (np.diff(group_of) == 0)
        if np.any(dup):
            k = int(group_of[1:][dup][0])
            raise InvalidArgumentError(
                "group_members", members, f"group {k} lists token {int(members[1:][dup][0])} twice"
            )
        counts = np.bincount(members, minlength=vocab_size)
        if np.any(counts == 0):
            missing = np.flatnonzero(counts == 0)
            raise InvalidArgumentError(
                "group_members", members,
                f"every token must belong to a group; {missing.size} do not, e.g. token {int(missing[0])}",
                "add singleton groups for uncovered tokens",
            )
        if group_weights is None:
            weights = 1.0 / counts[members].astype(np.float64)
            weights_kind = "equal"
        else:
            raw = np.asarray(_np(group_weights) if isinstance(group_weights, torch.Tensor) else group_weights,
                             dtype=np.float64)
            if raw.shape != members.shape:
                raise InvalidArgumentError("group_weights", raw, f"must have shape [nnz] = [{members.size}]")
            raw = raw[order]
            if not np.all(np.isfinite(raw)) or np.any(raw <= 0):
                raise InvalidArgumentError(
                    "group_weights", raw, "weights must be finite and > 0",
                    "drop a membership instead of giving it weight 0",
                )
            per_token = np.bincount(members, weights=raw, minlength=vocab_size)
            weights = raw / per_token[members]
            weights_kind = "stored"
        # Reverse direction: stable sort by token keeps groups ascending per token.
        rorder = np.argsort(members, kind="stable")
        token_ptr = np.zeros(vocab_size + 1, np.int64)
        np.cumsum(counts, out=token_ptr[1:])
        idx = index_dtype(max(vocab_size, num_groups) - 1)
        return cls(
            vocab_size=vocab_size,
            num_groups=num_groups,
            group_ptr=torch.from_numpy(ptr.copy()),
            group_members=torch.from_numpy(members.astype(idx)),
            group_weights=torch.from_numpy(weights),
            token_ptr=torch.from_numpy(token_ptr),
            token_groups=torch.from_numpy(group_of[rorder].astype(idx)),
            token_weights=torch.from_numpy(weights[rorder].copy()),
            weights_kind=weights_kind,
            embedding_digest=embedding_digest,
            params=dict(params or {}),
        )

    # ------------------------------------------------------------------ queries
    @property
    def nnz(self) -> int:
        """Number of (group, token) memberships."""
        return int(self.group_members.shape[0])

    @property
    def device(self) -> torch.device:
        return self.group_ptr.device

    @property
    def nbytes(self) -> int:
        """Bytes held by the six CSR arrays."""
        arrays = (self.group_ptr, self.group_members, self.group_weights,
                  self.token_ptr, self.token_groups, self.token_weights)
        return sum(a.numel() * a.element_size() for a in arrays)

    def sizes(self) -> torch.Tensor:
        """|G_k| for every group, int64 [M]."""
        return self.group_ptr[1:] - self.group_ptr[:-1]

    def groups_per_token(self) -> torch.Tensor:
        """N(t) for every token, int64 [V]."""
        return self.token_ptr[1:] - self.token_ptr[:-1]

    def members_of(self, k: int) -> torch.Tensor:
        """Token ids of group k, int64, ascending."""
        k = check_int("k", k, minimum=0, maximum=self.num_groups - 1)
        return self.group_members[int(self.group_ptr[k]) : int(self.group_ptr[k + 1])].long()

    def groups_of(self, t: int) -> torch.Tensor:
        """Group ids containing token t, int64, ascending."""
        t = check_int("t", t, minimum=0, maximum=self.vocab_size - 1)
        return self.token_groups[int(self.token_ptr[t]) : int(self.token_ptr[t + 1])].long()

    def to(self, device: torch.device | str) -> Groups:
        """A copy on ``device`` (the same object when already there)."""
        device = torch.device(device)
        if device == self.device:
            return self
        return Groups(
            vocab_size=self.vocab_size, num_groups=self.num_groups,
            group_ptr=self.group_ptr.to(device), group_members=self.group_members.to(device),
            group_weights=self.group_weights.to(device), token_ptr=self.token_ptr.to(device),
            token_groups=self.token_groups.to(device), token_weights=self.token_weights.to(device),
            weights_kind=self.weights_kind, embedding_digest=self.embedding_digest, params=self.params,
        )

    def dense_weights(self) -> torch.Tensor:
        """w as a dense float64 [M, V] matrix (small vocabularies only: tests, laws)."""
        if self.num_groups * self.vocab_size > 50_000_000:
            raise InvalidArgumentError(
                "groups", f"M={self.num_groups}, V={self.vocab_size}",
                "dense_weights() is for small structures (M·V ≤ 5e7)",
            )
        w = torch.zeros(self.num_groups, self.vocab_size, dtype=torch.float64, device=self.device)
        rows = torch.repeat_interleave(torch.arange(self.num_groups, device=self.device), self.sizes())
        w[rows, self.group_members.long()] = self.group_weights
        return w

    def __repr__(self) -> str:
        return (f"Groups(vocab_size={self.vocab_size}, num_groups={self.num_groups}, nnz={self.nnz}, "
                f"max_group_size={self.max_group_size}, weights={self.weights_kind!r}, "
                f"device={self.device}, nbytes={self.nbytes})")

    # ------------------------------------------------------------------ checking
    def validate(self) -> Groups:
        """Check every invariant; return self, or raise :class:`InvalidArgumentError`.

        Indices in range, both directions consistent, every token covered,
        ``Σ_{k∈S(t)} w[k,t] = 1`` within the float64 entry of
        :data:`pcg_core.SUM_TOLERANCE` (see :mod:`pcg_core.validation`), weights
        > 0, members of a group distinct and ascending.

        Complexity: O(nnz + M + V), vectorised. The one permutation it needs
        (forward memberships into token order) is numpy's stable radix sort
        on 16-bit ids, in two passes for 32-bit ids. Measured at the paper's
        scale (V = M = 65,536, 9.2 M memberships, uint16 ids): about 0.5 s
        of CPU on one core (``python benchmarks/bench_groups.py --load-only``).
        """
        order = _check_indices(
            self.vocab_size, self.num_groups, _np(self.group_ptr), _np(self.group_members),
            _np(self.token_ptr), _np(self.token_groups),
        )
        _check_weights(_np(self.group_weights), _np(self.token_weights), _np(self.token_ptr), order)
        return self

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the documented ``.npz`` format atomically (temp file + rename); return the path."""
        path = Path(path)
        arrays: dict[str, Any] = {
            "format_version": np.int64(FORMAT_VERSION),
            "vocab_size": np.int64(self.vocab_size),
            "num_groups": np.int64(self.num_groups),
            "group_ptr": _np(self.group_ptr),
            "group_members": _np(self.group_members),
            "token_ptr": _np(self.token_ptr),
            "token_groups": _np(self.token_groups),
            "weights_kind": np.str_(self.weights_kind),
            "embedding_digest": np.str_(self.embedding_digest),
            "params_json": np.str_(canonical_json(self.params)),
        }
        if self.weights_kind != "equal":
            arrays["group_weights"] = _np(self.group_weights)
            arrays["token_weights"] = _np(self.token_weights)
        with atomic_writer(path, "wb") as handle:
            np.savez(handle, **arrays)
        return path

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        embedding_digest: str | None = None,
        params: Mapping[str, Any] | None = None,
        validate: bool = True,
    ) -> Groups:
        """Read a file written by :meth:`save`, checking it on the way in.

        Parameters
        ----------
        path : path
            A ``.npz`` file in the format of this module's docstring.
        embedding_digest, params : optional
            When given, the file must have been built from that embedding and
            those parameters, else :class:`GroupsCacheMismatchError` says what
            differs.
        validate : bool
            ``True`` (the default) runs every check of :meth:`validate` on the
            arrays before any is used, O(nnz). Measured at the paper's scale
            (9.2 M memberships, CPU seconds on one core): 0.65 s in all
            against 0.14 s with ``validate=False`` for stored weights, 0.42 s
            against 0.08 s for equal weights (the builders' default: derived
            from the indices, so only those are checked; see
            ``benchmarks/bench_groups.py --load-only``). ``False`` is for
            trusted files only (a cache this
            process just wrote, say): the container, the keys, their dtypes
            and shapes are still checked (O(1)), but a file altered while
            keeping them (a member changed, weights that no longer sum to 1)
            loads as it is, and the sampler then draws from the wrong law.

        Raises
        ------
        InvalidArgumentError
            Named ``path``, for any file that is not a valid structure: not a
            file, not a ``.npz`` archive, a corrupt archive, pickled data, an
            unknown format version, a missing key, a wrong dtype or shape, or
            (with ``validate``) a broken invariant: ids out of range, members
            unsorted or repeated, the two directions disagreeing, a token's
            weights not summing to 1.
        GroupsCacheMismatchError
            The file was built from another embedding or other parameters.
        """
        if not isinstance(path, str | os.PathLike):
            raise InvalidTypeError("path", path, "must be a path (str or os.PathLike) to a .npz file")
        path = Path(path)
        validate = check_bool("validate", validate)
        data = _read_npz(path)
        try:
            file_digest, file_params = data["embedding_digest"], json.loads(data["params_json"])
        except json.JSONDecodeError as error:
            raise _file_error(path, f"params_json is not valid JSON ({error})") from error
        if not isinstance(file_params, dict):
            raise _file_error(path, "params_json must hold a JSON object")
        if embedding_digest is not None and embedding_digest != file_digest:
            raise GroupsCacheMismatchError(
                "path", str(path),
                f"was built from another embedding (sha256 {file_digest[:16]}…, given {embedding_digest[:16]}…)",
                "delete the file or point the cache elsewhere",
            )
        if params is not None:
            wanted = json.loads(canonical_json(params))
            if wanted != file_params:
                diff = sorted(k for k in set(wanted) | set(file_params) if wanted.get(k) != file_params.get(k))
                detail = ", ".join(f"{k}: file {file_params.get(k)!r} vs wanted {wanted.get(k)!r}" for k in diff)
                raise GroupsCacheMismatchError(
                    "path", str(path), f"was built with other parameters ({detail})",
                    "delete the file or point the cache elsewhere",
                )
        vocab, num_groups, kind = int(data["vocab_size"]), int(data["num_groups"]), data["weights_kind"]
        gptr, members, tptr, tgroups = data["group_ptr"], data["group_members"], data["token_ptr"], data["token_groups"]
        try:
            order = _check_indices(vocab, num_groups, gptr, members, tptr, tgroups) if validate else None
            if kind == "equal":  # w[k, t] = 1/N(t), N(t) = token_ptr[t+1] − token_ptr[t]
                degrees = np.diff(tptr)
                share = 1.0 / degrees.astype(np.float64)
                token_weights, group_weights = np.repeat(share, degrees), share[members]
            else:
                token_weights, group_weights = data["token_weights"], data["group_weights"]
            if order is not None and kind == "stored":  # 1/N(t) passes by construction once the indices do
                _check_weights(group_weights, token_weights, tptr, order)
            return cls(
                vocab_size=vocab, num_groups=num_groups,
                group_ptr=torch.from_numpy(gptr), group_members=torch.from_numpy(members),
                group_weights=torch.from_numpy(group_weights), token_ptr=torch.from_numpy(tptr),
                token_groups=torch.from_numpy(tgroups), token_weights=torch.from_numpy(token_weights),
                weights_kind=kind, embedding_digest=file_digest, params=file_params,
            )
        except InvalidArgumentError as error:
            raise _file_error(path, f"{error.name}: {error.rule}") from error


# ---------------------------------------------------------------------------- invariants, O(nnz)
def _check_indices(
    vocab_size: int, num_groups: int, group_ptr: npt.NDArray[Any], group_members: npt.NDArray[Any],
    token_ptr: npt.NDArray[Any], token_groups: npt.NDArray[Any],
) -> npt.NDArray[np.intp]:
    """Check both CSR directions; return ``order`` with ``group_members[order]`` in token order.

    Shapes, offsets, coverage, id ranges, members strictly ascending in each
    group, and the reverse direction equal to the forward one read by token.
    O(nnz + M + V).
    """
    nnz = int(group_members.shape[0])
    for name, array, shape in (("group_ptr", group_ptr, (num_groups + 1,)), ("token_ptr", token_ptr, (vocab_size + 1,)),
                               ("token_groups", token_groups, (nnz,))):
        if array.shape != shape:
            raise InvalidArgumentError(name, array, f"must have shape {list(shape)}")
    for name, ptr in (("group_ptr", group_ptr), ("token_ptr", token_ptr)):
        if ptr[0] != 0 or ptr[-1] != nnz or np.any(ptr[1:] < ptr[:-1]):
            raise InvalidArgumentError(name, ptr, f"must be non-decreasing offsets from 0 to nnz={nnz}")
    sizes, degrees = np.diff(group_ptr), np.diff(token_ptr)
    if np.any(sizes == 0):
        raise InvalidArgumentError("group_ptr", group_ptr, "every group must have at least one member")
    if np.any(degrees == 0):
        t = int(np.flatnonzero(degrees == 0)[0])
        raise InvalidArgumentError("token_ptr", token_ptr, f"every token must belong to a group; token {t} does not")
    for name, ids, bound in (("group_members", group_members, vocab_size), ("token_groups", token_groups, num_groups)):
        if ids.size and (ids.min() < 0 or ids.max() >= bound):
            raise InvalidArgumentError(name, ids, f"ids must lie in [0, {bound})")
    ascending = group_members[1:] > group_members[:-1]
    ascending[group_ptr[1:-1] - 1] = True  # group boundaries
    if not ascending.all():
        k = int(np.searchsorted(group_ptr, np.flatnonzero(~ascending)[0] + 1, side="right")) - 1
        raise InvalidArgumentError("group_members", group_members,
                                   f"members of group {k} must be distinct and ascending")
    # Forward memberships are in (group, token) order; a stable sort by token puts them in
    # (token, group) order, which must be the reverse direction exactly: the sorted tokens
    # are token t repeated N(t) times (sorted, so the first and last of each run suffice),
    # and the groups agree one by one.
    order = _stable_order(group_members)
    tokens = np.arange(vocab_size)
    group_of = np.repeat(np.arange(num_groups, dtype=index_dtype(num_groups - 1)), sizes)
    if not (np.array_equal(group_members[order[token_ptr[:-1]]], tokens)
            and np.array_equal(group_members[order[token_ptr[1:] - 1]], tokens)
            and np.array_equal(group_of[order], token_groups)):
        raise InvalidArgumentError("groups", f"M={num_groups}, V={vocab_size}",
                                   "forward and reverse CSR directions disagree")
    return order


def _check_weights(
    group_weights: npt.NDArray[Any], token_weights: npt.NDArray[Any], token_ptr: npt.NDArray[Any],
    order: npt.NDArray[np.intp],
) -> None:
    """Weights > 0 and finite, equal in both directions, ``Σ_{k∈S(t)} w[k,t] = 1`` per token. O(nnz)."""
    for name, weights in (("group_weights", group_weights), ("token_weights", token_weights)):
        if weights.shape != order.shape:
            raise InvalidArgumentError(name, weights, f"must have shape [nnz] = [{order.size}]")
    if not (np.all(np.isfinite(group_weights)) and np.all(group_weights > 0)):
        raise InvalidArgumentError("group_weights", group_weights, "weights must be finite and > 0")
    forward = group_weights[order]
    if not (np.array_equal(forward, token_weights) or np.all(np.abs(forward - token_weights) <= 1e-15)):
        raise InvalidArgumentError("groups", "weights", "forward and reverse CSR directions disagree")
    sums = np.add.reduceat(token_weights, token_ptr[:-1])  # every token has ≥ 1 membership
    worst = int(np.argmax(np.abs(sums - 1.0)))
    tolerance = sum_tolerance("float64")
    if abs(sums[worst] - 1.0) > tolerance:
        raise InvalidArgumentError(
            "token_weights", token_weights,
            f"weights of each token must sum to 1 within {tolerance:g}; token {worst} sums to {float(sums[worst])!r}",
        )


def _stable_order(ids: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
    """The stable sorting permutation of non-negative ids < 2³², O(n).

    numpy sorts 16-bit keys stably by radix sort; 32-bit ids take two such
    passes (low half, then high half: least significant digit first).
    """
    if ids.dtype.itemsize <= 2:
        return np.argsort(ids, kind="stable")
    wide = ids.astype(np.int64)
    order = np.argsort((wide & 0xFFFF).astype(np.uint16), kind="stable")
    return order[np.argsort((wide[order] >> 16).astype(np.uint16), kind="stable")]


# ---------------------------------------------------------------------------- reading a file
#: dtype rule of every key of format version 1: (ndim, allowed dtypes, as the error states it).
_KEYS: dict[str, tuple[int, tuple[str, ...], str]] = {
    "vocab_size": (0, ("int64",), "an int64 scalar"),
    "num_groups": (0, ("int64",), "an int64 scalar"),
    "group_ptr": (1, ("int64",), "a 1-D int64 array"),
    "group_members": (1, ("uint16", "int32"), "a 1-D uint16 or int32 array"),
    "token_ptr": (1, ("int64",), "a 1-D int64 array"),
    "token_groups": (1, ("uint16", "int32"), "a 1-D uint16 or int32 array"),
    "weights_kind": (0, ("str",), "a string"),
    "embedding_digest": (0, ("str",), "a string"),
    "params_json": (0, ("str",), "a string"),
}
_WEIGHT_KEYS = ("group_weights", "token_weights")
_FILE_HINT = "not a valid groups file; rewrite it with Groups.save, or delete it (a builder's cache is then rebuilt)"


def _file_error(path: Path, rule: str) -> InvalidArgumentError:
    return InvalidArgumentError("path", str(path), rule, _FILE_HINT)


def _read_npz(path: Path) -> dict[str, Any]:
    """Every key of the format, checked for presence, dtype and shape; strings and scalars as Python values."""
    try:
        handle = path.open("rb")  # ours to close: np.load leaks a file it opened when the zip is corrupt
    except OSError as error:
        raise _file_error(path, f"cannot be read ({type(error).__name__}: {error.strerror or error})") from error
    out: dict[str, Any] = {}
    with handle:
        head = handle.read(6)
        if head.startswith(b"\x93NUMPY"):
            raise _file_error(path, "is a single .npy array, not a .npz archive")
        if not head.startswith(b"PK"):
            raise _file_error(path, "is not a .npz file (it does not start with the zip signature)")
        handle.seek(0)
        try:
            with np.load(handle, allow_pickle=False) as data:
                version = _scalar(data["format_version"]) if "format_version" in data.files else -1
                if version != FORMAT_VERSION:
                    raise _file_error(path, f"format_version={version}, this library reads {FORMAT_VERSION}")
                keys = dict(_KEYS)
                kind = data["weights_kind"] if "weights_kind" in data.files else None
                if kind is not None and kind.ndim == 0 and str(kind) == "stored":
                    keys.update(dict.fromkeys(_WEIGHT_KEYS, (1, ("float64",), "a 1-D float64 array")))
                for key, (ndim, dtypes, stated) in keys.items():
                    if key not in data.files:
                        raise _file_error(path, f"lacks the key {key!r} of format version {FORMAT_VERSION}")
                    array = data[key]
                    dtype = "str" if array.dtype.kind == "U" else array.dtype.name
                    if array.ndim != ndim or dtype not in dtypes:
                        raise _file_error(path, f"{key} must be {stated}, found {array.dtype} with shape {array.shape}")
                    out[key] = str(array) if dtype == "str" else (int(array) if ndim == 0 else array)
        except InvalidArgumentError:
            raise
        except ValueError as error:
            if "pickle" in str(error):
                raise _file_error(path, "holds pickled (object) data, which is never loaded") from error
            raise _file_error(path, f"is a corrupt .npz archive ({error})") from error
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
            raise _file_error(path, f"is a corrupt .npz archive ({type(error).__name__}: {error})") from error
    if out["weights_kind"] not in ("equal", "stored"):
        raise _file_error(path, f"weights_kind={out['weights_kind']!r}, must be 'equal' or 'stored'")
    for key in ("vocab_size", "num_groups"):
        if out[key] < 1:
            raise _file_error(path, f"{key}={out[key]}, must be >= 1")
    return out


def _scalar(array: npt.NDArray[Any]) -> int | str:
    """A 0-d integer array as an int; anything else described, for the version message."""
    if array.ndim == 0 and array.dtype.kind in "iu":
        return int(array)
    return f"{array.dtype} array of shape {array.shape}"


def canonical_json(params: Mapping[str, Any]) -> str:
    """Sorted, compact JSON; tuples become lists so a saved file compares equal."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
