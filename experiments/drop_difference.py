"""Is the ICL drop smaller in another condition than in English? A paired interval.

`llm icl-vs-if` gives each condition's drop (base - tuned ICL accuracy) with its own
interval. Comparing two conditions needs the interval of the *difference* of drops.
ICL-vs-IF prompts align index for index across languages and transforms (same draws),
so prompt i of every condition is resampled together: a percentile bootstrap over prompt
indices within each task, both models and both conditions kept together.

    python experiments/drop_difference.py runs/pair1/icl/samples.jsonl --other fr,ls
"""

from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from pathlib import Path

TASKS = ("capslock-math", "repeat-math", "capslock-startblank", "repeat-startblank")


def load_hits(path: Path, limit: int | None) -> dict[tuple[str, str, str], dict[int, bool]]:
    """(condition, model, task) -> {index: icl_hit}."""
    hits: dict[tuple[str, str, str], dict[int, bool]] = defaultdict(dict)
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            if limit is not None and r["index"] >= limit:
                continue
            cond = r.get("condition") or r["language"]
            task = f"{r['icl_task']}-{r['if_task']}"
            hits[(cond, r["model"], task)][r["index"]] = bool(r["icl_hit"])
    return hits


def drop(
    hits: dict[tuple[str, str, str], dict[int, bool]], cond: str, picks: dict[str, list[int]]
) -> float:
    """Mean over tasks of base - tuned ICL accuracy on the picked indices."""
    out = 0.0
    for task in TASKS:
        idx = picks[task]
        base = sum(hits[(cond, "base", task)][i] for i in idx) / len(idx)
        tuned = sum(hits[(cond, "tuned", task)][i] for i in idx) / len(idx)
        out += (base - tuned) / len(TASKS)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("samples", type=Path)
    ap.add_argument("--reference", default="en")
    ap.add_argument("--other", required=True, help="comma-separated conditions")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--resamples", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    hits = load_hits(args.samples, args.limit)
    ref = args.reference
    for other in args.other.split(","):
        common = {
            t: sorted(
                set(hits[(ref, "base", t)])
                & set(hits[(ref, "tuned", t)])
                & set(hits[(other, "base", t)])
                & set(hits[(other, "tuned", t)])
            )
            for t in TASKS
        }
        full = {t: common[t] for t in TASKS}
        point = drop(hits, ref, full) - drop(hits, other, full)
        rng = random.Random(args.seed)
        diffs = []
        for _ in range(args.resamples):
            picks = {t: [rng.choice(common[t]) for _ in common[t]] for t in TASKS}
            diffs.append(drop(hits, ref, picks) - drop(hits, other, picks))
        diffs.sort()
        lo = diffs[int(0.025 * len(diffs))]
        hi = diffs[int(0.975 * len(diffs)) - 1]
        n = sum(len(v) for v in common.values())
        print(
            json.dumps(
                {
                    "reference": ref,
                    "other": other,
                    "prompts_per_model": n,
                    "drop_difference": round(point, 4),
                    "ci95": [round(lo, 4), round(hi, 4)],
                    "method": f"paired percentile bootstrap over prompt indices within each "
                    f"task, {args.resamples} resamples, seed {args.seed}",
                }
            )
        )


if __name__ == "__main__":
    main()
