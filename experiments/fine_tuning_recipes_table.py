"""The recipe table of docs/fine-tuning-recipes.md, from the committed per-arm results.

Reads ``experiments/results/fine_tuning_recipes/<arm>/seed<S>/<evaluation>/results.json``
(written by ``fine_tuning_recipes.py``; the per-sample files beside them are what those
results summarise) and prints one markdown row per arm: each metric as the mean over seeds
± the half-width of its 95 % t-interval (n = seeds; one seed: no interval), then, in
brackets, the paired 95 % interval over prompts of the first seed (as its evaluation
computed it). A cell without a result says "not yet measured": nothing is filled in.

    python experiments/fine_tuning_recipes_table.py [--results DIR] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments/results/fine_tuning_recipes"
ARMS = ("base", "sft", "nonins-teacher", "nonins-true-half", "meet", "meet-joint")
NAMES = {
    "base": "base (no tuning)",
    "sft": "instruction SFT (pair 1's recipe)",
    "nonins-teacher": "non-instructional (teacher)",
    "nonins-true-half": "non-instructional (true second half)",
    "meet": "MEET two-stage",
    "meet-joint": "MEET joint",
}
# two-sided 95 % t quantiles by degrees of freedom
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}
MISSING = "not yet measured"

Value = tuple[float, list[float] | None]  # (point, paired interval or None)
Metric = Callable[[dict[str, Any]], Value | None]


def load(folder: Path, evaluation: str) -> dict[str, Any] | None:
    path = folder / evaluation / "results.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _change(res: dict[str, Any] | None, level: str) -> Value | None:
    if not res:
        return None
    if res.get("paired"):
        cell = res["paired"][level]
        return cell["change"], cell["ci95"]
    cell = res["per_role"]["model"][level]  # the base arm: its own rate
    return cell["rate"], cell["ci95"]


def if_strict(f: Path) -> Value | None:
    return _change(load(f, "ifeval"), "prompt_strict")


def if_loose(f: Path) -> Value | None:
    return _change(load(f, "ifeval"), "prompt_loose")


def controllability(f: Path) -> Value | None:
    res = load(f, "controllability")
    if not res:
        return None
    cell = next(iter(res["per_role"].values()))
    return cell["controllability"], None


def length_ratio(f: Path) -> Value | None:
    res = load(f, "controllability")
    return (next(iter(res["per_role"].values()))["length_ratio"], None) if res else None


def icl(key: str) -> Callable[[Path], Value | None]:
    def metric(f: Path) -> Value | None:
        res = load(f, "icl-vs-if")
        if not res:
            return None
        langs = res["languages"]
        if key == "drop_en":
            return langs["en"]["drop"], langs["en"].get("drop_ci95")
        if key == "if_shift_en":
            return langs["en"]["tuned"]["if_rate"] - langs["en"]["base"]["if_rate"], None
        if "fr" not in langs:
            return None
        return langs["en"]["drop"] - langs["fr"]["drop"], None

    return metric


def refusal(evaluation: str) -> Callable[[Path], Value | None]:
    def metric(f: Path) -> Value | None:
        res = load(f, evaluation)
        if not res:
            return None
        runs = res["runs"]
        rate = {r: runs[r]["per_condition"]["en"]["rates"]["REFUSE"] for r in ("model", "compare")}
        return rate["compare"] - rate["model"], None

    return metric


def ppl_change(f: Path) -> Value | None:
    res = load(f, "perplexity")
    if not res:
        return None
    p = res["perplexity"]
    return p["tuned"] - p["base"], None


COLUMNS: list[tuple[str, Callable[[Path], Value | None], bool]] = [
    ("IF prompt strict (pts)", if_strict, True),
    ("IF prompt loose (pts)", if_loose, True),
    ("controllability (share in band)", controllability, True),
    ("length ratio detailed/concise", length_ratio, False),
    ("English ICL drop (pts)", icl("drop_en"), True),
    ("IF-rate shift, English (pts)", icl("if_shift_en"), True),
    ("English − French drop (pts)", icl("en_minus_fr"), True),
    ("refusal change, harmful (pts)", refusal("harmful"), True),
    ("refusal change, benign (pts)", refusal("benign"), True),
    ("held-out perplexity change", ppl_change, False),
]


def cell(values: list[Value], percent: bool) -> str:
    if not values:
        return MISSING
    scale = 100.0 if percent else 1.0
    points = [v[0] * scale for v in values if v[0] is not None]
    if not points:
        return MISSING
    mean = statistics.fmean(points)
    text = f"{mean:+.1f}" if percent else f"{mean:.2f}"
    if len(points) > 1:
        half = T95.get(len(points) - 1, 1.96) * statistics.stdev(points) / math.sqrt(len(points))
        text += f" ± {half:.1f}" if percent else f" ± {half:.2f}"
    text += f" (n={len(points)})"
    first = values[0][1]
    if first and None not in first:
        text += f" [{first[0] * scale:+.1f}, {first[1] * scale:+.1f}]"
    return text


def table(results: Path) -> str:
    head = ["recipe", *(c[0] for c in COLUMNS)]
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * len(COLUMNS) + "|"]
    for arm in ARMS:
        seeds = sorted((results / arm).glob("seed*")) if (results / arm).is_dir() else []
        cells = []
        for _, metric, percent in COLUMNS:
            values = [v for s in seeds if (v := metric(s)) is not None]
            cells.append(cell(values, percent))
        lines.append("| " + " | ".join([NAMES[arm], *cells]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--out", type=Path, default=None, help="Also write the table to this file.")
    a = ap.parse_args(argv)
    text = table(a.results)
    print(text)
    if a.out:
        a.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
