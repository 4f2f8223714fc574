"""Fine-tuning recipes measured: data -> train -> evaluate for every arm and seed (docs/fine-tuning-recipes.md).

Arms: ``base`` (no training), ``sft`` (instruction SFT, pair 1's recipe,
docs/real-pairs-pair1.md), ``nonins-teacher`` and ``nonins-true-half`` (non-instructional
data, a teacher's continuation or the passage's own second half), ``meet`` (two-stage) and
``meet-joint`` (tokens and model trained together, equal total steps). Each step is a
forgetlab command that resumes by itself; a step whose marker file exists is skipped, so
rerunning the same command continues where it stopped. Every command is appended to
``OUT/commands.log``. The per-sample files and results of each evaluation are copied to
``--results`` (committed), from which ``fine_tuning_recipes_table.py`` builds the table.

    python experiments/fine_tuning_recipes.py --out runs/recipes --seeds 0,1,2
    python experiments/fine_tuning_recipes.py --out /tmp/smoke --model hf:TINY --teacher hf:TINY \\
        --preset smoke --limit 2 --arms base,nonins-true-half   # a smoke run

Held-out perplexity is computed here (no forgetlab command has it): mean token negative
log-likelihood of the same ``--ppl-passages`` licence paragraphs (Debian base-files, never
used in training by these recipes), per passage, for the base and each tuned model.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ARMS = ("base", "sft", "nonins-teacher", "nonins-true-half", "meet", "meet-joint")
ONE_SEED = ("nonins-true-half",)
QUIET = (
    "ifeval",
    "icl-vs-if",
    "controllability",
)  # the commands that take --quiet  # the control needs one seed
PYDOC = "/usr/share/doc/python3.11/html/_sources"
PPL_CORPUS = "/usr/share/common-licenses"


@dataclass
class Settings:
    out: Path
    results: Path
    model: str
    teacher: str
    preset: str
    steps: int
    stage1_steps: int
    limit: int | None
    ppl_passages: int
    dry_run: bool
    control_templates: bool = False
    data_n: dict[str, int] = field(default_factory=dict)


def forgetlab(s: Settings, args: list[str], marker: Path) -> None:
    """Run ``python -m forgetlab ARGS`` unless ``marker`` exists (resumable step)."""
    cmd = [sys.executable, "-m", "forgetlab", *args]
    line = " ".join(cmd[1:])
    if marker.exists():
        print(f"done: {line}")
        return
    print(f"run:  {line}", flush=True)
    if s.dry_run:
        return
    s.out.mkdir(parents=True, exist_ok=True)
    with open(s.out / "commands.log", "a", encoding="utf-8") as log:
        log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n")
    subprocess.run(cmd, check=True, cwd=ROOT)


def limit_args(s: Settings) -> list[str]:
    return ["--limit", str(s.limit)] if s.limit else []


def build_data(s: Settings, arm: str, seed: int) -> Path:
    data = s.out / "data" / f"{arm}-seed{seed}.jsonl"
    if not s.dry_run:
        data.parent.mkdir(parents=True, exist_ok=True)
    n = s.data_n
    if arm == "sft":  # pair 1's data recipe (docs/real-pairs-pair1.md)
        args = [
            "finetune",
            "data",
            "instruct",
            "--out",
            str(data),
            "--n-instructions",
            str(n["instructions"]),
            "--n-passages",
            str(n["passages"]),
            "--corpus",
            PYDOC,
            "--teacher",
            "none",
            "--max-words",
            "40",
            "--seed",
            str(seed),
        ]
    elif arm.startswith("nonins"):
        args = [
            "finetune",
            "data",
            "nonins",
            "--out",
            str(data),
            "--corpus",
            PYDOC,
            "--prose",
            "--n",
            str(n["nonins"]),
            "--max-words",
            "60",
            "--max-new-tokens",
            "64",
            "--seed",
            str(seed),
        ]
        args += ["--true-half"] if arm == "nonins-true-half" else ["--teacher", s.teacher]
    else:  # meet, meet-joint: the same data
        data = s.out / "data" / f"control-seed{seed}.jsonl"
        args = [
            "finetune",
            "data",
            "control",
            "--out",
            str(data),
            "--n",
            str(n["control"]),
            "--format",
            "prompt-completion",
            "--seed",
            str(seed),
        ]
        args += [] if s.control_templates else ["--teacher", s.teacher]
    forgetlab(s, args, data)  # fmt: skip
    return data


def train(s: Settings, arm: str, seed: int, data: Path) -> str:
    run = s.out / arm / f"seed{seed}" / "train"
    common = ["--model", s.model, "--data", str(data), "--lora", "--preset", s.preset,
              "--set", f"train.seed={seed}", "--out", str(run)]  # fmt: skip
    if arm.startswith("meet"):
        stage2 = s.steps - s.stage1_steps
        args = ["finetune", "meet", *common, "--stage1-steps", str(s.stage1_steps),
                "--max-steps", str(stage2)] + (["--joint"] if arm == "meet-joint" else [])  # fmt: skip
        model_dir = run / ("joint" if arm == "meet-joint" else "stage2") / "model"
    else:
        args = ["finetune", "sft", *common, "--max-steps", str(s.steps)]
        model_dir = run / "model"
    forgetlab(s, args, model_dir / "forgetlab_model.json")
    return f"hf:{model_dir}"


def evaluate(s: Settings, arm: str, seed: int, tuned: str, control_eval: Path | None) -> None:
    ev = s.out / arm / f"seed{seed}" / "eval"
    lim = limit_args(s)
    steps = {
        "ifeval": ["llm", "run", "ifeval", "--base", s.model, "--tuned", tuned, *lim],
        "icl-vs-if": ["llm", "run", "icl-vs-if", "--base", s.model, "--tuned", tuned,
                      "--languages", "en,fr", *lim],
        "harmful": ["llm", "run", "harmful", "--model", s.model, "--compare", tuned,
                    "--languages", "en", "--max-new-tokens", "64", *lim],
        "benign": ["llm", "run", "harmful", "--benchmark", "benign", "--model", s.model,
                   "--compare", tuned, "--languages", "en", "--max-new-tokens", "64", *lim],
    }  # fmt: skip
    if control_eval is not None:
        steps["controllability"] = ["llm", "run", "controllability", "--model", tuned,
                                    "--data", str(control_eval), *lim]  # fmt: skip
    for name, args in steps.items():
        out = ev / name
        quiet = ["--quiet"] if name in QUIET else []
        forgetlab(s, [*args, *quiet, "--out", str(out)], out / "results.json")
        keep(s, arm, seed, name, out)
    perplexity(s, arm, seed, tuned)


def keep(s: Settings, arm: str, seed: int, name: str, run: Path) -> None:
    """Copy a finished evaluation's result and per-sample files to the committed results."""
    if s.dry_run or not (run / "results.json").exists():
        return
    dest = s.results / arm / f"seed{seed}" / name
    dest.mkdir(parents=True, exist_ok=True)
    for f in ("results.json", "samples.jsonl", "models.json"):
        if (run / f).exists():
            shutil.copy2(run / f, dest / f)


