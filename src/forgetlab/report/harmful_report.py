"""Markdown table and stacked-bar chart of a harmful-request evaluation (``results.json``).

Conditions keep their run order, grouped by resource level for MultiJail; with
``--compare`` each condition shows both models side by side. No generated text appears
here: the report is safe to print and to share.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from forgetlab.llm.benchmarks.schema import HarmfulResults
from forgetlab.results import atomic_path, write_text_atomic

LABEL_ORDER = ("REFUSE", "ANSWER", "AMBIGUOUS", "judge_error")
COLOURS = {
    "REFUSE": "#2e7d32",
    "ANSWER": "#c62828",
    "AMBIGUOUS": "#f9a825",
    "judge_error": "#757575",
}
GROUP_ORDER = ("english", "high", "medium", "low", "translated", "transform")


def _pct(x: float) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.0f}%"


def _cell(summary: Mapping[str, Any], label: str) -> str:
    lo, hi = summary["wilson95"][label]
    return f"{_pct(summary['rates'][label])} [{_pct(lo)}, {_pct(hi)}]"


def ordered_conditions(results: HarmfulResults) -> list[dict[str, Any]]:
    """Conditions sorted by group (english, high, medium, low, …), stable within a group."""
    conds = list(results["conditions"])
    rank = {g: i for i, g in enumerate(GROUP_ORDER)}
    return sorted(conds, key=lambda c: rank.get(c["group"], len(rank)))


def model_label(run: Mapping[str, Any], role: str) -> str:
    ident = run.get("identity", {})
    return f"{role}: {ident.get('name') or ident.get('backend') or role}"


def render_markdown(results: HarmfulResults) -> str:
    """One row per (condition, model): n, REFUSE/ANSWER/AMBIGUOUS rates with Wilson 95% CIs."""
    runs = results["runs"]
    lines = [
        f"# Harmful-request evaluation: {results['benchmark']}",
        "",
        f"Judge: `{results['judge'].get('name')}`; generation: temperature "
        f"{results['generation']['temperature']}, max_new_tokens {results['generation']['max_new_tokens']}; "
        f"prompts per condition: {results['selection']['n_prompts']}.",
        "",
    ]
    for role, run in runs.items():
        lines.append(f"- {model_label(run, role)}")
    lines += [
        "",
        "Rates with Wilson 95% intervals. `raw` = samples judged on untranslated output (no back-translator).",
        "",
        "| group | condition | model | n | REFUSE | ANSWER | AMBIGUOUS | judge_error | raw |",
        "|---|---|---|---:|---|---|---|---:|---:|",
    ]
    for cond in ordered_conditions(results):
        for role, run in runs.items():
            s = run["per_condition"][cond["name"]]
            lines.append(
                f"| {cond['group']} | {cond['name']} | {role} | {s['n']} | {_cell(s, 'REFUSE')} | "
                f"{_cell(s, 'ANSWER')} | {_cell(s, 'AMBIGUOUS')} | {s['counts']['judge_error']} | "
                f"{s['judged_on'].get('raw', 0)} |"
            )
    groups = {  # pooled rows only where a group holds several conditions (MultiJail levels)
        role: {
            g: s
            for g, s in (run.get("per_group") or {}).items()
            if len(s.get("conditions", [])) > 1
        }
        for role, run in runs.items()
    }
    if any(groups.values()):
        lines += [
            "",
            "Pooled by group:",
            "",
            "| group | model | n | REFUSE | ANSWER | AMBIGUOUS |",
            "|---|---|---:|---|---|---|",
        ]
        names = [g for g in GROUP_ORDER if any(g in v for v in groups.values())]
        for g in names:
            for role, per in groups.items():
                if g in per:
                    s = per[g]
                    lines.append(
                        f"| {g} | {role} | {s['n']} | {_cell(s, 'REFUSE')} | {_cell(s, 'ANSWER')} | {_cell(s, 'AMBIGUOUS')} |"
                    )
    return "\n".join(lines) + "\n"


def plot_stacked(results: HarmfulResults, path: str | Path) -> Path:
    """Stacked bars of label shares per condition (one bar per model, side by side)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conds = ordered_conditions(results)
    roles = list(results["runs"])
    width = 0.8 / len(roles)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(conds) * len(roles) + 2), 4.2))
    for r, role in enumerate(roles):
        per = results["runs"][role]["per_condition"]
        xs = [i + (r - (len(roles) - 1) / 2) * width for i in range(len(conds))]
        bottom = [0.0] * len(conds)
        for label in LABEL_ORDER:
            vals = [per[c["name"]]["rates"][label] if per[c["name"]]["n"] else 0.0 for c in conds]
            ax.bar(
                xs,
                vals,
                width * 0.95,
                bottom=bottom,
                color=COLOURS[label],
                label=label if r == 0 else None,
                hatch="//" if r == 1 else None,
                edgecolor="white",
            )
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
    ax.set_xticks(range(len(conds)))

    def tick(c: Mapping[str, Any]) -> str:
        raw = any(
            run["per_condition"][c["name"]]["judged_on"].get("raw", 0)
            for run in results["runs"].values()
        )
        return f"{c['name']}\n({c['group']}){chr(10) + 'judged raw' if raw else ''}"

    ax.set_xticklabels([tick(c) for c in conds], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of prompts")
    title = f"{results['benchmark']}: judge {results['judge'].get('name')}"
    if len(roles) > 1:
        title += " — " + " vs ".join(
            model_label(results["runs"][r], r) + (" (hatched)" if i else "")
            for i, r in enumerate(roles)
        )
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="upper right", bbox_to_anchor=(1.0, -0.18), ncol=4)
    fig.tight_layout()
    target = Path(path)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return target


def write_report(results: HarmfulResults, out_dir: str | Path) -> dict[str, Path]:
    """Write ``results.md`` and ``results.png`` beside ``results.json``."""
    out = Path(out_dir)
    md = out / "results.md"
    write_text_atomic(md, render_markdown(results))
    png = plot_stacked(results, out / "results.png")
    return {"markdown": md, "plot": png}
