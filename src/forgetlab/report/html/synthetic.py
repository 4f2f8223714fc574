"""Synthetic-lab section: several ``reproduce`` runs (seeds, presets) side by side.

Per-run numbers are printed as written in each ``metrics.json``. Where two or more runs are
shown, one extra column gives their mean and a 95 % t-interval across runs (run-to-run
spread, labelled as such); it is the only number on the page not read from a file.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from html import escape
from typing import Any

from forgetlab.report.html.collect import SeedsRun, SyntheticRun
from forgetlab.report.html.page import fmt_number, interval_text, lookup, num, png_figure
from forgetlab.report.html.svg import Series, line_chart

FAMILIES = ("continuous", "discrete")

# (label, path in metrics.json, format)
HEADLINE: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("pretrained, continuous error", ("pretrained", "continuous_error"), "f4"),
    ("pretrained, discrete error", ("pretrained", "discrete_error"), "f4"),
    ("fine-tuned, continuous error", ("finetuned", "continuous_error"), "f4"),
    ("fine-tuned, discrete error", ("finetuned", "discrete_error"), "f4"),
    ("fine-tuned + best conjugate, continuous error", ("conjugate", "continuous_error"), "f4"),
    ("recovered fraction (best conjugate)", ("recovered_fraction",), "f3"),
    ("gap removed, same transform on both", ("conjugate", "gap_removed_same_transform"), "f3"),
    ("Bayes ridge, continuous error", ("bayes", "continuous", "ridge", "error"), "f4"),
    ("Bayes mixture, continuous error", ("bayes", "continuous", "mixture", "error"), "f4"),
    ("Bayes mixture, discrete error", ("bayes", "discrete", "mixture", "error"), "f4"),
    ("λ̂ pretrained, continuous", ("implied_weight", "pretrained", "continuous", "mean"), "f3"),
    ("λ̂ fine-tuned, continuous", ("implied_weight", "finetuned", "continuous", "mean"), "f3"),
    ("λ̂ pretrained, discrete", ("implied_weight", "pretrained", "discrete", "mean"), "f3"),
    ("λ̂ fine-tuned, discrete", ("implied_weight", "finetuned", "discrete", "mean"), "f3"),
)

# two-sided 95 % Student t quantiles by degrees of freedom
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}
T95.update({10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042})


def t95(df: int) -> float:
    keys = sorted(k for k in T95 if k <= df)
    return T95[keys[-1]] if df <= 30 else 1.96


def run_label(run: SyntheticRun) -> str:
    seed = lookup(run.metrics, ("provenance", "config", "synthetic", "seed"))
    return f"{run.path.name}" + (f" (seed {seed})" if seed is not None else "")


def _value_cell(run: SyntheticRun, i: int, path: tuple[str, ...], fmt: str) -> str:
    """A metric cell; a value stored as {mean, ci95/interval} shows its interval too."""
    value = lookup(run.metrics, path)
    if isinstance(value, dict) and "value" in value:  # {"value", "lo", "hi"}: bootstrap interval
        cell = num(run.metrics, (*path, "value"), fmt, src=str(run.path / "metrics.json"))
        return cell.replace("</td>", interval_text(value, fmt) + "</td>")
    if isinstance(value, dict) and "mean" in value:
        iv = value.get("ci95", value.get("interval"))
        cell = num(run.metrics, (*path, "mean"), fmt, src=str(run.path / "metrics.json"))
        return cell.replace("</td>", interval_text(iv, fmt) + "</td>")
    return num(run.metrics, path, fmt, src=str(run.path / "metrics.json"))


def _scalar(run: SyntheticRun, path: tuple[str, ...]) -> float | None:
    value = lookup(run.metrics, path)
    if isinstance(value, dict):
        value = value.get("value", value.get("mean"))
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def across_runs(values: Sequence[float | None], fmt: str) -> str:
    vals = [v for v in values if v is not None]
    if len(vals) < 2:
        return '<td class="num muted">–</td>'
    mean = statistics.fmean(vals)
    half = t95(len(vals) - 1) * statistics.stdev(vals) / math.sqrt(len(vals))
    return (
        f'<td class="num across">{fmt_number(mean, fmt)}'
        f"{interval_text([mean - half, mean + half], fmt)}</td>"
    )


def yscale_rows(runs: Sequence[SyntheticRun]) -> list[tuple[str, tuple[str, ...], str]]:
    """Rows for the paper's y-scaling conjugate (one per γ present in any run)."""
    gammas: list[str] = []
    for r in runs:
        for g in r.metrics.get("yscale_paper") or {}:
            if g not in gammas:
                gammas.append(g)
    rows: list[tuple[str, tuple[str, ...], str]] = []
    for g in gammas:
        for key, what in (
            ("recovered_fraction", "recovered fraction"),
            ("recovered_fraction_small_k", "recovered, small k"),
            ("recovered_fraction_large_k", "recovered, large k"),
        ):
            rows.append((f"y-scaling γ={g}: {what}", ("yscale_paper", g, "model", key), "f3"))
    return rows