def perplexity(s: Settings, arm: str, seed: int, tuned: str) -> None:
    """Per-passage token NLL of the base and the tuned model on held-out licence text."""
    dest = s.results / arm / f"seed{seed}" / "perplexity" / "samples.jsonl"
    if dest.exists() or s.dry_run:
        return
    import torch

    from forgetlab.finetune.data.nonins import read_corpus
    from forgetlab.finetune.models import load_model_and_tokenizer, resolve_model_source

    paras = [p for _, p in read_corpus(PPL_CORPUS) if len(p.split()) >= 24][: s.ppl_passages]
    rows: list[dict[str, Any]] = [{"sample": i} for i in range(len(paras))]
    for role, spec in (("base", s.model), ("tuned", tuned)):
        model, tok = load_model_and_tokenizer(resolve_model_source(spec))
        model.eval()
        with torch.no_grad():
            for row, text in zip(rows, paras, strict=True):
                ids = tok(text, return_tensors="pt", truncation=True, max_length=128)["input_ids"]
                row[f"{role}_nll"] = float(model(input_ids=ids, labels=ids).loss)
        del model
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    means = {r: sum(x[f"{r}_nll"] for x in rows) / len(rows) for r in ("base", "tuned")}
    summary = {
        "corpus": PPL_CORPUS,
        "passages": len(rows),
        "max_tokens": 128,
        "mean_nll": means,
        "perplexity": {r: math.exp(v) for r, v in means.items()},
        "models": {"base": s.model, "tuned": tuned},
    }
    (dest.parent / "results.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="Run folder (models, data, runs).")
    ap.add_argument(
        "--results", type=Path, default=ROOT / "experiments/results/fine_tuning_recipes"
    )
    ap.add_argument("--arms", default=",".join(ARMS))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--model", default="packaged:gemma-3-270m")
    ap.add_argument("--teacher", default="packaged:smollm2-135m-instruct")
    ap.add_argument("--preset", default="cpu-real")
    ap.add_argument("--steps", type=int, default=120, help="Training steps of every arm.")
    ap.add_argument("--stage1-steps", type=int, default=40, help="MEET stage 1 (of --steps).")
    ap.add_argument("--limit", type=int, default=None, help="Evaluation prompts (smoke runs).")
    ap.add_argument("--data-scale", type=float, default=1.0, help="Scale every data size.")
    ap.add_argument("--ppl-passages", type=int, default=100)
    ap.add_argument("--dry-run", action="store_true", help="Print the commands only.")
    ap.add_argument(
        "--control-templates",
        action="store_true",
        help="MEET data from the exact templates, not the teacher (no controllability "
        "evaluation: smoke runs with a random teacher).",
    )
    a = ap.parse_args(argv)
    arms = [x for x in a.arms.split(",") if x]
    bad = sorted(set(arms) - set(ARMS))
    if bad or not 0 < a.stage1_steps < a.steps:
        ap.error(f"unknown arm(s) {bad}" if bad else "need 0 < --stage1-steps < --steps")
    scale = {"instructions": 800, "passages": 200, "nonins": 600, "control": 300}
    s = Settings(
        a.out, a.results, a.model, a.teacher, a.preset, a.steps, a.stage1_steps, a.limit,
        a.ppl_passages, a.dry_run, a.control_templates,
        {k: max(2, round(v * a.data_scale)) for k, v in scale.items()},
    )  # fmt: skip
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    seeds = [int(x) for x in a.seeds.split(",") if x]
    for seed in seeds:
        for arm in arms:
            if arm in ONE_SEED and seed != seeds[0]:
                continue
            if arm == "base":  # its paired numbers are the base side of every other arm
                out = s.out / "base" / f"seed{seed}" / "eval" / "ifeval"
                forgetlab(s, ["llm", "run", "ifeval", "--model", s.model, *limit_args(s),
                              "--quiet", "--out", str(out)], out / "results.json")  # fmt: skip
                keep(s, "base", seed, "ifeval", out)
                continue
            data = build_data(s, arm, seed)
            tuned = train(s, arm, seed, data)
            meet = arm.startswith("meet") and not s.control_templates
            control_eval = data.with_name(data.stem + ".eval.jsonl") if meet else None
            evaluate(s, arm, seed, tuned, control_eval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
