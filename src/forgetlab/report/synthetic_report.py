"""Figures and ``report.md`` of the synthetic lab, drawn from ``metrics.json`` alone.

Everything is a function of the metrics dictionary, so a report can be regenerated (or
restyled) without touching a model: ``write_report(read_json("metrics.json"), out)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from forgetlab.results import atomic_path, write_text_atomic

FIGURES = {
    "error_vs_k": "fig_error_vs_k.png",
    "forgetting_vs_distance": "fig_forgetting_vs_distance.png",
    "implied_weight": "fig_implied_weight.png",
    "recovery": "fig_recovery.png",
    "calibration": "fig_lambda_vs_g.png",
    "lambda_shift": "fig_lambda_shift_by_g.png",
    "yscale_per_k": "fig_yscale_per_k.png",
}
FAMILIES = ("continuous", "discrete")


def _save(fig: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_error_vs_k(m: dict[str, Any], path: Path) -> None:
    """Per-k error on each family: both models, the best conjugate and the Bayes references."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    best = m["conjugate"]["best"]["name"]
    entry = next((e for e in m["conjugates"] if e["name"] == best), None)
    for ax, fam in zip(axes, FAMILIES, strict=True):
        bay = m["bayes"][fam]
        for name, style in (("ridge", ":"), ("dmmse", "--"), ("mixture", "-.")):
            ax.plot(bay[name]["error_per_k"], style, color="grey", label=f"Bayes {name}")
        ax.plot(m["pretrained"][fam]["error_per_k"], "-o", ms=3, label="pretrained")
        ax.plot(m["finetuned"][fam]["error_per_k"], "-s", ms=3, label="fine-tuned")
        if fam == "continuous" and entry is not None:
            ax.plot(
                entry["finetuned_continuous_error_per_k"], "-^", ms=3, label=f"fine-tuned + {best}"
            )
        ax.set_title(f"{fam} prompts")
        ax.set_xlabel("k (examples in context)")
        ax.set_ylabel("normalised error")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    _save(fig, path)


