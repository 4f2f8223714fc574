"""Independent seeds of ``reproduce`` and the mean and 95 % interval of every number.

A seed changes the model's initialisation, the training and fine-tuning batches and the
evaluation prompts (the discrete pool keeps its own seed, so every seed faces the same
task). Seed ``s`` lives in ``OUT/seed_<s>/``, a complete ``reproduce`` run that resumes on
its own; the top-level ``metrics.json`` and ``report.md`` are recomputed from the seeds'
``metrics.json`` files on every invocation. On a machine with spare cores, seeds run in
parallel processes, each with its share of the threads.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from forgetlab.report.html import write_run_report
from forgetlab.results import provenance, read_json, write_json, write_text_atomic

# Two-sided 97.5 % quantiles of Student's t for 1..30 degrees of freedom.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip

HEADLINE: tuple[str, ...] = (
    "pretrained.continuous_error",
    "pretrained.discrete_error",
    "finetuned.continuous_error",
    "finetuned.discrete_error",
    "bayes.continuous.mixture.error",
    "bayes.discrete.mixture.error",
    "bayes.continuous.ridge.error",
    "bayes.discrete.ridge.error",
    "inference.sharpness.discrete_gap_closed",
    "inference.sharpness.spearman_pretrained",
    "inference.sharpness.median_lambda_g_above_0.9",
    "inference.sharpness.median_lambda_g_below_0.05",
    "inference.sharpness.finetuned_median_lambda_g_below_0.05",
    "implied_weight.pretrained.continuous.mean",
    "implied_weight.finetuned.continuous.mean",
    "yscale_paper.1.5.model.recovered_fraction.value",
    "yscale_paper.1.5.model.recovered_fraction_small_k.value",
    "yscale_paper.1.5.model.recovered_fraction_large_k.value",
    "yscale_paper.1.5.bayes.recovered_fraction.value",
    "yscale_paper.2.model.recovered_fraction.value",
    "yscale_paper.2.model.recovered_fraction_small_k.value",
    "yscale_paper.2.model.recovered_fraction_large_k.value",
    "yscale_paper.2.bayes.recovered_fraction.value",
    "forgetting_by_distance.near_relative_rise",
    "forgetting_by_distance.far_relative_rise",
    "recovered_fraction",
    "conjugate.best_by_transform.rotation.recovered_fraction",
)
"""Numbers shown in the seed table of ``report.md`` (all numbers are in ``aggregate``)."""

SKIP = ("provenance", "definitions", "conjugates")


def t_quantile(df: int) -> float:
    """97.5 % quantile of Student's t with ``df`` degrees of freedom (normal beyond 30)."""
    if df < 1:
        return math.nan
    return _T975[df - 1] if df <= len(_T975) else 1.96


def mean_interval(values: Iterable[float]) -> dict[str, float]:
    """Mean, sample sd and two-sided 95 % t-interval of the finite ``values``."""
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    n = len(xs)
    if n == 0:
        return {"mean": math.nan, "sd": math.nan, "lo": math.nan, "hi": math.nan, "n": 0}
    mean = math.fsum(xs) / n
    if n == 1:
        return {"mean": mean, "sd": math.nan, "lo": math.nan, "hi": math.nan, "n": 1}
    try:
        sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    except OverflowError:  # a degenerate ratio (near-zero denominator) in some seed
        sd = math.inf
    half = t_quantile(n - 1) * sd / math.sqrt(n)
    return {"mean": mean, "sd": sd, "lo": mean - half, "hi": mean + half, "n": n}


