"""The rules of pcg_core.validation, checked directly (one copy of each rule)."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
import torch

from pcg_core import groups_from_labels
from pcg_core.errors import InvalidArgumentError, InvalidTypeError, PCGError
from pcg_core.validation import (
    SUM_TOLERANCE,
    check_bool,
    check_choice,
    check_generator,
    check_groups,
    check_has_values,
    check_int,
    check_int_array,
    check_probability,
    check_probs,
    check_real,
    check_ssd_tolerance,
    check_sum_tolerance,
    sum_tolerance,
)


def raises(error: type[Exception], message: str) -> Any:
    """pytest.raises matching the start of the message literally."""
    return pytest.raises(error, match="^" + re.escape(message))


# ---------------------------------------------------------------------------- integers
@pytest.mark.parametrize("value", [3, np.int8(3), np.int64(3), np.uint16(3), np.uint64(3)], ids=repr)
def test_int_accepts_python_and_numpy_integers(value: Any) -> None:
    result = check_int("n", value)
    assert result == 3 and type(result) is int


@pytest.mark.parametrize(
    ("value", "rule"),
    [(3.0, "must be an integer"), (np.float32(3), "must be an integer"), ("3", "must be an integer"),
     (None, "must be an integer"), (torch.tensor(3), "must be an integer"), (Fraction(3), "must be an integer"),
     (True, "must be an integer, not a bool"), (np.bool_(False), "must be an integer, not a bool")],
    ids=repr,
)
def test_int_refuses_everything_else(value: Any, rule: str) -> None:
    with pytest.raises(InvalidTypeError) as info:
        check_int("n", value)
    assert str(info.value).endswith(f": {rule}")
    assert isinstance(info.value, TypeError) and isinstance(info.value, PCGError)


@pytest.mark.parametrize(
    ("value", "bounds", "message"),
    [(0, {"minimum": 1}, "n=0: must be an integer >= 1"),
     (5, {"maximum": 4}, "n=5: must be an integer <= 4"),
     (np.int64(-1), {"minimum": 0, "maximum": 3}, "n=np.int64(-1): must be an integer in [0, 3]")],
)
def test_int_bounds(value: Any, bounds: dict[str, int], message: str) -> None:
    with raises(InvalidArgumentError, message):
        check_int("n", value, **bounds)
    assert check_int("n", 2, minimum=2, maximum=2) == 2  # bounds are inclusive


# ---------------------------------------------------------------------------- reals
@pytest.mark.parametrize("value", [0.5, 1, np.float32(0.5), np.float64(0.5), np.int64(1), Fraction(1, 2)], ids=repr)
def test_real_accepts_numbers(value: Any) -> None:
    result = check_real("x", value)
    assert result == float(value) and type(result) is float


@pytest.mark.parametrize(
    ("value", "error", "rule"),
    [(True, InvalidTypeError, "must be a real number, not a bool"), ("0.5", InvalidTypeError, "must be a real number"),
     (None, InvalidTypeError, "must be a real number"), (1j, InvalidTypeError, "must be a real number"),
     (float("nan"), InvalidArgumentError, "must be finite"), (float("inf"), InvalidArgumentError, "must be finite"),
     (np.float64("-inf"), InvalidArgumentError, "must be finite")],
    ids=repr,
)
def test_real_refuses(value: Any, error: type[Exception], rule: str) -> None:
    with pytest.raises(error) as info:
        check_real("x", value)
    assert str(info.value).endswith(f": {rule}")


def test_real_bounds_and_infinities() -> None:
    assert check_real("x", float("inf"), finite=False) == float("inf")
    with raises(InvalidArgumentError, "x=nan: must be finite"):
        check_real("x", float("nan"), finite=False)  # NaN is never a number to compare
    with raises(InvalidArgumentError, "x=-1: must lie >= 0"):
        check_real("x", -1, minimum=0.0)
    with raises(InvalidArgumentError, "x=2: must lie in [0, 1]"):
        check_real("x", 2, minimum=0.0, maximum=1.0)


def test_probability_and_ssd_tolerance() -> None:
    assert check_probability("p", 0) == 0.0 and check_probability("p", np.float32(1)) == 1.0
    with raises(InvalidArgumentError, "p=1.5: must lie in [0, 1]"):
        check_probability("p", 1.5)
    with raises(InvalidArgumentError, "p=0.0: must lie strictly between 0 and 1"):
        check_probability("p", 0.0, strict=True)
    assert check_ssd_tolerance(np.float64(0.3)) == pytest.approx(0.3)
    with raises(InvalidArgumentError, "tolerance=-0.1: must lie in [0, 1] (the SSD β)"):
        check_ssd_tolerance(-0.1)
    with raises(InvalidTypeError, "beta=True: must be a real number, not a bool"):
        check_ssd_tolerance(True, name="beta")


# ---------------------------------------------------------------------------- choices and flags
def test_choice() -> None:
    assert check_choice("metric", "cosine", ("cosine", "euclidean")) == "cosine"
    for bad in ("dot", None, ["cosine"]):
        with raises(InvalidArgumentError, f"metric={bad!r}: must be one of 'cosine', 'euclidean'"):
            check_choice("metric", bad, ["cosine", "euclidean"])


def test_bool() -> None:
    assert check_bool("flag", np.bool_(True)) is True and check_bool("flag", False) is False
    for bad in (1, 0, "yes", None):
        with raises(InvalidTypeError, f"flag={bad!r}: must be a bool"):
            check_bool("flag", bad)


# ---------------------------------------------------------------------------- integer arrays
@pytest.mark.parametrize(
    "value", [[2, 0, 2], np.array([2, 0, 2], np.uint16), torch.tensor([2, 0, 2]), (2, 0, 2)], ids=type,
)
def test_int_array_accepts(value: Any) -> None:
    array = check_int_array("labels", value, ndim=1)
    assert array.dtype == np.int64 and array.tolist() == [2, 0, 2]


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [([], InvalidArgumentError, "labels=[]: is empty"),
     (np.zeros(0, np.int64), InvalidArgumentError, "labels=<ndarray shape=(0,) dtype=int64>: is empty"),
     (torch.zeros(0), InvalidArgumentError, "labels=<Tensor shape=(0,) dtype=torch.float32>: is empty"),
     ([0.5], InvalidTypeError, "labels=[0.5]: must hold integers, got dtype float64"),
     ([True], InvalidTypeError, "labels=[True]: must hold integers, got dtype bool"),
     (torch.tensor([1.0], dtype=torch.bfloat16), InvalidTypeError, "labels=<Tensor shape=(1,) dtype=torch.bfloat16>: "
      "must hold integers, got dtype torch.bfloat16"),
     ([[1], [1, 2]], InvalidTypeError, "labels=[[1], [1, 2]]: must be an array of integers"),
     ([[1, 2]], InvalidArgumentError, "labels=[[1, 2]]: must be 1-D, got 2-D")],
    ids=repr,
)
def test_int_array_refuses(value: Any, error: type[Exception], message: str) -> None:
    with raises(error, message):
        check_int_array("labels", value, ndim=1, nonempty=True)


def test_int_array_may_be_empty_when_allowed() -> None:
    assert check_int_array("members", []).dtype == np.int64


# ---------------------------------------------------------------------------- probability rows
def test_sum_tolerance_table() -> None:
    assert dict(SUM_TOLERANCE) == {"float64": 1e-6, "float32": 1e-4, "float16": 2e-2, "bfloat16": 2e-2}
    for dtype, name in ((torch.float64, "float64"), (np.float32, "float32"), (np.dtype("float16"), "float16"),
                        (torch.bfloat16, "bfloat16"), ("float64", "float64"), ("torch.float32", "float32")):
        assert sum_tolerance(dtype) == SUM_TOLERANCE[name]
    for bad in (torch.int64, np.int32, "float128"):
        with pytest.raises(InvalidTypeError, match="must be one of bfloat16, float16, float32, float64"):
            sum_tolerance(bad)
    with pytest.raises(TypeError):
        SUM_TOLERANCE["float64"] = 0.0  # type: ignore[index]  # read-only


ROWS = [[0.25, 0.75], [0.5, 0.5]]
# (array library, dtype, tolerance): every entry of SUM_TOLERANCE, for torch and numpy (numpy has no bfloat16).
DTYPES = [("torch", torch.float64, 1e-6), ("torch", torch.float32, 1e-4), ("torch", torch.float16, 2e-2),
          ("torch", torch.bfloat16, 2e-2), ("numpy", np.float64, 1e-6), ("numpy", np.float32, 1e-4),
          ("numpy", np.float16, 2e-2)]


def rows_off_by(delta: float, library: str, dtype: Any) -> Any:
    """ROWS with row 1 summing to 1 + delta, in the library's array type."""
    values = [ROWS[0], [0.5 + delta, 0.5]]
    if library == "torch":
        return torch.tensor(values, dtype=torch.float64).to(dtype)
    return np.array(values, dtype=dtype)


