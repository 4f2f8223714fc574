"""``forgetlab compare``'s markdown table and its HTML page (delta table + sample browser)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from forgetlab.compare.schema import CompareResults, MetricRow
from forgetlab.report.html.page import browser, document, interval_text, json_script, num, select

DIRECTIONS = (
    "right → wrong",
    "wrong → right",
    "right, both",
    "wrong, both",
    "decreased",
    "increased",
    "unchanged",
)


def _f(x: float | None, digits: int = 4) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _p(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:.2e}" if x < 1e-3 else f"{x:.4f}"


def _ci(iv: Sequence[float] | None) -> str:
    return "" if not iv else f" [{iv[0]:+.4f}, {iv[1]:+.4f}]"


def markdown(results: CompareResults) -> str:
    """The delta table as markdown (one row per task × metric)."""
    margin = results["equivalence_margin"]
    head = [
        "task",
        "metric",
        "n",
        "base",
        "tuned",
        "delta [95% CI]",
        "test",
        "p",
        "p (Holm)",
        "right→wrong",
        "wrong→right",
    ]
    if margin is not None:
        head.append(f"equivalent (±{margin:g})")
    lines = [
        f"# forgetlab compare: {results['base']['model']} → {results['tuned']['model']}",
        "",
        f"BASE `{results['base']['path']}` ({results['base']['harness']}), "
        f"TUNED `{results['tuned']['path']}` ({results['tuned']['harness']}); samples aligned "
        f"by {results['align_by']}. delta = tuned − base.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" for _ in head) + "|",
    ]
    for r in results["rows"]:
        cells = [
            r["task"],
            r["metric"],
            str(r["n"]),
            _f(r["base_mean"]),
            _f(r["tuned_mean"]),
            f"{r['delta']:+.4f}{_ci(r['delta_ci95'])}",
            r["test"],
            _p(r["p"]),
            _p(r["p_holm"]),
            str(r["flips"]["right_to_wrong"]),
            str(r["flips"]["wrong_to_right"]),
        ]
        if margin is not None:
            eq = r["equivalence"] or {}
            cells.append(f"{'yes' if eq.get('equivalent') else 'no'} (p {_p(eq.get('p'))})")
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "For a continuous metric the two flip columns count decreased and increased samples.",
        "",
    ]
    return "\n".join(lines)


def _row_cells(results: CompareResults, i: int, row: MetricRow, src: str) -> str:
    def cell(key: str, fmt: str) -> str:
        return num(results, ("rows", i, key), fmt, src=src)

    delta = cell("delta", "f4").replace("</td>", interval_text(row["delta_ci95"], "f4") + "</td>")
    return "".join(
        [
            f"<th>{escape(row['task'])}</th><td>{escape(row['metric'])}</td>",
            cell("n", "int"),
            cell("base_mean", "f4"),
            cell("tuned_mean", "f4"),
            delta,
            f"<td class='small'>{escape(row['test'])}</td>",
            f"<td class='num'>{_p(row['p'])}</td><td class='num'>{_p(row['p_holm'])}</td>",
            num(results, ("rows", i, "flips", "right_to_wrong"), "int", src=src),
            num(results, ("rows", i, "flips", "wrong_to_right"), "int", src=src),
        ]
    )


def delta_table(results: CompareResults, src: str) -> str:
    rows = "".join(
        f"<tr>{_row_cells(results, i, r, src)}</tr>" for i, r in enumerate(results["rows"])
    )
    return (
        "<table class='lang'><thead><tr><th>task</th><th>metric</th><th class='num'>n</th>"
        "<th class='num'>base</th><th class='num'>tuned</th><th class='num'>delta [95 %]</th>"
        "<th>test</th><th class='num'>p</th><th class='num'>p (Holm)</th>"
        "<th class='num'>right→wrong</th><th class='num'>wrong→right</th></tr></thead>"
        f"<tbody>{rows}</tbody></table><p class='small muted'>delta = tuned − base; for a "
        "continuous metric the flip columns count decreased and increased samples.</p>"
    )


def page(
    results: CompareResults,
    samples: Sequence[Mapping[str, Any]],
    left_out: Mapping[str, Mapping[str, int]],
    src: str,
) -> str:
    """The self-contained HTML page."""
    base, tuned = results["base"]["model"], results["tuned"]["model"]
    head = (
        f"<p>Base: <code>{escape(base)}</code> → tuned: <code>{escape(tuned)}</code> "
        f"({escape(results['base']['harness'])}); samples aligned by "
        f"{escape(results['align_by'])}.</p>"
    )
    metrics = ", ".join(
        f"{escape(t)}: {escape(str(info['browser_metric']))}"
        for t, info in results["tasks"].items()
    )
    cut = "; ".join(
        f"{escape(t)}: " + ", ".join(f"{n} {escape(d)}" for d, n in counts.items())
        for t, counts in left_out.items()
        if counts
    )
    note = (
        f"<p class='small muted'>Direction per sample on the metric shown per task ({metrics}). "
        "Every changed sample is listed"
        + (f"; left out of this page: {cut}" if cut else "")
        + ".</p>"
    )
    tasks = list(results["tasks"])
    dirs = [d for d in DIRECTIONS if any(r["dir"] == d for r in samples)]
    preset = escape(json.dumps({"dir": "right → wrong"}))
    frame = browser(
        "compare",
        "compare-samples",
        [select("task", "Task", tasks), select("dir", "Change", dirs)],
        [
            ("sample", ""),
            ("prompt", ""),
            ("target", ""),
            (f"base: {base}", "col-base"),
            (f"tuned: {tuned}", "col-tuned"),
        ],
        extra=f"<button type='button' data-preset='{preset}'>What fine-tuning broke "
        "(right → wrong)</button>",
        widths=("10%", "30%", "10%", "25%", "25%"),
    )
    sections = [
        ("deltas", "Deltas per task and metric", head + delta_table(results, src)),
        (
            "samples",
            "Samples",
            note + frame + json_script("compare-samples", {"rows": list(samples)}),
        ),
    ]
    return document(f"forgetlab compare: {base} → {tuned}", sections)


def write_html(
    path: Path,
    results: CompareResults,
    samples: Sequence[Mapping[str, Any]],
    left_out: Mapping[str, Mapping[str, int]],
) -> None:
    from forgetlab.results import write_text_atomic

    write_text_atomic(path, page(results, samples, left_out, str(path.parent / "results.json")))
