"""Online guarantee monitors: randomized PITs of the emitted groups and of the accept bits.

Math follows the paper: q is the target, p the draft, Q_c and P_c their
coarse (group) distributions. At each record (one verified position):

- label stream: ``U = Q_c(groups ranked before K) + ξ·Q_c(K)`` for the emitted group K,
  groups ranked by decreasing Q_c (ties by id);
- accept stream (drafted positions): for a Bernoulli(a) bit with the exact
  acceptance probability ``a = Σ_k min(P_c(k), Q_c(k))`` (token-level for
  standard SD), ``U = (1 − a)·ξ`` if rejected, ``(1 − a) + a·ξ`` if accepted.

ξ ~ U(0, 1) comes from the monitor's own seeded generator, independent of
everything else. Under a correct decoder each U is Uniform(0, 1) given
everything before it (the laws change with the prefix; the PIT absorbs
that), so each row's stream is an i.i.d. Uniform(0, 1) sequence and rows are
independent. The number of records is random, and where a row stops depends
on what it emitted, so the tests read a *fixed* number of records per row,
the horizon (set before decoding): the first ``horizon`` records of the row,
padded with fresh uniforms from the monitor's generator when the row stopped
early (e.g. at EOS). That keeps the i.i.d. property exact. Each stream gets
the exact Kolmogorov–Smirnov test of uniformity; Bonferroni over the streams
holds the family-wise false-positive rate (docs/e2e.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_core.validation import check_int, check_probability
from pcg_verify.e2e._records import (
    MAX_HORIZON,
    MAX_ROWS,
    MAX_TESTED_VALUES,
    Record,
    check_records,
    load_records,
    save_records,
    validate_record,
)

if TYPE_CHECKING:
    import torch

    from pcg_core import Groups

__all__ = ["DEFAULT_FALSE_POSITIVE_RATE", "Monitor", "MonitorResult", "StreamResult", "position_records"]

#: Family-wise false-positive rate of a monitor's verdict (both streams together).
DEFAULT_FALSE_POSITIVE_RATE = 1e-3
#: Power at which the detectable CDF discrepancy of each stream is reported.
REPORTED_POWER = 0.99
_STREAMS = ("labels", "accepts")


@dataclass(frozen=True)
class StreamResult:
    """The KS test of one PIT stream and its evidence.

    ``n_samples`` values were tested: ``n_records`` records, of which
    ``n_dropped`` lay beyond the horizon, plus ``n_padded`` fresh uniforms for
    rows that stopped before it. ``detectable`` is the CDF sup distance the
    test detects with power :data:`REPORTED_POWER` at its Bonferroni level
    (DKW–Massart). The accept stream also reports the observed accepts and
    their expectation ``Σ a`` over the records used.
    """

    name: str
    statistic: float
    pvalue: float
    adjusted_pvalue: float
    rejected: bool
    n_samples: int
    n_records: int
    n_padded: int
    n_dropped: int
    horizon: int | None
    detectable: float
    observed_accepts: int | None = None
    expected_accepts: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (non-finite floats as None)."""
        from pcg_verify.stats._common import jsonable

        out: dict[str, Any] = jsonable({k: getattr(self, k) for k in self.__dataclass_fields__})
        return out