@pytest.mark.parametrize(("library", "dtype", "tolerance"), DTYPES, ids=lambda d: str(d))
def test_probs_tolerance_per_dtype(library: str, dtype: Any, tolerance: float) -> None:
    inside, outside = rows_off_by(tolerance / 4, library, dtype), rows_off_by(tolerance * 4, library, dtype)
    assert float(np.abs(np.asarray(inside.tolist()).sum(-1) - 1).max()) > 0  # really off, but within tolerance
    assert check_probs("probs", inside) is inside  # returned unchanged, never renormalised
    with pytest.raises(InvalidArgumentError) as info:
        check_probs("probs", outside)
    assert f"each row must sum to 1 within {tolerance:g} for {outside.dtype}; row (1,) sums to" in str(info.value)
    check_probs("probs", outside, atol=tolerance * 8)  # an explicit tolerance replaces the dtype's


@pytest.mark.parametrize("library", ["torch", "numpy"])
def test_probs_values(library: str) -> None:
    make = (lambda v: torch.tensor(v, dtype=torch.float64)) if library == "torch" else np.array
    with raises(InvalidArgumentError, "probs=<"):
        check_probs("probs", make([[0.5, 0.5], [float("nan"), 1.0]]))
    for values, rule in (([[0.5, 0.5], [1.0, float("nan")]], "must be finite; element (1, 1) is nan"),
                         ([[float("inf"), 0.0]], "must be finite; element (0, 0) is inf"),
                         ([[1.5, -0.5]], "must be >= 0; element (0, 1) is -0.5"),
                         ([0.5, 0.4], "each row must sum to 1 within 1e-06 for")):
        with pytest.raises(InvalidArgumentError) as info:
            check_probs("probs", make(values))
        assert rule in str(info.value)
    with pytest.raises(InvalidArgumentError, match=r"it sums to 0\.9"):
        check_probs("probs", make([0.5, 0.4]))  # a single row has no row index
    check_probs("probs", make([[0.5, -0.5]]), values=False)  # type, dtype and shape only


