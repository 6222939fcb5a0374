"""Goodness of fit of observed counts to a categorical law over its full support.

The law is given over *every* category, including those never observed, so a
sampler that never emits a likely category fails, and one that emits a category
of probability 0 fails outright (statistic ``inf``, p-value 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy.stats import chi2

from pcg_core.errors import InvalidArgumentError
from pcg_core.validation import check_choice, check_int, check_probability, check_real
from pcg_verify.stats import _common as common
from pcg_verify.stats._common import FloatArray, IntArray
from pcg_verify.stats._results import GoodnessOfFitResult, StatisticalAssertionError

__all__ = [
    "DEFAULT_MONTE_CARLO_SAMPLES",
    "assert_categorical",
    "check_categorical",
    "pooled_cell_count",
]

#: Simulations used when the Monte Carlo p-value is selected automatically.
DEFAULT_MONTE_CARLO_SAMPLES = 20_000

_METHODS = ("g", "chi2")
_N_DEVIATIONS = 5
# Simulated count vectors are generated in chunks of about this many entries (R_chunk × K).
_MONTE_CARLO_CHUNK_ENTRIES = 1 << 21
# A simulated statistic within this relative distance of the observed one counts as a
# tie (>=): rounding may split exact ties, and counting them keeps the p-value conservative.
_TIE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class _Arguments:
    counts: IntArray  # [K]
    law: FloatArray  # [K], sums to 1
    n_samples: int
    method: str
    min_expected: float
    monte_carlo_samples: int | None
    seed: int | None


def _validate_check(
    counts: object,
    probs: object,
    method: object,
    min_expected: object,
    monte_carlo_samples: object,
    seed: object,
) -> _Arguments:
    count_array = common.count_vector("counts", counts)
    law = common.prob_vector("probs", probs, length=count_array.size, length_name="counts")
    n_samples = common.total("counts", count_array, counts)
    method_name = check_choice("method", method, _METHODS)
    threshold = check_real("min_expected", min_expected, minimum=0.0)
    samples = None if monte_carlo_samples is None else check_int("monte_carlo_samples", monte_carlo_samples, minimum=1)
    seed_value = None if seed is None else check_int("seed", seed, minimum=0)
    if samples is not None and seed_value is None:
        raise InvalidArgumentError(
            "seed", seed, "is required when monte_carlo_samples is given", hint="pass an integer seed"
        )
    return _Arguments(count_array, law, n_samples, method_name, threshold, samples, seed_value)


def _divergence(observed: FloatArray, expected: FloatArray, method: str) -> FloatArray:
    """G = 2 Σ O ln(O/E) or X² = Σ (O - E)² / E along the last axis.

    ``observed`` has shape [..., C]; ``expected`` has shape [C], all positive.
    Cells with O = 0 contribute 0 to G.
    """
    if method == "g":
        statistic: FloatArray = 2.0 * np.sum(special.xlogy(observed, observed / expected), axis=-1)
    else:
        statistic = np.sum((observed - expected) ** 2 / expected, axis=-1)
    return statistic


@dataclass(frozen=True)
class _Cells:
    observed: FloatArray  # [C]
    expected: FloatArray  # [C]
    n_pooled: int  # categories merged into cell 0; 0 when nothing was pooled


def _coarsen(cells: _Cells, max_cells: int) -> _Cells:
    """Merge sorted cells into at most ``max_cells`` bins of about equal expected mass.

    Cells are sorted by expected count; a cell whose expected mass before it
    is ``c`` goes to bin ``floor(max_cells · c / total)``, so light cells are
    merged into bins of about ``total / max_cells`` each, a bin holds cells of
    similar probability, and a heavy cell keeps a bin of its own. The pooled
    cell of :func:`_pool_small` (cell 0 when ``n_pooled > 0``) always keeps a
    bin of its own: it stands for the law's thin tail, and merging it with
    heavy cells would let a sampler that loses the tail (the tail's mass then
    goes to the heavy cells) cancel out inside one bin. The bins depend on the
    expected counts only, so the test stays valid.
    [C] -> [C'] with C' <= max_cells.
    """
    if cells.n_pooled and max_cells >= 2 and cells.observed.size > max_cells:
        rest = _coarsen(_Cells(cells.observed[1:], cells.expected[1:], 0), max_cells - 1)
        return _Cells(np.concatenate((cells.observed[:1], rest.observed)),
                      np.concatenate((cells.expected[:1], rest.expected)),
                      cells.n_pooled + rest.n_pooled)
    order = np.argsort(cells.expected, kind="stable")
    before = np.cumsum(cells.expected[order]) - cells.expected[order]
    bins = np.minimum((max_cells * before / cells.expected.sum()).astype(np.int64), max_cells - 1)
    _, bins = np.unique(bins, return_inverse=True)
    observed: FloatArray = np.bincount(bins, weights=cells.observed[order]).astype(np.float64)
    expected: FloatArray = np.bincount(bins, weights=cells.expected[order]).astype(np.float64)
    return _Cells(observed, expected, cells.observed.size - observed.size + cells.n_pooled)


def _pool(observed: FloatArray, expected: FloatArray, min_expected: float, max_cells: int | None = None) -> _Cells:
    """Merge the cells whose expected count is below ``min_expected`` into one, then at most ``max_cells``.

    Cells are sorted by expected count (smallest first, ties by index); all cells
    below the threshold form the pooled cell, which then absorbs the next
    smallest cells while its own expected count is still below the threshold.
    With ``max_cells``, the cells left are merged into at most that many
    bins of about equal expected mass (:func:`_coarsen`).
    Input and output shapes: [S] -> [C] with C <= S.
    """
    cells = _pool_small(observed, expected, min_expected)
    return cells if max_cells is None else _coarsen(cells, max_cells)


def _pool_small(observed: FloatArray, expected: FloatArray, min_expected: float) -> _Cells:
    order = np.argsort(expected, kind="stable")
    sorted_expected = expected[order]
    n_pooled = int(np.count_nonzero(sorted_expected < min_expected))
    if n_pooled == 0:
        return _Cells(observed, expected, 0)
    pooled_mass = np.cumsum(sorted_expected)
    while n_pooled < order.size and pooled_mass[n_pooled - 1] < min_expected:
        n_pooled += 1
    head, tail = order[:n_pooled], order[n_pooled:]
    return _Cells(
        np.concatenate(([observed[head].sum()], observed[tail])),
        np.concatenate(([expected[head].sum()], expected[tail])),
        n_pooled,
    )


def pooled_cell_count(n_samples: int, probs: object, *, min_expected: float = 5.0,
                      max_cells: int | None = None) -> int:
    """Cells left after :func:`check_categorical` pools the support of ``probs`` for ``n_samples``.

    Parameters
    ----------
    n_samples : int
        The total count n the test will see, ``>= 1``.
    probs : array_like of float, shape [K]
        The law, as for :func:`check_categorical`.
    min_expected : float
        The pooling threshold of :func:`check_categorical`.
    max_cells : int, optional
        The coarsening cap of :func:`check_categorical`.

    Returns
    -------
    int
        The cells of the asymptotic test. Fewer than 2 means the chi-square
        reference distribution does not apply and :func:`check_categorical`
        would need a Monte Carlo p-value.

    Complexity: O(K log K).

    Examples
    --------
    >>> from pcg_verify.stats import pooled_cell_count
    >>> law = [0.5, 0.001, 0.494, 0.003, 0.002, 0.0]
    >>> pooled_cell_count(1000, law), pooled_cell_count(8, law)
    (3, 1)
    """
    n = check_int("n_samples", n_samples, minimum=1)
    law = common.prob_vector("probs", probs)
    threshold = check_real("min_expected", min_expected, minimum=0.0)
    cap = None if max_cells is None else check_int("max_cells", max_cells, minimum=2)
    expected = n * law[law > 0.0]  # [S]
    return int(_pool(expected, expected, threshold, cap).observed.size)


def _largest_deviations(counts: IntArray, expected: FloatArray) -> tuple[tuple[int, int, float], ...]:
    """Up to five (category, observed, expected) with the largest |O - E| / sqrt(E)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.abs(counts - expected) / np.sqrt(expected)
    score = np.where(expected > 0.0, score, np.where(counts > 0, np.inf, 0.0))
    order = np.lexsort((np.arange(counts.size), -score))[:_N_DEVIATIONS]
    return tuple((int(index), int(counts[index]), float(expected[index])) for index in order)


def _monte_carlo_pvalue(
    statistic: float,
    n_samples: int,
    law: FloatArray,
    expected: FloatArray,
    method: str,
    monte_carlo_samples: int,
    seed: int,
) -> float:
    """(1 + #{simulated >= observed}) / (1 + R) over R multinomial(n, law) draws.

    ``law`` and ``expected`` are restricted to the support, shape [S]. Valid
    (never anti-conservative) for any n because the observed vector is
    exchangeable with the simulated ones under the null.
    """
    rng = np.random.default_rng(seed)
    chunk = max(1, _MONTE_CARLO_CHUNK_ENTRIES // law.size)
    threshold = statistic - _TIE_TOLERANCE * max(1.0, abs(statistic))
    exceed = 0
    done = 0
    while done < monte_carlo_samples:
        size = min(chunk, monte_carlo_samples - done)
        simulated = rng.multinomial(n_samples, law, size=size).astype(np.float64)  # [size, S]
        exceed += int(np.count_nonzero(_divergence(simulated, expected, method) >= threshold))
        done += size
    return (1 + exceed) / (1 + monte_carlo_samples)


def check_categorical(
    counts: object,
    probs: object,
    *,
    method: str = "g",
    min_expected: float = 5.0,
    monte_carlo_samples: int | None = None,
    seed: int | None = None,
    max_cells: int | None = None,
) -> GoodnessOfFitResult:
    """Test observed category counts against a law given over its full support.

    Parameters
    ----------
    counts : array_like of int, shape [K]
        How often each category was observed; ``n = counts.sum() >= 1``.
    probs : array_like of float, shape [K]
        The law, over *every* category (zeros allowed); nonnegative, finite,
        summing to 1 within ``1e-6`` (the float64 entry of
        :data:`pcg_core.validation.SUM_TOLERANCE`).
    method : {"g", "chi2"}
        G test (likelihood ratio) or Pearson's chi-square.
    min_expected : float
        Cells with expected count ``n * probs[k] < min_expected`` are pooled
        into one cell (see Notes).
    monte_carlo_samples : int, optional
        Force a Monte Carlo p-value with this many simulated experiments.
    seed : int, optional
        Seed of :func:`numpy.random.default_rng` for the Monte Carlo p-value;
        required whenever that p-value is computed.
    max_cells : int, optional
        After pooling, merge the cells into at most this many bins of about
        equal expected mass, the pooled cell keeping a bin of its own (a
        stated coarsening: the chi-square tail of G is accurate when the mean
        expected count per cell is large, whatever the number of categories;
        a discrepancy inside one bin is not seen).

    Returns
    -------
    GoodnessOfFitResult

    Notes
    -----
    * A positive count on a category of probability 0 is impossible under the
      law: ``statistic = inf`` and ``pvalue = 0.0``, and the category is listed
      in ``impossible_categories``.
    * Categories of probability 0 are not cells of the test. The others (the
      support, S categories) are pooled: sorted by expected count, every cell
      below ``min_expected`` joins one pooled cell, which absorbs the next
      smallest cells while it is still below ``min_expected``. The p-value is
      ``chi2.sf(statistic, dof)`` with ``dof = cells - 1`` (1.0 when dof = 0).
    * Monte Carlo rule: the p-value is Monte Carlo when ``monte_carlo_samples``
      is given, or automatically (with :data:`DEFAULT_MONTE_CARLO_SAMPLES`
      simulations) when the support has at least two categories but pooling
      leaves a single cell, i.e. when the counts are too few to form two cells
      of expected count ``>= min_expected``. The statistic is then the unpooled
      one over the support and ``pvalue = (1 + #{simulated >= observed}) / (1 + R)``
      (ties within a relative ``1e-9`` count as ``>=``), which is valid for any n.

    Complexity: O(K log K), plus O(R K) for a Monte Carlo p-value.

    Examples
    --------
    >>> import numpy as np
    >>> from pcg_verify.stats import check_categorical
    >>> law = np.array([0.2, 0.3, 0.5, 0.0])
    >>> counts = np.random.default_rng(0).multinomial(1000, law)
    >>> result = check_categorical(counts, law)
    >>> result.dof, result.passed(1e-3)
    (2, True)
    >>> check_categorical([1, 2, 3, 1], law).pvalue  # category 3 has probability 0
    0.0
    """
    args = _validate_check(counts, probs, method, min_expected, monte_carlo_samples, seed)
    expected_all = args.n_samples * args.law  # [K]
    support = args.law > 0.0
    impossible = np.flatnonzero(~support & (args.counts > 0))
    observed = args.counts[support].astype(np.float64)  # [S]
    expected = expected_all[support]  # [S]
    cap = None if max_cells is None else check_int("max_cells", max_cells, minimum=2)
    cells = _pool(observed, expected, args.min_expected, cap)
    auto_monte_carlo = expected.size >= 2 and cells.observed.size < 2
    samples = args.monte_carlo_samples
    if samples is None and auto_monte_carlo:
        samples = DEFAULT_MONTE_CARLO_SAMPLES
    seed_used: int | None = None
    if impossible.size > 0:
        statistic, pvalue, samples = math.inf, 0.0, None
        n_cells, n_pooled = cells.observed.size, cells.n_pooled
    elif samples is not None:
        if args.seed is None:
            raise InvalidArgumentError(
                "seed",
                seed,
                "is required: pooling leaves a single cell, so the p-value is Monte Carlo",
                hint=f"n={args.n_samples} is too few for two cells of expected count >= {args.min_expected}",
            )
        seed_used = args.seed
        statistic = float(_divergence(observed, expected, args.method))
        support_law = args.law[support] / args.law[support].sum()
        pvalue = _monte_carlo_pvalue(
            statistic, args.n_samples, support_law, expected, args.method, samples, args.seed
        )
        n_cells, n_pooled = expected.size, 0
    else:
        statistic = float(_divergence(cells.observed, cells.expected, args.method))
        n_cells, n_pooled = cells.observed.size, cells.n_pooled
        pvalue = float(chi2.sf(statistic, n_cells - 1)) if n_cells > 1 else 1.0
    return GoodnessOfFitResult(
        statistic=statistic,
        pvalue=min(1.0, max(0.0, pvalue)),
        method=args.method,
        dof=n_cells - 1,
        n_samples=args.n_samples,
        n_cells=n_cells,
        n_pooled_cells=n_pooled,
        min_expected=args.min_expected,
        impossible_categories=tuple(int(index) for index in impossible),
        largest_deviations=_largest_deviations(args.counts, expected_all),
        monte_carlo_samples=samples,
        seed=seed_used,
    )


def assert_categorical(
    counts: object,
    probs: object,
    *,
    false_positive_rate: float,
    method: str = "g",
    min_expected: float = 5.0,
    monte_carlo_samples: int | None = None,
    seed: int | None = None,
    reproduce: str | None = None,
    what: str = "sample frequencies",
) -> GoodnessOfFitResult:
    """Raise unless the counts are consistent with the law; see :func:`check_categorical`.

    Parameters
    ----------
    counts, probs, method, min_expected, monte_carlo_samples, seed
        As in :func:`check_categorical`.
    false_positive_rate : float
        Level of the test: a correct sampler fails with at most this probability.
    reproduce : str, optional
        Command that replays the failure, quoted at the end of the message.
    what : str
        What the counts are, for the message.

    Returns
    -------
    GoodnessOfFitResult
        The result, when the test passes.

    Raises
    ------
    StatisticalAssertionError
        When ``pvalue <= false_positive_rate``.
    InvalidArgumentError
        When the p-value is Monte Carlo and its smallest possible value
        ``1 / (1 + R)`` exceeds ``false_positive_rate``: such a test could
        never reject, so it would wave every bug through.

    Examples
    --------
    >>> import numpy as np
    >>> from pcg_verify.stats import assert_categorical
    >>> law = [0.25, 0.25, 0.5]
    >>> counts = np.random.default_rng(1).multinomial(4000, law)
    >>> assert_categorical(counts, law, false_positive_rate=1e-6).passed(1e-6)
    True
    """
    alpha = check_probability("false_positive_rate", false_positive_rate, strict=True)
    common.text("what", what, optional=False)
    common.text("reproduce", reproduce, optional=True)
    result = check_categorical(
        counts,
        probs,
        method=method,
        min_expected=min_expected,
        monte_carlo_samples=monte_carlo_samples,
        seed=seed,
    )
    if result.monte_carlo_samples is not None and 1.0 / (1 + result.monte_carlo_samples) > alpha:
        raise InvalidArgumentError(
            "monte_carlo_samples",
            result.monte_carlo_samples,
            f"a Monte Carlo p-value cannot fall to false_positive_rate={alpha!r}",
            hint=f"simulate at least {math.ceil(1.0 / alpha)} experiments or collect more samples",
        )
    if not result.passed(alpha):
        raise StatisticalAssertionError.from_result(
            result, what=what, reproduce=reproduce, false_positive_rate=alpha
        )
    return result
