"""Scalar and integer-array argument rules: the leaves of :mod:`pcg_core.validation`.

Each ``check_*`` takes an argument's name and value and returns the value in
its canonical type, or raises :class:`~pcg_core.errors.InvalidTypeError`
(wrong type) or :class:`~pcg_core.errors.InvalidArgumentError` (wrong value),
``name=value: rule``. The shared rules (what an integer and a real are) are
stated in :mod:`pcg_core.validation`, the public home of every rule.

numpy only: a torch tensor is recognised once torch is loaded
(:func:`torch_if_loaded`), never by importing it.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from pcg_core.errors import InvalidArgumentError, InvalidTypeError

__all__ = [
    "check_bool",
    "check_choice",
    "check_int",
    "check_int_array",
    "check_probability",
    "check_real",
    "check_ssd_tolerance",
    "torch_if_loaded",
]


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
    torch = torch_if_loaded()
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


def torch_if_loaded() -> Any:
    """The torch module if it is already loaded, else None: a value can only be a tensor once torch is."""
    return sys.modules.get("torch")
