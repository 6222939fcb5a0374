"""The report's plots: matplotlib figures rendered to inline SVG text from results.json data alone.

Figures are built with :class:`matplotlib.figure.Figure` and never through
pyplot, so no global backend or figure registry is touched (the SVG backend
draws them; nothing needs a display). Text stays text (``svg.fonttype =
"none"``), the hash salt is fixed and no date is written, so one input always
renders to the same bytes; each figure's ids are prefixed with its name so
that several SVGs can live in one page.

Bands are pointwise: under the exact law a cell's count is Binomial(n, π),
and its band holds :data:`BAND_LEVEL` of that law's mass (equal tails).
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure
from scipy import stats as scipy_stats

__all__ = ["BAND_LEVEL", "accepted_length", "cell_frequencies", "pit_histogram", "pvalue_qq", "variability"]

#: Mass of each pointwise band under the exact law.
BAND_LEVEL = 0.99

_OBSERVED, _OUTSIDE, _EXACT, _BAND, _REFERENCE = "#1f5fbf", "#c62828", "#222222", "#c9d3e0", "#8a8a8a"
_RC: dict[Any, Any] = {"svg.fonttype": "none", "svg.hashsalt": "pcg-verify", "font.size": 8.0, "axes.titlesize": 8.5,
       "axes.labelsize": 8.0, "xtick.labelsize": 7.0, "ytick.labelsize": 7.0, "legend.fontsize": 7.0,
       "axes.spines.top": False, "axes.spines.right": False}
_MAX_TICKS = 60  # case labels on the variability plot's axis (text layout dominates the drawing time)
_ID = re.compile(r'(\bid="|url\(#|href="#)([^")]+)')
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)


def _svg(figure: Figure, name: str, label: str) -> str:
    """``figure`` as an ``<svg>`` element: no XML prologue, ids prefixed by ``name``, an accessible label."""
    buffer = io.StringIO()
    with rc_context(_RC):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = _METADATA.sub("", text[text.index("<svg"):])  # the RDF block only names the generator
    text = _ID.sub(lambda m: f"{m.group(1)}{name}-{m.group(2)}", text)
    label = label.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return text.replace("<svg ", f'<svg class="plot" data-plot="{name}" role="img" aria-label="{label}" ', 1)


def _figure(width: float, height: float, *, top: float, bottom: float, left: float = 0.7, right: float = 0.15,
            hspace: float = 0.12) -> Figure:
    """A figure whose margins are given in inches. Fixed margins, not a layout engine: constrained layout
    measures every tick label again and doubled the render time of a page."""
    with rc_context(_RC):
        figure = Figure(figsize=(width, height))
    figure.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height,
                           bottom=bottom / height, hspace=hspace)
    return figure


def _label_depth(labels: Sequence[str], rotate: bool) -> float:
    """Inches below the axis that x tick labels take (7 pt text: ~0.055 in per character, rotated 60°)."""
    longest = max((len(label) for label in labels), default=1)
    return 0.22 + (0.055 * longest * math.sin(math.radians(60)) if rotate else 0.12)


def _band(n: int, probs: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Pointwise BAND_LEVEL interval of the frequency count/n under Binomial(n, π), per cell."""
    tail = (1.0 - BAND_LEVEL) / 2
    low = scipy_stats.binom.ppf(tail, n, probs) / max(n, 1)
    high = scipy_stats.binom.ppf(1.0 - tail, n, probs) / max(n, 1)
    return np.nan_to_num(low), np.nan_to_num(high)


def _cells(test: Mapping[str, Any]) -> tuple[list[str], np.ndarray[Any, Any], np.ndarray[Any, Any], int]:
    cells = test["cells"]
    observed = np.array([float(c["observed"]) for c in cells])
    probs = np.array([float(c["probability"]) for c in cells])
    n = int(observed.sum())
    return [str(c["label"]) for c in cells], observed / max(n, 1), probs, n


def _where(test: Mapping[str, Any]) -> str:
    position = test.get("position")
    at = "whole block" if position == -1 else f"position {position}"
    return f"case {test['case_index']} row {test['row']} {at}"


