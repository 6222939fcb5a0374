"""The gate: every check of SPEC §4 on a port, with a declared family-wise error rate.

Math follows the paper: q is the target, p the draft.

Procedure (declared in every report):

1. Draw ``budget.cases`` cases from the master seed (case i is replayable alone).
   Size each experiment before sampling so that the position-0 group-label
   test detects a total-variation discrepancy ≥ ``budget.discrepancy`` with
   power ≥ 1 − ``budget.false_negative_rate`` at its Bonferroni level; a budget
   that cannot reach this within ``max_samples_per_row`` raises
   :class:`DesignError` before sampling.
2. Stage 1: run every case; hard structural assertions and seeded
   determinism (no false positives: a correct port never trips them); one
   goodness-of-fit test per (case, row, position, law). Holm over all tests:
   adjusted p < ``DIRECT_RATE`` fails at once; adjusted p < ``SUSPICIOUS_RATE``
   makes the case suspicious.
3. Stage 2: every suspicious case is re-run with a fresh seed and
   ``RETRY_FACTOR`` × the samples; Holm over those tests at ``RETRY_RATE``.

Each test is a G (likelihood-ratio) test with cells of expected count < 5
pooled and a chi-square reference distribution. Its p-values are accurate at
the extreme levels a gate needs only up to a factor: against exact binomial
tails (n·p ≥ 5, levels 1e-7..1e-3) the true rate was at most 4.9× the nominal
one (Pearson's X² was up to 60× off, so it is not used). With that factor
bounded by ``TAIL_SAFETY_FACTOR`` = 5, a correct port fails with probability
at most

    F·DIRECT_RATE + (F·SUSPICIOUS_RATE)·(F·RETRY_RATE)
      = 5·1e-4 + (5·2e-3)·(5·1e-2) = 1e-3 =: FAMILY_FALSE_POSITIVE_RATE

(1.2e-4 with exact p-values): stage 2 is independent of stage 1 given which
cases it re-runs, and Holm controls the family-wise rate of each stage under
any dependence between its tests. Structural and determinism checks never
fail a correct port.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pcg_core._errors import InvalidArgumentError
from pcg_verify._experiment import Observations, RowCounts, draft_tokens_for, observe, row_laws
from pcg_verify.laws import BlockLaw, JointLaw
from pcg_verify.ports import REFERENCE_PORT, call_port, load_port
from pcg_verify.stats import (
    adjust_family,
    check_categorical,
    min_detectable_discrepancy_for_categorical,
    min_samples_for_categorical,
    pooled_cell_count,
)
from pcg_verify.strategies import Case, draw_case

__all__ = [
    "BUDGETS",
    "CATEGORIES",
    "DIRECT_RATE",
    "FAMILY_FALSE_POSITIVE_RATE",
    "RETRY_FACTOR",
    "RETRY_RATE",
    "SUSPICIOUS_RATE",
    "TAIL_SAFETY_FACTOR",
    "Budget",
    "CategoryVerdict",
    "DesignError",
    "GateFailure",
    "GateReport",
    "TestRecord",
    "assert_gate",
    "run_gate",
]

DIRECT_RATE = 1e-4
SUSPICIOUS_RATE = 2e-3
RETRY_RATE = 1e-2
TAIL_SAFETY_FACTOR = 5
RETRY_FACTOR = 4
FAMILY_FALSE_POSITIVE_RATE = TAIL_SAFETY_FACTOR * DIRECT_RATE + (TAIL_SAFETY_FACTOR * SUSPICIOUS_RATE) * (
    TAIL_SAFETY_FACTOR * RETRY_RATE
)
#: Tests with fewer observations than this are reported as skipped (they lose power, never validity).
MIN_TEST_SAMPLES = 20
#: Cells with a smaller expected count are pooled before the chi-square test.
MIN_EXPECTED = 5.0
#: Rows handed to the port twice with one seed to check determinism.
DETERMINISM_REPLICATES = 32

CATEGORIES = ("guarantee", "conformance", "acceptance", "bonus", "batch_invariance", "structure", "determinism")
_STATISTICAL = ("guarantee", "conformance", "acceptance", "bonus", "batch_invariance")


class DesignError(InvalidArgumentError):
    """An experiment cannot reach its promised power within its budget."""


@dataclass(frozen=True)
class Budget:
    """How hard the gate looks: cases, the discrepancy it promises to detect, and caps."""

    name: str
    cases: int
    discrepancy: float
    false_negative_rate: float
    max_vocab: int
    max_gamma: int
    max_batch: int
    max_samples_per_row: int
    batch_invariance_cases: int
    #: the last case uses this tile-unaligned vocabulary size (one more than a power of two)
    unaligned_vocab: int | None = None


BUDGETS: dict[str, Budget] = {
    "quick": Budget("quick", 8, 0.15, 0.01, 12, 3, 2, 50_000, 1),
    "standard": Budget("standard", 24, 0.05, 0.01, 24, 4, 3, 200_000, 2, unaligned_vocab=257),
    "thorough": Budget("thorough", 48, 0.03, 0.01, 48, 5, 4, 1_000_000, 4, unaligned_vocab=1025),
}


@dataclass(frozen=True)
class TestRecord:
    """One goodness-of-fit test of the family."""

    category: str
    case_index: int
    row: int
    position: int
    law: str
    stage: int
    n_samples: int
    n_cells: int
    statistic: float
    pvalue: float
    detectable_discrepancy: float
    adjusted_pvalue: float = float("nan")
    rejected: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {k: (v if not isinstance(v, float) or np.isfinite(v) else str(v))
                for k, v in dataclasses.asdict(self).items()}


@dataclass(frozen=True)
class CategoryVerdict:
    """pass / fail / untested for one category, with the evidence."""

    name: str
    verdict: str
    message: str
    failures: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class GateReport:
    """The gate's verdict on one port; :meth:`to_dict` is the JSON report."""

    verdict: str
    port: str
    budget: Budget
    seed: int
    groups: str
    categories: dict[str, CategoryVerdict]
    tests: tuple[TestRecord, ...]
    variability: dict[str, float]
    retried_cases: tuple[int, ...]
    cases: tuple[dict[str, Any], ...]
    elapsed_seconds: float
    declared: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def summary(self) -> str:
        lines = [f"pcg-verify: {self.verdict.upper()} — port {self.port}, budget {self.budget.name}, "
                 f"seed {self.seed}, {len(self.cases)} cases, {len(self.tests)} tests, "
                 f"{self.elapsed_seconds:.1f} s"]
        for name in CATEGORIES:
            cat = self.categories[name]
            lines.append(f"  {name:<17} {cat.verdict:<9} {cat.message}")
            lines.extend(f"      {failure}" for failure in cat.failures[:5])
        lines.append(f"  declared family-wise false-positive rate {self.declared['family_false_positive_rate']:g} "
                     f"({self.declared['procedure']})")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "port": self.port,
            "budget": dataclasses.asdict(self.budget),
            "seed": self.seed,
            "groups": self.groups,
            "declared": self.declared,
            "categories": {k: v.to_dict() for k, v in self.categories.items()},
            "variability": self.variability,
            "retried_cases": list(self.retried_cases),
            "cases": list(self.cases),
            "tests": [t.to_dict() for t in self.tests],
            "elapsed_seconds": self.elapsed_seconds,
        }


