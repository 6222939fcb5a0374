"""The one copy of every argument rule of pcg_core and pcg_verify.

Each ``check_*`` function takes an argument's name and value and returns the
value in its canonical type, or raises :class:`~pcg_core.errors.InvalidTypeError`
(wrong type or dtype) or :class:`~pcg_core.errors.InvalidArgumentError` (wrong
value), whose message reads ``name=value: rule``.

Rules shared by every public function:

- An integer is a Python ``int`` or a numpy integer, never a ``bool`` and never
  a float, not even ``2.0`` (that is a type error, not a value error).
- A real is an ``int``, a ``float`` or a numpy real, never a ``bool``; finite
  unless a rule says otherwise.
- A probability array (torch tensor or numpy array, last axis the vocabulary)
  is finite, ``>= 0``, and each row sums to 1 within a tolerance; it is never
  renormalised.

Tolerance decision. :data:`SUM_TOLERANCE` gives the allowed
``|Σ_t probs[..., t] − 1|`` per dtype, applied at the sampler's boundary
(:func:`pcg_core.verify` and the baselines) to the dtype the caller passes:
low-precision rows from a softmax over ~200k ids drift by a few 1e-3, float64
rows should be exact. The exact laws of pcg_verify compute in float64 and use
the float64 entry (1e-6). The weights of a group structure are float64 and
renormalised per token when built, so each token's weights sum to 1 within the
float64 entry too (:meth:`pcg_core.Groups.validate`).

This module imports numpy only; torch is imported inside the functions that
receive torch objects, so ``import pcg_core.validation`` stays cheap (the
statistics of pcg_verify depend on it and never load torch).
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from pcg_core.errors import InvalidArgumentError, InvalidTypeError

if TYPE_CHECKING:
    import torch

    from pcg_core._groups import Groups

__all__ = [
    "SUM_TOLERANCE",
    "check_bool",
    "check_choice",
    "check_generator",
    "check_groups",
    "check_int",
    "check_int_array",
    "check_probability",
    "check_probs",
    "check_real",
    "check_ssd_tolerance",
    "check_verify_inputs",
    "sum_tolerance",
]

#: |Σ_t probs[..., t] − 1| allowed per row, by dtype name (see the module docstring).
SUM_TOLERANCE: Mapping[str, float] = MappingProxyType({
    "float64": 1e-6,
    "float32": 1e-4,
    "float16": 2e-2,
    "bfloat16": 2e-2,
})

ArrayT = TypeVar("ArrayT")


# ---------------------------------------------------------------------------- scalars
def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an ``int``: a Python or numpy integer in ``[minimum, maximum]``.

    Raises :class:`InvalidTypeError` for a bool, a float (even ``2.0``) or any
    other type, :class:`InvalidArgumentError` outside the bounds.

    >>> import numpy as np
    >>> check_int("k", np.int64(3), minimum=1)
    3
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        rule = "must be an integer, not a bool" if isinstance(value, bool | np.bool_) else "must be an integer"
        raise InvalidTypeError(name, value, rule)
    number = int(value)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise InvalidArgumentError(name, value, f"must be an integer {_bounds(minimum, maximum)}")
    return number


def check_real(
    name: str, value: Any, *, minimum: float | None = None, maximum: float | None = None, finite: bool = True
) -> float:
    """``value`` as a ``float``: an int, float or numpy real in ``[minimum, maximum]``.

    ``finite=True`` also refuses NaN and ±inf. Raises :class:`InvalidTypeError`
    for a bool or a non-number, :class:`InvalidArgumentError` otherwise.

    >>> check_real("theta", 1)
    1.0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        rule = "must be a real number, not a bool" if isinstance(value, bool | np.bool_) else "must be a real number"
        raise InvalidTypeError(name, value, rule)
    number = float(value)
    if math.isnan(number) or (finite and math.isinf(number)):
        raise InvalidArgumentError(name, value, "must be finite")
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise InvalidArgumentError(name, value, f"must lie {_bounds(minimum, maximum)}")
    return number


def check_probability(name: str, value: Any, *, strict: bool = False) -> float:
    """A single probability in ``[0, 1]`` (``strict=True``: in the open interval ``(0, 1)``)."""
    number = check_real(name, value)
    if strict and not 0.0 < number < 1.0:
        raise InvalidArgumentError(name, value, "must lie strictly between 0 and 1")
    if not 0.0 <= number <= 1.0:
        raise InvalidArgumentError(name, value, "must lie in [0, 1]")
    return number


