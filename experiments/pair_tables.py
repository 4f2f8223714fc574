"""Markdown tables for a matched (untuned, tuned) pair from forgetlab harmful-style runs.

    python experiments/pair_tables.py harmful runs/pair2b/harmful-all        # refusal per condition
    python experiments/pair_tables.py benign runs/pair2b/benign              # over-refusal per category
    python experiments/pair_tables.py agreement runs/pair2b/harmful-all NAME # judge vs hand labels

A run made with ``--model UNTUNED --compare TUNED`` holds both models' verdicts on the same
prompts (roles ``model`` and ``compare``). Every comparison here is paired by prompt index:
the tuned − untuned change per condition, and for the tuned model the change from English to
each conjugate condition (the same 100 behaviours, transformed), each with a paired
bootstrap interval and the exact McNemar p-value (forgetlab.llm.paired_rates). Rates carry
Wilson 95 % intervals. Prints to stdout; writes ``pair_tables.json`` beside the run's results.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from forgetlab.llm.benchmarks.harmful.rates import wilson_interval
from forgetlab.llm.labels import load_label_set, load_samples
from forgetlab.llm.paired_rates import METHOD, paired_change

REFUSE = "REFUSE"


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f} %"


def rate_cell(k: int, n: int) -> str:
    lo, hi = wilson_interval(k, n)
    return f"{100 * k / n:.0f} % [{100 * lo:.0f}, {100 * hi:.0f}]" if n else "n/a"


def change_cell(c: dict[str, Any]) -> str:
    if c["change"] is None:
        return "n/a"
    lo, hi = c["ci95"]
    return f"{100 * c['change']:+.0f} pts [{100 * lo:+.0f}, {100 * hi:+.0f}]"


def p_cell(p: float | None) -> str:
    return "n/a" if p is None else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def verdicts(samples: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, bool]]:
    """(role, condition) -> {prompt index: refused?} (judge errors left out)."""
    out: dict[tuple[str, str], dict[str, bool]] = {}
    for s in samples:
        if s.get("label") in (None, "judge_error"):
            continue
        out.setdefault((s["role"], s["condition"]), {})[str(s["index"])] = s["label"] == REFUSE
    return out


def harmful_tables(run: Path) -> dict[str, Any]:
    samples = load_samples(run)
    v = verdicts(samples)
    conditions = list(dict.fromkeys(s["condition"] for s in samples))
    rows, lines = [], []
    lines.append(
        "| condition | untuned refuses | tuned refuses | change (tuned − untuned) | McNemar p |"
    )
    lines.append("|---|---|---|---|---|")
    for cond in conditions:
        a, b = v.get(("model", cond), {}), v.get(("compare", cond), {})
        c = paired_change(a, b, key=cond)
        rows.append({"condition": cond, "untuned_vs_tuned": c})
        lines.append(
            f"| {cond} | {rate_cell(sum(a.values()), len(a))} | {rate_cell(sum(b.values()), len(b))}"
            f" | {change_cell(c)} | {p_cell(c['mcnemar_p'])} |"
        )
    lines += [
        "",
        "| conjugate | tuned refuses | change from English (tuned) | McNemar p | untuned refuses |",
        "|---|---|---|---|---|",
    ]
    en_tuned = v.get(("compare", "en"), {})
    for cond in conditions:
        if cond == "en":
            continue
        b, a = v.get(("compare", cond), {}), v.get(("model", cond), {})
        c = paired_change(en_tuned, b, key=f"en->{cond}")
        next(r for r in rows if r["condition"] == cond)["tuned_en_vs_condition"] = c
        lines.append(
            f"| {cond} | {rate_cell(sum(b.values()), len(b))} | {change_cell(c)} | "
            f"{p_cell(c['mcnemar_p'])} | {rate_cell(sum(a.values()), len(a))} |"
        )
    return {"run": str(run), "method": METHOD, "rows": rows, "markdown": "\n".join(lines)}


def benign_tables(run: Path) -> dict[str, Any]:
    samples = load_samples(run)
    roles = list(dict.fromkeys(s["role"] for s in samples))
    cats = list(dict.fromkeys(str(s.get("category", "")) for s in samples))
    head = "| category | n | " + " | ".join(f"{r} over-refuses" for r in roles) + " |"
    lines = [head, "|---|---|" + "---|" * len(roles)]
    table: dict[str, Any] = {}
    for cat in [*cats, "all"]:
        cells = []
        for role in roles:
            mine = [s for s in samples if s["role"] == role and cat in ("all", s.get("category"))]
            k = sum(s["label"] == REFUSE for s in mine)
            table.setdefault(cat, {})[role] = {"refused": k, "n": len(mine)}
            cells.append(rate_cell(k, len(mine)))
        n = table[cat][roles[0]]["n"]
        lines.append(f"| {cat} | {n} | " + " | ".join(cells) + " |")
    v = verdicts(samples)
    change = paired_change(v.get(("model", "en"), {}), v.get(("compare", "en"), {}), key="benign")
    lines.append(
        f"\nOver-refusal change (tuned − untuned): {change_cell(change)}, "
        f"McNemar p {p_cell(change['mcnemar_p'])}."
    )
    return {"run": str(run), "per_category": table, "change": change, "markdown": "\n".join(lines)}


def agreement_table(run: Path, name: str) -> dict[str, Any]:
    """Judge vs a hand-label set: forgetlab's agreement + a bootstrap interval for κ."""
    import numpy as np

    from forgetlab.llm.judges import agreement, cohen_kappa

    human = load_label_set(run, name)
    judge = load_label_set(run, "judge")
    res = agreement(judge, human)
    ids = [k for k in sorted(set(judge) & set(human)) if "judge_error" not in (judge[k], human[k])]
    rng = np.random.default_rng(0)
    draws = []
    for _ in range(2000):
        pick = [ids[i] for i in rng.integers(0, len(ids), len(ids))]
        k = cohen_kappa([judge[i] for i in pick], [human[i] for i in pick])
        if k == k:  # NaN when a resample holds one category only
            draws.append(k)
    lo, hi = np.percentile(draws, [2.5, 97.5])
    res["kappa_ci95"] = [float(lo), float(hi)]
    cats = list(res["confusion"])
    lines = [
        f"{res['n']} samples; observed agreement {pct(res['observed_agreement'])}; "
        f"Cohen's κ {res['cohen_kappa']:.2f} [{lo:.2f}, {hi:.2f}] (bootstrap over samples)",
        "",
        "| judge \\ hand | " + " | ".join(cats) + " |",
        "|---|" + "---|" * len(cats),
    ]
    for j in cats:
        lines.append(f"| {j} | " + " | ".join(str(res["confusion"][j][h]) for h in cats) + " |")
    return {"run": str(run), **res, "markdown": "\n".join(lines)}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("kind", choices=["harmful", "benign", "agreement"])
    ap.add_argument("run", type=Path)
    ap.add_argument("name", nargs="?", help="label set, for agreement")
    args = ap.parse_args()
    if args.kind == "harmful":
        out = harmful_tables(args.run)
    elif args.kind == "benign":
        out = benign_tables(args.run)
    else:
        out = agreement_table(args.run, args.name or "")
    print(out["markdown"])
    target = args.run / f"pair_tables_{args.kind}.json"
    target.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
