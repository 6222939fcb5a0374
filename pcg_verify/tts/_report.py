"""The table as text and as an ``e2e`` reliability report (``results.json`` + ``index.html`` + ``table.md``).

One report run per method, named by its label ("AR", "SD", "SSD(β=0.3)",
"PCG(θ=0.4)"): its ``metrics`` are the table's columns and their evidence,
its ``tests`` the monitors' streams, its verdict the monitors' (SSD's summary
says that it is not exact by design), and each failure ends with the command
that reproduces the run. The swap stress test, when run, is one more run.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from pcg_core.atomic import write_text_atomic
from pcg_verify.tts._pipeline import MethodRow, TTSTable

__all__ = ["TABLE_FILE", "format_table", "table_results", "write_table_report"]

#: The table in Markdown, written beside results.json.
TABLE_FILE = "table.md"
_COLUMNS = ("method", "speedup", "WER", "CER", "similarity", "acceptance", "accepted/block", "tokens/s",
            "monitors")


def _cell(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _verdict(row: MethodRow) -> str:
    text = "pass" if row.monitor.passed else "FAIL"
    return text if row.exact else f"{text} (not exact)"


def format_table(table: TTSTable) -> str:
    """The paper's table in Markdown: one line per method, WER/CER as fractions, speedup over AR."""
    lines = ["| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
    for row in table.rows:
        m = row.metrics()
        cells = [row.label, _cell(m["speedup"], 2) + ("x" if m["speedup"] is not None else ""), _cell(m["wer"]),
                 _cell(m["cer"]), _cell(m["similarity"]), _cell(m["acceptance_rate"]),
                 _cell(m["mean_accepted_per_block"], 2), _cell(m["tokens_per_second"], 1), _verdict(row)]
        lines.append("| " + " | ".join(cells) + " |")
    settings = table.settings
    lines.append("")
    lines.append(f"{len(table.cases)} case(s); γ={settings.gamma}, temperature={settings.sampling.temperature:g}, "
                 f"top_k={settings.sampling.top_k}, top_p={settings.sampling.top_p}, β={settings.beta:g}, "
                 f"max_new_tokens={settings.max_new_tokens}, batch={settings.batch_size}, seed={settings.seed}; "
                 f"groups: {table.groups.get('description', 'none')}; monitors' family-wise false-positive rate "
                 f"{settings.false_positive_rate:g} per method.")
    if table.swap is not None:
        s = table.swap.to_dict()
        lines.append(f"Swap stress test: {s['utterances']} utterance(s), {s['tokens']} tokens, "
                     f"{100 * s['changed_fraction']:.1f}% changed; ΔWER {s['delta_wer']:+.3f}, "
                     f"ΔCER {s['delta_cer']:+.3f}, Δsimilarity {_signed(s['delta_similarity'])}.")
    return "\n".join(lines) + "\n"


def _signed(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:+.3f}"


def table_results(table: TTSTable, *, command: str | None = None) -> dict[str, Any]:
    """The table as an ``e2e`` results envelope (:func:`pcg_verify.reliability.e2e_results`)."""
    from pcg_verify.reliability import e2e_results

    runs = []
    replay = f"Reproduce: {command}" if command else "Reproduce: rerun the command that wrote this report"
    for row in table.rows:
        summary = (f"{row.label}: {len(row.transcripts)} utterance(s); groups: "
                   f"{table.groups.get('description', 'none') if row.method == 'pcg' else 'tokens (singletons)'}. "
                   + row.monitor.summary().splitlines()[0])
        if not row.exact:
            summary += ". SSD is not exact for β > 0: its monitors are expected to fail given enough records."
        failures = [] if row.monitor.passed else [
            f"{row.label}: the monitors rejected the {'group' if row.method == 'pcg' else 'token'} law "
            f"({'; '.join(s.name for s in row.monitor.streams if s.rejected)}). {replay}"]
        tests = [{"name": f"{row.method}:{s.name}", **{k: v for k, v in s.to_dict().items() if k != "name"}}
                 for s in row.monitor.streams]
        runs.append({"name": row.label, "verdict": "pass" if row.monitor.passed else "fail", "summary": summary,
                     "metrics": row.metrics(), "tests": tests, "failures": failures,
                     "transcripts": list(row.transcripts),
                     "similarities": [None if math.isnan(s) else s for s in row.similarities]})
    if table.swap is not None:
        runs.append({"name": "within-group swap stress test", "verdict": "pass",
                     "summary": "Codec re-synthesis of the targets' recordings, before and after replacing every "
                                "token by a random member of one of its groups (a measurement, no pass/fail rule).",
                     "metrics": table.swap.to_dict()})
    return e2e_results(runs, duration_seconds=table.seconds, command=command,
                       title="pcg TTS table: cross-sentence voice cloning")


def write_table_report(directory: str | os.PathLike[str], table: TTSTable, *, command: str | None = None) -> Path:
    """Write ``results.json``, ``index.html`` and ``table.md`` into ``directory``; return the page's path."""
    from pcg_verify.reliability import write_report

    page = write_report(directory, table_results(table, command=command))
    write_text_atomic(Path(directory) / TABLE_FILE, format_table(table))
    return page