def test_sum_tolerance_rule() -> None:
    assert check_sum_tolerance(None) is None and check_sum_tolerance(np.float32(0.5)) == 0.5
    assert check_sum_tolerance(0) == 0.0
    with raises(InvalidArgumentError, "sum_tolerance=1: must be < 1 (a tolerance of 1 accepts rows that sum to 0)"):
        check_sum_tolerance(1)
    with raises(InvalidArgumentError, "tol=-0.1: must lie >= 0"):
        check_sum_tolerance(-0.1, name="tol")
    with raises(InvalidTypeError, "sum_tolerance=False: must be a real number, not a bool"):
        check_sum_tolerance(False)


def test_has_values_rule() -> None:
    check_has_values("probs", torch.zeros(2))
    with raises(InvalidArgumentError, "probs=<Tensor shape=(2,) dtype=torch.float32>: is a meta tensor: it has a "
                                      "shape but no values (create it on a real device (cpu, cuda))"):
        check_has_values("probs", torch.zeros(2, device="meta"))


def test_float32_sums_switch_to_float64_for_small_tolerances() -> None:
    """float32 rows are summed in float32 while the tolerance is ≥ 1e-5 (error ~2e-7 at V ≈ 2e5), else in
    float64, so a tolerance just above or below a row's exact drift decides correctly."""
    rows = torch.softmax(3 * torch.randn(3, 193_800, generator=torch.Generator().manual_seed(4)), -1)
    drift = float((rows.sum(-1, dtype=torch.float64) - 1).abs().max())
    assert 1e-7 < drift < 1e-5
    check_probs("probs", rows)  # float32 tolerance 1e-4
    check_probs("probs", rows, atol=drift * 1.001)
    with pytest.raises(InvalidArgumentError, match="sums to"):
        check_probs("probs", rows, atol=drift * 0.999)