class GateFailure(AssertionError):
    """Raised by :func:`assert_gate`; the message ends with a reproduce command."""

    def __init__(self, report: GateReport) -> None:
        self.report = report
        super().__init__(report.summary())


# --------------------------------------------------------------------------- seeds and cases
def _seed(*words: int) -> int:
    """A 31-bit seed spawned from ``words`` (master seed, case index, stage, purpose)."""
    return int(np.random.SeedSequence(list(words)).generate_state(1)[0] >> 1)


def gate_case(budget: Budget, seed: int, index: int, groups: str) -> Case:
    """Case ``index`` of master seed ``seed``: consecutive indices cycle through every
    group kind and distribution relation (see :func:`pcg_verify.strategies.draw_case`)."""
    base = _seed(seed) % (1 << 24) * 64
    unaligned = budget.unaligned_vocab is not None and index == budget.cases - 1
    vocab = budget.unaligned_vocab if unaligned and budget.unaligned_vocab else budget.max_vocab
    return draw_case(
        base + index,
        min_vocab=vocab if unaligned else 2, max_vocab=vocab,
        max_gamma=budget.max_gamma, max_batch=budget.max_batch,
        singleton_only=groups == "singleton",
    )


def reproduce_command(port: str, budget: Budget, seed: int, index: int, groups: str) -> str:
    extra = " --groups singleton" if groups == "singleton" else ""
    return f"pcg-verify check {port} --budget {budget.name} --seed {seed} --case {index}{extra}"


