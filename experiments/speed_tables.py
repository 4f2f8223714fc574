"""Speed tables of BENCHMARKS.md, from the raw JSON the benchmark scripts wrote.

    python -m experiments.speed_tables     # print every table

Each row names the file it comes from, so a figure in BENCHMARKS.md can be traced to one
committed file under ``experiments/results/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path("experiments/results")
LM_EVAL = RESULTS / "lm_eval_speed"
LM_EVAL_FILES = ("isolated_quiet.json", "isolated_contended.json", "same_process_quiet.json")
"""``experiments/bench_vs_lm_eval.py --json`` outputs, in table order."""


def _read(root: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / LM_EVAL / name).read_text(encoding="utf-8"))
    return data


def _load(values: list[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def lm_eval_table(root: Path) -> str:
    """forgetlab ``complete`` vs lm-eval ``HFLM.generate_until``: wall, CPU, identical outputs."""
    lines = [
        "| file | mode (OpenMP wait policy: forgetlab, lm-eval) | load average after the timed "
        "calls (1 / 5 / 15 min) | forgetlab wall s (min / median) | HFLM wall s (min / median) "
        "| ratio HFLM / forgetlab, wall min / wall median / CPU min | identical outputs |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in LM_EVAL_FILES:
        d = _read(root, name)
        fl, le = d["results"]["forgetlab"], d["results"]["lm-eval"]
        policies = (
            f"{d['sides']['forgetlab']['omp_wait_policy']}, {d['sides']['lm-eval']['omp_wait_policy']}"
        )
        lines.append(
            f"| `{name}` | {d['mode']} ({policies}) | {_load(d['load_average'])} "
            f"| {fl['min_s']:.2f} / {fl['median_s']:.2f} | {le['min_s']:.2f} / {le['median_s']:.2f} "
            f"| {d['ratio_min']:.2f}× / {d['ratio_median']:.2f}× / {d['cpu_ratio']:.2f}× "
            f"| {d['identical']}/{d['n_prompts']} |"
        )
    return "\n".join(lines)


def lm_eval_contended_table(root: Path) -> str:
    """The same comparison quiet and beside one busy process, from the ``--contended`` run."""
    lines = [
        "| file | side | median s, machine as it was | median s, beside one busy process "
        "| slowdown |",
        "|---|---|---|---|---|",
    ]
    for name in LM_EVAL_FILES:
        d = _read(root, name)
        if "contended" not in d:
            continue
        c = d["contended"]
        for side, label in (("forgetlab", "forgetlab"), ("lm-eval", "HFLM")):
            q, b = c["median_s"][side]["quiet"], c["median_s"][side]["contended"]
            lines.append(f"| `{name}` | {label} | {q:.2f} | {b:.2f} | {b / q:.2f}× |")
        lines.append(
            f"| `{name}` | ratio HFLM / forgetlab | {c['ratio_quiet']:.2f}× "
            f"| {c['ratio_contended']:.2f}× | load average after: {_load(c['load_average_after'])} |"
        )
    return "\n".join(lines)


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    for fn in (lm_eval_table, lm_eval_contended_table):
        print(f"<!-- {fn.__name__} -->\n{fn(root)}\n")


if __name__ == "__main__":
    main()