def plot_forgetting_vs_distance(m: dict[str, Any], path: Path) -> None:
    """Error before/after fine-tuning in bins of distance from w to the nearest pool weight."""
    rows = m["forgetting_by_distance"]["bins"]
    centres = [(r["lo"] + r["hi"]) / 2 for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, style in (
        ("pretrained", "-o"),
        ("finetuned", "-s"),
        ("conjugate", "-^"),
        ("ridge", ":"),
        ("mixture", "-."),
    ):
        if name in rows[0]:
            axes[0].plot(centres, [r[name] for r in rows], style, ms=4, label=name)
    axes[0].set_xlabel("distance of w to nearest pool weight (/√d), bin centre")
    axes[0].set_ylabel("normalised error (continuous prompts)")
    axes[0].legend(fontsize=8)
    axes[0].grid(alpha=0.3)
    idx = list(range(len(rows)))
    axes[1].bar(
        [i - 0.2 for i in idx],
        [r["relative_rise"] for r in rows],
        0.4,
        color="tab:red",
        label="model",
    )
    if "bayes_relative_rise" in rows[0]:
        axes[1].bar(
            [i + 0.2 for i in idx],
            [r["bayes_relative_rise"] for r in rows],
            0.4,
            color="grey",
            label="Bayes ideal",
        )
    axes[1].set_xticks(idx, [f"{r['lo']:.2f}–{r['hi']:.2f}" for r in rows], rotation=30, fontsize=8)
    axes[1].set_ylabel("(fine-tuned − pretrained) / pretrained error")
    axes[1].set_title("relative forgetting by distance to the pool")
    axes[1].legend(fontsize=8)
    axes[1].grid(alpha=0.3, axis="y")
    _save(fig, path)


def plot_implied_weight(m: dict[str, Any], path: Path) -> None:
    """λ̂_k of each model (and the best conjugate) against the Bayes posterior weight."""
    iw = m["implied_weight"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, fam in zip(axes, FAMILIES, strict=True):
        ax.plot(iw["bayes"][fam]["pooled_per_k"], "k--", label="Bayes (pooled λ̂ of mixture)")
        ax.plot(iw["bayes"][fam]["g_mean_per_k"], ":", color="grey", label="Bayes mean g")
        ax.plot(iw["pretrained"][fam]["per_k"], "-o", ms=3, label="pretrained")
        ax.plot(iw["finetuned"][fam]["per_k"], "-s", ms=3, label="fine-tuned")
        ax.plot(
            iw["conjugate"][fam]["per_k"],
            "-^",
            ms=3,
            label=f"fine-tuned + {iw['conjugate']['name']}",
        )
        ax.set_title(f"implied discrete weight, {fam} prompts")
        ax.set_xlabel("k")
        ax.set_ylabel("λ̂")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    _save(fig, path)


def plot_recovery(m: dict[str, Any], path: Path) -> None:
    """Recovered fraction (model and Bayes ideal) and like-for-like gap removed, per transform."""
    kinds = [
        k
        for k in ("yscale", "xscale", "rotation")
        if any(e["transform"] == k for e in m["conjugates"])
    ]
    fig, axes = plt.subplots(
        1, max(len(kinds), 1), figsize=(4.5 * max(len(kinds), 1), 4), squeeze=False
    )
    labels = {
        "yscale": "γ (y-scaling)",
        "xscale": "c (x-scaling)",
        "rotation": "M (rotations averaged)",
    }
    for ax, kind in zip(axes[0], kinds, strict=False):
        es = sorted(
            (e for e in m["conjugates"] if e["transform"] == kind), key=lambda e: e["param"]
        )
        xs = [e["param"] for e in es]
        ax.plot(
            xs, [_nan(e["recovered_fraction"]) for e in es], "-o", label="model: recovered fraction"
        )
        ax.plot(
            xs,
            [_nan(e["gap_removed_same_transform"]) for e in es],
            "-s",
            label="model: gap removed (same T)",
        )
        ax.plot(
            xs,
            [_nan(e["bayes"]["recovered_fraction"]) for e in es],
            "k--",
            label="Bayes ideal: recovered",
        )
        ax.axhline(0, color="grey", lw=0.8)
        ax.axhline(1, color="grey", lw=0.8, ls=":")
        if kind == "rotation":
            ax.set_xscale("log", base=2)
        ax.set_xlabel(labels[kind])
        vals = [
            v
            for e in es
            for v in (
                _nan(e["recovered_fraction"]),
                _nan(e["gap_removed_same_transform"]),
                _nan(e["bayes"]["recovered_fraction"]),
            )
            if math.isfinite(v)
        ]
        if vals:  # show the data, but keep one wild point from flattening the rest
            ax.set_ylim(max(-2.0, min(vals) - 0.1), max(1.2, min(3.0, max(vals) + 0.1)))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("fraction")
    axes[0][0].legend(fontsize=8)
    _save(fig, path)


def _centre(rows: list[dict[str, Any]]) -> list[float]:
    return [
        _nan(r.get("g_mean")) if r.get("g_mean") is not None else (r["g_lo"] + r["g_hi"]) / 2
        for r in rows
    ]


def _errbar(
    ax: Any, xs: Sequence[float], cells: list[dict[str, Any]], fmt: str, label: str
) -> None:
    vals = [_nan(c["value"]) for c in cells]
    lo = [
        v - _nan(c["lo"]) if math.isfinite(_nan(c["lo"])) else 0.0
        for v, c in zip(vals, cells, strict=True)
    ]
    hi = [
        _nan(c["hi"]) - v if math.isfinite(_nan(c["hi"])) else 0.0
        for v, c in zip(vals, cells, strict=True)
    ]
    ax.errorbar(xs, vals, yerr=[lo, hi], fmt=fmt, ms=4, capsize=2, label=label)


def plot_calibration(m: dict[str, Any], path: Path) -> None:
    """Pooled λ per bin of the Bayes posterior g: models before/after, Bayes at both α."""
    inf = m["inference"]
    rows = [r for r in inf["calibration"] if r["count"]]
    xs = [r["g_mean"] for r in rows]
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    _errbar(ax, xs, [r["pretrained"] for r in rows], "-o", "pretrained model")
    _errbar(ax, xs, [r["finetuned"] for r in rows], "-s", "fine-tuned model")
    ax.plot(xs, [r["bayes_pretrained"] for r in rows], "k--", label="Bayes, pretraining α")
    ax.plot(
        xs,
        [r["bayes_finetuned"] for r in rows],
        "k:",
        label=f"Bayes, α = {inf['alpha_finetuned_ideal']:g}",
    )
    ax.set_xlabel("Bayes posterior g of the discrete family (bin mean)")
    ax.set_ylabel("pooled implied weight λ")
    ax.set_title("implicit task inference vs Bayes")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_lambda_shift(m: dict[str, Any], path: Path) -> None:
    """Change of λ after fine-tuning per g bin, per family, beside the Bayes ideal's change."""
    inf = m["inference"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, fam in zip(axes, FAMILIES, strict=True):
        rows = [r for r in inf["lambda_shift"][fam] if r["count"]]
        xs = [(r["g_lo"] + r["g_hi"]) / 2 for r in rows]
        _errbar(ax, xs, [r["model"] for r in rows], "-o", "model Δλ")
        ax.plot(xs, [r["bayes"] for r in rows], "k--", label="Bayes ideal Δλ")
        ax.set_title(f"Δλ after fine-tuning, {fam} prompts")
        ax.set_xlabel("Bayes g bin (centre)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("Δλ")
    axes[0].legend(fontsize=8)
    _save(fig, path)


def plot_yscale_per_k(m: dict[str, Any], path: Path) -> None:
    """Recovered fraction of the paper's y-scaling per prompt length, model and Bayes ideal."""
    ys = m["yscale_paper"]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for key, block in ys.items():
        cells = block["model"]["recovered_fraction_per_k"]
        ks = [k for k, c in enumerate(cells) if math.isfinite(_nan(c["value"]))]
        _errbar(ax, ks, [cells[k] for k in ks], "-o", f"model, γ = {key}")
        bayes = block["bayes"]["recovered_fraction_per_k"]
        ax.plot(ks, [_nan(bayes[k]["value"]) for k in ks], "--", label=f"Bayes ideal, γ = {key}")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("k (examples in context)")
    ax.set_ylabel("recovered fraction")
    ax.set_ylim(-1.5, 1.5)
    ax.set_title("y-scaling (the paper's conjugate), per k")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)


def _nan(x: Any) -> float:
    return math.nan if x is None else float(x)


def _f(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.{digits}f}"


def _ci(cell: dict[str, Any] | None, digits: int = 3) -> str:
    if cell is None:
        return "n/a"
    v, lo, hi = _nan(cell["value"]), _nan(cell["lo"]), _nan(cell["hi"])
    if not math.isfinite(v):
        return "n/a"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return _f(v, digits)
    return f"{v:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _inference_lines(m: dict[str, Any]) -> list[str]:
    inf = m["inference"]
    s = inf["sharpness"]
    lines = [
        "## Implicit inference against the Bayes posterior g",
        "",
        "g: the Bayes posterior of the discrete family at the pretraining α, weighted over "
        "k ≥ 1 like λ (so the mixture-Bayes predictor has λ = g exactly). Intervals: 95 % "
        "bootstrap over prompts.",
        "",
        f"- Spearman(λ, g): pretrained **{_f(s['spearman_pretrained'], 3)}**, "
        f"fine-tuned {_f(s['spearman_finetuned'], 3)}",
        f"- median λ (pretrained) where g > 0.9: **{_f(s['median_lambda_g_above_0.9'], 3)}**; "
        f"where g < 0.05: **{_f(s['median_lambda_g_below_0.05'], 3)}** "
        f"(fine-tuned: {_f(s['finetuned_median_lambda_g_below_0.05'], 3)})",
        f"- share of the ridge → mixture-Bayes gap closed on discrete prompts: "
        f"**{_f(s.get('discrete_gap_closed'), 3)}**",
        "",
        "| g bin | n | mean g | λ pretrained | λ fine-tuned | Bayes (pretraining α) | "
        f"Bayes (α = {inf['alpha_finetuned_ideal']:g}) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in inf["calibration"]:
        lines.append(
            f"| {r['g_lo']:g}–{r['g_hi']:g} | {r['count']} | {_f(r['g_mean'], 3)} | "
            f"{_ci(r['pretrained'])} | {_ci(r['finetuned'])} | {_f(r['bayes_pretrained'], 3)} | "
            f"{_f(r['bayes_finetuned'], 3)} |"
        )
    lines += [
        "",
        "### Change of λ after fine-tuning, by g (the paper's Fig. 5 analogue)",
        "",
        "| g bin | continuous n | continuous Δλ | Bayes Δλ | discrete n | discrete Δλ | Bayes Δλ |",
        "|---|---|---|---|---|---|---|",
    ]
    sh = inf["lambda_shift"]
    for c, d in zip(sh["continuous"], sh["discrete"], strict=True):
        lines.append(
            f"| {c['g_lo']:g}–{c['g_hi']:g} | {c['count']} | {_ci(c['model'])} | {_f(c['bayes'], 3)} | "
            f"{d['count']} | {_ci(d['model'])} | {_f(d['bayes'], 3)} |"
        )
    lines += [
        "",
        "### Forgetting (per-prompt error rise after fine-tuning), by g",
        "",
        "| g bin | continuous n | continuous rise | Bayes rise | discrete n | discrete rise | Bayes rise |",
        "|---|---|---|---|---|---|---|",
    ]
    fg = inf["forgetting_by_g"]
    for c, d in zip(fg["continuous"], fg["discrete"], strict=True):
        lines.append(
            f"| {c['g_lo']:g}–{c['g_hi']:g} | {c['count']} | {_ci(c['rise'], 4)} | {_f(c['bayes_rise'])} | "
            f"{d['count']} | {_ci(d['rise'], 4)} | {_f(d['bayes_rise'])} |"
        )
    lines += ["", "## The paper's conjugate: y-scaling, per k (continuous prompts)", ""]
    ys = m["yscale_paper"]
    keys = list(ys)
    lines += [
        "| γ | recovered (all k ≥ 1) | small k | large k | Bayes ideal (all k) |",
        "|---|---|---|---|---|",
    ]
    for key in keys:
        mo, ba = ys[key]["model"], ys[key]["bayes"]
        lines.append(
            f"| {key} | {_ci(mo['recovered_fraction'])} | k {mo['small_k'][0]}–{mo['small_k'][1]}: "
            f"{_ci(mo['recovered_fraction_small_k'])} | k {mo['large_k'][0]}–{mo['large_k'][1]}: "
            f"{_ci(mo['recovered_fraction_large_k'])} | {_f(ba['recovered_fraction']['value'], 3)} |"
        )
    lines += ["", "| k | " + " | ".join(f"γ = {k} (model) | γ = {k} (Bayes)" for k in keys) + " |"]
    lines.append("|---|" + "---|---|" * len(keys))
    n_k = len(ys[keys[0]]["model"]["recovered_fraction_per_k"]) if keys else 0
    for k in range(1, n_k):
        cells = []
        for key in keys:
            cells.append(_ci(ys[key]["model"]["recovered_fraction_per_k"][k], 2))
            cells.append(_f(ys[key]["bayes"]["recovered_fraction_per_k"][k]["value"], 2))
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def render_markdown(m: dict[str, Any]) -> str:
    """The human-readable report: headline numbers, checks, tables and figure links."""
    pt, ft, cj = m["pretrained"], m["finetuned"], m["conjugate"]
    bay = m["bayes"]
    iw = m["implied_weight"]
    fbd = m["forgetting_by_distance"]
    lines = [
        "# Synthetic lab: forgetting and conjugate prompting",
        "",
        "Errors are normalised errors against the noiseless target, averaged over "
        "k = 1..K−1 on the report stream (see `metrics.json` → `definitions`).",
        "",
        "## Headline",
        "",
        "| predictor | continuous error | discrete error |",
        "|---|---|---|",
        f"| pretrained | {_f(pt['continuous_error'])} | {_f(pt['discrete_error'])} |",
        f"| fine-tuned | {_f(ft['continuous_error'])} | {_f(ft['discrete_error'])} |",
        f"| fine-tuned + {cj['best']['name']} | {_f(cj['continuous_error'])} | {_f(cj['discrete_error'])} |",
        f"| Bayes ridge | {_f(bay['continuous']['ridge']['error'])} | {_f(bay['discrete']['ridge']['error'])} |",
        f"| Bayes dMMSE | {_f(bay['continuous']['dmmse']['error'])} | {_f(bay['discrete']['dmmse']['error'])} |",
        f"| Bayes mixture | {_f(bay['continuous']['mixture']['error'])} | {_f(bay['discrete']['mixture']['error'])} |",
        "",
        f"Best conjugate (chosen on `{cj['selected_on']}`): **{cj['best']['name']}**, "
        f"recovered fraction **{_f(m['recovered_fraction'], 3)}**; with both models under the "
        f"same transform it removes {_f(cj['gap_removed_same_transform'], 3)} of the gap.",
        "",
        "## Checks",
        "",
    ]
    ideal = m.get("checks_bayes_ideal", {})
    for name, ok in m["checks"].items():
        tail = ""
        if name in ideal and ideal[name] is not None:
            tail = f" (Bayes ideal: {'✅' if ideal[name] else '❌'})"
        lines.append(f"- {'✅' if ok else '❌'} {name.replace('_', ' ')}{tail}")
    for name in m.get("checks_undetermined", []):
        lines.append(f"- ➖ {name.replace('_', ' ')} (too few prompts in the compared bins)")
    lines.append("")
    lines.append(
        "`ours_` checks are about our extensions (rotation ensembles, x-scaling), not the paper."
    )
    if "inference" in m:
        lines += ["", *_inference_lines(m)]
    lines += [
        "",
        "## Implicit task inference",
        "",
        "| | λ̂ continuous | λ̂ discrete | effective α (continuous) | effective α (discrete) |",
        "|---|---|---|---|---|",
    ]
    for name in ("pretrained", "finetuned", "conjugate"):
        row = iw[name]
        label = name if name != "conjugate" else f"fine-tuned + {row['name']}"
        lines.append(
            f"| {label} | {_f(row['continuous']['mean'], 3)} | {_f(row['discrete']['mean'], 3)} | "
            f"{_f(row['continuous']['effective_alpha'], 3)} | {_f(row['discrete']['effective_alpha'], 3)} |"
        )
    lines += [
        "",
        "## Forgetting against distance to the pool (continuous prompts)",
        "",
        "| distance bin | n | pretrained | fine-tuned | rise | relative rise | conjugate | Bayes rise | Bayes relative rise |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in fbd["bins"]:
        lines.append(
            f"| {r['lo']:.2f}–{r['hi']:.2f} | {int(r['count'])} | {_f(r['pretrained'])} | {_f(r['finetuned'])} | "
            f"{_f(r['rise'])} | {_f(r['relative_rise'], 3)} | {_f(r.get('conjugate'))} | "
            f"{_f(r.get('bayes_rise'))} | {_f(r.get('bayes_relative_rise'), 3)} |"
        )
    lines += [
        "",
        "Rank correlation of distance with the per-prompt rise: "
        f"{_f(fbd['rank_correlation_distance_rise'], 3)} (absolute), "
        f"{_f(fbd.get('rank_correlation_distance_relative_rise'), 3)} (relative). "
        "'Bayes' columns: mixture-Bayes at the pretraining α vs at `ideal_finetuned_alpha`.",
        "",
        "## All conjugates (report stream; parameters chosen on the select stream)",
        "",
        "y-scaling is the paper's transform; x-scaling and rotation ensembles are our extensions.",
        "",
        "| transform | fine-tuned cont. | pretrained cont. (same T) | recovered | gap removed (same T) | fine-tuned disc. | Bayes recovered |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in m["conjugates"]:
        lines.append(
            f"| {e['name']} | {_f(e['finetuned_continuous_error'])} | {_f(e['pretrained_continuous_error'])} | "
            f"{_f(e['recovered_fraction'], 3)} | {_f(e['gap_removed_same_transform'], 3)} | "
            f"{_f(e['finetuned_discrete_error'])} | {_f(e['bayes']['recovered_fraction'], 3)} |"
        )
    lines += ["", "## Figures", ""]
    lines += [f"![{key}]({fname})" for key, fname in FIGURES.items()]
    prov = m.get("provenance", {})
    if prov:
        lines += [
            "",
            "## Provenance",
            "",
            f"- created: {prov.get('created')}",
            f"- stages: `{prov.get('stages', {})}`",
        ]
        lines.append(f"- packages: `{prov.get('packages', {})}`")
    return "\n".join(lines) + "\n"


def write_report(m: dict[str, Any], out: str | Path) -> list[Path]:
    """Write every figure and ``report.md`` into ``out``; returns the written paths."""
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    plotters = {
        "error_vs_k": plot_error_vs_k,
        "forgetting_vs_distance": plot_forgetting_vs_distance,
        "implied_weight": plot_implied_weight,
        "recovery": plot_recovery,
        "calibration": plot_calibration,
        "lambda_shift": plot_lambda_shift,
        "yscale_per_k": plot_yscale_per_k,
    }
    paths = []
    for key, fn in plotters.items():
        if key in ("calibration", "lambda_shift") and "inference" not in m:
            continue
        if key == "yscale_per_k" and not m.get("yscale_paper"):
            continue
        p = out_dir / FIGURES[key]
        fn(m, p)
        paths.append(p)
    report = out_dir / "report.md"
    write_text_atomic(report, render_markdown(m))
    paths.append(report)
    return paths
