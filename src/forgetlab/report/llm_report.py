"""Markdown table and bar chart for the paired ICL-vs-IF evaluation.

The table has the paper's shape (rows = languages, columns = base ICL accuracy, fine-tuned ICL
accuracy, drop), with the instruction-following rates beside it, because the tuned model's
lost ICL answers usually reappear as IF answers. Everything is read from ``results.json``
(see :mod:`forgetlab.llm.benchmarks.icl_vs_if.benchmark`), so a report can be rebuilt without rerunning models.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from forgetlab.results import write_text_atomic

LANGUAGE_NAMES = {
    "en": "English",
    "fr": "French",
    "es": "Spanish",
    "nl": "Dutch",
    "hu": "Hungarian",
    "ls": "Leetspeak",
    "pl": "Pig Latin",
}


def condition_label(cond: str) -> str:
    """Readable row label: ``fr`` → ``French``, ``en+rot13`` → ``English + rot13``."""
    lang, plus, transform = cond.partition("+")
    name = LANGUAGE_NAMES.get(lang, lang)
    return f"{name} + {transform}" if plus else name


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def _signed(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:+.1f}"


def _drop_ci(row: Mapping[str, Any]) -> str:
    """The drop's paired 95 % interval when results.json records one."""
    iv = row.get("drop_ci95")
    return "–" if iv is None else f"[{_signed(iv[0])}, {_signed(iv[1])}]"


def _model_name(results: Mapping[str, Any], role: str) -> str:
    ident = (results.get("models") or {}).get(role) or {}
    return str(ident.get("name") or role)


def render_table(results: Mapping[str, Any]) -> str:
    """The headline table: one row per language/condition, percentages."""
    lines = [
        "| Language | Base ICL acc. | Tuned ICL acc. | Drop | Base IF rate | Tuned IF rate | n / model | Drop 95% CI |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for cond, row in results["languages"].items():
        lines.append(
            f"| {condition_label(cond)} | {_pct(row['base']['icl_accuracy'])} | "
            f"{_pct(row['tuned']['icl_accuracy'])} | {_signed(row['drop'])} | "
            f"{_pct(row['base']['if_rate'])} | {_pct(row['tuned']['if_rate'])} | {row['base']['n']} | "
            f"{_drop_ci(row)} |"
        )
    ov = results["overall"]
    lines.append(
        f"| **Overall** | {_pct(ov['base']['icl_accuracy'])} | {_pct(ov['tuned']['icl_accuracy'])} | "
        f"{_signed(ov['drop'])} | {_pct(ov['base']['if_rate'])} | {_pct(ov['tuned']['if_rate'])} | "
        f"{ov['base']['n']} | {_drop_ci(ov)} |"
    )
    return "\n".join(lines)


def render_task_table(results: Mapping[str, Any]) -> str:
    """ICL accuracy per (language, task) for both models: where the drop comes from."""
    tasks: list[str] = []
    for row in results["languages"].values():
        for t in row["base"]["per_task"]:
            if t not in tasks:
                tasks.append(t)
    head = "| Language | " + " | ".join(f"{t} (base → tuned)" for t in tasks) + " |"
    lines = [head, "|---|" + "---:|" * len(tasks)]
    for cond, row in results["languages"].items():
        cells = []
        for t in tasks:
            b = row["base"]["per_task"].get(t, {}).get("icl_accuracy")
            u = row["tuned"]["per_task"].get(t, {}).get("icl_accuracy")
            cells.append(f"{_pct(b)} → {_pct(u)}")
        lines.append(f"| {condition_label(cond)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_report(results: Mapping[str, Any], chart_name: str | None = None) -> str:
    """The whole markdown report (title, models, pair note, tables, settings)."""
    gen = results.get("generation", {})
    pair = results.get("pair") or {}
    parts = [
        "# ICL vs instruction following: base vs fine-tuned",
        "",
        f"- Base: `{_model_name(results, 'base')}`; tuned: `{_model_name(results, 'tuned')}`",
        f"- Decoding: greedy={gen.get('temperature') == 0}, max_new_tokens={gen.get('max_new_tokens')}; "
        f"BOS: base={_ident(results, 'base', 'add_bos')}, tuned={_ident(results, 'tuned', 'add_bos')}; "
        f"dtype: base={_ident(results, 'base', 'dtype')}, tuned={_ident(results, 'tuned', 'dtype')}",
        "- Scoring: prefix match on the raw output (docs/icl-vs-if.md#metric); transformed prompts are scored "
        "against answers in the transform's space",
    ]
    if pair.get("note"):
        flag = "**Warning:** " if pair.get("matched") is False else ""
        parts.append(f"- Pair: {flag}{pair['note']}")
    if not results.get("complete", True):
        parts.append(
            f"- **PARTIAL**: {results.get('samples_done')}/{results.get('samples_expected')} samples"
        )
    parts += [
        "",
        "ICL accuracy and IF rate in %, mean over the 4 tasks; drop = base − tuned, with its "
        "paired 95 % bootstrap interval where recorded.",
        "",
    ]
    parts.append(render_table(results))
    claim = results.get("claim")
    if claim:
        verdict = "smaller" if claim["smaller_outside_english"] else "not smaller"
        parts += [
            "",
            f"Paper's claim (drop smaller outside English): English drop {_signed(claim['english_drop'])} "
            f"vs mean other drop {_signed(claim['mean_other_drop'])} points — {verdict} here.",
        ]
    parts += ["", "## Per task (ICL accuracy %)", "", render_task_table(results)]
    if chart_name:
        parts += ["", f"![ICL accuracy per language]({chart_name})"]
    return "\n".join(parts) + "\n"


def _ident(results: Mapping[str, Any], role: str, key: str) -> Any:
    return ((results.get("models") or {}).get(role) or {}).get(key, "?")


def plot_chart(results: Mapping[str, Any], path: str | Path) -> Path:
    """Grouped bars per language: base vs tuned ICL accuracy (solid) and IF rate (hatched)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conds = list(results["languages"])
    labels = [condition_label(c) for c in conds]
    series = [
        ("Base ICL", "base", "icl_accuracy", "#4C72B0", None),
        ("Tuned ICL", "tuned", "icl_accuracy", "#DD8452", None),
        ("Base IF", "base", "if_rate", "#4C72B0", "//"),
        ("Tuned IF", "tuned", "if_rate", "#DD8452", "//"),
    ]
    width = 0.2
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(conds) + 2), 4.0))
    for k, (label, role, key, color, hatch) in enumerate(series):
        xs = [i + (k - 1.5) * width for i in range(len(conds))]
        ys = [100 * (results["languages"][c][role][key] or 0.0) for c in conds]
        ax.bar(
            xs,
            ys,
            width,
            label=label,
            color=color if hatch is None else "white",
            edgecolor=color,
            hatch=hatch,
        )
    ax.set_xticks(range(len(conds)))
    ax.set_xticklabels(labels, rotation=20, ha="right")
    ax.set_ylabel("% of prompts")
    ax.set_ylim(0, 100)
    ax.set_title(f"{_model_name(results, 'base')} → {_model_name(results, 'tuned')}")
    ax.legend(ncol=4, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.25))
    fig.tight_layout()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(target)
    return target


def write_report(
    results: Mapping[str, Any], md_path: str | Path, png_path: str | Path | None = None
) -> None:
    """Write the markdown report and (if ``png_path``) the chart beside it."""
    chart = None
    if png_path is not None:
        chart = plot_chart(results, png_path).name
    write_text_atomic(md_path, render_report(results, chart))
