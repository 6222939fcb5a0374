"""The array rules of the statistics, and JSON conversion of their results.

Scalar arguments are checked by :mod:`pcg_core.validation` (``check_int``,
``check_real``, ``check_probability``, ``check_choice``), which holds the one
copy of each rule. The rules below are the ones only the statistics need:
count vectors, laws given as array-likes, values in [0, 1], the pair of error
rates of a sizing question and optional message texts. Every user mistake
raises :class:`~pcg_core.errors.InvalidArgumentError` or
:class:`~pcg_core.errors.InvalidTypeError` quoting ``name=value`` and the rule.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_core.validation import SUM_TOLERANCE, check_int_array, check_probability, check_probs, check_real

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: |Σ_k probs[k] − 1| allowed for a law; the float64 entry of
#: :data:`pcg_core.validation.SUM_TOLERANCE`, the tolerance of the exact laws
#: whose output the gate passes here.
PROBS_SUM_TOLERANCE = SUM_TOLERANCE["float64"]


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
    """The two error rates of a sizing question, each in (0, 1); their sum must stay below 1.

    A test that ignores the data and rejects with probability ``alpha`` already
    has ``false_negative_rate = 1 - alpha``, so ``alpha + beta >= 1`` needs no data.
    """
    alpha = check_probability("false_positive_rate", false_positive_rate, strict=True)
    beta = check_probability("false_negative_rate", false_negative_rate, strict=True)
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
    counts = check_int_array(name, value, ndim=1, nonempty=True)
    if np.any(counts < 0):
        raise InvalidArgumentError(name, value, "counts must be nonnegative")
    return counts


def total(name: str, counts: IntArray, value: object) -> int:
    """The number of samples behind ``counts``; at least one is needed."""
    n_samples = int(counts.sum())
    if n_samples < 1:
        raise InvalidArgumentError(name, value, "counts must sum to at least 1")
    return n_samples


def prob_vector(name: str, value: object, *, length: int | None = None, length_name: str = "") -> FloatArray:
    """A law over ``length`` categories (any number when None): finite, nonnegative, summing to 1. Shape [K].

    The rule is :func:`pcg_core.validation.check_probs` on the float64 copy,
    with :data:`PROBS_SUM_TOLERANCE`. The returned copy is then divided by its
    sum, so that the expected counts ``n * law`` add up to ``n`` exactly (up to
    rounding), as the G and chi-square statistics assume.
    """
    array = vector(name, value).astype(np.float64)
    if length is not None and array.size != length:
        raise InvalidArgumentError(name, value, f"must have {length} entries, one per entry of {length_name}")
    check_probs(name, array, atol=PROBS_SUM_TOLERANCE)
    normalised: FloatArray = array / array.sum()
    return normalised


def discrepancy(name: str, value: object) -> float:
    """A discrepancy measured as a distance between laws or CDFs: a real in (0, 1]."""
    number = check_real(name, value)
    if not 0.0 < number <= 1.0:
        raise InvalidArgumentError(name, value, "must lie in (0, 1]")
    return number


def unit_values(name: str, value: object, *, one_dimensional: bool) -> FloatArray:
    """Finite values in [0, 1] (PIT values, CDF values, p-values), as float64 of the same shape."""
    array = vector(name, value) if one_dimensional else _array(name, value)
    floats = array.astype(np.float64)
    if not np.all(np.isfinite(floats)):
        raise InvalidArgumentError(name, value, "values must be finite")
    if np.any(floats < 0.0) or np.any(floats > 1.0):
        raise InvalidArgumentError(name, value, "values must lie in [0, 1]")
    return floats


def jsonable(value: object) -> Any:
    """Plain JSON types: numpy scalars unwrapped, tuples as lists, non-finite floats as None.

    ``inf``, ``-inf`` and ``nan`` become ``None`` (JSON ``null``) so that
    ``json.dumps(..., allow_nan=False)`` accepts every result and every JSON
    reader parses it; the other fields of a result say which case it was
    (e.g. ``impossible_categories`` for an infinite G statistic).
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, Iterable):
        return [jsonable(item) for item in value]
    raise TypeError(f"cannot convert {type(value).__name__} to JSON")  # internal: results hold plain data
