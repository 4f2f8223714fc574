"""``forgetlab synthetic baselines``: every reference predictor's error at every k.

The normalised error (docs/synthetic-training.md#the-task: squared error against the noiseless ``⟨w, x_q⟩``, over
``d``) of ridge, dMMSE, mixture-Bayes, min-norm least squares, the averaging estimator
and the zero predictor, on prompts of each family — the yardstick a trained model is
read against. Prompts come from :class:`TaskSampler` streams ``eval/<family>`` (never
``"train"``), in batches of ``eval.batch_size`` so memory stays bounded.

The configuration is the synthetic lab's own (:mod:`forgetlab.synthetic.presets`): only
``task``, ``eval`` and ``seed`` are used, so any run's YAML file works here unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from forgetlab.results import atomic_path, provenance, write_json
from forgetlab.rundir import RunDir
from forgetlab.synthetic import bayes
from forgetlab.synthetic.presets import SyntheticConfig
from forgetlab.synthetic.tasks import TaskConfig, TaskSampler, normalised_error

FAMILIES = ("continuous", "discrete", "mixture")
PREDICTORS = ("ridge", "dmmse", "mixture", "ols", "averaging", "zero")
STREAM = "eval"
# σ = 0 makes the Bayes posteriors point masses (bayes.py raises); evaluate them at this
# σ/τ instead, where they agree with their σ → 0 limits to ~1e-8 (docs/bayes.md).
SIGMA_FLOOR_RATIO = 1e-4

Predictor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def bayes_sigma(task: TaskConfig) -> float:
    """The σ the Bayes predictors use: the task's, floored at ``SIGMA_FLOOR_RATIO · τ``."""
    return max(task.sigma, SIGMA_FLOOR_RATIO * task.tau)


def predictors(task: TaskConfig, pool: torch.Tensor) -> dict[str, Predictor]:
    """Every reference predictor as ``(xs, ys) -> preds [B, K]`` (float64)."""
    s, t, a = bayes_sigma(task), task.tau, task.alpha

    def mixture(xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        return bayes.mixture_predictions(xs, ys, pool, alpha=a, sigma=s, tau=t)[0]

    return {
        "ridge": lambda xs, ys: bayes.ridge_predictions(xs, ys, sigma=s, tau=t),
        "dmmse": lambda xs, ys: bayes.dmmse_predictions(xs, ys, pool, sigma=s),
        "mixture": mixture,
        "ols": lambda xs, ys: bayes.ols_predictions(xs, ys),
        "averaging": lambda xs, ys: bayes.averaging_predictions(xs, ys),
        "zero": lambda xs, ys: torch.zeros(ys.shape, dtype=torch.float64),
    }


def relevant_config(cfg: SyntheticConfig) -> dict[str, Any]:
    """The part of a synthetic config that determines the baselines (for provenance)."""
    return {
        "seed": cfg.seed,
        "task": cfg.task.model_dump(mode="json"),
        "eval": cfg.eval.model_dump(mode="json"),
    }


def evaluate_baselines(cfg: SyntheticConfig) -> dict[str, Any]:
    """Mean and standard error of each predictor's normalised error per k, per family."""
    task = cfg.task.model_copy(
        update={"tau_range": None, "label_scale_range": None}
    )  # Bayes references use nominal τ
    sampler = TaskSampler(task, seed=cfg.seed, dtype=torch.float64)
    preds = predictors(task, sampler.pool)
    n, bs, K = cfg.eval.n_prompts, cfg.eval.batch_size, task.n_points
    families: dict[str, Any] = {}
    for fam in FAMILIES:
        total = {p: torch.zeros(K, dtype=torch.float64) for p in PREDICTORS}
        total_sq = {p: torch.zeros(K, dtype=torch.float64) for p in PREDICTORS}
        for step, start in enumerate(range(0, n, bs)):
            batch = sampler.batch(step, min(bs, n - start), stream=f"{STREAM}/{fam}", family=fam)  # type: ignore[arg-type]
            for name, fn in preds.items():
                err = normalised_error(fn(batch.xs, batch.ys), batch)
                total[name] += err.sum(0)
                total_sq[name] += err.square().sum(0)
        out: dict[str, Any] = {}
        for name in PREDICTORS:
            mean = total[name] / n
            var = (total_sq[name] / n - mean.square()).clamp(min=0.0) * n / max(n - 1, 1)
            out[name] = {
                "mean": mean.tolist(),
                "se": (var / n).sqrt().tolist(),
                "mean_over_k": float(mean.mean()),
            }
        families[fam] = out
    return {
        "metric": "normalised error: (prediction - <w, x_q>)^2 / d, mean over prompts, per k",
        "k": list(range(K)),
        "n_prompts": n,
        "stream": f"{STREAM}/<family>",
        "bayes_sigma": bayes_sigma(task),
        "families": families,
    }


def format_table(result: dict[str, Any]) -> str:
    """One block per family: rows k, columns predictors, plus the mean over k."""
    lines: list[str] = []
    head = f"{'k':>4} " + " ".join(f"{p:>10}" for p in PREDICTORS)
    for fam, rows in result["families"].items():
        lines += [f"family: {fam} ({result['n_prompts']} prompts)", head]
        for k in result["k"]:
            lines.append(f"{k:>4} " + " ".join(f"{rows[p]['mean'][k]:>10.4f}" for p in PREDICTORS))
        lines.append(
            f"{'mean':>4} " + " ".join(f"{rows[p]['mean_over_k']:>10.4f}" for p in PREDICTORS)
        )
        lines.append("")
    return "\n".join(lines).rstrip()


def plot(result: dict[str, Any], path: str | Path) -> None:
    """Error vs k (log scale), one panel per family; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fams = list(result["families"])
    fig, axes = plt.subplots(1, len(fams), figsize=(5 * len(fams), 4), sharey=True)
    for ax, fam in zip(axes, fams, strict=True):
        for name in PREDICTORS:
            mean = result["families"][fam][name]["mean"]
            ks = [k for k, v in zip(result["k"], mean, strict=True) if v > 0 and math.isfinite(v)]
            ax.plot(ks, [mean[k] for k in ks], marker=".", label=name)
        ax.set_yscale("log")
        ax.set_title(f"{fam} prompts")
        ax.set_xlabel("k (examples in context)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("normalised error")
    axes[-1].legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def run_baselines(
    cfg: SyntheticConfig, out: str | Path, *, overwrite: bool = False
) -> dict[str, Any]:
    """Evaluate, then write ``baselines.json`` (with provenance) and ``baselines.png`` to ``out``."""
    config = relevant_config(cfg)
    with RunDir(out, config, overwrite=overwrite, name="baselines_config.json") as run:
        result = evaluate_baselines(cfg)
        result["provenance"] = provenance(config)
        write_json(run.path / "baselines.json", result)
        plot(result, run.path / "baselines.png")
    return result
