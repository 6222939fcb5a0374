"""The page's inline stylesheet, its optional table-sorting script, and what each verdict means."""

from __future__ import annotations

__all__ = ["CATEGORY_TEXT", "CSS", "SORT_SCRIPT"]

#: category → (heading, what is checked, what a failure means). Wording follows docs/gate.md.
CATEGORY_TEXT: dict[str, tuple[str, str, str]] = {
    "guarantee": (
        "Guarantee", "the emitted group label has law Q_c at every reached position (the paper's theorem)",
        "the port breaks the one property every port must have"),
    "conformance": (
        "Reference conformance", "the joint law of (accepted?, group, token) equals the reference sampler's",
        "the port changed which token it emits inside a group, or how it accepts"),
    "acceptance": (
        "Acceptance", "the number of accepted drafts has its exact law Pr(A ≥ j) = a_1 ⋯ a_j",
        "the port accepts too often or too rarely"),
    "bonus": (
        "Bonus token", "the bonus token is drawn from q_{γ+1}", "the bonus token comes from the wrong law"),
    "batch_invariance": (
        "Batch invariance", "a row run alone has the laws it has inside a mixed batch",
        "a row's outputs depend on the other rows of its batch"),
    "structure": (
        "Structure (contract)",
        "shapes, dtypes, −1 padding, drafts kept, memberships and support in every output; the port never "
        "raised, exited, crashed or hung", "an output broke the port contract, or the port raised"),
    "determinism": (
        "Determinism", "two calls with one generator seed return identical outputs",
        "the port has a source of randomness other than the generator"),
}

CSS = """
:root { --pass: #1b7f3b; --fail: #b3261e; --untested: #8a6d00; --ink: #1d2430; --muted: #5b6472;
        --line: #d8dde5; --soft: #f4f6f9; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--ink); background: #fff; }
main, header.banner > div, footer { max-width: 1180px; margin: 0 auto; padding: 0 20px; }
header.banner { color: #fff; padding: 22px 0 18px; }
header.banner.verdict-pass { background: var(--pass); }
header.banner.verdict-fail { background: var(--fail); }
header.banner.verdict-too_slow { background: var(--untested); }
header.banner h1 { margin: 0 0 4px; font-size: 30px; letter-spacing: .5px; }
header.banner p { margin: 2px 0; opacity: .95; }
h2 { margin: 34px 0 10px; font-size: 22px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
h3 { margin: 22px 0 8px; font-size: 17px; }
.run-verdict { display: inline-block; padding: 1px 10px; border-radius: 4px; color: #fff; font-weight: 700; }
.run-verdict.verdict-pass { background: var(--pass); } .run-verdict.verdict-fail { background: var(--fail); }
.run-verdict.verdict-too_slow { background: var(--untested); }
.boxes { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: 12px; margin: 14px 0; }
.box { border: 1px solid var(--line); border-top: 6px solid var(--muted); border-radius: 6px; padding: 10px 12px;
       background: #fff; }
.box.verdict-pass { border-top-color: var(--pass); } .box.verdict-fail { border-top-color: var(--fail);
       background: #fff6f5; } .box.verdict-untested { border-top-color: var(--untested); background: #fffbea; }
.box h3 { margin: 0; font-size: 15px; } .box .verdict { font-weight: 800; font-size: 18px; margin: 2px 0 4px; }
.box.verdict-pass .verdict { color: var(--pass); } .box.verdict-fail .verdict { color: var(--fail); }
.box.verdict-untested .verdict { color: var(--untested); }
.box.verdict-too_slow { border-top-color: var(--untested); background: #fffbea; }
.box.verdict-too_slow .verdict { color: var(--untested); }
.box p { margin: 4px 0; font-size: 13px; } .box .rate { color: var(--muted); } .box .message { font-style: italic; }
.rates { background: var(--soft); border-radius: 6px; padding: 10px 14px; font-size: 14px; }
.failures > li { margin: 0 0 14px; } .failures ul { margin: 4px 0; padding-left: 20px; font-size: 14px; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 4px; padding: 6px 10px;
      white-space: pre-wrap; word-break: break-word; font-size: 12.5px; margin: 4px 0; }
pre.replay { background: #1d2430; color: #e8f0ff; border: 0; }
pre.replay::before { content: "$ "; color: #8fb3ff; }
.figures { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 8px; background: #fff;
         max-width: 100%; }
figure svg.plot { display: block; max-width: 100%; height: auto; }
figcaption { width: 0; min-width: 100%; font-size: 12.5px; color: var(--muted); margin-top: 4px; }
.note { color: var(--muted); font-style: italic; }
table { border-collapse: collapse; font-size: 12.5px; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: var(--soft); position: sticky; top: 0; cursor: pointer; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.rejected td { background: #fde8e6; } tr.killed-no td { background: #fde8e6; }
.scroll { max-height: 640px; overflow: auto; border: 1px solid var(--line); border-radius: 6px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; font-size: 13px; margin: 8px 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; }
footer { color: var(--muted); font-size: 12.5px; border-top: 1px solid var(--line); margin-top: 40px;
         padding-top: 10px; padding-bottom: 30px; }
"""

#: Optional enhancement: click a column heading to sort (the table arrives sorted by p-value).
SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("thead th").forEach(function (th, column) {
    th.title = "sort by this column";
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var dir = th.dataset.dir === "asc" ? -1 : 1;
      th.dataset.dir = dir > 0 ? "asc" : "desc";
      function key(row) { var c = row.cells[column]; return c.dataset.v !== undefined ? c.dataset.v : c.textContent; }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
        return (isNaN(nx) || isNaN(ny) ? x.localeCompare(y) : nx - ny) * dir;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""
