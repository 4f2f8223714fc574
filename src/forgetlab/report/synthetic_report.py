"""Figures and ``report.md`` of the synthetic lab, drawn from ``metrics.json`` alone.

Everything is a function of the metrics dictionary, so a report can be regenerated (or
restyled) without touching a model: ``write_report(read_json("metrics.json"), out)``.
"""

from __future__ import annotations

import math
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


def _nan(x: Any) -> float:
    return math.nan if x is None else float(x)


def _f(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.{digits}f}"


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
    lines += [
        f"- {'✅' if ok else '❌'} {name.replace('_', ' ')}" for name, ok in m["checks"].items()
    ]
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
        "## Conjugates (report stream; parameters chosen on the select stream)",
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
    }
    paths = []
    for key, fn in plotters.items():
        p = out_dir / FIGURES[key]
        fn(m, p)
        paths.append(p)
    report = out_dir / "report.md"
    write_text_atomic(report, render_markdown(m))
    paths.append(report)
    return paths