def test_sum_errors_hint_at_renormalising_or_the_float32_origin() -> None:
    cast = torch.tensor([0.5, 0.5 + 2e-6], dtype=torch.float64)  # drift ≤ 1e-4: looks like cast float32 rows
    far = torch.tensor([0.5, 0.6], dtype=torch.float64)
    with pytest.raises(InvalidArgumentError) as info:
        check_probs("probs", cast)
    assert "usually float32 probabilities cast with .double(); pass the float32 rows as they are" in str(info.value)
    assert info.value.hint is not None and "sum_tolerance=" in info.value.hint
    for rows, atol in ((far, None), (cast, 1e-7)):  # too far off, or the caller chose the tolerance
        with pytest.raises(InvalidArgumentError) as info:
            check_probs("probs", rows, atol=atol)
        assert "probabilities are never renormalised here: renormalise them in float64" in str(info.value)


def test_probs_types_and_shapes() -> None:
    good = torch.full((2, 3), 1 / 3, dtype=torch.float64)
    assert check_probs("p", good, shape=(2, 3)) is good
    assert check_probs("p", good, shape=(None, 3)) is good
    with raises(InvalidArgumentError, "p=<Tensor shape=(2, 3) dtype=torch.float64>: must have shape [*, 4]"):
        check_probs("p", good, shape=(None, 4))
    with raises(InvalidArgumentError, "p=<Tensor shape=(2, 3) dtype=torch.float64>: must have shape [2]"):
        check_probs("p", good, shape=(2,))
    with raises(InvalidTypeError, "p=[0.5, 0.5]: must be a torch.Tensor or a numpy.ndarray"):
        check_probs("p", [0.5, 0.5])
    for bad in (torch.ones(2, dtype=torch.int64), np.ones(2, dtype=np.int32), torch.ones(2, dtype=torch.bool)):
        with pytest.raises(InvalidTypeError, match="dtype must be one of bfloat16, float16, float32, float64"):
            check_probs("p", bad)
    with raises(InvalidArgumentError, "p=array(1.): must have at least one dimension"):
        check_probs("p", np.array(1.0))
    with raises(InvalidArgumentError, "atol=-1.0: must lie >= 0"):
        check_probs("p", good, atol=-1.0)


# ---------------------------------------------------------------------------- torch objects
def test_groups_rule() -> None:
    groups = groups_from_labels([0, 0, 1])
    assert check_groups(groups) is groups
    assert check_groups(groups, vocab_size=3, device=torch.device("cpu")) is groups
    assert check_groups(groups, device="cpu") is groups
    with raises(InvalidTypeError, "groups=None: must be a pcg_core.Groups"):
        check_groups(None)
    with pytest.raises(InvalidArgumentError, match="was built for vocab_size=3, but the probabilities have V=4"):
        check_groups(groups, vocab_size=4)
    with pytest.raises(InvalidArgumentError, match=r"lives on cpu, the probabilities on meta \(call groups.to"):
        check_groups(groups, device="meta")


def test_generator_rule() -> None:
    generator = torch.Generator().manual_seed(0)
    assert check_generator(generator, "cpu") is generator
    assert check_generator(generator, torch.device("cpu")) is generator
    for bad in (0, None, np.random.default_rng(0)):
        with pytest.raises(InvalidTypeError, match=r"must be a torch\.Generator"):
            check_generator(bad, "cpu")
    with pytest.raises(InvalidArgumentError, match="is for cpu, the probabilities live on meta"):
        check_generator(generator, "meta")