# --------------------------------------------------------------------------- tests from counts
def _conformance_law(law: JointLaw, has_labels: bool, vocab: int) -> np.ndarray[Any, Any]:
    """Reference cells (accepted?, membership) — or (accepted?, token) without labels."""
    if has_labels:
        return law.cells()
    accept = np.bincount(law.token_of, weights=law.accept, minlength=vocab)
    reject = np.bincount(law.token_of, weights=law.reject, minlength=vocab)
    return np.concatenate([accept, reject])


def _bonus_law(law: BlockLaw, case: Case, has_labels: bool) -> np.ndarray[Any, Any]:
    if not has_labels:
        return law.bonus_token
    groups = case.groups
    token_of = groups.group_members.numpy().astype(np.int64)
    cells: np.ndarray[Any, Any] = law.bonus_token[token_of] * groups.group_weights.numpy()
    return cells


def _laws_of_row(case: Case, law: BlockLaw, counts: RowCounts, has_labels: bool) -> list[tuple[str, int, str,
                                                                                          np.ndarray[Any, Any],
                                                                                          np.ndarray[Any, Any]]]:
    """(category, position, law name, counts, probabilities) for every test of one row."""
    g, vocab = case.gamma, case.groups.vocab_size
    items: list[tuple[str, int, str, np.ndarray[Any, Any], np.ndarray[Any, Any]]] = []
    for i in range(g + 1):
        if counts.labels is not None:
            items.append(("guarantee", i, "group label law = Q_c", counts.labels[i], law.group_law(i)))
    for i in range(g):
        items.append(("conformance", i, "joint law of (accepted, group, token)" if has_labels
                      else "joint law of (accepted, token)", counts.joint[i],
                      _conformance_law(law.positions[i], has_labels, vocab)))
    items.append(("conformance", g, "bonus (group, token) law" if has_labels else "bonus token law",
                  counts.bonus_joint, _bonus_law(law, case, has_labels)))
    items.append(("acceptance", -1, "accepted-length law", counts.accepted_length, law.accepted_length))
    items.append(("bonus", g, "bonus token law q_{γ+1}", counts.tokens[g], law.bonus_token))
    return items


def _tests_of(obs: Observations, laws: list[BlockLaw], case_index: int, stage: int, category: str | None,
              per_test_rate: float, false_negative_rate: float) -> list[TestRecord]:
    records = []
    for b, counts in enumerate(obs.rows):
        for cat, position, name, observed, probs in _laws_of_row(obs.case, laws[b], counts, obs.has_labels):
            if category is not None:
                if cat != "guarantee":
                    continue
                cat = category
            n = int(observed.sum())
            if n < MIN_TEST_SAMPLES or pooled_cell_count(n, probs, min_expected=MIN_EXPECTED) < 2:
                continue
            result = check_categorical(observed, probs, method="g", min_expected=MIN_EXPECTED)
            cells = int(np.count_nonzero(probs > 0))
            detectable = (min_detectable_discrepancy_for_categorical(
                n, per_test_rate, false_negative_rate, n_cells=cells) if cells > 1 else 0.0)
            records.append(TestRecord(cat, case_index, b, position, name, stage, n, cells,
                                      float(result.statistic), float(result.pvalue), float(detectable)))
    return records