@dataclass(frozen=True)
class MonitorResult:
    """The monitors' verdict: one :class:`StreamResult` per non-empty stream, Bonferroni-combined.

    ``passed`` is False when any stream's adjusted p-value is at most
    ``false_positive_rate``; a correct decoder fails with probability at most
    ``false_positive_rate`` (exactly stated when the horizons were fixed
    before decoding; see ``exact``).
    """

    passed: bool
    false_positive_rate: float
    streams: tuple[StreamResult, ...]
    exact: bool
    seed: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {"passed": self.passed, "false_positive_rate": self.false_positive_rate, "exact": self.exact,
                "seed": self.seed, "streams": [s.to_dict() for s in self.streams]}

    def summary(self) -> str:
        """One line per stream: the verdict with its error rate."""
        lines = [f"monitors: {'PASS' if self.passed else 'FAIL'} (family-wise false-positive rate "
                 f"{self.false_positive_rate:g}, Bonferroni over {len(self.streams)} stream(s)"
                 f"{'' if self.exact else '; horizons not fixed: rate approximate'})"]
        for s in self.streams:
            extra = "" if s.observed_accepts is None else \
                f", accepts {s.observed_accepts} vs expected {s.expected_accepts:.1f}"
            lines.append(f"  {s.name:<8} KS D={s.statistic:.4f} p={s.pvalue:.3g} (adjusted {s.adjusted_pvalue:.3g}) "
                         f"n={s.n_samples} (padded {s.n_padded}, dropped {s.n_dropped}){extra}; "
                         f"detects D≥{s.detectable:.3f} at power {REPORTED_POWER:g}")
        return "\n".join(lines)


