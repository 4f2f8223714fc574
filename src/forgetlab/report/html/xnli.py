"""XNLI section: per-language accuracy of both models and the paired drop, from
``results.json`` (every number traceable to its key), with the paper's numbers beside."""

from __future__ import annotations

from html import escape

from forgetlab.report.html.collect import XnliRun
from forgetlab.report.html.page import interval_text, lookup, num
from forgetlab.report.html.paired import pair_header
from forgetlab.report.html.svg import BarGroup, bar_chart
from forgetlab.report.xnli_report import language_label

ROLES = ("base", "tuned")


def language_table(run: XnliRun) -> str:
    res, src = run.results, str(run.path / "results.json")
    rows = []
    for lang, row in res["languages"].items():
        paper = res.get("paper", {}).get(lang)
        ref = (
            f"{100 * paper['base']:.2f} → {100 * paper['tuned']:.2f} ({100 * paper['drop']:+.2f})"
            if paper
            else ""
        )
        cells = [
            num(res, ("languages", lang, "base", "accuracy"), "pct", src=src),
            num(res, ("languages", lang, "tuned", "accuracy"), "pct", src=src),
            num(res, ("languages", lang, "drop"), "spct", src=src).replace(
                "</td>", interval_text(row.get("drop_ci95"), "spct") + "</td>"
            ),
            num(res, ("languages", lang, "base", "n"), "int", src=src),
            f"<td class='muted'>{escape(ref)}</td>",
        ]
        rows.append(f"<tr><th>{escape(language_label(lang))}</th>{''.join(cells)}</tr>")
    ov = res["overall"]
    total = [
        num(res, ("overall", "base", "accuracy"), "pct", src=src),
        num(res, ("overall", "tuned", "accuracy"), "pct", src=src),
        num(res, ("overall", "drop"), "spct", src=src).replace(
            "</td>", interval_text(ov.get("drop_ci95"), "spct") + "</td>"
        ),
        num(res, ("overall", "base", "n"), "int", src=src),
        "<td></td>",
    ]
    rows.append(f"<tr class='total'><th>Mean</th>{''.join(total)}</tr>")
    return (
        '<table class="lang"><thead><tr><th>language</th><th class="num">base %</th>'
        '<th class="num">tuned %</th><th class="num">drop</th><th class="num">n / model</th>'
        "<th>paper: base → tuned (drop)</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table><p class='small muted'>Drop = base − tuned "
        "accuracy (points) with its paired 95 % interval; chance is 33.3 %.</p>"
    )


def section(run: XnliRun, i: int, *, redact: bool = False) -> str:
    res = run.results
    parts = pair_header(run)
    langs = list(res["languages"])
    chart = bar_chart(
        [language_label(lang) for lang in langs],
        [
            BarGroup(role, [lookup(res, ("languages", lang, role, "accuracy")) for lang in langs])
            for role in ROLES
        ],
        title="XNLI accuracy per language",
        ylabel="% of pairs",
    )
    parts += [language_table(run), f'<div class="charts">{chart}</div>']
    return "".join(parts)
