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
rows should be exact. A tolerance cannot know where rows came from (float32
softmax rows cast with ``.double()`` drift by a few 1e-5 over 2e5 ids), so the
error says how to fix such rows, and :func:`pcg_core.verify` and the baselines
take ``sum_tolerance=`` (:func:`check_sum_tolerance`) for callers who know
their rows' origin. The exact laws of pcg_verify compute in float64 and use
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
    "check_has_values",
    "check_int",
    "check_int_array",
    "check_probability",
    "check_probs",
    "check_real",
    "check_ssd_tolerance",
    "check_sum_tolerance",
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
    explicit = atol is not None
    tol = check_real("atol", atol, minimum=0.0) if explicit else sum_tolerance(array.dtype)
    if is_tensor:
        check_has_values(name, array)
        if bool(_tensor_fault_flag(array, tol)):
            _raise_tensor_fault(name, array, tol, explicit)
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
    if _dtype_name(x.dtype) == "float64" and not explicit and drift <= SUM_TOLERANCE["float32"]:
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


def _tensor_fault_flag(x: torch.Tensor, tol: float) -> torch.Tensor:
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


def _raise_tensor_fault(name: str, x: torch.Tensor, tol: float, explicit: bool) -> None:
    """Locate what :func:`_tensor_fault_flag` found (non-finite, else negative, else a row sum) and raise."""
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
    draft_tokens: Any, draft_probs: Any, target_probs: Any, generator: Any, *, full: bool = True,
    sum_tolerance: Any = None,
) -> tuple[int, int, int]:
    """Check the inputs of the port contract (docs/port-contract.md); return (B, γ, V).

    ``draft_tokens`` int64 [B, γ], ``draft_probs`` float [B, γ, V],
    ``target_probs`` float [B, γ+1, V], all on one (real) device, and a
    generator for it. ``full=False`` skips the O(B·γ·V) value checks of
    :func:`check_probs` (finite, non-negative, rows sum to 1 within
    ``sum_tolerance``, see :func:`check_sum_tolerance`) for callers that
    guarantee them; shapes, dtypes, devices, id ranges and the draft tokens'
    own probabilities (> 0, or the draft could not have sampled them) are
    always checked. A shape conflict blames the argument that disagrees with
    the other two. Cost: two reads of the probabilities and one device sync;
    the offending element is located only after a check fails.
    """
    import torch

    atol = check_sum_tolerance(sum_tolerance)
    if not isinstance(draft_tokens, torch.Tensor):
        raise InvalidTypeError("draft_tokens", draft_tokens, "must be a torch.Tensor")
    if draft_tokens.dtype != torch.int64:
        raise InvalidTypeError("draft_tokens", draft_tokens, "dtype must be torch.int64")
    if draft_tokens.dim() != 2:
        raise InvalidArgumentError("draft_tokens", draft_tokens, "must have shape [B, gamma]")
    if draft_tokens.shape[0] < 1 or draft_tokens.shape[1] < 1:
        raise InvalidArgumentError("draft_tokens", draft_tokens, "needs B >= 1 and gamma >= 1")
    for name, probs in (("draft_probs", draft_probs), ("target_probs", target_probs)):
        if not isinstance(probs, torch.Tensor):
            raise InvalidTypeError(name, probs, "must be a torch.Tensor")
        check_probs(name, probs, values=False)
    batch, gamma, vocab = _block_shape(draft_tokens, draft_probs, target_probs)
    device = draft_probs.device
    inputs = (("draft_tokens", draft_tokens), ("draft_probs", draft_probs), ("target_probs", target_probs))
    for name, tensor in inputs:
        check_has_values(name, tensor)
    for name, tensor in inputs:
        if tensor.device != device:
            raise InvalidArgumentError(
                name, tensor, f"is on {tensor.device}, draft_probs on {device}",
                f"put every input on one device, e.g. {name}.to('{device}')",
            )
    check_generator(generator, device)

    # One sync for every value rule; the diagnosis below runs only when one fails.
    ids_off = (draft_tokens < 0) | (draft_tokens >= vocab)  # [B, γ]
    own = draft_probs.gather(-1, draft_tokens.clamp(0, vocab - 1).unsqueeze(-1)).squeeze(-1)  # p(x)   [B, γ]
    faults = [ids_off.any(), ~(own > 0).all()]
    tols = {name: SUM_TOLERANCE[_dtype_name(x.dtype)] if atol is None else atol
            for name, x in (("draft_probs", draft_probs), ("target_probs", target_probs))}
    if full:
        faults += [_tensor_fault_flag(draft_probs, tols["draft_probs"]),
                   _tensor_fault_flag(target_probs, tols["target_probs"])]
    if not bool(torch.stack(faults).any()):
        return batch, gamma, vocab
    if full:
        for name, x in (("draft_probs", draft_probs), ("target_probs", target_probs)):
            if bool(_tensor_fault_flag(x, tols[name])):
                _raise_tensor_fault(name, x, tols[name], atol is not None)
    if bool(ids_off.any()):
        b, i = (int(v) for v in ids_off.nonzero()[0])
        raise InvalidArgumentError(
            "draft_tokens", draft_tokens,
            f"ids must lie in [0, V={vocab}); draft_tokens[{b},{i}]={int(draft_tokens[b, i])}",
        )
    b, i = (int(v) for v in (~(own > 0)).nonzero()[0])
    raise InvalidArgumentError(
        "draft_tokens", draft_tokens,
        f"each drafted token must have draft probability > 0; draft_tokens[{b},{i}]={int(draft_tokens[b, i])} "
        f"has draft_probs {float(own[b, i])}",
        "draft tokens must be sampled from draft_probs",
    )