def check_ssd_tolerance(value: Any, name: str = "tolerance") -> float:
    """The SSD tolerance β of ``u < min(1, q(x)/p(x)) + β``: a real in ``[0, 1]``.

    β = 0 is standard speculative decoding; β = 1 accepts every draft.
    """
    number = check_real(name, value)
    if not 0.0 <= number <= 1.0:
        raise InvalidArgumentError(name, value, "must lie in [0, 1] (the SSD β)")
    return number


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """``value`` if it is one of the option strings ``choices``."""
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        raise InvalidArgumentError(name, value, f"must be one of {', '.join(map(repr, options))}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """``value`` as a ``bool``: a Python or numpy bool (``0``/``1`` are not bools)."""
    if not isinstance(value, bool | np.bool_):
        raise InvalidTypeError(name, value, "must be a bool")
    return bool(value)


def _bounds(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"in [{minimum:g}, {maximum:g}]"
    return f">= {minimum:g}" if minimum is not None else f"<= {maximum:g}"


# ---------------------------------------------------------------------------- arrays
def check_int_array(
    name: str, value: Any, *, ndim: int | None = None, nonempty: bool = False
) -> npt.NDArray[np.int64]:
    """``value`` (sequence, numpy array or torch tensor) as an int64 numpy array.

    Floats are refused, never truncated; bools are not integers. An empty
    value is refused when ``nonempty`` (checked first: ``[]`` has no dtype to
    speak of), else returned as an empty int64 array.

    >>> check_int_array("labels", [2, 0, 2], ndim=1).tolist()
    [2, 0, 2]
    """
    array: npt.NDArray[Any]
    torch = _torch()
    if torch is not None and isinstance(value, torch.Tensor):
        if value.numel() == 0 and nonempty:
            raise InvalidArgumentError(name, value, "is empty; must hold at least one entry")
        if value.dtype.is_floating_point or value.dtype.is_complex or value.dtype == torch.bool:
            raise InvalidTypeError(name, value, f"must hold integers, got dtype {value.dtype}")
        array = value.detach().cpu().numpy()
    else:
        try:
            array = np.asarray(value)
        except (TypeError, ValueError) as error:
            raise InvalidTypeError(name, value, "must be an array of integers") from error
    if array.size == 0:
        if nonempty:
            raise InvalidArgumentError(name, value, "is empty; must hold at least one entry")
        array = array.astype(np.int64)
    if array.dtype.kind not in "iu":
        raise InvalidTypeError(name, value, f"must hold integers, got dtype {array.dtype}")
    if ndim is not None and array.ndim != ndim:
        raise InvalidArgumentError(name, value, f"must be {ndim}-D, got {array.ndim}-D")
    return array.astype(np.int64)


def sum_tolerance(dtype: Any) -> float:
    """The row-sum tolerance of :data:`SUM_TOLERANCE` for a torch or numpy dtype (or its name).

    >>> sum_tolerance("float32")
    0.0001
    """
    name = _dtype_name(dtype)
    if name not in SUM_TOLERANCE:
        raise InvalidTypeError("dtype", dtype, f"must be one of {', '.join(sorted(SUM_TOLERANCE))}")
    return SUM_TOLERANCE[name]


def _dtype_name(dtype: Any) -> str:
    if isinstance(dtype, str):
        return dtype.removeprefix("torch.")
    text = str(dtype)
    if text.startswith("torch."):
        return text.removeprefix("torch.")
    try:
        return str(np.dtype(dtype).name)
    except TypeError:
        return text


def check_probs(
    name: str, x: ArrayT, *, shape: tuple[int | None, ...] | None = None, atol: float | None = None,
    values: bool = True,
) -> ArrayT:
    """Check probability rows ``x`` [..., V] (torch tensor or numpy array); return ``x`` unchanged.

    Parameters
    ----------
    name : str
        The argument's name in error messages.
    x : torch.Tensor or numpy.ndarray [..., V]
        Float64, float32, float16 or bfloat16 (torch only).
    shape : tuple, optional
        The required shape; ``None`` entries match any size.
    atol : float, optional
        Allowed ``|Σ_t x[..., t] − 1|`` per row; defaults to :func:`sum_tolerance` of x's dtype.
    values : bool
        ``False`` checks type, dtype and shape only, skipping the O(size) pass
        over the values (finite, ``>= 0``, row sums).

    Nothing is renormalised. Row sums are accumulated in float64.

    >>> import numpy as np
    >>> check_probs("target_probs", np.array([0.25, 0.75])).tolist()
    [0.25, 0.75]
    """
    torch = _torch()
    is_tensor = torch is not None and isinstance(x, torch.Tensor)
    if not (is_tensor or isinstance(x, np.ndarray)):
        raise InvalidTypeError(name, x, "must be a torch.Tensor or a numpy.ndarray")
    array: Any = x
    if _dtype_name(array.dtype) not in SUM_TOLERANCE:
        raise InvalidTypeError(name, x, f"dtype must be one of {', '.join(sorted(SUM_TOLERANCE))}")
    if shape is not None and not _shape_matches(tuple(array.shape), shape):
        spec = ", ".join("*" if size is None else str(size) for size in shape)
        raise InvalidArgumentError(name, x, f"must have shape [{spec}]")
    if array.ndim < 1:
        raise InvalidArgumentError(name, x, "must have at least one dimension [..., V]")
    if not values:
        return x
    tol = sum_tolerance(array.dtype) if atol is None else check_real("atol", atol, minimum=0.0)
    sums, bad = _tensor_rows(array) if is_tensor else _array_rows(array)
    if bad is not None:
        where, rule = bad
        raise InvalidArgumentError(name, x, f"{rule}; element {where} is {array[where].item()}")
    error = np.abs(sums - 1.0)
    if np.any(error > tol):
        row = tuple(int(i) for i in np.argwhere(error > tol)[0])
        which = f"row {row} sums to" if row else "it sums to"
        raise InvalidArgumentError(
            name, x, f"each row must sum to 1 within {tol:g} for {array.dtype}; {which} {float(sums[row]):.9g}"
        )
    return x


def _shape_matches(actual: tuple[int, ...], wanted: tuple[int | None, ...]) -> bool:
    return len(actual) == len(wanted) and all(w is None or w == a for a, w in zip(actual, wanted, strict=True))


_Bad = tuple[tuple[int, ...], str] | None


def _array_rows(x: npt.NDArray[Any]) -> tuple[npt.NDArray[np.float64], _Bad]:
    """Row sums in float64 and the first non-finite, else negative, element of a numpy array.

    NaN or ±inf make a row sum non-finite, so the element-wise finiteness
    pass runs only then.
    """
    sums = np.asarray(x.sum(-1, dtype=np.float64))
    if not np.isfinite(sums).all():
        hits = np.argwhere(~np.isfinite(x))
        if hits.size:
            return sums, (tuple(int(i) for i in hits[0]), "must be finite")
    if x.size and x.min() < 0:
        return sums, (tuple(int(i) for i in np.argwhere(x < 0)[0]), "must be >= 0")
    return sums, None


def _tensor_rows(x: torch.Tensor) -> tuple[npt.NDArray[np.float64], _Bad]:
    """:func:`_array_rows` of a tensor, computed on its device; only the row sums [...] travel to the CPU."""
    import torch

    sums = x.sum(-1, dtype=torch.float64)
    if not bool(torch.isfinite(sums).all()):
        hits = (~torch.isfinite(x)).nonzero()
        if hits.shape[0]:
            return np.empty(0), (tuple(int(i) for i in hits[0]), "must be finite")
    if x.numel() and bool(x.amin() < 0):
        return np.empty(0), (tuple(int(i) for i in (x < 0).nonzero()[0]), "must be >= 0")
    return np.asarray(sums.cpu().numpy()), None


# ---------------------------------------------------------------------------- torch objects
def check_groups(groups: Any, *, vocab_size: int | None = None, device: Any = None) -> Groups:
    """``groups`` is a :class:`pcg_core.Groups`, built for ``vocab_size`` ids and living on ``device``.

    Only the type, V and the device are checked (O(1)); :meth:`Groups.validate`
    checks the structure itself.
    """
    from pcg_core._groups import Groups

    if not isinstance(groups, Groups):
        raise InvalidTypeError("groups", groups, "must be a pcg_core.Groups")
    if vocab_size is not None and groups.vocab_size != vocab_size:
        raise InvalidArgumentError(
            "groups", groups, f"was built for vocab_size={groups.vocab_size}, but the probabilities have V={vocab_size}"
        )
    if device is not None and groups.device != _device(device):
        raise InvalidArgumentError(
            "groups", groups, f"lives on {groups.device}, the probabilities on {device}", f"call groups.to('{device}')"
        )
    return groups


def check_generator(generator: Any, device: Any) -> torch.Generator:
    """``generator`` is a :class:`torch.Generator` for the device type of ``device``."""
    import torch

    if not isinstance(generator, torch.Generator):
        raise InvalidTypeError("generator", generator, "must be a torch.Generator (all randomness comes from it)")
    if generator.device.type != _device(device).type:
        raise InvalidArgumentError(
            "generator", generator, f"is for {generator.device}, the probabilities live on {device}"
        )
    return generator


def _device(device: Any) -> torch.device:
    import torch

    return device if isinstance(device, torch.device) else torch.device(device)


def check_verify_inputs(
    draft_tokens: Any, draft_probs: Any, target_probs: Any, generator: Any, *, full: bool = True
) -> tuple[int, int, int]:
    """Check the inputs of the port contract (docs/port-contract.md); return (B, γ, V).

    ``draft_tokens`` int64 [B, γ], ``draft_probs`` float [B, γ, V],
    ``target_probs`` float [B, γ+1, V], all on one device, and a generator for
    it. ``full=False`` skips the O(B·γ·V) value checks of :func:`check_probs`
    (finite, non-negative, rows sum to 1) for callers that guarantee them;
    shapes, dtypes, id ranges and the draft tokens' own probabilities (> 0,
    or the draft could not have sampled them) are always checked.
    """
    import torch

    if not isinstance(draft_tokens, torch.Tensor):
        raise InvalidTypeError("draft_tokens", draft_tokens, "must be a torch.Tensor")
    if draft_tokens.dtype != torch.int64:
        raise InvalidTypeError("draft_tokens", draft_tokens, "dtype must be torch.int64")
    if draft_tokens.dim() != 2:
        raise InvalidArgumentError("draft_tokens", draft_tokens, "must have shape [B, gamma]")
    batch, gamma = (int(size) for size in draft_tokens.shape)
    if batch < 1 or gamma < 1:
        raise InvalidArgumentError("draft_tokens", draft_tokens, "needs B >= 1 and gamma >= 1")
    for name, probs in (("draft_probs", draft_probs), ("target_probs", target_probs)):
        if not isinstance(probs, torch.Tensor):
            raise InvalidTypeError(name, probs, "must be a torch.Tensor")
    if draft_probs.dim() != 3:
        raise InvalidArgumentError("draft_probs", draft_probs, "must be a tensor of shape [B, gamma, V]")
    vocab = int(draft_probs.shape[-1])
    check_probs("draft_probs", draft_probs, shape=(batch, gamma, vocab), values=full)
    check_probs("target_probs", target_probs, shape=(batch, gamma + 1, vocab), values=full)
    device = draft_probs.device
    for name, tensor in (("draft_tokens", draft_tokens), ("target_probs", target_probs)):
        if tensor.device != device:
            raise InvalidArgumentError(name, tensor, f"is on {tensor.device}, draft_probs on {device}")
    bad = (draft_tokens < 0) | (draft_tokens >= vocab)
    if bool(bad.any()):
        b, i = (int(v) for v in bad.nonzero()[0])
        raise InvalidArgumentError(
            "draft_tokens", draft_tokens,
            f"ids must lie in [0, V={vocab}); draft_tokens[{b},{i}]={int(draft_tokens[b, i])}",
        )
    own = draft_probs.gather(-1, draft_tokens.unsqueeze(-1)).squeeze(-1)
    if bool((own <= 0).any()):
        b, i = (int(v) for v in (own <= 0).nonzero()[0])
        raise InvalidArgumentError(
            "draft_tokens", draft_tokens,
            f"each drafted token must have draft probability > 0; draft_tokens[{b},{i}]={int(draft_tokens[b, i])} "
            f"has draft_probs {float(own[b, i])}",
            "draft tokens must be sampled from draft_probs",
        )
    check_generator(generator, device)
    return batch, gamma, vocab



def _torch() -> Any:
    """The torch module if it is already loaded, else None: a value can only be a tensor once torch is."""
    return sys.modules.get("torch")
