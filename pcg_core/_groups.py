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

The file format (:meth:`Groups.save`, :meth:`Groups.load`) is documented and
read in :mod:`pcg_core._groups_file`; the O(nnz) invariants of
:meth:`Groups.validate` are in :mod:`pcg_core._csr`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pcg_core._csr import check_indices, check_weights, index_dtype
from pcg_core._groups_file import file_error, read, write
from pcg_core._rules import check_bool, check_int, check_int_array
from pcg_core.errors import InvalidArgumentError, InvalidTypeError

__all__ = ["Groups"]


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
        order = check_indices(
            self.vocab_size, self.num_groups, _np(self.group_ptr), _np(self.group_members),
            _np(self.token_ptr), _np(self.token_groups),
        )
        check_weights(_np(self.group_weights), _np(self.token_weights), _np(self.token_ptr), order)
        return self

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the documented ``.npz`` format atomically (temp file + rename); return the path.

        The format is in :mod:`pcg_core._groups_file`; equal weights are not stored.
        """
        return write(self, Path(path))

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
            A ``.npz`` file in the format of :mod:`pcg_core._groups_file`.
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
            (Equal weights are derived from the offsets and ids, so those
            are checked either way, O(V + nnz), before they size anything.)

        Limits: the file is untrusted input, and nothing is inflated or
        allocated before it is known to fit. A zip member may inflate to at
        most 100 times its compressed size (or to 1 MiB), so a file of n
        bytes costs at most about 100·n bytes of memory; an array's header
        must declare the bytes its member holds; strings hold at most 65,536
        characters and ``params_json`` nests at most 32 deep. Arrays in the
        other byte order are read and swapped to the native one. (The limits
        are constants of :mod:`pcg_core._groups_file`.)

        Raises
        ------
        InvalidArgumentError
            Named ``path``, for any file that is not a valid structure: not a
            file, not a ``.npz`` archive, a corrupt archive, pickled data, an
            unknown format version, a missing key, a wrong dtype or shape, a
            limit exceeded (a zip bomb, a header that lies about its size, a
            string too long, ``params_json`` too deep), or (with
            ``validate``) a broken invariant: ids out of range, members
            unsorted or repeated, the two directions disagreeing, a token's
            weights not summing to 1.
        GroupsCacheMismatchError
            The file was built from another embedding or other parameters.
        """
        if not isinstance(path, str | os.PathLike):
            raise InvalidTypeError("path", path, "must be a path (str or os.PathLike) to a .npz file")
        path = Path(path)
        validate = check_bool("validate", validate)
        fields = read(path, embedding_digest=embedding_digest, params=params, validate=validate)
        try:
            return cls(**fields)
        except InvalidArgumentError as error:
            raise file_error(path, f"{error.name}: {error.rule}") from error