@dataclass
class Monitor:
    """Collects records (from the decoding loop or an external engine) and tests them at the end.

    Parameters
    ----------
    seed : int
        Seed of the monitor's own generator (the ξ of every PIT and the pads).
    false_positive_rate : float
        Family-wise, over the streams (default 1e-3).
    label_horizon, accept_horizon : int or None
        Records per row each stream tests, fixed before decoding
        (:func:`~pcg_verify.e2e.generate` sets them from ``max_new_tokens``
        and γ when they are None), at most ``MAX_HORIZON`` (2**20). None
        tests every record: exact only when the number of records per row
        does not depend on what was emitted.
    rows : int or None
        Rows decoded (a row without records is padded in full), at most
        ``MAX_ROWS`` (2**20); default: the largest row id seen plus one.
        A stream tests ``rows × horizon`` values, at most
        ``MAX_TESTED_VALUES`` (2**24), checked before anything is allocated;
        a record of a row beyond ``rows``, or a row's position twice, is
        refused (:func:`~pcg_verify.e2e._records.check_records`).

    Examples
    --------
    >>> from pcg_verify.e2e import Monitor
    >>> monitor = Monitor(seed=0)
    >>> monitor.add({"row": 0, "step": 0, "position": 0, "kind": "ar", "label": 1, "cdf_below": 0.5, "mass": 0.5})
    >>> monitor.result().passed
    True
    """

    seed: int = 0
    false_positive_rate: float = DEFAULT_FALSE_POSITIVE_RATE
    label_horizon: int | None = None
    accept_horizon: int | None = None
    rows: int | None = None
    records: list[Record] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.seed = check_int("seed", self.seed, minimum=0)
        self.false_positive_rate = check_probability("false_positive_rate", self.false_positive_rate, strict=True)
        self._check_sizes()

    def _check_sizes(self) -> None:
        """Rows and horizons within their limits (again in :meth:`result`: they are plain attributes)."""
        for name, limit in (("label_horizon", MAX_HORIZON), ("accept_horizon", MAX_HORIZON), ("rows", MAX_ROWS)):
            value = getattr(self, name)
            if value is None:
                continue
            if check_int(name, value, minimum=0) > limit:  # stated exactly: check_int would print 1.04858e+06
                raise InvalidArgumentError(name, value, f"must be at most {limit}",
                                           "see the limits in pcg_verify.e2e._records")
            setattr(self, name, int(value))

    def add(self, record: Mapping[str, Any] | Record | Iterable[Mapping[str, Any] | Record]) -> None:
        """Validate and append one record or an iterable of records."""
        items = [record] if isinstance(record, Mapping | Record) else list(record)
        start = len(self.records)
        self.records.extend(validate_record(item, f"record {start + i}") for i, item in enumerate(items))

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any] | Record], **options: Any) -> Monitor:
        """A monitor holding ``records`` (validated); ``options`` as in the constructor."""
        monitor = cls(**options)
        monitor.add(records)
        return monitor

    @classmethod
    def load(cls, path: str | os.PathLike[str], **options: Any) -> Monitor:
        """A monitor over a records file (``.jsonl`` or ``.npz``); its header's rows and horizons are used
        unless ``options`` give them."""
        records, header = load_records(path)
        merged = {**{k: v for k, v in header.items() if v is not None}, **options}
        return cls.from_records(records, **merged)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the records (and rows and horizons) to ``path`` (``.jsonl`` or ``.npz``), atomically."""
        return save_records(path, self.records, rows=self.rows, label_horizon=self.label_horizon,
                            accept_horizon=self.accept_horizon)

    def result(self) -> MonitorResult:
        """Test both streams (labels of every record; accept bits of ``draft`` records)."""
        from pcg_verify.stats import adjust_family, check_uniformity, min_detectable_discrepancy_for_uniformity

        self._check_sizes()
        check_records(self.records, self.rows, lambda i: f"record {i}")
        xi_labels, xi_accepts, xi_pads = (np.random.default_rng(s)
                                          for s in np.random.SeedSequence(self.seed).spawn(3))
        rows = self.rows if self.rows is not None else 1 + max((r.row for r in self.records), default=-1)
        draws: list[tuple[str, np.ndarray[Any, Any], dict[str, Any]]] = []
        for name in _STREAMS:
            chosen = [r for r in self.records if name == "labels" or r.kind == "draft"]
            if not chosen:
                continue
            if name == "labels":
                below = np.array([r.cdf_below for r in chosen])
                mass = np.array([r.mass for r in chosen])
                xi = xi_labels.random(len(chosen))
            else:
                a = np.array([r.accept_prob for r in chosen], dtype=np.float64)
                hit = np.array([bool(r.accepted) for r in chosen])
                below, mass = np.where(hit, 1.0 - a, 0.0), np.where(hit, a, 1.0 - a)
                xi = xi_accepts.random(len(chosen))
            u = np.minimum(below + xi * mass, 1.0)  # the randomized PIT, one per record
            horizon = self.label_horizon if name == "labels" else self.accept_horizon
            used, padded, dropped, keep = _apply_horizon(u, [r.row for r in chosen], rows, horizon, xi_pads,
                                                         f"{name[:-1]}_horizon")
            info: dict[str, Any] = {"n_records": len(chosen), "n_padded": padded, "n_dropped": dropped,
                                    "horizon": horizon}
            if name == "accepts":
                info["observed_accepts"] = int(hit[keep].sum())
                info["expected_accepts"] = float(a[keep].sum())
            draws.append((name, used, info))
        if not draws:
            raise InvalidArgumentError("records", len(self.records), "no record to test",
                                       "feed the monitor at least one record")
        tests = [check_uniformity(u) for _, u, _ in draws]
        family = adjust_family([t.pvalue for t in tests], family_false_positive_rate=self.false_positive_rate,
                               method="bonferroni")
        level = self.false_positive_rate / len(tests)
        streams = tuple(
            StreamResult(name=name, statistic=t.statistic, pvalue=t.pvalue, adjusted_pvalue=adj, rejected=rej,
                         n_samples=t.n_samples,
                         detectable=min_detectable_discrepancy_for_uniformity(t.n_samples, level, 1 - REPORTED_POWER),
                         **info)
            for (name, _, info), t, adj, rej in zip(draws, tests, family.adjusted_pvalues, family.rejected,
                                                    strict=True))
        exact = all(s.horizon is not None for s in streams)
        return MonitorResult(not any(family.rejected), self.false_positive_rate, streams, exact, self.seed)


def _apply_horizon(u: np.ndarray[Any, Any], rows: list[int], n_rows: int, horizon: int | None,
                   pads: np.random.Generator, name: str = "horizon",
                   ) -> tuple[np.ndarray[Any, Any], int, int, np.ndarray[Any, Any]]:
    """The values tested: the first ``horizon`` of each row (padded with fresh uniforms), or all when None.

    Returns (values, padded, dropped, kept-record mask). O(n log n) in the
    records and O(n_rows) memory; ``n_rows × horizon`` is checked against
    :data:`MAX_TESTED_VALUES` before anything is allocated.
    """
    if horizon is None:
        return u, 0, 0, np.ones(u.size, dtype=bool)
    if n_rows * horizon > MAX_TESTED_VALUES:
        raise InvalidArgumentError(name, horizon, f"rows × {name} = {n_rows} × {horizon} values would be tested; "
                                   f"at most {MAX_TESTED_VALUES}", "fewer rows per monitor, or a shorter horizon")
    row_of = np.asarray(rows, dtype=np.int64)  # [n], each below n_rows (check_records)
    order = np.argsort(row_of, kind="stable")  # grouped by row, each row in the order its records were emitted
    grouped = row_of[order]
    rank = np.arange(grouped.size) - np.searchsorted(grouped, grouped, side="left")  # index within its row
    keep = np.zeros(u.size, dtype=bool)
    keep[order[(rank < horizon) & (grouped < n_rows)]] = True
    per_row = np.bincount(row_of[row_of < n_rows], minlength=n_rows)  # [n_rows]
    padded = int(np.maximum(horizon - per_row, 0).sum())
    values = np.concatenate([u[keep], pads.random(padded)])
    if values.size == 0:
        values = pads.random(1)  # horizon 0: a single fresh uniform keeps the test defined (and exact)
        padded += 1
    return values, padded, int((~keep).sum()), keep


def position_records(*, row: int, step: int, first_position: int, kinds: list[str], labels: list[int],
                     accepted: list[bool | None], target_probs: torch.Tensor, draft_probs: torch.Tensor | None,
                     groups: Groups, token_level_accept: bool) -> list[Record]:
    """Records of one row's block: ``target_probs`` [R, V] are the reference q at its R recorded positions,
    ``draft_probs`` [D, V] the p of its D ``draft`` records (the first D), ``labels`` the emitted groups.

    ``cdf_below``/``mass`` come from Q_c over ``groups`` in the order of decreasing Q_c (ties by id); ``accept_prob`` is
    ``Σ_t min(p(t), q(t))`` when ``token_level_accept`` (standard SD), else
    ``Σ_k min(P_c(k), Q_c(k))`` (PCG). O(R·nnz).
    """
    import torch

    from pcg_core import coarse_probs

    if not isinstance(target_probs, torch.Tensor):
        raise InvalidTypeError("target_probs", target_probs, "must be a torch.Tensor [R, V]")
    coarse_target = coarse_probs(target_probs, groups)  # Q_c   [R, M]
    label_index = torch.tensor(labels, dtype=torch.int64, device=coarse_target.device)[:, None]
    mass = coarse_target.gather(1, label_index)  # Q_c(K)   [R, 1]
    # Group order: decreasing Q_c, ties by id. The order is fixed by q before K is drawn, so U stays exactly
    # uniform; ranking by mass makes U large when the decoder emits groups the target finds unlikely.
    ids = torch.arange(coarse_target.shape[1], device=coarse_target.device)[None, :]
    before = (coarse_target > mass) | ((coarse_target == mass) & (ids < label_index))  # [R, M]
    below = (coarse_target * before).sum(1)
    mass = mass[:, 0]
    accept: list[float] = []
    if draft_probs is not None and draft_probs.shape[0]:
        n = draft_probs.shape[0]
        if token_level_accept:
            overlap = torch.minimum(draft_probs.to(torch.float64), target_probs[:n].to(torch.float64))
        else:
            overlap = torch.minimum(coarse_probs(draft_probs, groups), coarse_target[:n])
        accept = overlap.sum(-1).clamp(0.0, 1.0).tolist()
    mass_list, below_list = mass.clamp(0.0, 1.0).tolist(), below.tolist()
    out = []
    for j, kind in enumerate(kinds):
        top = min(below_list[j], 1.0 - mass_list[j]) if below_list[j] + mass_list[j] > 1.0 else below_list[j]
        out.append(Record(row, step, first_position + j, kind, int(labels[j]), top, mass_list[j],
                          accept[j] if kind == "draft" else None, accepted[j] if kind == "draft" else None))
    return out