def _block_shape(
    draft_tokens: torch.Tensor, draft_probs: torch.Tensor, target_probs: torch.Tensor
) -> tuple[int, int, int]:
    """(B, γ, V) from [B, γ], [B, γ, V] and [B, γ+1, V]; a conflict blames the odd one out.

    B and γ are each given by all three arguments: where two agree, the third
    is wrong; where all three differ, draft_tokens' reading is taken. V is
    given by the two probability tensors, and target_probs is blamed.
    """
    named = {"draft_tokens": draft_tokens, "draft_probs": draft_probs, "target_probs": target_probs}
    for name in ("draft_probs", "target_probs"):
        if named[name].dim() != 3:
            positions = "gamma" if name == "draft_probs" else "gamma+1"
            raise InvalidArgumentError(name, named[name], f"must be a tensor of shape [B, {positions}, V]")
    shapes = {name: [int(size) for size in tensor.shape] for name, tensor in named.items()}
    # Each argument's reading of (B, γ): target_probs holds γ + 1 positions.
    readings = {
        "draft_tokens": tuple(shapes["draft_tokens"]),
        "draft_probs": tuple(shapes["draft_probs"][:2]),
        "target_probs": (shapes["target_probs"][0], shapes["target_probs"][1] - 1),
    }
    batch, gamma = readings["draft_tokens"]
    culprit = None
    for axis in (0, 1):
        values = [reading[axis] for reading in readings.values()]
        if len(set(values)) == 1:
            continue
        majority = [v for v in values if values.count(v) == 2]
        if not majority:
            culprit = "draft_probs"
            break
        culprit = next(name for name, reading in readings.items() if reading[axis] != majority[0])
        batch, gamma = (majority[0], gamma) if axis == 0 else (batch, majority[0])
        break
    vocab = shapes["draft_probs"][2]
    if culprit is None and shapes["target_probs"][2] != vocab:
        culprit = "target_probs"
    if culprit is None:
        if vocab < 1:
            raise InvalidArgumentError("draft_probs", draft_probs, "needs V >= 1 (one entry per token id)")
        return batch, gamma, vocab
    wanted = {"draft_tokens": [batch, gamma], "draft_probs": [batch, gamma, vocab],
              "target_probs": [batch, gamma + 1, vocab]}[culprit]
    others = " and ".join(f"{name} {shapes[name]}" for name in named if name != culprit)
    raise InvalidArgumentError(
        culprit, named[culprit], f"must have shape {wanted} to match {others}",
        "draft_tokens [B, gamma], draft_probs [B, gamma, V] and target_probs [B, gamma+1, V] must agree",
    )


def _torch() -> Any:
    """The torch module if it is already loaded, else None: a value can only be a tensor once torch is."""
    return sys.modules.get("torch")