def aggregate_cell(agg: SeedsRun, run: SyntheticRun, path: tuple[str, ...], fmt: str) -> str:
    """The seed set's own mean [interval] for ``path`` (its metrics.json, not recomputed)."""
    key = ".".join(path)
    if isinstance(lookup(run.metrics, path), dict) and "value" in lookup(run.metrics, path):
        key += ".value"
    for block in ("headline", "aggregate"):
        cell = lookup(agg.metrics, (block, key))
        if isinstance(cell, dict) and "mean" in cell:
            shown = num(agg.metrics, (block, key, "mean"), fmt, src=str(agg.path / "metrics.json"))
            return shown.replace("num", "num across", 1).replace(
                "</td>", interval_text(cell, fmt) + "</td>"
            )
    return '<td class="num muted">–</td>'


def headline_table(runs: Sequence[SyntheticRun], aggregate: SeedsRun | None = None) -> str:
    multi = len(runs) > 1
    head = "".join(f"<th class='num'>{escape(run_label(r))}</th>" for r in runs)
    if multi:
        head += f"<th class='num'>across {len(runs)} runs: mean [95% t-interval]</th>"
    rows = []
    for label, path, fmt in (*HEADLINE, *yscale_rows(runs)):
        cells = "".join(_value_cell(r, i, path, fmt) for i, r in enumerate(runs))
        if multi and aggregate is not None:
            cells += aggregate_cell(aggregate, runs[0], path, fmt)
        elif multi:
            cells += across_runs([_scalar(r, path) for r in runs], fmt)
        rows.append(f"<tr><th>{escape(label)}</th>{cells}</tr>")
    best = "".join(
        f"<td class='num'>{escape(str(lookup(r.metrics, ('conjugate', 'best', 'name'))))}</td>"
        for r in runs
    )
    rows.insert(5, f"<tr><th>best conjugate (chosen on the select stream)</th>{best}</tr>")
    note = (
        '<p class="small muted">Errors: normalised error against the noiseless target, averaged '
        "over k ≥ 1 on the report stream. A single run carries no interval of its own; the last "
        "column's interval is the spread between the runs shown.</p>"
        if multi
        else '<p class="small muted">One run: no interval (show several runs side by side with '
        "<code>forgetlab report DIR1 DIR2 …</code> for run-to-run spread).</p>"
    )
    return f"<table><thead><tr><th>metric</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{note}"