def _draw_cells(figure: Figure, test: Mapping[str, Any], *, bars: bool) -> None:
    """Top: frequencies against the exact law with its band; bottom: observed − exact, where the band
    (shifted by −π) shows how far a correct port's frequency may stray in each cell."""
    labels, frequency, probs, n = _cells(test)
    low, high = _band(n, probs)
    outside = (frequency < low - 1e-12) | (frequency > high + 1e-12)
    x = np.arange(len(labels))
    with rc_context(_RC):
        top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(2.2, 1.0))
        if bars:
            top.bar(x, probs, width=0.6, color=_BAND, edgecolor=_REFERENCE, linewidth=0.6, label="exact law")
            top.vlines(x, low, high, colors=_EXACT, linewidth=1.0, label=f"{BAND_LEVEL:.0%} band")
        else:
            top.vlines(x, low, high, colors=_BAND, linewidth=6.0, label=f"{BAND_LEVEL:.0%} band")
            top.scatter(x, probs, marker="_", s=120, color=_EXACT, linewidths=1.4, label="exact law", zorder=3)
        bottom.vlines(x, low - probs, high - probs, colors=_BAND, linewidth=6.0)
        bottom.axhline(0.0, color=_EXACT, linewidth=0.8)
        for ax, values in ((top, frequency), (bottom, frequency - probs)):
            ax.scatter(x[~outside], values[~outside], s=16, color=_OBSERVED, zorder=4,
                       label="observed" if ax is top else None)
            if outside.any():
                ax.scatter(x[outside], values[outside], s=24, color=_OUTSIDE, marker="D", zorder=5,
                           label="observed, outside its band" if ax is top else None)
        rotate = len(labels) > 8
        bottom.set_xticks(x, labels, rotation=60 if rotate else 0, ha="right" if rotate else "center",
                          parse_math=False)  # text from results.json is drawn as it is, never parsed as mathtext
        bottom.set_xlim(-0.6, len(labels) - 0.4)
        top.set_ylabel("frequency")
        top.set_ylim(bottom=0)
        bottom.set_ylabel("obs − exact")
        pooled = f", {test.get('pooled_cells')} cells pooled into 'other'" if test.get("pooled_cells") else ""
        top.set_title(f"{_where(test)}: {test['law']}\n"
                      f"p = {_fmt(test.get('pvalue'))}, adjusted p = {_fmt(test.get('adjusted_pvalue'))}, "
                      f"n = {n}, stage {test.get('stage', 1)}{pooled}", loc="left", parse_math=False)
        figure.legend(loc="lower center", ncols=4, frameon=False)


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.3g}"


def cell_frequencies(test: Mapping[str, Any], name: str) -> str:
    """Observed frequency of each cell of one test against its exact probability, with the band."""
    labels = [str(c["label"]) for c in test["cells"]]
    width = min(9.0, max(4.8, 0.32 * len(labels) + 1.6))
    depth = _label_depth(labels, len(labels) > 8)
    figure = _figure(width, 2.9 + depth, top=0.45, bottom=depth + 0.3)
    _draw_cells(figure, test, bars=False)
    return _svg(figure, name, f"observed against exact frequencies, case {test['case_index']} ({test['law']})")


def accepted_length(test: Mapping[str, Any], name: str) -> str:
    """Law of the number of accepted drafts A: exact probabilities as bars, observed frequencies as dots."""
    depth = _label_depth([str(c["label"]) for c in test["cells"]], len(test["cells"]) > 8)
    figure = _figure(5.0, 2.9 + depth, top=0.45, bottom=depth + 0.3)
    _draw_cells(figure, test, bars=True)
    return _svg(figure, name, f"accepted-length law, {_where(test)}")


