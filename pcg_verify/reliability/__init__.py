"""Reliability reports: ``DIR/results.json`` (the source of truth) and ``DIR/index.html`` rendered from it.

Every kind of run writes the same envelope (``kind`` "gate", "bugs" or
"e2e", versions, machine, duration, and a list of runs; see
:mod:`pcg_verify.reliability._results`), and one renderer turns it into a
self-contained page: the verdict, one box per category with its error rate,
every failure with its replay command, plots (worst cases against their exact
laws, p-value QQ plot, PIT histogram, accepted-length law, intra-group
variability; mutation score for ``bugs``), and a sortable table of every check.

Importing this package loads neither torch nor matplotlib; rendering does
load matplotlib (SVG output, no display, no pyplot).

Examples
--------
>>> import tempfile
>>> from pcg_verify import run_gate
>>> from pcg_verify.reliability import gate_results, load_results, render_html, write_report
>>> directory = tempfile.mkdtemp()
>>> page = write_report(directory, gate_results(run_gate(budget="quick", seed=0, case=0)))
>>> load_results(directory)["kind"]
'gate'
>>> render_html(load_results(directory)) == page.read_text(encoding="utf-8")
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pcg_core.lazy import lazy_attributes

if TYPE_CHECKING:
    from pcg_verify.reliability._files import INDEX_FILE, check_report_directory, rerender, write_report
    from pcg_verify.reliability._html import render_html
    from pcg_verify.reliability._progress import progress_bar
    from pcg_verify.reliability._results import (
        KINDS,
        RESULTS_FILE,
        RESULTS_SCHEMA_VERSION,
        bugs_results,
        e2e_results,
        gate_results,
        load_results,
        make_results,
        mutant_record,
        results_json,
        validate_results,
    )

__all__ = [
    "INDEX_FILE",
    "KINDS",
    "RESULTS_FILE",
    "RESULTS_SCHEMA_VERSION",
    "bugs_results",
    "check_report_directory",
    "e2e_results",
    "gate_results",
    "load_results",
    "make_results",
    "mutant_record",
    "progress_bar",
    "render_html",
    "rerender",
    "results_json",
    "validate_results",
    "write_report",
]

_HOME = {
    "pcg_verify.reliability._files": ("INDEX_FILE", "check_report_directory", "rerender", "write_report"),
    "pcg_verify.reliability._html": ("render_html",),
    "pcg_verify.reliability._progress": ("progress_bar",),
    "pcg_verify.reliability._results": ("KINDS", "RESULTS_FILE", "RESULTS_SCHEMA_VERSION", "bugs_results",
                                        "e2e_results", "gate_results", "load_results", "make_results",
                                        "mutant_record", "results_json", "validate_results"),
}
_MODULE_OF = {name: module for module, names in _HOME.items() for name in names}


__getattr__, __dir__ = lazy_attributes(__name__, _MODULE_OF, __all__)