def checks_table(runs: Sequence[SyntheticRun]) -> str:
    names: list[str] = []
    for r in runs:
        for name in r.metrics.get("checks", {}):
            if name not in names:
                names.append(name)
    if not names:
        return ""
    head = "".join(f"<th>{escape(run_label(r))}</th>" for r in runs)
    rows = []
    for name in names:
        cells, holds = [], 0
        for r in runs:
            ok = r.metrics.get("checks", {}).get(name)
            if isinstance(ok, dict):  # {"holds": ..., ...} or {"mean": fraction of seeds}
                ok = ok.get("holds", ok.get("pass"))
            holds += ok is True
            mark = "holds" if ok is True else "fails" if ok is False else "–"
            cells.append(f'<td class="{"ok" if ok else "fail"}">{mark}</td>')
        tail = f"<td class='num'>{holds}/{len(runs)}</td>" if len(runs) > 1 else ""
        ideal = [(r.metrics.get("checks_bayes_ideal") or {}).get(name) for r in runs]
        known = [v for v in ideal if isinstance(v, bool)]
        tail += (
            f"<td>{'holds' if all(known) else 'fails' if not any(known) else 'mixed'}</td>"
            if known
            else "<td class='muted'>–</td>"
        )
        undetermined = any(name in (r.metrics.get("checks_undetermined") or []) for r in runs)
        title = escape(name.replace("_", " ")) + (
            " <span class='muted small'>(undetermined: interval too wide)</span>"
            if undetermined
            else ""
        )
        rows.append(f"<tr><th>{title}</th>{''.join(cells)}{tail}</tr>")
    extra = "<th>holds in</th>" if len(runs) > 1 else ""
    extra += "<th>Bayes ideal</th>"
    return (
        f"<h3>Checks (the paper's claims, as tested in metrics.json)</h3><table><thead><tr><th>check</th>"
        f"{head}{extra}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _ks(values: Sequence[Any]) -> list[float]:
    return [float(k) for k in range(1, len(values) + 1)]


def per_k_charts(run: SyntheticRun) -> list[str]:
    m = run.metrics
    charts = []
    best = lookup(m, ("conjugate", "best", "name"))
    entry = next((e for e in m.get("conjugates", []) if e.get("name") == best), None)
    for fam in FAMILIES:
        series = []
        for name, dash in (("ridge", "2 3"), ("dmmse", "6 3"), ("mixture", "8 3 2 3")):
            ys = lookup(m, ("bayes", fam, name, "error_per_k")) or []
            series.append(Series(f"Bayes {name}", _ks(ys), ys, dash, "#8C8C8C"))
        for i, name in enumerate(("pretrained", "finetuned")):
            ys = lookup(m, (name, fam, "error_per_k")) or []
            series.append(Series(name, _ks(ys), ys, color=("#4C72B0", "#DD8452")[i]))
        if fam == "continuous" and entry and entry.get("finetuned_continuous_error_per_k"):
            ys = entry["finetuned_continuous_error_per_k"]
            series.append(Series(f"fine-tuned + {best}", _ks(ys), ys, color="#55A868"))
        charts.append(
            line_chart(
                series,
                title=f"error per k, {fam} prompts",
                xlabel="k (examples in context)",
                ylabel="normalised error (log)",
                log_y=True,
            )
        )
    for fam in FAMILIES:
        iw = m.get("implied_weight", {})
        series = [
            Series(
                "Bayes pooled λ̂",
                _ks(lookup(iw, ("bayes", fam, "pooled_per_k")) or []),
                lookup(iw, ("bayes", fam, "pooled_per_k")) or [],
                "6 3",
                "#222",
            ),
            Series(
                "Bayes mean g",
                _ks(lookup(iw, ("bayes", fam, "g_mean_per_k")) or []),
                lookup(iw, ("bayes", fam, "g_mean_per_k")) or [],
                "2 3",
                "#8C8C8C",
            ),
        ]
        for i, name in enumerate(("pretrained", "finetuned", "conjugate")):
            ys = lookup(iw, (name, fam, "per_k")) or []
            label = (
                name if name != "conjugate" else f"fine-tuned + {lookup(iw, ('conjugate', 'name'))}"
            )
            series.append(Series(label, _ks(ys), ys, color=("#4C72B0", "#DD8452", "#55A868")[i]))
        charts.append(
            line_chart(
                series,
                title=f"implied discrete weight λ̂ per k, {fam} prompts",
                xlabel="k",
                ylabel="λ̂",
            )
        )
    return charts


def _cells(rows: Sequence[Any], key: str) -> tuple[list[Any], list[Any], list[Any]]:
    cells = [r.get(key) or {} for r in rows]
    return (
        [c.get("value") for c in cells],
        [c.get("lo") for c in cells],
        [c.get("hi") for c in cells],
    )


def inference_charts(run: SyntheticRun) -> list[str]:
    """λ against the Bayes posterior g (calibration), Δλ by g, and y-scaling recovery per k."""
    m, charts = run.metrics, []
    calib = [r for r in lookup(m, ("inference", "calibration")) or [] if r.get("count")]
    if calib:
        xs = [float(r.get("g_mean", (r["g_lo"] + r["g_hi"]) / 2)) for r in calib]
        series = []
        for name, color in (("pretrained", "#4C72B0"), ("finetuned", "#DD8452")):
            ys, lo, hi = _cells(calib, name)
            series.append(Series(f"{name} model λ", xs, ys, color=color, lo=lo, hi=hi))
        alpha = lookup(m, ("inference", "alpha_finetuned_ideal"))
        series += [
            Series(
                "Bayes, pretraining α",
                xs,
                [r.get("bayes_pretrained") for r in calib],
                "6 3",
                "#222",
            ),
            Series(
                f"Bayes, α = {alpha}",
                xs,
                [r.get("bayes_finetuned") for r in calib],
                "2 3",
                "#8C8C8C",
            ),
        ]
        charts.append(
            line_chart(
                series,
                title="implied weight λ vs Bayes posterior g (95% intervals)",
                xlabel="Bayes posterior g of the discrete family (bin mean)",
                ylabel="pooled λ",
            )
        )
    for fam in FAMILIES:
        shift = [r for r in lookup(m, ("inference", "lambda_shift", fam)) or [] if r.get("count")]
        if shift:
            xs = [(float(r["g_lo"]) + float(r["g_hi"])) / 2 for r in shift]
            ys, lo, hi = _cells(shift, "model")
            charts.append(
                line_chart(
                    [
                        Series("model Δλ", xs, ys, color="#C44E52", lo=lo, hi=hi),
                        Series(
                            "Bayes ideal Δλ", xs, [r.get("bayes") for r in shift], "6 3", "#222"
                        ),
                    ],
                    title=f"Δλ after fine-tuning by g, {fam} prompts",
                    xlabel="Bayes g bin (centre)",
                    ylabel="Δλ",
                )
            )
    series = []
    for i, (g, block) in enumerate((m.get("yscale_paper") or {}).items()):
        per_k = lookup(block, ("model", "recovered_fraction_per_k")) or []
        ys = [c.get("value") for c in per_k]
        series.append(
            Series(
                f"γ = {g}",
                [float(k) for k in range(len(per_k))],
                ys,
                color=("#4C72B0", "#DD8452", "#55A868")[i % 3],
                lo=[c.get("lo") for c in per_k],
                hi=[c.get("hi") for c in per_k],
            )
        )
    if series:
        charts.append(
            line_chart(
                series,
                title="y-scaling (the paper's conjugate): recovered fraction per k",
                xlabel="k (examples in context)",
                ylabel="recovered fraction",
            )
        )
    return charts


def training_chart(run: SyntheticRun) -> str:
    series = [
        Series(name, [float(r["step"]) for r in rows], [r.get("loss") for r in rows])
        for name, rows in run.training.items()
        if rows
    ]
    if not series:
        return ""
    return line_chart(
        series, title="training loss", xlabel="step (each phase)", ylabel="loss (log)", log_y=True
    )


def conjugate_table(run: SyntheticRun, i: int) -> str:
    rows = []
    for j, e in enumerate(run.metrics.get("conjugates", [])):
        src = str(run.path / "metrics.json")
        cells = "".join(
            num(run.metrics, ("conjugates", j, *key), fmt, src=src)
            for key, fmt in (
                (("finetuned_continuous_error",), "f4"),
                (("pretrained_continuous_error",), "f4"),
                (("recovered_fraction",), "f3"),
                (("gap_removed_same_transform",), "f3"),
                (("finetuned_discrete_error",), "f4"),
                (("bayes", "recovered_fraction"), "f3"),
            )
        )
        rows.append(f"<tr><th>{escape(str(e.get('name')))}</th>{cells}</tr>")
    if not rows:
        return ""
    return (
        "<table><thead><tr><th>transform</th><th class='num'>fine-tuned cont.</th>"
        "<th class='num'>pretrained cont. (same T)</th><th class='num'>recovered</th>"
        "<th class='num'>gap removed (same T)</th><th class='num'>fine-tuned disc.</th>"
        f"<th class='num'>Bayes recovered</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def section(runs: Sequence[SyntheticRun], aggregate: SeedsRun | None = None) -> str:
    """The whole synthetic section; ``aggregate`` supplies the across-seeds column."""
    parts = ["<h3>Headline</h3>", headline_table(runs, aggregate), checks_table(runs)]
    if aggregate is not None:
        parts.insert(
            0,
            f"<p>Seed set <code>{escape(str(aggregate.path))}</code>: seeds "
            f"{escape(', '.join(str(s) for s in aggregate.metrics.get('seeds', [])))}; the last "
            "column is its metrics.json (mean and 95 % t-interval across seeds).</p>",
        )
    charts = [[*per_k_charts(r), *inference_charts(r), training_chart(r)] for r in runs]
    if len(runs) == 1:
        run = runs[0]
        figs = "".join(png_figure(p, f"{run_label(run)}: {n}") for n, p in run.figures.items())
        parts += [
            f'<div class="charts">{"".join(c for c in charts[0] if c)}</div>',
            "<h3>Conjugate sweep (report stream; parameters chosen on the select stream)</h3>",
            conjugate_table(run, 0),
            f"<details open><summary>Figures written by the run ({len(run.figures)})</summary>"
            f"{figs}</details>",
        ]
        return "".join(parts)
    parts += ["<h3>Curves, run by run</h3>", side_by_side(runs, charts)]
    for i, run in enumerate(runs):
        parts += [
            f"<h3>Conjugate sweep: {escape(run_label(run))} <span class='muted small'>"
            f"{escape(str(run.path))}</span></h3>",
            conjugate_table(run, i),
        ]
    return "".join(parts)


def _title(chart: str) -> str:
    found = re.search(r'aria-label="([^"]*)"', chart)
    return found.group(1) if found else chart[:40]


def side_by_side(runs: Sequence[SyntheticRun], charts: Sequence[Sequence[str]]) -> str:
    """One column per run; each row holds the same chart (or figure) of every run."""
    titles: list[str] = []
    by_run: list[dict[str, str]] = []
    for run_charts in charts:
        named = {_title(c): c for c in run_charts if c}
        by_run.append(named)
        titles += [t for t in named if t not in titles]
    names: list[str] = []
    for r in runs:
        names += [n for n in r.figures if n not in names]
    head = "".join(f"<div class='small'><b>{escape(run_label(r))}</b></div>" for r in runs)
    rows = [head]
    for t in titles:
        rows.append("".join(f"<div>{named.get(t, '')}</div>" for named in by_run))
    for n in names:
        rows.append(
            "".join(
                f"<div>{png_figure(r.figures[n], f'{run_label(r)}: {n}') if n in r.figures else ''}</div>"
                for r in runs
            )
        )
    style = f"grid-template-columns: repeat({len(runs)}, minmax(0, 1fr))"
    return f'<div class="side" style="{style}">{"".join(rows)}</div>'
