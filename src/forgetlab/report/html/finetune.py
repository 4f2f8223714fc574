"""Fine-tuning section: the loss curve (``train_result.json``) and the forgetting curve
(``forgetting_curve.json``: ICL accuracy / refusal rate per language against step)."""

from __future__ import annotations

from html import escape
from typing import Any

from forgetlab.report.html.collect import FinetuneRun
from forgetlab.report.html.page import lookup, num
from forgetlab.report.html.svg import Series, line_chart

PANELS = (
    ("icl-vs-if", "icl_accuracy", "ICL accuracy"),
    ("icl-vs-if", "if_rate", "IF rate"),
    ("harmful", "refusal_rate", "refusal rate"),
)


def _points(run: FinetuneRun) -> list[dict[str, Any]]:
    return list((run.curve or {}).get("points", []))


def curve_charts(run: FinetuneRun) -> list[str]:
    points = _points(run)
    charts = []
    for suite, metric, label in PANELS:
        langs = sorted(
            {lang for p in points for lang in (lookup(p, ("metrics", suite, metric)) or {})}
        )
        if not langs:
            continue
        series = []
        for lang in langs:
            have = [p for p in points if lang in (lookup(p, ("metrics", suite, metric)) or {})]
            series.append(
                Series(
                    lang,
                    [float(p["step"]) for p in have],
                    [p["metrics"][suite][metric][lang] for p in have],
                )
            )
        charts.append(
            line_chart(
                series,
                title=f"{label} per language ({suite})",
                xlabel="training step (0 = before fine-tuning)",
                ylabel=label,
                y_range=(0.0, 1.0),
            )
        )
    return charts


def curve_table(run: FinetuneRun, i: int) -> str:
    points = _points(run)
    rows = []
    for suite, metric, label in PANELS:
        langs = sorted(
            {lang for p in points for lang in (lookup(p, ("metrics", suite, metric)) or {})}
        )
        for lang in langs:
            cells = "".join(
                num(
                    run.curve,
                    ("points", j, "metrics", suite, metric, lang),
                    "pct",
                    src=str(run.path / "forgetting_curve.json"),
                )
                for j in range(len(points))
            )
            rows.append(f"<tr><th>{escape(label)}</th><td>{escape(lang)}</td>{cells}</tr>")
    if not rows:
        return ""
    head = "".join(f"<th class='num'>{int(p['step'])}</th>" for p in points)
    return (
        "<table><thead><tr><th>metric (%)</th><th>language</th>"
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        '<p class="small muted">Columns: training step (0 = the model before fine-tuning).</p>'
    )


def section(run: FinetuneRun, i: int) -> str:
    res = run.result or {}
    parts = [f'<p class="muted small">{escape(str(run.path))}</p>']
    if res:
        src = str(run.path / "train_result.json")
        model = lookup(res, ("config", "model"))
        data = lookup(res, ("config", "data"))
        parts.append(
            f"<p>Model <code>{escape(str(model))}</code> fine-tuned ({escape(str(res.get('kind')))}, "
            f"{escape(str(lookup(res, ('config', 'method'))))}) on <code>{escape(str(data))}</code>: "
            f"{num(res, ('global_step',), 'int', src=src, tag='b')} steps, mean training loss "
            f"{num(res, ('train_loss',), 'f4', src=src, tag='b')}, "
            f"{num(res, ('seconds',), 'f1', src=src, tag='span')} s.</p>"
        )
    charts = []
    losses = res.get("loss_history") or []
    if losses:
        charts.append(
            line_chart(
                [
                    Series(
                        "training loss",
                        [float(h["step"]) for h in losses],
                        [h["loss"] for h in losses],
                    )
                ],
                title="training loss",
                xlabel="step",
                ylabel="loss",
            )
        )
    charts += curve_charts(run)
    parts.append(f'<div class="charts">{"".join(charts)}</div>')
    if run.curve:
        parts += ["<h3>Forgetting curve</h3>", curve_table(run, i)]
    elif res:
        parts.append(
            '<p class="muted">No forgetting curve: the run had no <code>--eval-suite</code>.</p>'
        )
    return "".join(parts)