def _variability(all_obs: list[Observations], all_laws: list[list[BlockLaw]]) -> dict[str, float]:
    """Intra-group variability at drafted positions, weighted by observations.

    Observed H(T | K) (plug-in, nats) against the reference law's, and the
    within-group TV Σ_k Q_c(k) · TV(observed t | k, reference t | k).
    """
    observed_h = reference_h = tv = weight = 0.0
    for obs, laws in zip(all_obs, all_laws, strict=True):
        if not obs.has_labels:
            continue
        for counts, law in zip(obs.rows, laws, strict=True):
            for i, joint in enumerate(law.positions):
                cells = counts.joint[i][: joint.nnz] + counts.joint[i][joint.nnz :]  # accept flag summed out
                n = float(cells.sum())
                if n == 0:
                    continue
                totals = np.bincount(joint.group_of, weights=cells, minlength=joint.num_groups)[joint.group_of]
                within = np.divide(cells, totals, out=np.zeros(joint.nnz), where=totals > 0)
                seen = within > 0
                observed_h -= float((cells[seen] * np.log(within[seen])).sum())
                reference_h += joint.conditional_entropy() * n
                tv += joint.within_group_total_variation(within) * n
                weight += n
    if weight == 0:
        return {}
    return {"observed_conditional_entropy_nats": observed_h / weight,
            "reference_conditional_entropy_nats": reference_h / weight,
            "within_group_tv": tv / weight}


# --------------------------------------------------------------------------- the gate
def batch_invariance_cases(budget: Budget, cases: list[Case]) -> list[int]:
    """Indices of the first ``budget.batch_invariance_cases`` cases with more than one row."""
    return [i for i, c in enumerate(cases) if c.batch > 1][: budget.batch_invariance_cases]


def _design(budget: Budget, cases: list[Case]) -> tuple[float, list[int]]:
    """Per-test level and samples per row, sized before sampling (raises DesignError)."""
    tests = sum(c.batch * (2 * (c.gamma + 1) + 2) for c in cases)
    tests += sum(cases[i].batch * (cases[i].gamma + 1) for i in batch_invariance_cases(budget, cases))
    per_test = DIRECT_RATE / tests
    samples = []
    for index, case in enumerate(cases):
        cells = max(2, case.groups.num_groups)
        n = min_samples_for_categorical(budget.discrepancy, per_test, budget.false_negative_rate, n_cells=cells)
        if n > budget.max_samples_per_row:
            raise DesignError(
                "budget", budget.name,
                f"case {index} needs {n} samples per row to detect TV ≥ {budget.discrepancy} with power "
                f"{1 - budget.false_negative_rate} at level {per_test:.3g}, above max_samples_per_row="
                f"{budget.max_samples_per_row}",
            )
        samples.append(int(n))
    return per_test, samples


def _determinism(port: Callable[..., Any], case: Case, seed: int) -> str | None:
    """Two calls with one seed must agree exactly; return a message when they do not."""
    rng = np.random.default_rng(seed)
    drafts = draft_tokens_for(case, DETERMINISM_REPLICATES, rng)
    dp = case.draft_probs.repeat(DETERMINISM_REPLICATES, 1, 1)
    tp = case.target_probs.repeat(DETERMINISM_REPLICATES, 1, 1)
    try:
        first = call_port(port, drafts, dp, tp, case.groups, seed)
        second = call_port(port, drafts, dp, tp, case.groups, seed)
    except Exception as error:  # reported as structure by the main experiment
        return f"the port raised {type(error).__name__}: {error}"
    for name in ("tokens", "group_ids", "num_accepted"):
        a, b = getattr(first, name), getattr(second, name)
        if (a is None) != (b is None) or (a is not None and not bool((a == b).all())):
            return f"two calls with generator seed {seed} returned different {name}"
    return None