def pvalue_qq(pvalues: Sequence[float], level: float | None, name: str) -> str:
    """−log10 of the sorted p-values against the uniform's quantiles, with a 95% pointwise envelope
    (the i-th smallest of m uniforms is Beta(i, m − i + 1)); ``level`` marks where a test fails at once."""
    values = np.sort(np.clip(np.asarray(pvalues, dtype=np.float64), 1e-300, 1.0))
    m = values.size
    rank = np.arange(1, m + 1)
    expected = -np.log10((rank - 0.5) / m)
    low = -np.log10(scipy_stats.beta.ppf(0.975, rank, m - rank + 1))
    high = -np.log10(scipy_stats.beta.ppf(0.025, rank, m - rank + 1))
    observed = -np.log10(values)
    figure = _figure(4.6, 4.0, top=0.3, bottom=0.9)
    with rc_context(_RC):
        ax = figure.add_subplot()
        ax.fill_between(expected, low, high, color=_BAND, label="95% envelope (uniform)")
        top = float(max(expected.max(), 1.0))
        ax.plot([0, top], [0, top], color=_REFERENCE, linewidth=0.8, linestyle="--", label="uniform")
        ax.scatter(expected, observed, s=8, color=_OBSERVED, label=f"{m} p-values", zorder=3)
        if level is not None and 0 < level < 1:
            ax.axhline(-math.log10(level), color=_OUTSIDE, linewidth=0.8, label=f"fails at once (p ≤ {level:.2g})")
        ax.set_xlabel("expected −log10 p (uniform)")
        ax.set_ylabel("observed −log10 p")
        ax.set_title("p-values against the uniform law (QQ)", loc="left")
        figure.legend(loc="lower center", ncols=2, frameon=False)
    return _svg(figure, name, f"QQ plot of {m} p-values against the uniform law")


def pit_histogram(pvalues: Sequence[float], name: str, bins: int = 20) -> str:
    """Histogram of the p-values (each is 1 − F(statistic), the PIT of its statistic) with the uniform's
    expected count per bin and a pointwise band."""
    values = np.clip(np.asarray(pvalues, dtype=np.float64), 0.0, 1.0)
    m = values.size
    counts, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    tail = (1.0 - BAND_LEVEL) / 2
    low, high = scipy_stats.binom.ppf([tail, 1 - tail], m, 1.0 / bins)
    figure = _figure(4.6, 4.0, top=0.3, bottom=0.75)
    with rc_context(_RC):
        ax = figure.add_subplot()
        ax.axhspan(low, high, color=_BAND, label=f"{BAND_LEVEL:.0%} band (uniform)")
        ax.axhline(m / bins, color=_REFERENCE, linestyle="--", linewidth=0.8, label="uniform")
        outside = (counts < low) | (counts > high)
        ax.bar(edges[:-1], counts, width=1.0 / bins, align="edge", edgecolor="white", linewidth=0.5,
               color=[_OUTSIDE if o else _OBSERVED for o in outside], label="p-values per bin")
        ax.set_xlim(0, 1)
        ax.set_xlabel("p-value = 1 − F(statistic)  (PIT)")
        ax.set_ylabel("tests")
        ax.set_title(f"PIT histogram of {m} p-values", loc="left")
        figure.legend(loc="lower center", ncols=3, frameon=False)
    return _svg(figure, name, f"PIT histogram of {m} p-values")


def variability(by_case: Sequence[Mapping[str, Any]], name: str) -> str:
    """Per case: H(T | K) of the port against the reference's (nats), and the within-group TV."""
    cases = [str(row["case_index"]) for row in by_case]
    x = np.arange(len(cases))
    observed = np.array([row.get("observed_conditional_entropy_nats") or 0.0 for row in by_case])
    reference = np.array([row.get("reference_conditional_entropy_nats") or 0.0 for row in by_case])
    tv = np.array([row.get("within_group_tv") or 0.0 for row in by_case])
    figure = _figure(min(9.0, max(5.0, 0.3 * len(cases) + 2.5)), 4.0, top=0.3, bottom=0.75, hspace=0.15)
    with rc_context(_RC):
        top, bottom = figure.subplots(2, 1, sharex=True)
        top.bar(x - 0.2, reference, width=0.4, color=_BAND, edgecolor=_REFERENCE, linewidth=0.5,
                label="reference H(T | K)")
        top.bar(x + 0.2, observed, width=0.4, color=_OBSERVED, label="port H(T | K)")
        top.set_ylabel("nats")
        top.set_title("intra-group variability per case (information, not a verdict)", loc="left")
        figure.legend(loc="lower center", ncols=2, frameon=False)
        bottom.bar(x, tv, width=0.6, color=_OBSERVED)
        bottom.set_ylabel("within-group TV")
        stride = max(1, -(-len(cases) // _MAX_TICKS))  # label every case up to _MAX_TICKS, then every stride-th
        bottom.set_xticks(x[::stride], cases[::stride])
        bottom.set_xlabel("case")
    return _svg(figure, name, "intra-group variability per case")
