"""Result objects of the statistical tests and the one error built from them.

Every ``check_*`` returns one of the frozen dataclasses below: a ``statistic``,
a ``pvalue`` and the evidence behind them. ``passed(false_positive_rate)``
applies the single decision rule of the package, *reject when
pvalue <= false_positive_rate*, which keeps the false-positive rate at most
``false_positive_rate`` for any valid p-value. ``assert_*`` turn a rejection
into :class:`StatisticalAssertionError`, whose message is composed in
:meth:`StatisticalAssertionError.from_result` and nowhere else.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from pcg_core.errors import InvalidTypeError
from pcg_core.validation import check_probability
from pcg_verify.stats import _common as common

__all__ = [
    "BinomialTestResult",
    "FamilyDecision",
    "GoodnessOfFitResult",
    "StatisticalAssertionError",
    "TVBoundResult",
    "UniformityResult",
]


def _to_dict(result: Any) -> dict[str, Any]:
    fields = {field.name: getattr(result, field.name) for field in dataclasses.fields(result)}
    converted: dict[str, Any] = common.jsonable(fields)
    return converted


def _passed(pvalue: float, false_positive_rate: float) -> bool:
    return pvalue > check_probability("false_positive_rate", false_positive_rate, strict=True)


@dataclass(frozen=True)
class GoodnessOfFitResult:
    """Outcome of :func:`~pcg_verify.stats.check_categorical`.

    Attributes
    ----------
    statistic : float
        G (``2 Σ O ln(O/E)``) or Pearson's chi-square over the cells; ``inf``
        when a category of probability 0 was observed (``None`` in ``to_dict()``).
    pvalue : float
        Asymptotic chi-square p-value, or the Monte Carlo one
        ``(1 + #{simulated >= observed}) / (1 + monte_carlo_samples)``.
    method : str
        ``"g"`` or ``"chi2"``.
    dof : int
        ``n_cells - 1``.
    n_samples : int
        Total count ``n``.
    n_cells : int
        Cells the statistic is computed over (after pooling; the whole support
        for the Monte Carlo p-value).
    n_pooled_cells : int
        Categories merged into the single pooled cell (0 when none).
    min_expected : float
        Pooling threshold on expected counts.
    impossible_categories : tuple of int
        Categories with probability 0 but a positive count.
    largest_deviations : tuple of (category, observed, expected)
        Up to five categories with the largest ``|O - E| / sqrt(E)``.
    monte_carlo_samples, seed : int or None
        Simulation size and seed when the p-value is Monte Carlo, else None.
    """

    statistic: float
    pvalue: float
    method: str
    dof: int
    n_samples: int
    n_cells: int
    n_pooled_cells: int
    min_expected: float
    impossible_categories: tuple[int, ...]
    largest_deviations: tuple[tuple[int, int, float], ...]
    monte_carlo_samples: int | None
    seed: int | None

    def passed(self, false_positive_rate: float) -> bool:
        """True unless ``pvalue <= false_positive_rate``."""
        return _passed(self.pvalue, false_positive_rate)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; non-finite floats as None (JSON ``null``)."""
        return _to_dict(self)


@dataclass(frozen=True)
class BinomialTestResult:
    """Outcome of :func:`~pcg_verify.stats.check_binomial`.

    ``statistic`` is the observed rate ``successes / n_samples`` (as in
    :func:`scipy.stats.binomtest`), ``pvalue`` the exact two-sided p-value and
    ``[ci_low, ci_high]`` the Clopper–Pearson interval at ``confidence``.

    .. note:: Provisional: the gate does not use the binomial family yet; its
       interface may change without notice.
    """

    statistic: float
    pvalue: float
    successes: int
    n_samples: int
    probability: float
    rate: float
    expected: float
    confidence: float
    ci_low: float
    ci_high: float

    def passed(self, false_positive_rate: float) -> bool:
        """True unless ``pvalue <= false_positive_rate``."""
        return _passed(self.pvalue, false_positive_rate)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; non-finite floats as None (JSON ``null``)."""
        return _to_dict(self)


@dataclass(frozen=True)
class UniformityResult:
    """Outcome of :func:`~pcg_verify.stats.check_uniformity`.

    ``statistic`` is the KS distance ``D_n`` or the Anderson–Darling ``A²``;
    ``max_cdf_deviation`` is ``D_n`` for both methods and ``deviation_at`` the
    sample value where the empirical CDF is farthest from the identity.

    .. note:: Provisional: the gate does not use the uniformity (PIT) family
       yet; its interface may change without notice.
    """

    statistic: float
    pvalue: float
    method: str
    n_samples: int
    max_cdf_deviation: float
    deviation_at: float

    def passed(self, false_positive_rate: float) -> bool:
        """True unless ``pvalue <= false_positive_rate``."""
        return _passed(self.pvalue, false_positive_rate)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; non-finite floats as None (JSON ``null``)."""
        return _to_dict(self)


@dataclass(frozen=True)
class TVBoundResult:
    """Outcome of :func:`~pcg_verify.stats.tv_upper_bound`.

    With probability at least ``confidence``,
    ``TV(true law, probs) <= bound``, where
    ``bound = min(1, empirical_tv + expectation_term + concentration_term)``.

    .. note:: Provisional: the gate does not use :func:`tv_upper_bound` yet;
       its interface may change without notice.
    """

    bound: float
    empirical_tv: float
    expectation_term: float
    concentration_term: float
    confidence: float
    n_samples: int
    n_cells: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; non-finite floats as None (JSON ``null``)."""
        return _to_dict(self)


@dataclass(frozen=True)
class FamilyDecision:
    """Outcome of :func:`~pcg_verify.stats.adjust_family`.

    ``rejected[i]`` is True when hypothesis ``i`` is rejected, i.e. when
    ``adjusted_pvalues[i] <= family_false_positive_rate``; the probability of
    rejecting any true hypothesis is then at most ``family_false_positive_rate``.
    """

    rejected: tuple[bool, ...]
    adjusted_pvalues: tuple[float, ...]
    pvalues: tuple[float, ...]
    method: str
    family_false_positive_rate: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; non-finite floats as None (JSON ``null``)."""
        return _to_dict(self)


TestResult = GoodnessOfFitResult | BinomialTestResult | UniformityResult | FamilyDecision


def _number(value: float) -> str:
    return f"{value:.6g}"


def _evidence(result: TestResult) -> tuple[str, list[str]]:
    """The headline (test and p-value) and the evidence lines for one result."""
    if isinstance(result, FamilyDecision):
        rejected = [index for index, flag in enumerate(result.rejected) if flag]
        headline = f"{result.method} rejects hypotheses {rejected} of {len(result.rejected)}"
        lines = [
            f"adjusted pvalues of the rejected: {[_number(result.adjusted_pvalues[i]) for i in rejected]}",
            f"family_false_positive_rate={_number(result.family_false_positive_rate)}",
        ]
        return headline, lines
    if isinstance(result, GoodnessOfFitResult):
        name = "G test" if result.method == "g" else "chi-square test"
        pvalue_kind = (
            f"Monte Carlo pvalue, {result.monte_carlo_samples} simulations, seed={result.seed}"
            if result.monte_carlo_samples is not None
            else "asymptotic pvalue"
        )
        lines = [
            f"statistic={_number(result.statistic)}, dof={result.dof}, n_samples={result.n_samples}, "
            f"cells={result.n_cells} ({result.n_pooled_cells} categories pooled, "
            f"min_expected={_number(result.min_expected)}), {pvalue_kind}"
        ]
        if result.impossible_categories:
            lines.append(
                f"impossible categories (probability 0, observed > 0): {list(result.impossible_categories)}"
            )
        deviations = ", ".join(
            f"{category}: {observed} vs {_number(expected)}"
            for category, observed, expected in result.largest_deviations
        )
        lines.append(f"largest deviations (category: observed vs expected): {deviations}")
        return name, lines
    if isinstance(result, BinomialTestResult):
        lines = [
            f"successes={result.successes} of n_samples={result.n_samples}: "
            f"rate={_number(result.rate)} vs probability={_number(result.probability)} "
            f"(expected {_number(result.expected)} successes)",
            f"{_number(100 * result.confidence)}% Clopper-Pearson interval "
            f"[{_number(result.ci_low)}, {_number(result.ci_high)}]",
        ]
        return "exact binomial test", lines
    name = "Kolmogorov-Smirnov test" if result.method == "ks" else "Anderson-Darling test"
    lines = [
        f"statistic={_number(result.statistic)}, n_samples={result.n_samples}, "
        f"largest CDF deviation {_number(result.max_cdf_deviation)} at u={_number(result.deviation_at)}"
    ]
    return f"{name} of uniformity", lines


class StatisticalAssertionError(AssertionError):
    """A statistical check rejected its null hypothesis.

    Build it with :meth:`from_result`; ``.result`` keeps the evidence.
    """

    def __init__(self, message: str, result: TestResult) -> None:
        super().__init__(message)
        self.result = result

    @classmethod
    def from_result(
        cls,
        result: TestResult,
        *,
        what: str,
        reproduce: str | None,
        false_positive_rate: float | None = None,
    ) -> StatisticalAssertionError:
        """The error for a rejected ``result``, with its evidence in the message.

        Parameters
        ----------
        result : GoodnessOfFitResult, BinomialTestResult, UniformityResult or FamilyDecision
            The rejected result.
        what : str
            What was being checked, e.g. ``"group labels at position 3"``.
        reproduce : str or None
            A command that replays the failure; when given the message ends
            with the line ``Reproduce: <reproduce>``.
        false_positive_rate : float, optional
            The threshold the p-value was compared with, quoted in the message.

        Examples
        --------
        >>> from pcg_verify.stats import StatisticalAssertionError, check_categorical
        >>> result = check_categorical([90, 10], [0.5, 0.5])
        >>> error = StatisticalAssertionError.from_result(
        ...     result, what="group labels", reproduce="pytest -k labels", false_positive_rate=1e-6)
        >>> print(str(error).splitlines()[0])
        group labels failed: G test rejects (pvalue=9.50443e-18 <= false_positive_rate=1e-06)
        >>> print(str(error).splitlines()[-1])
        Reproduce: pytest -k labels
        """
        if not isinstance(
            result, GoodnessOfFitResult | BinomialTestResult | UniformityResult | FamilyDecision
        ):
            raise InvalidTypeError(
                "result",
                result,
                "must be a GoodnessOfFitResult, BinomialTestResult, UniformityResult or FamilyDecision",
            )
        what_text = common.text("what", what, optional=False)
        reproduce_text = common.text("reproduce", reproduce, optional=True)
        threshold = (
            None
            if false_positive_rate is None
            else check_probability("false_positive_rate", false_positive_rate, strict=True)
        )
        headline, lines = _evidence(result)
        if isinstance(result, FamilyDecision):
            message = f"{what_text} failed: {headline}"
        else:
            comparison = "" if threshold is None else f" <= false_positive_rate={_number(threshold)}"
            message = f"{what_text} failed: {headline} rejects (pvalue={_number(result.pvalue)}{comparison})"
        message += "".join(f"\n  {line}" for line in lines)
        if reproduce_text is not None:
            message += f"\nReproduce: {reproduce_text}"
        return cls(message, result)
