"""Probability rows: the row-sum tolerance per dtype and :func:`check_probs`.

Part of :mod:`pcg_core.validation`, whose docstring states the rule (finite,
``>= 0``, each row summing to 1 within :data:`SUM_TOLERANCE` of its dtype,
never renormalised) and the tolerance decision. numpy only; torch is imported
inside the functions that receive tensors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from pcg_core._rules import check_real, torch_if_loaded
from pcg_core.errors import InvalidArgumentError, InvalidTypeError

if TYPE_CHECKING:
    import torch

__all__ = [
    "SUM_TOLERANCE",
    "check_has_values",
    "check_probs",
    "check_sum_tolerance",
    "dtype_name",
    "raise_tensor_fault",
    "sum_tolerance",
    "tensor_fault_flag",
]

#: |Σ_t probs[..., t] − 1| allowed per row, by dtype name (see :mod:`pcg_core.validation`).
SUM_TOLERANCE: Mapping[str, float] = MappingProxyType({
    "float64": 1e-6,
    "float32": 1e-4,
    "float16": 2e-2,
    "bfloat16": 2e-2,
})

ArrayT = TypeVar("ArrayT")


def sum_tolerance(dtype: Any) -> float:
    """The row-sum tolerance of :data:`SUM_TOLERANCE` for a torch or numpy dtype (or its name).

    >>> sum_tolerance("float32")
    0.0001
    """
    name = dtype_name(dtype)
    if name not in SUM_TOLERANCE:
        raise InvalidTypeError("dtype", dtype, f"must be one of {', '.join(sorted(SUM_TOLERANCE))}")
    return SUM_TOLERANCE[name]


def dtype_name(dtype: Any) -> str:
    if isinstance(dtype, str):
        return dtype.removeprefix("torch.")
    text = str(dtype)
    if text.startswith("torch."):
        return text.removeprefix("torch.")
    try:
        return str(np.dtype(dtype).name)
    except TypeError:
        return text


def check_sum_tolerance(value: Any, name: str = "sum_tolerance") -> float | None:
    """An explicit row-sum tolerance: ``None`` (the dtype's entry of :data:`SUM_TOLERANCE`) or a real in [0, 1).

    A tolerance of 1 or more would accept rows that sum to 0, which no sampler can draw from.

    >>> check_sum_tolerance(None) is None, check_sum_tolerance(1e-4)
    (True, 0.0001)
    """
    if value is None:
        return None
    number = check_real(name, value, minimum=0.0)
    if number >= 1.0:
        raise InvalidArgumentError(name, value, "must be < 1 (a tolerance of 1 accepts rows that sum to 0)")
    return number


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

    Nothing is renormalised. A tensor costs two reads (row sums and a
    minimum; NaN and ±inf make a row sum non-finite) and one device sync;
    the offending element is located only after a check fails. Row sums are
    accumulated in float64 for float64 rows and for numpy arrays, and in
    float32 for float32 and 16-bit tensors while the tolerance is at least
    :data:`_LOW_PRECISION_SUM_ATOL` (torch's pairwise float32 sum is accurate
    to ~2e-7 at V ≈ 2e5), else in float64.

    >>> import numpy as np
    >>> check_probs("target_probs", np.array([0.25, 0.75])).tolist()
    [0.25, 0.75]
    """
    torch = torch_if_loaded()
    is_tensor = torch is not None and isinstance(x, torch.Tensor)
    if not (is_tensor or isinstance(x, np.ndarray)):
        raise InvalidTypeError(name, x, "must be a torch.Tensor or a numpy.ndarray")
    array: Any = x
    if dtype_name(array.dtype) not in SUM_TOLERANCE:
        raise InvalidTypeError(name, x, f"dtype must be one of {', '.join(sorted(SUM_TOLERANCE))}")
    if shape is not None and not _shape_matches(tuple(array.shape), shape):
        spec = ", ".join("*" if size is None else str(size) for size in shape)
        raise InvalidArgumentError(name, x, f"must have shape [{spec}]")
    if array.ndim < 1:
        raise InvalidArgumentError(name, x, "must have at least one dimension [..., V]")
    if not values:
        return x
    explicit = atol is not None
    tol = check_real("atol", atol, minimum=0.0) if explicit else sum_tolerance(array.dtype)
    if is_tensor:
        check_has_values(name, array)
        if bool(tensor_fault_flag(array, tol)):
            raise_tensor_fault(name, array, tol, explicit)
        return x
    sums, bad = _array_rows(array)
    if bad is not None:
        where, rule = bad
        raise InvalidArgumentError(name, x, f"{rule}; element {where} is {array[where].item()}")
    error = np.abs(sums - 1.0)
    if np.any(~(error <= tol)):
        row = tuple(int(i) for i in np.argwhere(~(error <= tol))[0])
        _raise_sum_fault(name, x, tol, row, float(sums[row]), explicit)
    return x


#: Smallest tolerance for which float32 and 16-bit tensors have their row sums accumulated in float32.
_LOW_PRECISION_SUM_ATOL = 1e-5


def _shape_matches(actual: tuple[int, ...], wanted: tuple[int | None, ...]) -> bool:
    return len(actual) == len(wanted) and all(w is None or w == a for a, w in zip(actual, wanted, strict=True))


def _raise_sum_fault(name: str, x: Any, tol: float, row: tuple[int, ...], total: float, explicit: bool) -> None:
    """The error of a row whose sum is off by more than ``tol`` (``total`` is its float64 sum)."""
    which = f"row {row} sums to" if row else "it sums to"
    rule = f"each row must sum to 1 within {tol:g} for {x.dtype}; {which} {total:.9g}"
    if math.isinf(total):
        rule += " (the sum overflows: values must be probabilities)"
    renormalise = "renormalise them in float64: probs / probs.sum(-1, keepdim=True)"
    drift = abs(total - 1.0)
    if dtype_name(x.dtype) == "float64" and not explicit and drift <= SUM_TOLERANCE["float32"]:
        hint = (f"float64 rows that drift by at most {SUM_TOLERANCE['float32']:g} are usually float32 probabilities "
                "cast with .double(); pass the float32 rows as they are (their tolerance is "
                f"{SUM_TOLERANCE['float32']:g}), or {renormalise}, or pass sum_tolerance= if you know their origin")
    else:
        hint = f"probabilities are never renormalised here: {renormalise}, or pass sum_tolerance="
    raise InvalidArgumentError(name, x, rule, hint)


_Bad = tuple[tuple[int, ...], str] | None


def _array_rows(x: npt.NDArray[Any]) -> tuple[npt.NDArray[np.float64], _Bad]:
    """Row sums in float64 and the first non-finite, else negative, element of a numpy array.

    NaN or ±inf make a row sum non-finite, so the element-wise finiteness
    pass runs only then; a sum that overflows is reported by the caller.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        sums = np.asarray(x.sum(-1, dtype=np.float64))
    if not np.isfinite(sums).all():
        hits = np.argwhere(~np.isfinite(x))
        if hits.size:
            return sums, (tuple(int(i) for i in hits[0]), "must be finite")
    if x.size and x.min() < 0:
        return sums, (tuple(int(i) for i in np.argwhere(x < 0)[0]), "must be >= 0")
    return sums, None


def check_has_values(name: str, x: torch.Tensor) -> None:
    """``x`` lives on a real device: a meta tensor has a shape and a dtype but no values to check or sample."""
    if x.device.type == "meta":
        raise InvalidArgumentError(
            name, x, "is a meta tensor: it has a shape but no values", "create it on a real device (cpu, cuda)"
        )


def _row_sums(x: torch.Tensor, tol: float) -> torch.Tensor:
    """Row sums [...] of x [..., V] in one read (see :func:`check_probs` for the accumulation dtype)."""
    import torch

    if x.dtype == torch.float64 or tol < _LOW_PRECISION_SUM_ATOL:
        return x.sum(-1, dtype=torch.float64)
    return x.sum(-1, dtype=torch.float32)


def tensor_fault_flag(x: torch.Tensor, tol: float) -> torch.Tensor:
    """A 0-d bool tensor on x's device, True when some value breaks the rules; two reads, no sync.

    A NaN or ±inf makes its row sum non-finite, so ``|sum − 1| <= tol`` fails
    (NaN compares false); a negative value or −inf makes the minimum < 0.
    """
    import torch

    off = ~((_row_sums(x, tol).to(torch.float64) - 1.0).abs() <= tol)
    flag = off.any()
    if x.numel():
        flag = flag | ~(x.amin() >= 0)
    return flag


def raise_tensor_fault(name: str, x: torch.Tensor, tol: float, explicit: bool) -> None:
    """Locate what :func:`tensor_fault_flag` found (non-finite, else negative, else a row sum) and raise."""
    import torch

    for mask, rule in ((~torch.isfinite(x), "must be finite"), (x < 0, "must be >= 0")):
        hits = mask.nonzero()
        if hits.shape[0]:
            where = tuple(int(i) for i in hits[0])
            raise InvalidArgumentError(name, x, f"{rule}; element {where} is {x[where].item()}")
    off = ~((_row_sums(x, tol).to(torch.float64) - 1.0).abs() <= tol)
    hits = off.nonzero()
    if hits.shape[0]:
        row = tuple(int(i) for i in hits[0])
        _raise_sum_fault(name, x, tol, row, float(x[row].sum(dtype=torch.float64)), explicit)
    raise InvalidArgumentError(name, x, f"must be finite, >= 0 and sum to 1 within {tol:g} per row")
