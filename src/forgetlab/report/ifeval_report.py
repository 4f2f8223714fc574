"""Markdown tables for the instruction-following benchmark, read from its ``results.json``.

The headline table has one row per score (prompt/instruction level, strict/loose) and a
column per model with its Wilson 95 % interval, plus the paired change (tuned − base) with
its bootstrap interval for a pair; the report adds the same per instruction type.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from forgetlab.results import write_text_atomic

LEVEL_NAMES = {
    "prompt_strict": "prompt-level strict",
    "prompt_loose": "prompt-level loose",
    "instruction_strict": "instruction-level strict",
    "instruction_loose": "instruction-level loose",
}


def _rate(cell: Mapping[str, Any] | None) -> str:
    if not cell or cell.get("rate") is None:
        return "–"
    lo, hi = cell["ci95"]
    return f"{100 * cell['rate']:.1f} [{100 * lo:.1f}, {100 * hi:.1f}] (n={cell['n']})"


def _change(cell: Mapping[str, Any] | None) -> str:
    if not cell or cell.get("change") is None:
        return "–"
    lo, hi = cell["ci95"]
    return f"{100 * cell['change']:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}] (McNemar p={cell['mcnemar_p']:.3g})"


def _names(results: Mapping[str, Any]) -> dict[str, str]:
    models = results.get("models") or {}
    return {r: str((models.get(r) or {}).get("name") or r) for r in results["roles"]}


def render_table(results: Mapping[str, Any]) -> str:
    """Accuracy (%) per score and model, Wilson 95 %; a pair adds the paired change in points."""
    roles, names = list(results["roles"]), _names(results)
    paired = results.get("paired")
    head = ["score", *(f"{r} % ({names[r]})" for r in roles)]
    if paired:
        head.append("change tuned − base, pts [95% CI]")
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for level, label in LEVEL_NAMES.items():
        cells = [label, *(_rate(results["per_role"][r].get(level)) for r in roles)]
        if paired:
            cells.append(_change(paired.get(level)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_types(results: Mapping[str, Any], side: str = "strict") -> str:
    """Instruction-level accuracy (%) per instruction type (``side``: strict or loose)."""
    roles, names = list(results["roles"]), _names(results)
    paired = results.get("paired")
    head = ["instruction", *(f"{r} % ({names[r]})" for r in roles)]
    if paired:
        head.append("change, pts [95% CI]")
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    types = sorted({t for r in roles for t in results["per_role"][r].get("per_type", {})})
    for t in types:
        cells = [
            f"`{t}`",
            *(_rate(results["per_role"][r]["per_type"].get(t, {}).get(side)) for r in roles),
        ]
        if paired:
            cells.append(_change(paired["per_type"].get(t, {}).get(side)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_markdown(results: Mapping[str, Any]) -> str:
    gen = results.get("generation") or {}
    parts = [
        "# Instruction following (forgetlab ifeval)",
        "",
        f"{results['samples_done']}/{results['samples_expected']} samples; greedy, "
        f"{gen.get('max_new_tokens')} new tokens; prompt format: "
        + ", ".join(f"{r}: {f}" for r, f in results["prompt_format"]["per_role"].items()),
        "",
        render_table(results),
        "",
        f"Scoring: {results['scoring']}.",
        f"Intervals: {results['intervals']}.",
    ]
    pair = results.get("pair")
    if pair:
        parts += ["", f"Pair: {pair['note']}."]
    for side in ("strict", "loose"):
        parts += ["", f"## Per instruction type ({side})", "", render_types(results, side)]
    return "\n".join(parts) + "\n"


def write_report(results: Mapping[str, Any], path: str | Path) -> Path:
    write_text_atomic(path, render_markdown(results))
    return Path(path)
