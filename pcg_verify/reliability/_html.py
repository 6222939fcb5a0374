"""``index.html``: one self-contained page rendered from results.json alone.

Inline CSS and inline SVG plots, no network, no JavaScript needed (a short
script only makes the checks table sortable; the table arrives sorted by
p-value). The same results always render to the same text. Page order is
what a reader needs first: the verdict, one box per category with what it
checks and at what error rate, every failure with the command that replays
it, then the plots, the table of every check, and the run's facts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from pcg_verify.reliability import _plots
from pcg_verify.reliability._results import validate_results
from pcg_verify.reliability._schema import envelope_verdict, run_passed
from pcg_verify.reliability._style import CATEGORY_TEXT, CSS, SORT_SCRIPT

__all__ = ["render_html", "replay_commands"]

_LISTED = 4  # failures shown per replay command; the rest fold away
_STATISTICAL = ("guarantee", "conformance", "acceptance", "bonus", "batch_invariance")


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, bool) or isinstance(value, int):
        return str(value)
    return f"{float(value):.{digits}g}"


def _sort_key(value: Any) -> str:
    """data-v for sorting: numbers as repr, missing as +inf so they sort last ascending."""
    if value is None:
        return "Infinity"
    return repr(float(value)) if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def replay_commands(failure: str) -> tuple[str, str | None]:
    """Split a failure line into its text and the command after ``Reproduce:`` (None when absent)."""
    text, marker, command = failure.rpartition("Reproduce: ")
    if not marker or not command.strip():
        return failure, None
    return text.rstrip(" ."), command.strip()


def _words(verdict: Any) -> str:
    """A verdict as the page shows it: ``PASS``, ``FAIL``, ``UNTESTED``, ``TOO SLOW``."""
    return str(verdict).replace("_", " ").upper()


# --------------------------------------------------------------------------- gate runs
def _boxes(run: Mapping[str, Any]) -> str:
    procedure, budget = run.get("procedure", {}), run.get("budget", {})
    fpr = procedure.get("family_false_positive_rate")
    power = 1 - budget["false_negative_rate"] if isinstance(budget.get("false_negative_rate"), float) else None
    out = []
    for name, verdict in run["categories"].items():
        heading, checks, failure = CATEGORY_TEXT.get(name, (name, "", ""))
        state = verdict.get("verdict", "untested")
        if name in _STATISTICAL:
            attribution = procedure.get("attribution_rate")
            rate = (f"A correct port fails any statistical category with probability ≤ {_num(fpr)} (all together); "
                    f"each test detects its stated TV with power ≥ {_num(power)}."
                    + ("" if attribution is None else
                       f" A port that keeps this category's laws exactly but breaks another's fails it with "
                       f"probability ≤ {_num(attribution)}."))
        else:
            rate = "Exact check: a correct port never fails it (false-positive rate 0); one violation fails."
        meaning = {"pass": f"Pass: {checks}.", "fail": f"Fail: {failure}.",
                   "untested": "Untested: nothing was decided here.",
                   "too_slow": "Too slow: the port did not finish every case within the call limit or the "
                               "deadline, so this category is untested there (not failed, not passed)."}.get(state, "")
        out.append(
            f'<div class="box verdict-{_e(state)}" data-category="{_e(name)}" data-verdict="{_e(state)}">'
            f'<h3>{_e(heading)}</h3><div class="verdict">{_e(_words(state))}</div>'
            f'<p>{_e(meaning)}</p><p class="message">{_e(verdict.get("message", ""))}</p>'
            f'<p class="rate">{_e(rate)}</p></div>')
    return f'<div class="boxes">{"".join(out)}</div>'


def _unfinished(run: Mapping[str, Any]) -> str:
    """The cases the port was too slow to finish: untested (not failed), each with its replay command."""
    lines = [replay_commands(str(line)) for line in run.get("unfinished") or []]
    if not lines:
        return ""
    items = "".join(f"<li>{_e(text)}" + (f'<pre class="replay"><code>{_e(command)}</code></pre>' if command else "")
                    + "</li>" for text, command in lines)
    return (f'<h3 id="unfinished">Unfinished: {len(lines)} case(s) the port was too slow to finish (untested, not '
            "failed); a slow port needs a larger --call-timeout and a larger or no --deadline</h3>"
            f'<ol class="failures">{items}</ol>')


def _failures(run: Mapping[str, Any]) -> str:
    """Every failure, grouped under the command that replays its case (first listed = smallest p)."""
    groups: dict[str | None, list[str]] = {}
    total = 0
    for name, verdict in run["categories"].items():
        for failure in verdict.get("failures", []):
            text, command = replay_commands(str(failure))
            head, _, rest = text.partition("\n")
            detail = f"<details><summary>details</summary><pre>{_e(rest)}</pre></details>" if rest.strip() else ""
            groups.setdefault(command, []).append(
                f'<li data-category="{_e(name)}"><strong>{_e(name)}</strong>: {_e(head)}{detail}</li>')
            total += 1
    if not total:
        return ""
    items = []
    for command, lines in groups.items():
        replay = (f'<pre class="replay"><code>{_e(command)}</code></pre>' if command else
                  '<p class="note">no replay command was recorded for these failures</p>')
        shown = "".join(lines[:_LISTED])
        more = (f"<details><summary>{len(lines) - _LISTED} more</summary><ul>{''.join(lines[_LISTED:])}</ul>"
                "</details>" if len(lines) > _LISTED else "")
        items.append(f'<li class="replay-group">{replay}<ul>{shown}</ul>{more}</li>')
    where = f" in {len(groups)} case runs" if len(groups) > 1 else ""
    return (f'<h3 id="failures">Failures: {total}{where}; each command replays its case alone</h3>'
            f'<ol class="failures">{"".join(items)}</ol>')


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>"


def _plots_section(run: Mapping[str, Any], prefix: str) -> str:
    evidence = run.get("evidence") or {}
    worst = list(evidence.get("worst_tests", []))
    tests = run.get("tests", [])
    parts = ['<h3>Worst cases: observed against exact frequencies</h3>']
    cells = [t for t in worst if t.get("category") != "acceptance" and t.get("cells")]
    if cells:
        parts.append(
            "<p>The tests with the smallest p-values, and the worst test of each category. A dot is a cell's "
            "observed frequency, the black tick its exact probability, the grey bar the "
            f"{_plots.BAND_LEVEL:.0%} pointwise band of the frequency under the exact law (a red diamond lies "
            "outside it); the lower panel shows observed − exact against the same band. Cells are groups "
            "(k), tokens (t), memberships (k·t), accepted or rejected (acc, rej).</p>")
        parts.append('<div class="figures">' + "".join(
            _figure(_plots.cell_frequencies(t, f"{prefix}cells-{i}"),
                    f"{t['category']}: case {t['case_index']} row {t['row']} position {t['position']} "
                    f"({t.get('selected', 'selected')})")
            for i, t in enumerate(cells)) + "</div>")
    else:
        parts.append('<p class="note">No cell counts in this report (no test ran, or it was written without '
                     "the evidence section).</p>")
    parts.append("<h3>Accepted-length law: observed against exact</h3>")
    lengths = [t for t in worst if t.get("category") == "acceptance" and t.get("cells")]
    if lengths:
        parts.append('<div class="figures">' + "".join(
            _figure(_plots.accepted_length(t, f"{prefix}length-{i}"),
                    f"the accepted-length test with the smallest p-value (case {t['case_index']} row {t['row']}); "
                    "bars are the exact law Pr(A = j), whiskers its band, dots the observed frequencies")
            for i, t in enumerate(lengths)) + "</div>")
    else:
        parts.append('<p class="note">No accepted-length test ran in this report.</p>')
    first = [float(t["pvalue"]) for t in tests if t.get("stage", 1) == 1 and t.get("pvalue") is not None]
    parts.append("<h3>All p-values: QQ plot and PIT histogram</h3>")
    if len(first) >= 2:
        level = run.get("procedure", {}).get("per_test_level")
        parts.append('<div class="figures">' + _figure(
            _plots.pvalue_qq(first, level, f"{prefix}qq"),
            "Stage-1 p-values against the uniform law. A correct port's points follow the diagonal; points "
            "above the red line fail at once. The envelope assumes independent tests, but the tests of one row "
            "share its samples, and chi-square p-values of G tests run a little small in sparse cells (the "
            "declared rate allows for that): read it as a guide, not a test.") + _figure(
            _plots.pit_histogram(first, f"{prefix}pit"),
            "Each p-value is 1 − F(G), the probability integral transform of its statistic under the exact "
            "law: roughly flat for a correct port (the same caveats as the QQ plot apply to the band); a tall "
            "spike at 0, far outside the band, is what a bug looks like.")
            + "</div>")
    else:
        parts.append(f'<p class="note">{len(first)} stage-1 p-value(s): too few for a QQ plot or a PIT '
                     "histogram.</p>")
    parts.append("<h3>Intra-group variability</h3>")
    by_case = evidence.get("variability_by_case") or []
    overall = run.get("variability") or {}
    if by_case:
        parts.append('<div class="figures">' + _figure(
            _plots.variability(by_case, f"{prefix}variability"),
            f"Over all cases: port H(T | K) = {_num(overall.get('observed_conditional_entropy_nats'))} nats, "
            f"reference {_num(overall.get('reference_conditional_entropy_nats'))} nats, within-group TV "
            f"{_num(overall.get('within_group_tv'))}. A port that always emits one token per group has "
            "H(T | K) near 0.") + "</div>")
    else:
        parts.append('<p class="note">Not measured: the port reports no group labels, or no case ran.</p>')
    return "".join(parts)


_TEST_COLUMNS = (("category", "category", False), ("case", "case_index", True), ("row", "row", True),
                 ("position", "position", True), ("law", "law", False), ("stage", "stage", True),
                 ("n", "n_samples", True), ("cells", "n_cells", True), ("statistic", "statistic", True),
                 ("p-value", "pvalue", True), ("adjusted p", "adjusted_pvalue", True),
                 ("detectable TV", "detectable_discrepancy", True), ("rejected", "rejected", False))


def _tests_table(tests: Sequence[Mapping[str, Any]]) -> str:
    if not tests:
        return '<p class="note">No goodness-of-fit test ran.</p>'
    order = sorted(range(len(tests)), key=lambda i: (tests[i].get("pvalue") is None, tests[i].get("pvalue") or 0, i))
    head = "".join(f"<th>{_e(label)}</th>" for label, _, _ in _TEST_COLUMNS)
    rows = []
    for i in order:
        test = tests[i]
        cells = []
        for _, key, numeric in _TEST_COLUMNS:
            value = test.get(key)
            if numeric:
                shown = _num(value, 4 if key == "statistic" else 3)
                cells.append(f'<td class="num" data-v="{_e(_sort_key(value))}">{shown}</td>')
            else:
                cells.append(f"<td>{_e('yes' if value is True else 'no' if value is False else value)}</td>")
        flag = ' class="rejected"' if test.get("rejected") else ""
        rows.append(f'<tr{flag} data-test="{i}">{"".join(cells)}</tr>')
    return (f'<div class="scroll"><table class="sortable checks"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def _facts(pairs: Sequence[tuple[str, Any]]) -> str:
    return '<dl class="facts">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in pairs) + "</dl>"


def _gate_run(run: Mapping[str, Any], index: int, many: bool) -> str:
    prefix = f"r{index}-"
    procedure, budget = run.get("procedure", {}), run.get("budget", {})
    tests = run.get("tests", [])
    head = (f'<h2 id="run-{index}">Port {_e(run["port"])} '
            f'<span class="run-verdict verdict-{_e(run["verdict"])}">{_e(_words(run["verdict"]))}</span></h2>'
            if many else "")
    power = budget.get("false_negative_rate")
    rates = (f'<p class="rates">Declared error rates: a <strong>correct</strong> port fails with probability at '
             f'most <strong>{_num(procedure.get("family_false_positive_rate"))}</strong>; a port whose '
             f"position-0 group-label law is off by a total variation of at least "
             f'<strong>{_num(budget.get("discrepancy"))}</strong> fails with probability at least '
             f'<strong>{_num(None if power is None else 1 - power)}</strong>. '
             f"{_e(procedure.get('description', ''))}.</p>")
    cases = run.get("cases", [])
    case_rows = "".join(
        f'<tr><td class="num">{_e(c.get("index"))}</td><td>{_e(c.get("description", ""))}</td>'
        f'<td class="num">{_e(c.get("samples_per_row", ""))}</td><td class="num">{_e(c.get("seed", ""))}</td></tr>'
        for c in cases)
    facts = _facts([("port", run["port"]), ("budget", budget.get("name")), ("master seed", run.get("seed")),
                    ("singleton groups only", run.get("singleton_only")), ("cases", len(cases)),
                    ("tests", len(tests)), ("retried cases", run.get("retried_cases") or "none"),
                    ("per-test level", _num(procedure.get("per_test_level"))),
                    ("elapsed", f"{_num(run.get('elapsed_seconds'))} s")])
    return "".join([
        f'<section class="run gate" data-run="{index}">', head, _boxes(run), rates, _unfinished(run), _failures(run),
        f'<h2 id="{prefix}plots">Plots</h2>', _plots_section(run, prefix),
        f'<h2 id="{prefix}checks">Every check ({len(tests)})</h2>',
        "<p>Sorted by p-value; click a heading to sort by it. Adjusted p is the p-value corrected for the "
        "number of tests (see the procedure); detectable TV is the smallest total variation the test detects "
        "with the budget's power.</p>", _tests_table(tests),
        f'<h2 id="{prefix}run">The run</h2>', facts,
        '<details><summary>cases (each rebuilt from its seed)</summary><table class="cases"><thead><tr>'
        "<th>case</th><th>description</th><th>samples per row</th><th>seed</th></tr></thead>"
        f"<tbody>{case_rows}</tbody></table></details>", "</section>"])


# --------------------------------------------------------------------------- bugs and e2e runs
def _outcome(run: Mapping[str, Any]) -> str:
    if run.get("equivalent"):
        return "FAILED (a valid variant)" if run["killed"] else "passed (valid variant)"
    return "killed" if run["killed"] else "SURVIVED"


def _bugs(runs: Sequence[Mapping[str, Any]]) -> str:
    mutants = [r for r in runs if not r.get("equivalent")]
    killed = sum(bool(r["killed"]) for r in mutants)
    score = killed / len(mutants) if mutants else math.nan
    rows = []
    for r in runs:
        expected = r.get("expected_category")
        caught_right = expected is None or expected in r["killed_by"] or not r["killed"]
        rows.append(
            f'<tr class="killed-{"yes" if r["killed"] else "no"}" data-mutant="{_e(r["mutant"])}">'
            f'<td>{_e(r["mutant"])}</td><td>{_e(r.get("description", ""))}</td>'
            f'<td>{_outcome(r)}</td>'
            f'<td>{_e(", ".join(r["killed_by"]) or "—")}{"" if caught_right else " (expected " + _e(expected) + ")"}'
            f'</td><td>{_e(r.get("check") or "—")}</td>'
            f'<td class="num" data-v="{_e(_sort_key(r.get("pvalue")))}">{_num(r.get("pvalue"))}</td>'
            f'<td class="num" data-v="{_e(_sort_key(r.get("adjusted_pvalue")))}">{_num(r.get("adjusted_pvalue"))}</td>'
            f'<td class="num" data-v="{_e(_sort_key(r.get("n_samples")))}">{_num(r.get("n_samples"))}</td>'
            f'<td>{"<code>" + _e(r["replay"]) + "</code>" if r.get("replay") else "—"}</td></tr>')
    head = "".join(f"<th>{h}</th>" for h in ("mutant", "what it does wrong", "result", "killed by", "decisive check",
                                              "p-value", "adjusted p", "samples", "replay"))
    survivors = [r for r in mutants if not r["killed"]]
    false_positives = [r for r in runs if r.get("equivalent") and r["killed"]]
    note = ("" if not survivors else
            f'<p><strong>{len(survivors)} mutant(s) survived</strong>: the gate did not catch '
            f'{_e(", ".join(r["mutant"] for r in survivors))}.</p>') + (
        "" if not false_positives else
        f'<p><strong>{len(false_positives)} equivalent(s) failed</strong>: the gate failed valid variants '
        f'{_e(", ".join(r["mutant"] for r in false_positives))}.</p>')
    return (f'<section class="run bugs"><h2>Mutation score: {killed} of {len(mutants)} killed ({_num(score)})</h2>'
            f'{note}<div class="scroll"><table class="sortable mutants"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div></section>')


def _e2e(runs: Sequence[Mapping[str, Any]]) -> str:
    parts = ['<section class="run e2e">']
    for i, r in enumerate(runs):
        parts.append(f'<h2 id="run-{i}">{_e(r["name"])} <span class="run-verdict verdict-{_e(r["verdict"])}">'
                     f'{_e(str(r["verdict"]).upper())}</span></h2>')
        if r.get("summary"):
            parts.append(f"<p>{_e(r['summary'])}</p>")
        metrics = r.get("metrics") or {}
        if metrics:
            parts.append(_facts([(k, _num(v, 4) if isinstance(v, int | float) else v) for k, v in metrics.items()]))
        failures = [replay_commands(str(f)) for f in r.get("failures", [])]
        if failures:
            parts.append('<ol class="failures">' + "".join(
                f"<li>{_e(text)}" + (f'<pre class="replay"><code>{_e(cmd)}</code></pre>' if cmd else "") + "</li>"
                for text, cmd in failures) + "</ol>")
        tests = r.get("tests") or []
        if tests:
            keys = sorted({k for t in tests for k in t})
            head = "".join(f"<th>{_e(k)}</th>" for k in keys)
            body = "".join("<tr>" + "".join(
                f'<td class="num" data-v="{_e(_sort_key(t.get(k)))}">{_num(t.get(k))}</td>'
                if isinstance(t.get(k), int | float) and not isinstance(t.get(k), bool) else f"<td>{_e(t.get(k))}</td>"
                for k in keys) + "</tr>" for t in tests)
            parts.append(f'<div class="scroll"><table class="sortable"><thead><tr>{head}</tr></thead>'
                         f"<tbody>{body}</tbody></table></div>")
    parts.append("</section>")
    return "".join(parts)


# --------------------------------------------------------------------------- the page
def _banner(results: Mapping[str, Any]) -> str:
    runs, kind = results["runs"], results["kind"]
    verdict = envelope_verdict(results)  # recomputed; validate_results refused a file that states another
    if kind == "gate" and len(runs) == 1:
        run = runs[0]
        untested = [n for n, v in run["categories"].items() if v.get("verdict") == "untested"]
        failed = [n for n, v in run["categories"].items() if v.get("verdict") == "fail"]
        line = (f"port {run['port']} · budget {run['budget'].get('name')} · seed {run.get('seed')} · "
                f"{len(run.get('cases', []))} cases · {len(run.get('tests', []))} tests")
        unfinished = run.get("unfinished") or []
        detail = (f"failed: {', '.join(failed)}" if failed else
                  f"too slow: {len(unfinished)} case(s) unfinished (untested, not failed); a slow port needs a "
                  "larger --call-timeout and a larger or no --deadline" if unfinished else
                  "every category passed" if not untested else f"untested: {', '.join(untested)}")
    elif kind == "bugs":
        mutants = [r for r in runs if not r.get("equivalent")]
        equivalents = [r for r in runs if r.get("equivalent")]
        killed = sum(bool(r["killed"]) for r in mutants)
        line = f"{killed} of {len(mutants)} mutants killed" + (
            f"; {sum(not r['killed'] for r in equivalents)} of {len(equivalents)} equivalents passed"
            if equivalents else "")
        detail = ("every mutant killed, every equivalent passed" if verdict == "pass" else
                  "some mutants survived or some equivalents failed")
    else:
        passed = sum(run_passed(kind, r) for r in runs)
        line, detail = f"{len(runs)} run(s)", f"{passed} of {len(runs)} passed"
    return (f'<header class="banner verdict-{_e(verdict)}" data-verdict="{_e(verdict)}"><div>'
            f"<h1>{_e(_words(verdict))} — {_e(results['title'])}</h1><p>{_e(line)}</p><p>{_e(detail)}</p>"
            "</div></header>")


def _footer(results: Mapping[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in results["versions"].items() if v)
    machine = results["machine"]
    pairs = [("created", results["created"]), ("duration", f"{_num(results['duration_seconds'])} s"),
             ("command", results.get("command") or "—"), ("versions", versions),
             ("machine", f"{machine.get('platform')} ({machine.get('machine')}), {machine.get('cpu_count')} CPUs")]
    return ("<footer>" + _facts(pairs) + "<p>Rendered from results.json alone (the source of truth); "
            "<code>pcg-verify report DIR</code> renders this page again.</p></footer>")


def render_html(results: Mapping[str, Any]) -> str:
    """The page for ``results`` (the results.json envelope), as one self-contained HTML document.

    Deterministic: equal results render to equal text. Raises
    :class:`~pcg_core.errors.InvalidArgumentError` for a malformed envelope.
    """
    results = validate_results(dict(results))
    runs, kind = results["runs"], results["kind"]
    if kind == "gate":
        body = "".join(_gate_run(run, i, len(runs) > 1) for i, run in enumerate(runs))
        if not runs:
            body = '<p class="note">This report holds no run.</p>'
    elif kind == "bugs":
        body = _bugs(runs)
    else:
        body = _e2e(runs)
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(_words(envelope_verdict(results)))} — {_e(results['title'])}</title>"
            f"<style>{CSS}</style></head>"
            f"<body>{_banner(results)}<main>{body}</main>{_footer(results)}<script>{SORT_SCRIPT}</script>"
            "</body></html>\n")