def run_gate(
    port: Callable[..., Any] | str = REFERENCE_PORT,
    *,
    budget: str | Budget = "standard",
    seed: int = 0,
    groups: str = "any",
    case: int | None = None,
    port_name: str | None = None,
) -> GateReport:
    """Run every check on ``port`` and return the report (never raises on a verdict).

    Parameters
    ----------
    port : callable or str
        A SPEC §5 port, or its import path ``package.module:function``.
    budget : {"quick", "standard", "thorough"} or Budget
    seed : int
        Master seed; every case, experiment and retry seed is spawned from it.
    groups : {"any", "singleton"}
        "singleton" restricts every case to singleton groups (standard SD).
    case : int, optional
        Run only this case index (the reproduce commands use it).
    port_name : str, optional
        How reports name the port (defaults to the import path or qualname).
    """
    started = time.perf_counter()
    if isinstance(budget, str):
        if budget not in BUDGETS:
            raise InvalidArgumentError("budget", budget, f"must be one of {sorted(BUDGETS)}")
        budget = BUDGETS[budget]
    if groups not in ("any", "singleton"):
        raise InvalidArgumentError("groups", groups, "must be 'any' or 'singleton'")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InvalidArgumentError("seed", seed, "must be an int >= 0")
    if case is not None and not (isinstance(case, int) and 0 <= case < budget.cases):
        raise InvalidArgumentError("case", case, f"must be an int in [0, {budget.cases}) for budget {budget.name}")
    if isinstance(port, str):
        port_name = port_name or port
        port = load_port(port)
    name: str = port_name or str(getattr(port, "__qualname__", repr(port)))

    all_cases = [gate_case(budget, seed, i, groups) for i in range(budget.cases)]
    per_test, all_samples = _design(budget, all_cases)
    alone_cases = {i for i in batch_invariance_cases(budget, all_cases)}
    indices = list(range(budget.cases)) if case is None else [case]
    cases = [all_cases[i] for i in indices]
    samples = [all_samples[i] for i in indices]
    laws = [row_laws(c) for c in cases]

    structure: list[str] = []
    determinism: list[str] = []
    tests: list[TestRecord] = []
    observations: list[Observations] = []
    for slot, (index, c, law) in enumerate(zip(indices, cases, laws, strict=True)):
        reproduce = reproduce_command(name, budget, seed, index, groups)
        obs = observe(port, c, law, samples_per_row=samples[slot], seed=_seed(seed, index, 1, 0))
        observations.append(obs)
        if obs.violation_count:
            structure.append(f"case {index}: {obs.violation_count} violation(s), e.g. {obs.violations[0]}. "
                             f"Reproduce: {reproduce}")
            continue
        message = _determinism(port, c, _seed(seed, index, 1, 1))
        if message:
            determinism.append(f"case {index}: {message}. Reproduce: {reproduce}")
        tests += _tests_of(obs, law, index, 1, None, per_test, budget.false_negative_rate)
        if index in alone_cases:
            alone = observe(port, c, law, samples_per_row=samples[slot], seed=_seed(seed, index, 1, 2), rows=[0])
            if alone.violation_count:
                structure.append(f"case {index} (row 0 alone): {alone.violations[0]}. Reproduce: {reproduce}")
            else:
                tests += _tests_of(alone, [law[0]], index, 1, "batch_invariance", per_test,
                                   budget.false_negative_rate)

    tests = _decide(tests, DIRECT_RATE)
    suspicious = sorted({t.case_index for t in tests if not t.rejected and t.adjusted_pvalue < SUSPICIOUS_RATE})
    retried: list[TestRecord] = []
    for index in suspicious:
        slot = indices.index(index)
        c, law = cases[slot], laws[slot]
        obs = observe(port, c, law, samples_per_row=RETRY_FACTOR * samples[slot], seed=_seed(seed, index, 2, 0))
        if obs.violation_count:
            structure.append(f"case {index} (retry): {obs.violations[0]}. "
                             f"Reproduce: {reproduce_command(name, budget, seed, index, groups)}")
            continue
        retried += _tests_of(obs, law, index, 2, None, per_test, budget.false_negative_rate)
        if index in alone_cases:
            alone = observe(port, c, law, samples_per_row=RETRY_FACTOR * samples[slot],
                            seed=_seed(seed, index, 2, 2), rows=[0])
            retried += _tests_of(alone, [law[0]], index, 2, "batch_invariance", per_test,
                                 budget.false_negative_rate)
    retried = _decide(retried, RETRY_RATE)

    categories = _verdicts(tests + retried, structure, determinism, observations, name, budget, seed, groups)
    failed = any(v.verdict == "fail" for v in categories.values())
    return GateReport(
        verdict="fail" if failed else "pass",
        port=name,
        budget=budget,
        seed=seed,
        groups=groups,
        categories=categories,
        tests=tuple(tests + retried),
        variability=_variability(observations, laws),
        retried_cases=tuple(suspicious),
        cases=tuple({"index": i, "samples_per_row": n, **c.to_dict()}
                    for i, c, n in zip(indices, cases, samples, strict=True)),
        elapsed_seconds=time.perf_counter() - started,
        declared={
            "family_false_positive_rate": FAMILY_FALSE_POSITIVE_RATE,
            "procedure": f"G tests, Holm over all tests; fail if adjusted p < {DIRECT_RATE:g}; re-run cases "
                         f"with adjusted p < {SUSPICIOUS_RATE:g} with a fresh seed and {RETRY_FACTOR}x samples, "
                         f"fail if Holm-adjusted p < {RETRY_RATE:g} there; rate allows a "
                         f"{TAIL_SAFETY_FACTOR}x error of the chi-square tail",
            "per_test_level": per_test,
            "promised_discrepancy_tv": budget.discrepancy,
            "false_negative_rate": budget.false_negative_rate,
            "structure_and_determinism_false_positive_rate": 0.0,
        },
    )


