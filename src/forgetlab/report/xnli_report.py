"""Markdown table for the XNLI base-vs-tuned evaluation, read from its ``results.json``.

Rows are languages; columns the base and tuned accuracy, the drop with its paired 95 %
interval, the number of pairs, and the paper's numbers where there are some. Chance is one
in three (XNLI's labels are balanced).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from forgetlab.llm.benchmarks.schema import XnliResults
from forgetlab.report.llm_report import condition_label
from forgetlab.results import write_text_atomic

NAMES = {"de": "German"}


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def _signed(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:+.1f}"


def _ci(row: Mapping[str, Any]) -> str:
    ci = row.get("drop_ci95")
    return "" if not ci else f" [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]"


def _paper(p: Mapping[str, float] | None) -> str:
    if not p:
        return ""
    return f"{100 * p['base']:.2f} → {100 * p['tuned']:.2f} ({100 * p['drop']:+.2f})"


def language_label(lang: str) -> str:
    return NAMES.get(lang) or condition_label(lang)


def render_table(results: XnliResults) -> str:
    """The per-language table (percent; drop in points with its paired 95 % interval)."""
    models = results.get("models") or {}
    names = {r: (models.get(r) or {}).get("name") or r for r in ("base", "tuned")}
    lines = [
        f"| language | base % ({names['base']}) | tuned % ({names['tuned']}) | drop [95% CI] "
        "| n | paper: base → tuned (drop) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    paper = results.get("paper") or {}
    for lang, row in results["languages"].items():
        lines.append(
            f"| {language_label(lang)} | {_pct(row['base']['accuracy'])} | {_pct(row['tuned']['accuracy'])} "
            f"| {_signed(row['drop'])}{_ci(row)} | {row['base']['n']} | {_paper(paper.get(lang))} |"
        )
    ov = results["overall"]
    lines.append(
        f"| **mean** | {_pct(ov['base']['accuracy'])} | {_pct(ov['tuned']['accuracy'])} "
        f"| {_signed(ov['drop'])}{_ci(ov)} | {ov['base']['n']} | |"
    )
    return "\n".join(lines)


def render_answers(results: XnliResults) -> str:
    """How often each model gave each answer word: a model that always says one word sits at
    the share of that label, which the accuracy alone hides."""
    lines = ["| language | model | answers |", "|---|---|---|"]
    for lang, row in results["languages"].items():
        for role in ("base", "tuned"):
            counts = ", ".join(f"{w} {k}" for w, k in row[role].get("answers", {}).items())
            lines.append(f"| {language_label(lang)} | {role} | {counts} |")
    return "\n".join(lines)


def render_report(results: XnliResults) -> str:
    gen = results.get("generation") or {}
    parts = [
        "# XNLI: base vs tuned",
        "",
        f"Greedy, {gen.get('max_new_tokens')} new tokens, raw prompts. Scoring: "
        f"{results.get('scoring', '')}. Chance is 33.3 %.",
        "",
        render_table(results),
        "",
        f"Interval: {results.get('drop_interval', '')}.",
    ]
    note = (results.get("pair") or {}).get("note")
    if note:
        parts += ["", f"Pair: {note}"]
    parts += ["", "## Answers given", "", render_answers(results), ""]
    return "\n".join(parts)


def write_report(results: XnliResults, md_path: str | Path) -> None:
    write_text_atomic(md_path, render_report(results))
