"""Argument validation and JSON conversion shared by the statistics modules.

Each public function of :mod:`pcg_verify.stats` validates its arguments with
the small helpers below, so every user mistake raises
:class:`~pcg_core._errors.InvalidArgumentError` or
:class:`~pcg_core._errors.InvalidTypeError` quoting ``name=value`` and the rule.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from pcg_core._errors import InvalidArgumentError, InvalidTypeError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# A law's probabilities may miss 1 by this much (absolute, i.e. relative to the total 1).
PROBS_SUM_TOLERANCE = 1e-9


def real(name: str, value: object) -> float:
    """``value`` as a float; bools and non-numbers are type errors."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidTypeError(name, value, "must be a real number")
    return float(value)


def rate(name: str, value: object) -> float:
    """A probability of error or a confidence: strictly between 0 and 1."""
    number = real(name, value)
    if not 0.0 < number < 1.0:
        raise InvalidArgumentError(name, value, "must lie strictly between 0 and 1")
    return number


def probability(name: str, value: object) -> float:
    """A probability: in [0, 1], endpoints included."""
    number = real(name, value)
    if not 0.0 <= number <= 1.0:
        raise InvalidArgumentError(name, value, "must lie in [0, 1]")
    return number


def integer(name: str, value: object, *, minimum: int) -> int:
    """An integer (Python or numpy, never bool) that is at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidTypeError(name, value, "must be an integer")
    number = int(value)
    if number < minimum:
        raise InvalidArgumentError(name, value, f"must be an integer >= {minimum}")
    return number


def choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    """One of a fixed set of option strings."""
    if not isinstance(value, str) or value not in choices:
        raise InvalidArgumentError(name, value, f"must be one of {', '.join(map(repr, choices))}")
    return value


def text(name: str, value: object, *, optional: bool) -> str | None:
    """A non-empty string (or None when ``optional``)."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidTypeError(name, value, "must be a string" + (" or None" if optional else ""))
    if not value.strip():
        raise InvalidArgumentError(name, value, "must be a non-empty string")
    return value


def error_rates(false_positive_rate: object, false_negative_rate: object) -> tuple[float, float]:
    """The two error rates of a sizing question; their sum must stay below 1.

    A test that ignores the data and rejects with probability ``alpha`` already
    has ``false_negative_rate = 1 - alpha``, so ``alpha + beta >= 1`` needs no data.
    """
    alpha = rate("false_positive_rate", false_positive_rate)
    beta = rate("false_negative_rate", false_negative_rate)
    if alpha + beta >= 1.0:
        raise InvalidArgumentError(
            "false_negative_rate",
            false_negative_rate,
            f"must be < 1 - false_positive_rate = {1.0 - alpha!r}",
            hint="a test that ignores the data already reaches these rates",
        )
    return alpha, beta


def _array(name: str, value: object) -> npt.NDArray[Any]:
    if isinstance(value, str | bytes):
        raise InvalidTypeError(name, value, "must be an array of numbers")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise InvalidTypeError(name, value, "must be an array of numbers") from error
    if array.dtype == np.bool_ or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise InvalidTypeError(name, value, "must be an array of numbers (integer or float dtype)")
    return array


def vector(name: str, value: object, *, min_length: int = 1) -> npt.NDArray[Any]:
    """A 1-D numeric array of at least ``min_length`` entries."""
    array = _array(name, value)
    if array.ndim != 1:
        raise InvalidArgumentError(name, value, f"must be 1-D, got {array.ndim} dimensions")
    if array.size < min_length:
        raise InvalidArgumentError(name, value, f"must have at least {min_length} entries")
    return array


def count_vector(name: str, value: object) -> IntArray:
    """Counts: 1-D, integer dtype, nonnegative, at least one entry. Shape [K]."""
    array = vector(name, value)
    if not np.issubdtype(array.dtype, np.integer):
        raise InvalidTypeError(name, value, "must have an integer dtype (counts)")
    if np.any(array < 0):
        raise InvalidArgumentError(name, value, "counts must be nonnegative")
    return array.astype(np.int64)


def total(name: str, counts: IntArray, value: object) -> int:
    """The number of samples behind ``counts``; at least one is needed."""
    n_samples = int(counts.sum())
    if n_samples < 1:
        raise InvalidArgumentError(name, value, "counts must sum to at least 1")
    return n_samples


def prob_vector(name: str, value: object, *, length: int, length_name: str) -> FloatArray:
    """A law over ``length`` categories: finite, nonnegative, summing to 1.

    The sum may miss 1 by :data:`PROBS_SUM_TOLERANCE`; the returned copy is
    renormalised to sum to 1 exactly (up to rounding). Shape [K].
    """
    array = vector(name, value).astype(np.float64)
    if array.size != length:
        raise InvalidArgumentError(name, value, f"must have {length} entries, one per entry of {length_name}")
    if not np.all(np.isfinite(array)):
        raise InvalidArgumentError(name, value, "probabilities must be finite")
    if np.any(array < 0.0):
        raise InvalidArgumentError(name, value, "probabilities must be nonnegative")
    mass = float(array.sum())
    if abs(mass - 1.0) > PROBS_SUM_TOLERANCE:
        raise InvalidArgumentError(
            name, value, f"probabilities must sum to 1 (within {PROBS_SUM_TOLERANCE:g}), got {mass!r}"
        )
    normalised: FloatArray = array / mass
    return normalised


def unit_values(name: str, value: object, *, one_dimensional: bool) -> FloatArray:
    """Finite values in [0, 1] (PIT values, CDF values, probabilities)."""
    array = vector(name, value) if one_dimensional else _array(name, value)
    floats = array.astype(np.float64)
    if not np.all(np.isfinite(floats)):
        raise InvalidArgumentError(name, value, "values must be finite")
    if np.any(floats < 0.0) or np.any(floats > 1.0):
        raise InvalidArgumentError(name, value, "values must lie in [0, 1]")
    return floats


def jsonable(value: object) -> Any:
    """Plain JSON types: numpy scalars unwrapped, tuples as lists, non-finite floats as strings.

    ``inf``, ``-inf`` and ``nan`` become the strings ``"inf"``, ``"-inf"`` and
    ``"nan"`` so that ``json.dumps(..., allow_nan=False)`` accepts every result.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isfinite(number):
            return number
        return "nan" if math.isnan(number) else ("inf" if number > 0 else "-inf")
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, Iterable):
        return [jsonable(item) for item in value]
    raise TypeError(f"cannot convert {type(value).__name__} to JSON")  # internal: results hold plain data