def flatten(node: Any, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a metrics tree as ``{"a.b.0.c": value}`` (booleans excluded)."""
    out: dict[str, float] = {}
    if isinstance(node, dict):
        for k, v in node.items():
            if not prefix and k in SKIP:
                continue
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.update(flatten(v, f"{prefix}{i}."))
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        out[prefix[:-1]] = float(node)
    return out


def aggregate(per_seed: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Mean and interval of every number, and how many seeds pass each check."""
    flat = {s: flatten(m) for s, m in per_seed.items()}
    keys = sorted(set().union(*(f.keys() for f in flat.values()))) if flat else []
    agg = {k: mean_interval(f.get(k, math.nan) for f in flat.values()) for k in keys}
    headline = {
        k: {**agg[k], "values": [flat[s].get(k, math.nan) for s in per_seed]}
        for k in HEADLINE
        if k in agg
    }
    names = [n for m in per_seed.values() for n in m.get("checks", {})]
    checks: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(names):
        votes = [m.get("checks", {}).get(name) for m in per_seed.values()]
        ideal = [m.get("checks_bayes_ideal", {}).get(name) for m in per_seed.values()]
        checks[name] = {
            "passed": sum(1 for v in votes if v is True),
            "of": len(votes),
            "bayes_ideal_passed": sum(1 for v in ideal if v is True),
            "bayes_ideal_of": sum(1 for v in ideal if v is not None),
        }
    return {"headline": headline, "checks": checks, "aggregate": agg}


def default_jobs(n_seeds: int, cpu_count: int | None = None) -> int:
    """Parallel seed processes: one per two cores, never more than the seeds."""
    cores = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    return max(1, min(n_seeds, cores // 2))


def _run_one(args: tuple[dict[str, Any], str, str | None, int]) -> str:
    """Worker: one seed's complete, resumable ``reproduce`` in its own process."""
    import torch

    from forgetlab.synthetic.reproduce import ReproduceConfig, reproduce

    data, out, device, threads = args
    torch.set_num_threads(threads)
    reproduce(
        ReproduceConfig.model_validate(data),
        out,
        device=device,
        show_progress=False,
        log=lambda s: None,
    )
    return out


def run_seeds(
    cfg: Any,
    out: str | Path,
    n_seeds: int,
    *,
    jobs: int | None = None,
    device: str | None = None,
    show_progress: bool = True,
    overwrite: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Seeds ``cfg.seed .. cfg.seed + n_seeds - 1`` into ``out/seed_<s>/``, then aggregate.

    ``cfg`` is a :class:`~forgetlab.synthetic.reproduce.ReproduceConfig`.
    """
    from forgetlab.errors import ForgetlabError
    from forgetlab.rundir import RunDir

    if n_seeds < 1:
        raise ForgetlabError(f"--seeds must be >= 1 (got {n_seeds})")
    if jobs is not None and jobs < 1:
        raise ForgetlabError(f"--jobs must be >= 1 (got {jobs})")
    identity = {"config": cfg.model_dump(mode="json"), "seeds": n_seeds}
    with RunDir(out, identity, name="reproduce_seeds_config.json", overwrite=overwrite) as run:
        return _run_claimed(cfg, run.path, n_seeds, identity, jobs, device, show_progress, log)


def _run_claimed(
    cfg: Any,
    out_dir: Path,
    n_seeds: int,
    identity: dict[str, Any],
    jobs: int | None,
    device: str | None,
    show_progress: bool,
    log: Callable[[str], None],
) -> dict[str, Any]:
    from forgetlab.synthetic.reproduce import reproduce

    seeds = [cfg.seed + i for i in range(n_seeds)]
    dirs = {s: out_dir / f"seed_{s}" for s in seeds}
    n_jobs = min(jobs or default_jobs(n_seeds), n_seeds)
    # Finished seeds rerun too: their stages are skipped and their analysis reads its caches.
    todo = seeds
    log(f"[seeds] {n_seeds} seeds, {n_jobs} at a time")
    if n_jobs == 1:
        for s in todo:
            log(f"[seed {s}]")
            reproduce(
                cfg.model_copy(update={"seed": s}),
                dirs[s],
                device=device,
                show_progress=show_progress,
                log=log,
            )
    elif todo:
        threads = max(1, (os.cpu_count() or 1) // n_jobs)
        args = [
            (
                cfg.model_copy(update={"seed": s}).model_dump(mode="json"),
                str(dirs[s]),
                device,
                threads,
            )
            for s in todo
        ]
        with ProcessPoolExecutor(max_workers=n_jobs, mp_context=get_context("spawn")) as pool:
            for done in pool.map(_run_one, args):
                log(f"[seeds] finished {done}")
    per_seed = {s: read_json(dirs[s] / "metrics.json") for s in seeds}
    result = aggregate(per_seed)
    result["seeds"] = seeds
    result["yscale_gammas"] = list(per_seed[seeds[0]].get("yscale_paper", {}))
    result["checks_by_seed"] = result.pop("checks")
    result["checks"] = {
        n: c["passed"] == c["of"] for n, c in result["checks_by_seed"].items()
    }  # a claim holds when it holds for every seed
    result["provenance"] = provenance(
        identity, seed_dirs={str(s): str(d) for s, d in dirs.items()}, jobs=n_jobs
    )
    write_json(out_dir / "metrics.json", result)
    write_text_atomic(out_dir / "report.md", render_seeds_markdown(result))
    write_run_report(out_dir)
    return result


def _fmt(cell: dict[str, Any], digits: int = 3) -> str:
    m, lo, hi = cell["mean"], cell["lo"], cell["hi"]
    if not math.isfinite(m):
        return "n/a"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return f"{m:.{digits}f}"
    return f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _cell(agg: dict[str, Any], key: str, digits: int = 3) -> str:
    return _fmt(agg[key], digits) if key in agg else "n/a"


def _binned_tables(result: dict[str, Any]) -> list[str]:
    """λ-vs-g, Δλ and forgetting by g, and y-scaling per k: mean [interval] across seeds."""
    agg = result["aggregate"]
    n_bins = sum(1 for k in agg if k.startswith("inference.calibration.") and k.endswith(".g_lo"))
    lines: list[str] = []
    if n_bins:
        lines += [
            "",
            "## λ against the Bayes posterior g (pooled λ per g bin)",
            "",
            "| g bin | λ pretrained | λ fine-tuned | Bayes (pretraining α) | Bayes (fine-tuned ideal) |",
            "|---|---|---|---|---|",
        ]
        for b in range(n_bins):
            c = f"inference.calibration.{b}"
            lo, hi = agg[f"{c}.g_lo"]["mean"], agg[f"{c}.g_hi"]["mean"]
            lines.append(
                f"| {lo:g}–{hi:g} | {_cell(agg, f'{c}.pretrained.value')} | "
                f"{_cell(agg, f'{c}.finetuned.value')} | {_cell(agg, f'{c}.bayes_pretrained')} | "
                f"{_cell(agg, f'{c}.bayes_finetuned')} |"
            )
        for title, block, model_key, ideal_key, digits in (
            (
                "Δλ after fine-tuning by g (Fig. 5 analogue)",
                "lambda_shift",
                "model.value",
                "bayes",
                3,
            ),
            ("Forgetting (error rise) by g", "forgetting_by_g", "rise.value", "bayes_rise", 4),
        ):
            lines += [
                "",
                f"## {title}",
                "",
                "| g bin | continuous | Bayes | discrete | Bayes |",
                "|---|---|---|---|---|",
            ]
            for b in range(n_bins):
                lo = agg[f"inference.calibration.{b}.g_lo"]["mean"]
                hi = agg[f"inference.calibration.{b}.g_hi"]["mean"]
                cells = [
                    _cell(agg, f"inference.{block}.{fam}.{b}.{key}", digits)
                    for fam in ("continuous", "discrete")
                    for key in (model_key, ideal_key)
                ]
                lines.append(f"| {lo:g}–{hi:g} | " + " | ".join(cells) + " |")
    gammas = result.get("yscale_gammas", [])
    if gammas:
        n_k = sum(
            1
            for k in agg
            if k.startswith(f"yscale_paper.{gammas[0]}.model.recovered_fraction_per_k.")
            and k.endswith(".value")
        )
        lines += [
            "",
            "## y-scaling (the paper's conjugate), recovered fraction per k",
            "",
            "| k | " + " | ".join(f"γ = {g} | Bayes γ = {g}" for g in gammas) + " |",
            "|---|" + "---|---|" * len(gammas),
        ]
        for k in range(1, n_k + 1):
            cells = []
            for g in gammas:
                base = f"yscale_paper.{g}"
                cells.append(_cell(agg, f"{base}.model.recovered_fraction_per_k.{k}.value", 2))
                cells.append(_cell(agg, f"{base}.bayes.recovered_fraction_per_k.{k}.value", 2))
            if all(c == "n/a" for c in cells):
                continue
            lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return lines


def render_seeds_markdown(result: dict[str, Any]) -> str:
    """Headline numbers as mean [95 % t-interval] over seeds, per-seed values, check counts."""
    seeds = result["seeds"]
    lines = [
        f"# Synthetic lab over {len(seeds)} seeds ({', '.join(map(str, seeds))})",
        "",
        "Mean and two-sided 95 % t-interval across seeds; each seed's full report is in "
        "`seed_<s>/report.md`. Every number of the seeds' metrics is aggregated in "
        "`metrics.json` → `aggregate`.",
        "",
        "| metric | mean [95 % interval] | per seed |",
        "|---|---|---|",
    ]
    for k, cell in result["headline"].items():
        vals = ", ".join("n/a" if not math.isfinite(v) else f"{v:.3f}" for v in cell["values"])
        lines.append(f"| `{k}` | {_fmt(cell)} | {vals} |")
    lines += _binned_tables(result)
    lines += ["", "## Checks (seeds passing)", ""]
    for name, c in result["checks_by_seed"].items():
        mark = "✅" if c["passed"] == c["of"] else ("❌" if c["passed"] == 0 else "➖")
        ideal = (
            f"; Bayes ideal {c['bayes_ideal_passed']}/{c['bayes_ideal_of']}"
            if c["bayes_ideal_of"]
            else ""
        )
        lines.append(f"- {mark} {name.replace('_', ' ')}: {c['passed']}/{c['of']}{ideal}")
    lines += ["", "Seed reports: " + ", ".join(f"[seed {s}](seed_{s}/report.md)" for s in seeds)]
    return "\n".join(lines) + "\n"
