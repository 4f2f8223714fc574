"""One command from nothing to a forgetting report: ``forgetlab synthetic reproduce``.

Stages (each recorded in ``stages.json`` once finished, so a rerun skips it; training
itself resumes from its own checkpoints if a stage was interrupted):

1. ``pretrain``  -> ``pretrained/`` (mixture of families)
2. ``finetune``  -> ``finetuned/`` (discrete family, docs/synthetic-training.md#the-task)
3. ``evaluate``  -> ``eval/<model>.pt``: predictions on fixed evaluation prompts
4. ``conjugate`` -> ``conjugates.jsonl``: every transform × parameter, both models,
   resumable row by row
5. ``report``    -> ``metrics.json``, ``report.md``, ``fig_*.png`` (always rewritten)

Conjugate parameters are chosen on one evaluation stream (``analysis.select_stream``) and
reported on another (``analysis.report_stream``), so the reported recovery is not
selected on the prompts it is measured on.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from pydantic import Field, model_validator

from forgetlab.config import StrictModel, build_config, deep_merge
from forgetlab.errors import ForgetlabError
from forgetlab.results import JsonlCache, atomic_path, provenance, read_json, write_json
from forgetlab.synthetic.analysis import (
    G_EDGES,
    K_START,
    FamilyPredictions,
    Predictor,
    References,
    bayes_references,
    effective_alpha,
    family_summary,
    forgetting_by_distance,
    implied_weight,
    inference_diagnostics,
    mixture_g,
    nearest_pool_distance,
    per_k_error,
    per_prompt_error,
    rank_correlation,
    robust_implied_weight,
    scalar_error,
)
from forgetlab.synthetic.conjugate import (
    Conjugate,
    conjugate_grid,
    recovered_fraction,
    rotation_ensembles,
)
from forgetlab.synthetic.conjugate_stats import recovery_by_k
from forgetlab.synthetic.presets import PRESETS, SyntheticConfig
from forgetlab.synthetic.tasks import Batch, TaskConfig, TaskSampler, normalised_error

FAMILIES = ("continuous", "discrete")
MODELS = ("pretrained", "finetuned")


class AnalysisConfig(StrictModel):
    """What the analysis measures; evaluation sizes live in ``eval``."""

    select_stream: str = Field(
        default="eval_select", min_length=1, description="stream for choosing parameters"
    )
    report_stream: str = Field(
        default="eval_report", min_length=1, description="stream for reported numbers"
    )
    n_bins: int = Field(default=5, ge=1, description="equal-count bins of distance to the pool")
    yscale: list[float] = Field(
        default=[0.5, 0.75, 1.5, 2.0, 3.0], description="y-scaling factors γ"
    )
    xscale: list[float] = Field(default=[0.5, 0.75, 1.5, 2.0], description="x-scaling factors c")
    rotation: list[int] = Field(default=[1, 2, 4, 8, 16], description="rotation-ensemble sizes M")
    rotation_seed: int = Field(default=0, description="seed of the Haar rotations")
    ideal_finetuned_alpha: float = Field(
        default=0.99,
        gt=0.0,
        lt=1.0,
        description="α of the Bayes 'fine-tuned' ideal (docs/synthetic-reproduction.md#what-the-numbers-mean)",
    )
    paper_yscale: list[float] = Field(
        default=[1.5, 2.0], description="γ of the paper's y-scaling, reported per k with intervals"
    )
    g_edges: list[float] = Field(
        default=list(G_EDGES), description="bins of the Bayes posterior g (ascending, 0 to 1)"
    )
    n_boot: int = Field(default=200, ge=0, description="bootstrap resamples over prompts")

    @model_validator(mode="after")
    def _check_grids(self) -> AnalysisConfig:
        if any(not v > 0 for v in (*self.yscale, *self.xscale)):
            raise ValueError("yscale and xscale factors must be > 0")
        if any(m < 1 for m in self.rotation):
            raise ValueError("rotation ensemble sizes must be >= 1")
        if any(not v > 0 for v in self.paper_yscale):
            raise ValueError("paper_yscale factors must be > 0")
        e = self.g_edges
        if (
            len(e) < 2
            or e[0] != 0.0
            or e[-1] != 1.0
            or any(b <= a for a, b in itertools.pairwise(e))
        ):
            raise ValueError("g_edges must rise strictly from 0 to 1")
        return self


class ReproduceConfig(SyntheticConfig):
    """A synthetic run plus the analysis settings of ``reproduce``."""

    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)

    def synthetic(self) -> SyntheticConfig:
        """The training config alone (what the train module stores and reloads)."""
        return SyntheticConfig.model_validate(self.model_dump(exclude={"analysis"}))


ANALYSIS_PRESETS: dict[str, dict[str, Any]] = {
    "smoke": {"n_bins": 3, "yscale": [2.0], "xscale": [0.5], "rotation": [1, 4]},
}


def reproduce_presets() -> dict[str, dict[str, Any]]:
    return {
        name: deep_merge(p, {"analysis": ANALYSIS_PRESETS.get(name, {})})
        for name, p in PRESETS.items()
    }


def reproduce_config(
    preset: str | None = "cpu", config_file: str | Path | None = None, overrides: Iterable[str] = ()
) -> ReproduceConfig:
    return build_config(ReproduceConfig, reproduce_presets(), preset, config_file, overrides)


# --- stage bookkeeping ------------------------------------------------------------------


class Stages:
    """``stages.json``: which stages finished and how long they took."""

    def __init__(self, out: Path) -> None:
        self.path = out / "stages.json"
        self.done: dict[str, dict[str, Any]] = read_json(self.path) if self.path.exists() else {}

    def run(self, name: str, fn: Callable[[], Any], log: Callable[[str], None]) -> bool:
        """Run ``fn`` unless ``name`` already finished; returns whether it ran."""
        if name in self.done:
            log(f"[{name}] already done ({self.done[name]['seconds']:.0f} s), skipping")
            return False
        log(f"[{name}] ...")
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        self.done[name] = {
            "seconds": round(time.perf_counter() - t0, 2),
            "cpu_seconds": round(time.process_time() - c0, 2),
        }
        write_json(self.path, self.done)
        log(f"[{name}] done in {self.done[name]['seconds']:.0f} s")
        return True


# --- evaluation data --------------------------------------------------------------------


def eval_task(task: TaskConfig) -> TaskConfig:
    """Evaluate at the nominal prior: training-time scale augmentation is switched off."""
    return task.model_copy(update={"tau_range": None, "label_scale_range": None})


def eval_batches(cfg: SyntheticConfig, stream: str) -> tuple[torch.Tensor, dict[str, Batch]]:
    sampler = TaskSampler(eval_task(cfg.task), seed=cfg.seed, dtype=torch.float64)
    n = cfg.eval.n_prompts
    batches = {fam: sampler.batch(0, n, stream=f"{stream}/{fam}", family=fam) for fam in FAMILIES}  # type: ignore[arg-type]
    return sampler.pool, batches


def model_predictor(model: torch.nn.Module, batch_size: int) -> Predictor:
    from forgetlab.synthetic.model import predict

    def f(xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        return predict(model, xs, ys, batch_size=batch_size).detach().cpu().to(torch.float64)

    return f


def bayes_predictor(pool: torch.Tensor, task: TaskConfig, alpha: float) -> Predictor:
    from forgetlab.synthetic import bayes

    def f(xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        preds, _ = bayes.mixture_predictions(
            xs.to(torch.float64),
            ys.to(torch.float64),
            pool,
            alpha=alpha,
            sigma=task.sigma,
            tau=task.tau,
        )
        return torch.as_tensor(preds, dtype=torch.float64)

    return f


# --- the analysis of a pretrained / fine-tuned pair ---------------------------------------


class PairAnalysis:
    """Evaluates a pretrained and a fine-tuned model and sweeps conjugates, with caching."""

    def __init__(
        self,
        models: dict[str, torch.nn.Module],
        cfg: SyntheticConfig,
        acfg: AnalysisConfig,
        out: Path,
        log: Callable[[str], None] = print,
    ) -> None:
        self.models, self.cfg, self.acfg, self.out, self.log = models, cfg, acfg, out, log
        self.task = eval_task(cfg.task)
        self.predictors = {n: model_predictor(m, cfg.eval.batch_size) for n, m in models.items()}
        self.pool, self.report = eval_batches(cfg, acfg.report_stream)
        _, self.select = eval_batches(cfg, acfg.select_stream)
        self.refs: dict[str, References] = {
            fam: bayes_references(b.xs, b.ys, self.pool, self.task)
            for fam, b in self.report.items()
        }

    # predictions on the report stream, cached per model
    def predictions(self, name: str) -> dict[str, torch.Tensor]:
        path = self.out / "eval" / f"{name}.pt"
        if path.exists():
            cached: dict[str, torch.Tensor] = torch.load(path, weights_only=True)
            return cached
        preds = {fam: self.predictors[name](b.xs, b.ys) for fam, b in self.report.items()}
        with atomic_path(path) as tmp:
            torch.save(preds, tmp)
        return preds

    def conjugate_predictions(self, conj: Conjugate) -> dict[str, torch.Tensor]:
        """The fine-tuned model's report-stream predictions under ``conj`` (cached)."""
        path = self.out / "eval" / f"finetuned_{conj.name.replace(':', '_')}.pt"
        if path.exists():
            cached: dict[str, torch.Tensor] = torch.load(path, weights_only=True)
            return cached
        preds = {
            fam: conj(self.predictors["finetuned"], b.xs, b.ys) for fam, b in self.report.items()
        }
        with atomic_path(path) as tmp:
            torch.save(preds, tmp)
        return preds

    def conjugate_rows(self) -> JsonlCache:
        """Per-k errors of every (predictor, conjugate, stream, family); resumable."""
        cache = JsonlCache(self.out / "conjugates.jsonl", key="id")
        grid = [Conjugate("identity"), *self.grid()]
        ideal = {
            "bayes_pretrained": bayes_predictor(self.pool, self.task, self.task.alpha),
            "bayes_finetuned": bayes_predictor(
                self.pool, self.task, self.acfg.ideal_finetuned_alpha
            ),
        }
        jobs: list[tuple[str, Predictor, str, dict[str, Batch], str]] = []
        for name, pred in self.predictors.items():
            jobs.append((name, pred, "select", self.select, "continuous"))
            jobs.extend((name, pred, "report", self.report, fam) for fam in FAMILIES)
        for name, pred in ideal.items():
            jobs.extend((name, pred, "report", self.report, fam) for fam in FAMILIES)
        for name, pred, stream, batches, fam in jobs:
            todo = [c for c in grid if f"{name}|{c.name}|{stream}|{fam}" not in cache]
            if not todo:
                continue
            b = batches[fam]
            outputs: dict[str, torch.Tensor] = {}
            sizes = [int(c.param) for c in todo if c.kind == "rotation"]
            ens = rotation_ensembles(pred, b.xs, b.ys, sizes, self.acfg.rotation_seed)
            for m_size, p in ens.items():
                outputs[Conjugate("rotation", m_size).name] = p
            for c in todo:
                if c.kind != "rotation":
                    outputs[c.name] = c(pred, b.xs, b.ys)
            rows = []
            for c in todo:
                err = per_k_error(outputs[c.name], b)
                key = f"{name}|{c.name}|{stream}|{fam}"
                rows.append({"id": key, "error_per_k": err.tolist(), "error": scalar_error(err)})
            cache.add_many(rows)
            self.log(f"  conjugates: {name} {stream}/{fam} ({len(todo)} transforms)")
        return cache

    def grid(self) -> list[Conjugate]:
        a = self.acfg
        return conjugate_grid(
            {
                "yscale": list(a.yscale),
                "xscale": list(a.xscale),
                "rotation": [float(m) for m in a.rotation],
            },
            seed=a.rotation_seed,
        )

    def metrics(self) -> dict[str, Any]:
        preds = {name: self.predictions(name) for name in self.models}
        cache = self.conjugate_rows()
        m: dict[str, Any] = {}
        for name in self.models:
            m[name] = self._model_block(preds[name])
        m["bayes"] = self._bayes_block()
        conj = self._conjugate_block(cache, m)
        m.update(conj)
        best = Conjugate(
            conj["conjugate"]["best"]["transform"],
            conj["conjugate"]["best"]["param"],
            self.acfg.rotation_seed,
        )
        conj_preds = self.conjugate_predictions(best)
        m["implied_weight"] = self._implied_block(preds, conj_preds, best)
        m["forgetting_by_distance"] = self._distance_block(preds, conj_preds["continuous"])
        m["inference"] = self._inference_block(preds)
        m["yscale_paper"] = self._yscale_block(preds)
        m["checks"], m["checks_undetermined"] = self._checks(m)
        m["checks_bayes_ideal"] = m["inference"]["claims"]["bayes"]
        return m

    def _inference_block(self, preds: dict[str, dict[str, torch.Tensor]]) -> dict[str, Any]:
        fams = {
            fam: FamilyPredictions(
                batch=self.report[fam],
                refs=self.refs[fam],
                pretrained=preds["pretrained"][fam],
                finetuned=preds["finetuned"][fam],
            )
            for fam in FAMILIES
        }
        return inference_diagnostics(
            fams,
            alpha_finetuned=self.acfg.ideal_finetuned_alpha,
            edges=tuple(self.acfg.g_edges),
            n_boot=self.acfg.n_boot,
            seed=self.cfg.seed,
        )

    def _yscale_block(self, preds: dict[str, dict[str, torch.Tensor]]) -> dict[str, Any]:
        """The paper's y-scaling on continuous prompts, per k, model and Bayes ideal."""
        b = self.report["continuous"]
        refs = self.refs["continuous"]
        ideal_ft = bayes_predictor(self.pool, self.task, self.acfg.ideal_finetuned_alpha)
        e_bpt = normalised_error(refs.mixture, b)
        e_bft = normalised_error(ideal_ft(b.xs, b.ys), b)
        e_pt = normalised_error(preds["pretrained"]["continuous"], b)
        e_ft = normalised_error(preds["finetuned"]["continuous"], b)
        out: dict[str, Any] = {}
        for gamma in self.acfg.paper_yscale:
            conj = Conjugate("yscale", gamma)
            e_c = normalised_error(self.conjugate_predictions(conj)["continuous"], b)
            e_bc = normalised_error(conj(ideal_ft, b.xs, b.ys), b)
            out[f"{gamma:g}"] = {
                "gamma": gamma,
                "model": recovery_by_k(
                    e_pt, e_ft, e_c, n_boot=self.acfg.n_boot, seed=self.cfg.seed
                ),
                "bayes": recovery_by_k(e_bpt, e_bft, e_bc, n_boot=0),
            }
        return out

    def _model_block(self, preds: dict[str, torch.Tensor]) -> dict[str, Any]:
        block: dict[str, Any] = {}
        for fam in FAMILIES:
            s = family_summary(preds[fam], self.report[fam], self.refs[fam])
            s["effective_alpha"] = effective_alpha(preds[fam], self.refs[fam])
            block[fam] = s
            block[f"{fam}_error"] = s["error"]
        return block

    def _bayes_block(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for fam in FAMILIES:
            b, r = self.report[fam], self.refs[fam]
            out[fam] = {}
            for name, p in r.as_dict().items():
                err = per_k_error(p, b)
                out[fam][name] = {"error_per_k": err.tolist(), "error": scalar_error(err)}
            out[fam]["g_mean_per_k"] = r.g.mean(0).tolist()
        return out

    def _conjugate_block(self, cache: JsonlCache, m: dict[str, Any]) -> dict[str, Any]:
        def err(name: str, conj: str, stream: str, fam: str) -> float:
            return float(cache.rows[f"{name}|{conj}|{stream}|{fam}"]["error"])

        pt, ft = m["pretrained"]["continuous_error"], m["finetuned"]["continuous_error"]
        pt_sel, ft_sel = (
            err("pretrained", "identity", "select", "continuous"),
            err("finetuned", "identity", "select", "continuous"),
        )
        b_pt = err("bayes_pretrained", "identity", "report", "continuous")
        b_ft = err("bayes_finetuned", "identity", "report", "continuous")
        entries = []
        for conj in self.grid():
            n = conj.name
            e_ft, e_pt = (
                err("finetuned", n, "report", "continuous"),
                err("pretrained", n, "report", "continuous"),
            )
            bf = err("bayes_finetuned", n, "report", "continuous")
            entries.append(
                {
                    "name": n,
                    "transform": conj.kind,
                    "param": conj.param,
                    "select": {
                        "finetuned_continuous_error": err("finetuned", n, "select", "continuous"),
                        "recovered_fraction": recovered_fraction(
                            ft_sel, err("finetuned", n, "select", "continuous"), pt_sel
                        ),
                    },
                    "finetuned_continuous_error": e_ft,
                    "pretrained_continuous_error": e_pt,
                    "finetuned_discrete_error": err("finetuned", n, "report", "discrete"),
                    "pretrained_discrete_error": err("pretrained", n, "report", "discrete"),
                    "finetuned_continuous_error_per_k": cache.rows[
                        f"finetuned|{n}|report|continuous"
                    ]["error_per_k"],
                    "recovered_fraction": recovered_fraction(ft, e_ft, pt),
                    "same_transform_gap": e_ft - e_pt,
                    "gap_removed_same_transform": 1.0 - (e_ft - e_pt) / (ft - pt)
                    if ft > pt
                    else math.nan,
                    "bayes": {
                        "pretrained_continuous_error": err(
                            "bayes_pretrained", n, "report", "continuous"
                        ),
                        "finetuned_continuous_error": bf,
                        "finetuned_discrete_error": err("bayes_finetuned", n, "report", "discrete"),
                        "recovered_fraction": recovered_fraction(b_ft, bf, b_pt),
                    },
                }
            )

        def sel_key(e: dict[str, Any]) -> float:
            return float(e["select"]["finetuned_continuous_error"])

        best = min(entries, key=sel_key)
        by_transform = {}
        for kind in ("yscale", "xscale", "rotation"):
            cands = [e for e in entries if e["transform"] == kind]
            if cands:
                b = min(cands, key=sel_key)
                by_transform[kind] = {
                    k: b[k]
                    for k in (
                        "name",
                        "param",
                        "recovered_fraction",
                        "gap_removed_same_transform",
                        "finetuned_continuous_error",
                    )
                }
        return {
            "conjugate": {
                "best": {
                    "transform": best["transform"],
                    "param": best["param"],
                    "name": best["name"],
                },
                "selected_on": self.acfg.select_stream,
                "continuous_error": best["finetuned_continuous_error"],
                "discrete_error": best["finetuned_discrete_error"],
                "pretrained_same_transform_continuous_error": best["pretrained_continuous_error"],
                "gap_removed_same_transform": best["gap_removed_same_transform"],
                "best_by_transform": by_transform,
                "bayes_identity": {
                    "pretrained_continuous_error": b_pt,
                    "finetuned_continuous_error": b_ft,
                },
            },
            "recovered_fraction": best["recovered_fraction"],
            "conjugates": entries,
        }

    def _implied_block(
        self,
        preds: dict[str, dict[str, torch.Tensor]],
        conj_preds: dict[str, torch.Tensor],
        best: Conjugate,
    ) -> dict[str, Any]:
        def lam(f: torch.Tensor, fam: str) -> dict[str, Any]:
            r = self.refs[fam]
            pooled = implied_weight(f, r.ridge, r.dmmse)
            return {
                "per_k": pooled.tolist(),
                "robust_per_k": robust_implied_weight(f, r.ridge, r.dmmse).tolist(),
                "mean": float(torch.nanmean(pooled[K_START:])),
                "effective_alpha": effective_alpha(f, r),
            }

        out: dict[str, Any] = {}
        for name in self.models:
            out[name] = {fam: lam(preds[name][fam], fam) for fam in FAMILIES}
        out["conjugate"] = {
            "name": best.name,
            **{fam: lam(conj_preds[fam], fam) for fam in FAMILIES},
        }
        out["bayes"] = {
            fam: {
                "pooled_per_k": implied_weight(
                    self.refs[fam].mixture, self.refs[fam].ridge, self.refs[fam].dmmse
                ).tolist(),
                "g_mean_per_k": self.refs[fam].g.mean(0).tolist(),
                "g_median_per_k": self.refs[fam].g.median(0).values.tolist(),
            }
            for fam in FAMILIES
        }
        return out

    def _distance_block(
        self, preds: dict[str, dict[str, torch.Tensor]], conj: torch.Tensor
    ) -> dict[str, Any]:
        b = self.report["continuous"]
        dist = nearest_pool_distance(b.ws, self.pool)
        errors = {name: per_prompt_error(preds[name]["continuous"], b) for name in self.models}
        errors["conjugate"] = per_prompt_error(conj, b)
        errors["ridge"] = per_prompt_error(self.refs["continuous"].ridge, b)
        refs = self.refs["continuous"]
        errors["mixture"] = per_prompt_error(refs.mixture, b)
        # The Bayes analogue of fine-tuning (prior α -> ideal_finetuned_alpha): how much of
        # the distance profile is task confusion and how much is just |w| growing with it.
        g_ft = mixture_g(refs.log_odds, self.acfg.ideal_finetuned_alpha)
        errors["bayes_finetuned"] = per_prompt_error(
            refs.ridge + g_ft * (refs.dmmse - refs.ridge), b
        )
        rows = forgetting_by_distance(dist, errors, n_bins=self.acfg.n_bins)
        for r in rows:
            r["bayes_rise"] = r["bayes_finetuned"] - r["mixture"]
            r["bayes_relative_rise"] = r["bayes_rise"] / r["mixture"]
        rise = errors["finetuned"] - errors["pretrained"]
        return {
            "bins": rows,
            "distance": "min_m ||w - w_m|| / sqrt(d)",
            "rank_correlation_distance_rise": rank_correlation(dist, rise),
            "rank_correlation_distance_relative_rise": rank_correlation(
                dist, rise / errors["pretrained"].clamp_min(1e-12)
            ),
            "near_rise": rows[0]["rise"],
            "far_rise": rows[-1]["rise"],
            "near_relative_rise": rows[0]["relative_rise"],
            "far_relative_rise": rows[-1]["relative_rise"],
        }

    @staticmethod
    def _checks(m: dict[str, Any]) -> tuple[dict[str, bool], list[str]]:
        """The paper's claims as booleans, then our extensions (``ours_`` prefix).

        Returns the checks and the names of claims too few prompts could decide.
        """
        pt, ft = m["pretrained"], m["finetuned"]
        iw = m["implied_weight"]
        rf = m["recovered_fraction"]
        claims = m["inference"]["claims"]["model"]
        checks: dict[str, bool] = {k: bool(v) for k, v in claims.items() if v is not None}
        undetermined = [k for k, v in claims.items() if v is None]
        for key, ys in m["yscale_paper"].items():
            r = ys["model"]
            checks[f"yscale_{key}_recovers_a_positive_fraction"] = bool(
                r["recovered_fraction"]["lo"] > 0
            )
            small, large = r["recovered_fraction_small_k"], r["recovered_fraction_large_k"]
            checks[f"yscale_{key}_recovers_more_at_small_k"] = bool(small["value"] > large["value"])
        return checks | {
            "finetuning_lowers_discrete_error": ft["discrete_error"] < pt["discrete_error"],
            "finetuning_raises_continuous_error": ft["continuous_error"] > pt["continuous_error"],
            "relative_rise_larger_near_pool": m["forgetting_by_distance"]["near_relative_rise"]
            > m["forgetting_by_distance"]["far_relative_rise"],
            "absolute_rise_larger_near_pool": m["forgetting_by_distance"]["near_rise"]
            > m["forgetting_by_distance"]["far_rise"],
            "implied_weight_rises_on_continuous": iw["finetuned"]["continuous"]["mean"]
            > iw["pretrained"]["continuous"]["mean"],
            "ours_best_conjugate_recovers_at_least_0.3": bool(rf == rf and rf >= 0.3),
        }, undetermined


# --- entry points ----------------------------------------------------------------------------


def analyze_pair(
    pretrained_dir: Path,
    finetuned_dir: Path,
    out: Path,
    acfg: AnalysisConfig | None = None,
    *,
    device: str | None = None,
    log: Callable[[str], None] = print,
    extra_provenance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Analyse an existing (pretrained, fine-tuned) pair; writes metrics, figures, report."""
    from forgetlab.report.synthetic_report import write_report
    from forgetlab.synthetic.train import load_run

    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    pt_model, cfg = load_run(pretrained_dir, device=dev)
    ft_model, ft_cfg = load_run(finetuned_dir, device=dev)
    if ft_cfg.task != cfg.task:
        raise ForgetlabError(
            f"{finetuned_dir} and {pretrained_dir} were trained on different tasks"
        )
    acfg = acfg or AnalysisConfig.model_validate({})
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    metrics = PairAnalysis(
        {"pretrained": pt_model, "finetuned": ft_model}, cfg, acfg, out, log
    ).metrics()
    metrics["definitions"] = DEFINITIONS
    metrics["provenance"] = provenance(
        {"synthetic": cfg.model_dump(mode="json"), "analysis": acfg.model_dump(mode="json")},
        pretrained_dir=str(pretrained_dir),
        finetuned_dir=str(finetuned_dir),
        analysis_seconds=round(time.perf_counter() - t0, 2),
        **(extra_provenance or {}),
    )
    write_json(out / "metrics.json", metrics)
    write_report(metrics, out)
    return metrics


def reproduce(
    cfg: ReproduceConfig,
    out: str | Path,
    *,
    device: str | None = None,
    show_progress: bool = True,
    overwrite: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Pretrain -> fine-tune -> evaluate -> conjugate sweep -> report (resumable)."""
    from forgetlab.rundir import RunDir

    config = cfg.model_dump(mode="json")
    with RunDir(out, config, name="reproduce_config.json", overwrite=overwrite) as run:
        return _reproduce_in(run.path, cfg, device=device, show_progress=show_progress, log=log)


def _reproduce_in(
    out_dir: Path,
    cfg: ReproduceConfig,
    *,
    device: str | None,
    show_progress: bool,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """The stages of :func:`reproduce`, inside its claimed and locked directory."""
    from forgetlab.report.html import write_run_report
    from forgetlab.synthetic.train import finetune, pretrain

    stages = Stages(out_dir)
    syn = cfg.synthetic()
    t0, c0 = time.perf_counter(), time.process_time()
    stages.run(
        "pretrain",
        lambda: pretrain(syn, out_dir / "pretrained", device=device, show_progress=show_progress),
        log,
    )
    stages.run(
        "finetune",
        lambda: finetune(
            out_dir / "pretrained",
            out_dir / "finetuned",
            device=device,
            show_progress=show_progress,
        ),
        log,
    )
    # Cheap with its caches, so it always runs: metrics, report and figures are rewritten.
    m = analyze_pair(
        out_dir / "pretrained",
        out_dir / "finetuned",
        out_dir,
        cfg.analysis,
        device=device,
        log=log,
        extra_provenance={"stages": stages.done},
    )
    m["provenance"]["this_invocation_seconds"] = round(time.perf_counter() - t0, 2)
    # CPU time too: on a shared machine wall time says little about the work done.
    m["provenance"]["this_invocation_cpu_seconds"] = round(time.process_time() - c0, 2)
    write_json(out_dir / "metrics.json", m)
    write_run_report(out_dir)
    return m


DEFINITIONS: dict[str, str] = {
    "error": "normalised error |pred - <w, x_q>|^2 / d against the noiseless target (docs/synthetic-training.md#the-task)",
    "continuous_error": f"mean over k = {K_START}..K-1 of the per-k normalised error on continuous-family prompts (report stream)",
    "discrete_error": f"same on discrete-family prompts (k = {K_START}..K-1)",
    "implied_weight": "pooled lambda_k = <f - r, m - r> / ||m - r||^2 (f model, r ridge, m dMMSE); 'mean' averages k >= 1",
    "effective_alpha": "alpha whose mixture-Bayes predictor is closest (MSE) to the model's predictions",
    "recovered_fraction": "(finetuned - conjugate) / (finetuned - pretrained) continuous_error, conjugate applied to the fine-tuned model only",
    "gap_removed_same_transform": "1 - (finetuned_T - pretrained_T) / (finetuned - pretrained): the gap with both models under the same transform",
    "forgetting_by_distance": "continuous prompts in equal-count bins of min_m ||w - w_m|| / sqrt(d); per-prompt error averaged over k >= 1",
    "conjugate.best": "the transform x parameter with the lowest fine-tuned continuous error on the select stream",
}
