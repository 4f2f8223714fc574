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
        policies = f"{d['sides']['forgetlab']['omp_wait_policy']}, {d['sides']['lm-eval']['omp_wait_policy']}"
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


def _range(values: list[float], digits: int = 2) -> str:
    lo, hi = min(values), max(values)
    return (
        f"{lo:.{digits}f}×"
        if f"{lo:.{digits}f}" == f"{hi:.{digits}f}"
        else f"{lo:.{digits}f}–{hi:.{digits}f}×"
    )


def lm_eval_summary(root: Path) -> str:
    """What the lm-eval files show, in sentences whose every number is read from them."""
    runs = [_read(root, name) for name in LM_EVAL_FILES]
    identical = {f"{d['identical']}/{d['n_prompts']}" for d in runs}
    loads = [d["load_average"][0] for d in runs]
    wall_min = [d["ratio_min"] for d in runs]
    met = [name for name, d in zip(LM_EVAL_FILES, runs, strict=True) if d["ratio_min"] >= 2.0]
    lines = [
        f"- Greedy outputs identical: {', '.join(sorted(identical))} in every file.",
        f"- CPU time (minimum over repeats): HFLM took {_range([d['cpu_ratio'] for d in runs])}"
        " forgetlab's.",
        f"- Wall time: HFLM took {_range(wall_min)} forgetlab's by the minimum over "
        f"{len(runs[0]['results']['forgetlab']['times_s'])} repeats and "
        f"{_range([d['ratio_median'] for d in runs])} by the median; 1-minute load average after "
        f"the timed calls {min(loads):.2f}–{max(loads):.2f} on {runs[0]['cpu_count']} cores.",
        "- The ≥ 2× wall-clock goal at identical outputs is "
        + (f"met only in {', '.join(f'`{n}`' for n in met)}." if met else "not met in any file."),
    ]
    for name, d in zip(LM_EVAL_FILES, runs, strict=True):
        if "contended" not in d:
            continue
        c = d["contended"]["median_s"]
        slow = {k: c[k]["contended"] / c[k]["quiet"] for k in ("forgetlab", "lm-eval")}
        lines.append(
            f"- Beside one busy process (`{name}`): forgetlab {slow['forgetlab']:.2f}× slower, HFLM "
            f"{slow['lm-eval']:.2f}× slower, so the ratio HFLM / forgetlab went from "
            f"{d['contended']['ratio_quiet']:.2f}× to {d['contended']['ratio_contended']:.2f}×."
        )
    return "\n".join(lines)


def synthetic_sweep_speed_table(root: Path) -> str:
    """Pretraining speed of the synthetic recipe-sweep candidates (one thread, shared machine)."""
    text = (root / RESULTS / "synthetic_recipe_sweep.jsonl").read_text(encoding="utf-8")
    lines = [
        "| candidate (overrides) | threads | pretraining s | ms/step | fine-tuning s "
        "| load average at the end (1 / 5 / 15 min) |",
        "|---|---|---|---|---|---|",
    ]
    for row in (json.loads(x) for x in text.splitlines() if x.strip()):
        if "pretrain_s" not in row:
            continue
        lines.append(
            f"| `{' '.join(row['set'])}` | {row['threads']} | {row['pretrain_s']:,.0f} "
            f"| {row['ms_per_step']:.0f} | {row['finetune_s']:.0f} | {_load(row['loadavg'])} |"
        )
    return "\n".join(lines)


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    for fn in (
        lm_eval_table,
        lm_eval_contended_table,
        lm_eval_summary,
        synthetic_sweep_speed_table,
    ):
        print(f"<!-- {fn.__name__} -->\n{fn(root)}\n")


if __name__ == "__main__":
    main()
