"""Recompute the training-independent numbers of a ``synthetic reproduce --seeds N`` run.

    python -m experiments.synthetic_bayes experiments/results/synthetic_cpu10k_3seeds_headline.json \\
        --out experiments/results/synthetic_cpu10k_3seeds_bayes.json

Every Bayes-ideal number of the synthetic study (the exact posterior-mean predictors at the
pretraining α and at the fine-tuned ideal α, under every conjugate), the g bins with their
prompt counts, and the distance bins depend only on the task, the seed and the evaluation
prompts, never on the trained weights. This script reads the run's config from the headline
file's provenance, draws each seed's evaluation prompts, and runs the study's own analysis
(``PairAnalysis.metrics``) with the two models replaced by a constant predictor; it keeps only
the training-independent numbers (the models' numbers of such a pass mean nothing). The docs'
tables check the result against the Bayes numbers the run itself recorded.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import torch

from forgetlab.synthetic.reproduce import PairAnalysis, ReproduceConfig
from forgetlab.synthetic.seeds import flatten

KEEP: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p)
    for p in (
        r"bayes\..*",
        r"conjugate\.bayes_identity\..*",
        r"implied_weight\.bayes\..*",
        r"yscale_paper\.\d+(\.\d+)?\.(gamma|bayes\..*)",
        r"forgetting_by_distance\.bins\.\d+\."
        r"(lo|hi|count|ridge|mixture|bayes_finetuned|bayes_rise|bayes_relative_rise)",
        r"inference\.calibration\.\d+\.(g_lo|g_hi|count|g_mean|bayes_pretrained|bayes_finetuned)",
        r"inference\.lambda_shift\.[a-z]+\.\d+\.(g_lo|g_hi|count|bayes)",
        r"inference\.forgetting_by_g\.[a-z]+\.\d+\."
        r"(g_lo|g_hi|count|bayes_pretrained|bayes_finetuned|bayes_rise)",
    )
)
"""Flattened metric keys that do not depend on the trained models."""

TRAINING = ("train", "finetune")
"""Config sections that cannot change a training-independent number."""


def training_independent(metrics: dict[str, Any]) -> dict[str, Any]:
    """The Bayes-ideal and binning numbers of one seed's metrics."""
    flat = flatten(metrics)
    values = {k: v for k, v in sorted(flat.items()) if any(p.fullmatch(k) for p in KEEP)}
    conjugates = {c["name"]: c["bayes"] for c in metrics.get("conjugates", [])}
    return {
        "values": values,
        "conjugates_bayes": conjugates,
        "checks_bayes_ideal": metrics.get("checks_bayes_ideal", {}),
    }


def _constant(xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    return torch.zeros(ys.shape, dtype=torch.float64)


def seed_metrics(config: dict[str, Any], seed: int, scratch: Path) -> dict[str, Any]:
    """The study's metrics for one seed with both models replaced by a constant predictor."""
    cfg = ReproduceConfig.model_validate(config).model_copy(update={"seed": seed})
    models: dict[str, torch.nn.Module] = {
        "pretrained": torch.nn.Identity(),
        "finetuned": torch.nn.Identity(),
    }
    analysis = PairAnalysis(models, cfg.synthetic(), cfg.analysis, scratch, lambda s: None)
    analysis.predictors = {name: _constant for name in models}
    return analysis.metrics()


def recompute(headline: dict[str, Any]) -> dict[str, Any]:
    """Per seed, the training-independent numbers of the run that wrote ``headline``."""
    config = dict(headline["provenance"]["config"]["config"])
    seeds = [int(s) for s in headline["seeds"]]
    per_seed: dict[str, Any] = {}
    for s in seeds:
        with tempfile.TemporaryDirectory() as tmp:
            per_seed[str(s)] = training_independent(seed_metrics(config, s, Path(tmp)))
    return {
        "what": "training-independent numbers (Bayes ideals, g and distance bins) per seed",
        "made_by": "python -m experiments.synthetic_bayes HEADLINE --out THIS",
        "config_except_training": {k: v for k, v in config.items() if k not in TRAINING},
        "seeds": seeds,
        "per_seed": per_seed,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("headline", type=Path, help="the run's *_headline.json")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    data = recompute(json.loads(args.headline.read_text(encoding="utf-8")))
    args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"{args.out}: seeds {data['seeds']}")


if __name__ == "__main__":
    main()