def _decide(tests: list[TestRecord], rate: float) -> list[TestRecord]:
    if not tests:
        return []
    decision = adjust_family([t.pvalue for t in tests], family_false_positive_rate=rate, method="holm")
    return [dataclasses.replace(t, adjusted_pvalue=float(p), rejected=bool(r))
            for t, p, r in zip(tests, decision.adjusted_pvalues, decision.rejected, strict=True)]


def _verdicts(tests: list[TestRecord], structure: list[str], determinism: list[str],
              observations: list[Observations], port: str, budget: Budget, seed: int,
              groups: str) -> dict[str, CategoryVerdict]:
    out: dict[str, CategoryVerdict] = {}
    for name in _STATISTICAL:
        mine = [t for t in tests if t.category == name]
        failing = [t for t in mine if t.rejected]
        if not mine:
            why = ("the port reports no group labels" if name == "guarantee"
                   and any(not o.has_labels for o in observations) else "no test had enough samples")
            out[name] = CategoryVerdict(name, "untested", why)
            continue
        if failing:
            failures = tuple(
                f"case {t.case_index} row {t.row} position {t.position}: {t.law} rejected "
                f"(p={t.pvalue:.3g}, Holm-adjusted {t.adjusted_pvalue:.3g}, n={t.n_samples}, stage {t.stage}). "
                f"Reproduce: {reproduce_command(port, budget, seed, t.case_index, groups)}"
                for t in sorted(failing, key=lambda t: t.pvalue)
            )
            out[name] = CategoryVerdict(name, "fail", f"{len(failing)} of {len(mine)} tests rejected", failures)
        else:
            detect = sorted(t.detectable_discrepancy for t in mine)
            worst = f"{detect[-1]:.3g}" if np.isfinite(detect[-1]) else "none (too few samples)"
            out[name] = CategoryVerdict(
                name, "pass", f"{len(mine)} tests; with power ≥ {1 - budget.false_negative_rate:g} the best "
                f"detects TV ≥ {detect[0]:.3g}, the worst {worst}")
    out["structure"] = (CategoryVerdict("structure", "fail", f"{len(structure)} case(s) broke the contract",
                                        tuple(structure)) if structure else
                        CategoryVerdict("structure", "pass", "ids, padding, membership and support hold in "
                                        "every output"))
    out["determinism"] = (CategoryVerdict("determinism", "fail", "outputs differ under one seed",
                                          tuple(determinism)) if determinism else
                          CategoryVerdict("determinism", "pass", "identical outputs under one seed"))
    return out


def assert_gate(port: Callable[..., Any] | str = REFERENCE_PORT, **kwargs: Any) -> GateReport:
    """:func:`run_gate`, raising :class:`GateFailure` unless the verdict is pass."""
    report = run_gate(port, **kwargs)
    if not report.passed:
        raise GateFailure(report)
    return report
