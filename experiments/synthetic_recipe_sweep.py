"""Recipe sweep for the default synthetic preset: which CPU recipe makes the model infer sharply.

Each candidate is the ``cpu`` preset *as it stands when the candidate runs* plus
``key=value`` overrides (so a queue written for one preset must be rewritten when it changes). It is pretrained,
fine-tuned (the preset's fine-tuning recipe) and scored on the *select* evaluation stream
(never the report stream), and one JSON line per candidate is appended to
``OUT/sweep.jsonl``. Candidates come from ``OUT/queue.jsonl`` (``{"name", "set"}`` per line,
read again after every candidate, so the queue can grow while the sweep runs); a candidate
already in ``sweep.jsonl`` is skipped and training resumes from its checkpoints, so the
driver can be killed and restarted at any time.

Scores (pretrained model unless marked ``ft_``):

* ``gap_closed``: (ridge − model) / (ridge − mixture-Bayes) discrete error.
* ``spearman``: rank correlation of per-prompt λ with the Bayes g, both families pooled.
* ``lam_hi`` / ``lam_lo``: median λ on prompts with g > 0.9 / g < 0.05.
* ``yscale_rf``: recovered fraction of y-scaling (γ) on the fine-tuned model.

Run (one core, in the background)::

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nohup python experiments/synthetic_recipe_sweep.py \
        runs/sweep11 > runs/sweep11/driver.log 2>&1 &
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

from forgetlab.synthetic import analysis as an
from forgetlab.synthetic.conjugate import Conjugate, recovered_fraction
from forgetlab.synthetic.presets import synthetic_config
from forgetlab.synthetic.reproduce import eval_batches, model_predictor
from forgetlab.synthetic.train import finetune, load_run, pretrain

SELECT = "eval_select"
G_BINS = (0.0, 0.05, 0.5, 0.95, 1.0000001)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _binned(values: torch.Tensor, g: torch.Tensor) -> list[float | None]:
    out: list[float | None] = []
    for lo, hi in itertools.pairwise(G_BINS):
        sel = (g >= lo) & (g < hi) & torch.isfinite(values)
        out.append(float(values[sel].median()) if sel.any() else None)
    return out


def score(pt_dir: Path, ft_dir: Path, n_prompts: int) -> dict[str, Any]:
    """Inference-sharpness scores of a pretrained/fine-tuned pair on the select stream."""
    pt, cfg = load_run(pt_dir, device="cpu")
    ft, _ = load_run(ft_dir, device="cpu")
    cfg = cfg.model_copy(update={"eval": cfg.eval.model_copy(update={"n_prompts": n_prompts})})
    pool, batches = eval_batches(cfg, SELECT)
    task = cfg.task.model_copy(update={"tau_range": None, "label_scale_range": None})
    preds = {n: model_predictor(m, 1024) for n, m in (("pt", pt), ("ft", ft))}
    res: dict[str, Any] = {}
    lam: dict[str, list[torch.Tensor]] = {"pt": [], "ft": []}
    gs: list[torch.Tensor] = []
    for fam, b in batches.items():
        refs = an.bayes_references(b.xs, b.ys, pool, task)
        for name, p in preds.items():
            f = p(b.xs, b.ys)
            res[f"{name}_{fam}_error"] = an.scalar_error(an.per_k_error(f, b))
            lam[name].append(an.prompt_implied_weight(f, refs.ridge, refs.dmmse))
        for ref, p in refs.as_dict().items():
            res[f"{ref}_{fam}_error"] = an.scalar_error(an.per_k_error(p, b))
        gs.append(an.prompt_g(refs))
        if fam == "continuous":
            for gamma in (1.5, 2.0):
                e = an.scalar_error(
                    an.per_k_error(Conjugate("yscale", gamma)(preds["ft"], b.xs, b.ys), b)
                )
                res[f"yscale_rf_{gamma:g}"] = recovered_fraction(
                    res["ft_continuous_error"], e, res["pt_continuous_error"]
                )
    g = torch.cat(gs)
    lp, lf = torch.cat(lam["pt"]), torch.cat(lam["ft"])
    ok = torch.isfinite(lp) & torch.isfinite(g)
    res["gap_closed"] = (res["ridge_discrete_error"] - res["pt_discrete_error"]) / (
        res["ridge_discrete_error"] - res["mixture_discrete_error"]
    )
    res["ft_gap_closed"] = (res["ridge_discrete_error"] - res["ft_discrete_error"]) / (
        res["ridge_discrete_error"] - res["mixture_discrete_error"]
    )
    res["spearman"] = an.rank_correlation(g[ok], lp[ok])
    res["ft_spearman"] = an.rank_correlation(g[ok], lf[ok])
    res["lam_hi"] = float(lp[ok & (g > 0.9)].median())
    res["lam_lo"] = float(lp[ok & (g < 0.05)].median())
    res["g_bins"] = list(G_BINS[:-1])
    res["lam_pt_by_g"] = _binned(lp, g)
    res["lam_ft_by_g"] = _binned(lf, g)
    res["dlam_by_g"] = _binned(lf - lp, g)
    return res


def run_one(out: Path, item: dict[str, Any]) -> dict[str, Any]:
    cfg = synthetic_config("cpu", overrides=item.get("set", []))
    run = out / item["name"]
    t0 = time.perf_counter()
    pretrain(cfg, run / "pretrained", show_progress=False)
    t_pt = time.perf_counter() - t0
    finetune(run / "pretrained", run / "finetuned", show_progress=False)
    t_ft = time.perf_counter() - t0 - t_pt
    t1 = time.perf_counter()
    scores = score(run / "pretrained", run / "finetuned", item.get("n_prompts", 2048))
    rows = _read_jsonl(run / "pretrained" / "metrics.jsonl")
    return {
        "name": item["name"],
        "set": item.get("set", []),
        "note": item.get("note", ""),
        "pretrain_s": round(t_pt, 1),
        "finetune_s": round(t_ft, 1),
        "score_s": round(time.perf_counter() - t1, 1),
        "ms_per_step": rows[-1]["ms_per_step"] if rows else None,
        "final_loss": rows[-1]["loss"] if rows else None,
        "threads": torch.get_num_threads(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        **scores,
    }


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    while not (out / "STOP").exists():
        done = {r["name"] for r in _read_jsonl(out / "sweep.jsonl")}
        todo = [q for q in _read_jsonl(out / "queue.jsonl") if q["name"] not in done]
        if not todo:
            time.sleep(30)
            continue
        item = todo[0]
        print(f"{time.strftime('%H:%M:%S')} {item['name']} {item.get('set', [])}", flush=True)
        try:
            row = run_one(out, item)
        except Exception as exc:  # record and move on: one bad candidate must not stop the sweep
            row = {"name": item["name"], "set": item.get("set", []), "error": repr(exc)}
        with (out / "sweep.jsonl").open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/sweep11"))
