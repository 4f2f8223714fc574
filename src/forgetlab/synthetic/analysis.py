"""Forgetting analysis: errors, distances to Bayes references, implied task weights (docs/synthetic-reproduction.md#what-the-numbers-mean).

Everything here works on *predictions* ``[B, K]`` (position ``i`` predicts ``y_i`` from the
first ``i`` examples), so a trained model and a closed-form Bayes predictor are analysed by
the same code. That is also how the module is tested: feed it Bayes predictions whose
answer is known in closed form (a mixture-Bayes "model" has implied weight exactly ``g``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from forgetlab.synthetic.tasks import Batch, TaskConfig, normalised_error

Predictor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``(xs [B, K, d], ys [B, K]) -> predictions [B, K]``: a model or a Bayes reference."""

K_START = 1
"""First prompt length in the scalar errors: ``k = 0`` has no context, every predictor
just reports its prior, so the scalar ``*_error`` is the mean over ``k = 1 .. K-1``."""


def per_k_error(preds: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Mean normalised error at each prompt length ``k`` ``[K]`` (float64)."""
    return normalised_error(preds, batch).mean(dim=0)


def per_prompt_error(preds: torch.Tensor, batch: Batch, k_start: int = K_START) -> torch.Tensor:
    """Each prompt's normalised error averaged over ``k >= k_start`` ``[B]``."""
    return normalised_error(preds, batch)[:, k_start:].mean(dim=1)


def scalar_error(per_k: torch.Tensor, k_start: int = K_START) -> float:
    """The one-number error used throughout reports: mean of ``per_k[k_start:]``."""
    return float(per_k[k_start:].mean())


def prediction_distance(a: torch.Tensor, b: torch.Tensor, d: int) -> torch.Tensor:
    """Δ: mean squared difference of two predictors' outputs divided by ``d``, per ``k`` ``[K]``."""
    return ((a.to(torch.float64) - b.to(torch.float64)) ** 2).mean(dim=0) / d


@dataclass(frozen=True)
class References:
    """Bayes reference predictions on one batch (all ``[B, K]`` float64)."""

    ridge: torch.Tensor
    dmmse: torch.Tensor
    mixture: torch.Tensor
    g: torch.Tensor
    log_odds: torch.Tensor
    """``log p_disc(data) - log p_cont(data)``: with it the mixture for any α is a closed form."""

    def as_dict(self) -> dict[str, torch.Tensor]:
        return {"ridge": self.ridge, "dmmse": self.dmmse, "mixture": self.mixture}


def bayes_references(
    xs: torch.Tensor,
    ys: torch.Tensor,
    pool: torch.Tensor,
    task: TaskConfig,
    *,
    alpha: float | None = None,
) -> References:
    """Ridge, dMMSE and mixture-Bayes (prior ``alpha``, default the task's) predictions."""
    from forgetlab.synthetic import bayes

    a = task.alpha if alpha is None else alpha
    xs64, ys64, pool64 = xs.to(torch.float64), ys.to(torch.float64), pool.to(torch.float64)
    ridge = bayes.ridge_predictions(xs64, ys64, sigma=task.sigma, tau=task.tau)
    dmmse = bayes.dmmse_predictions(xs64, ys64, pool64, sigma=task.sigma)
    log_odds = bayes.family_log_odds(xs64, ys64, pool64, sigma=task.sigma, tau=task.tau)
    g = mixture_g(log_odds, a)
    mixture = ridge + g * (dmmse - ridge)
    return References(
        ridge=ridge,
        dmmse=dmmse,
        mixture=mixture,
        g=g,
        log_odds=log_odds,
    )


def mixture_g(log_odds: torch.Tensor, alpha: float) -> torch.Tensor:
    """Posterior probability of the discrete family at prior ``alpha``."""
    if alpha <= 0.0:
        return torch.zeros_like(log_odds)
    if alpha >= 1.0:
        return torch.ones_like(log_odds)
    return torch.sigmoid(log_odds + math.log(alpha / (1.0 - alpha)))


# --- implied task weights -------------------------------------------------------------


def implied_weight(f: torch.Tensor, r: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Pooled λ̂_k = ⟨f − r, m − r⟩ / ‖m − r‖² over prompts at each ``k`` ``[K]``.

    The least-squares coefficient of the model's offset from ridge on dMMSE's offset:
    0 = behaves like the continuous posterior, 1 = like the discrete one. For a
    mixture-Bayes "model" it equals the ``(m − r)²``-weighted mean of ``g``.
    """
    f, r, m = (t.to(torch.float64) for t in (f, r, m))
    return _projection(f, r, m, dim=0)


def implied_weight_per_prompt(
    f: torch.Tensor, r: torch.Tensor, m: torch.Tensor, *, rel_tol: float = 1e-8
) -> torch.Tensor:
    """Per-prompt λ̂ = (f − r)/(m − r) ``[B, K]``; NaN where ridge and dMMSE (nearly) agree."""
    f, r, m = (t.to(torch.float64) for t in (f, r, m))
    diff = m - r
    scale = diff.abs().amax(dim=0, keepdim=True).clamp_min(1e-300)
    ok = diff.abs() > rel_tol * scale
    return torch.where(ok, (f - r) / torch.where(ok, diff, torch.ones_like(diff)), torch.nan)


def prompt_implied_weight(
    f: torch.Tensor, r: torch.Tensor, m: torch.Tensor, *, k_start: int = K_START
) -> torch.Tensor:
    """Per-prompt λ = ⟨f − r, m − r⟩ / ‖m − r‖² over positions ``k >= k_start`` ``[B]``.

    One number per prompt: how far along ridge → dMMSE the predictor sits on that prompt.
    Pooling over positions keeps the ratio stable where one position has ``m ≈ r``.
    """
    f, r, m = (t.to(torch.float64)[:, k_start:] for t in (f, r, m))
    return _projection(f, r, m, dim=1)


def _projection(f: torch.Tensor, r: torch.Tensor, m: torch.Tensor, *, dim: int) -> torch.Tensor:
    """⟨f − r, m − r⟩ / ‖m − r‖² pooled along ``dim``; NaN where ``m == r`` throughout."""
    diff = m - r
    denom = (diff**2).sum(dim=dim)
    num = ((f - r) * diff).sum(dim=dim)
    return torch.where(
        denom > 0, num / denom.clamp_min(1e-300), torch.full_like(denom, float("nan"))
    )


def prompt_g(
    refs: References, *, alpha: float | None = None, k_start: int = K_START
) -> torch.Tensor:
    """The Bayes posterior g of each prompt on λ's scale ``[B]``.

    The ``(m − r)²``-weighted mean of ``g_k`` over ``k >= k_start``, i.e. exactly
    :func:`prompt_implied_weight` of the mixture-Bayes predictor (prior ``alpha``, default
    the one ``refs`` was built with), so a Bayes-optimal model has λ = g prompt by prompt.
    """
    g = refs.g if alpha is None else mixture_g(refs.log_odds, alpha)
    w = (refs.dmmse - refs.ridge).to(torch.float64)[:, k_start:] ** 2
    denom = w.sum(dim=1)
    num = (g.to(torch.float64)[:, k_start:] * w).sum(dim=1)
    return torch.where(
        denom > 0, num / denom.clamp_min(1e-300), torch.full_like(denom, float("nan"))
    )


def robust_implied_weight(
    f: torch.Tensor, r: torch.Tensor, m: torch.Tensor, *, min_quantile: float = 0.1
) -> torch.Tensor:
    """Median over prompts of the per-prompt λ̂ at each ``k`` ``[K]``.

    Prompts whose ``|m − r|`` is in the lowest ``min_quantile`` at that ``k`` are
    dropped: their ratio is dominated by noise. The median makes the rest robust.
    """
    lam = implied_weight_per_prompt(f, r, m)
    spread = (m.to(torch.float64) - r.to(torch.float64)).abs()
    cutoff = torch.quantile(spread, min_quantile, dim=0, keepdim=True)
    lam = torch.where(spread >= cutoff, lam, torch.nan)
    return torch.nanmedian(lam, dim=0).values


def effective_alpha(
    f: torch.Tensor, refs: References, *, k_start: int = K_START, logit_bound: float = 14.0
) -> float:
    """The α whose mixture-Bayes predictor best matches ``f`` in mean squared difference.

    A grid over logit α finds the basin, golden-section search refines it; the mixture
    for any α is ``r + σ(log-odds + logit α)(m − r)``, so no Bayes code is re-run.
    """
    f64 = f.to(torch.float64)[:, k_start:]
    r = refs.ridge[:, k_start:]
    diff = refs.dmmse[:, k_start:] - r
    lo_odds = refs.log_odds[:, k_start:]
    target = f64 - r

    def loss(theta: float) -> float:
        g = torch.sigmoid(lo_odds + theta)
        return float(((target - g * diff) ** 2).mean())

    grid = torch.linspace(-logit_bound, logit_bound, 113).tolist()
    losses = [loss(t) for t in grid]
    i = min(range(len(grid)), key=losses.__getitem__)
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    invphi = (math.sqrt(5.0) - 1.0) / 2.0
    c, d = b - invphi * (b - a), a + invphi * (b - a)
    fc, fd = loss(c), loss(d)
    for _ in range(60):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - invphi * (b - a)
            fc = loss(c)
        else:
            a, c, fc = c, d, fd
            d = a + invphi * (b - a)
            fd = loss(d)
    theta = (a + b) / 2.0
    return 1.0 / (1.0 + math.exp(-theta))


# --- forgetting against distance to the pool -------------------------------------------


def nearest_pool_distance(ws: torch.Tensor, pool: torch.Tensor) -> torch.Tensor:
    """Distance from each task weight to its nearest pool weight, divided by √d ``[B]``."""
    dist = torch.cdist(
        ws.to(torch.float64), pool.to(torch.float64), compute_mode="donot_use_mm_for_euclid_dist"
    )
    return dist.min(dim=1).values / math.sqrt(ws.shape[-1])


def forgetting_by_distance(
    distance: torch.Tensor,
    errors: dict[str, torch.Tensor],
    *,
    n_bins: int = 5,
    before: str = "pretrained",
    after: str = "finetuned",
) -> list[dict[str, float]]:
    """Mean per-prompt error of each predictor in quantile bins of ``distance``.

    Bins are equal-count, so every prompt lands in exactly one bin and every bin has
    about ``B / n_bins`` prompts. Each row also holds ``rise = after − before`` and the
    relative rise, the quantity that should be largest in the bin nearest the pool.
    """
    if n_bins < 1:
        raise ValueError("n_bins must be >= 1")
    dist = distance.to(torch.float64)
    order = torch.argsort(dist, stable=True)
    chunks = torch.tensor_split(order, n_bins)
    rows: list[dict[str, float]] = []
    for idx in chunks:
        if idx.numel() == 0:
            continue
        row: dict[str, float] = {
            "lo": float(dist[idx].min()),
            "hi": float(dist[idx].max()),
            "count": float(idx.numel()),
        }
        for name, err in errors.items():
            row[name] = float(err.to(torch.float64)[idx].mean())
        if before in errors and after in errors:
            row["rise"] = row[after] - row[before]
            row["relative_rise"] = row["rise"] / row[before] if row[before] > 0 else float("nan")
        rows.append(row)
    return rows


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman rank correlation (ties broken by order; fine for continuous values)."""
    ra = torch.argsort(torch.argsort(a)).to(torch.float64)
    rb = torch.argsort(torch.argsort(b)).to(torch.float64)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = math.sqrt(float((ra**2).sum() * (rb**2).sum()))
    return float((ra * rb).sum()) / denom if denom > 0 else float("nan")


# --- one-shot summary of a model on one family ----------------------------------------


def family_summary(preds: torch.Tensor, batch: Batch, refs: References) -> dict[str, Any]:
    """Per-k errors, Δ to each reference and implied weights of ``preds`` on one batch."""
    d = batch.xs.shape[-1]
    err = per_k_error(preds, batch)
    out: dict[str, Any] = {
        "error_per_k": err.tolist(),
        "error": scalar_error(err),
        "distance_per_k": {
            n: prediction_distance(preds, p, d).tolist() for n, p in refs.as_dict().items()
        },
        "distance": {
            n: scalar_error(prediction_distance(preds, p, d)) for n, p in refs.as_dict().items()
        },
        "implied_weight_per_k": implied_weight(preds, refs.ridge, refs.dmmse).tolist(),
        "implied_weight_robust_per_k": robust_implied_weight(
            preds, refs.ridge, refs.dmmse
        ).tolist(),
    }
    lam = implied_weight(preds, refs.ridge, refs.dmmse)
    out["implied_weight"] = float(torch.nanmean(lam[K_START:]))
    return out


# --- inference diagnostics: λ against the Bayes posterior g ------------------------------

G_EDGES: tuple[float, ...] = (0.0, 0.02, 0.1, 0.3, 0.7, 0.9, 0.98, 1.0)
"""Default bins of the Bayes posterior g: fine at both ends, where most prompts sit."""


def prompt_projection(
    f: torch.Tensor, r: torch.Tensor, m: torch.Tensor, *, k_start: int = K_START
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-prompt ``(⟨f − r, m − r⟩, ‖m − r‖²)`` over ``k >= k_start`` (each ``[B]``).

    Summing numerators and denominators over a set of prompts gives that set's pooled λ,
    which stays stable where single prompts have ``m ≈ r``.
    """
    f, r, m = (t.to(torch.float64)[:, k_start:] for t in (f, r, m))
    diff = m - r
    return ((f - r) * diff).sum(dim=1), (diff**2).sum(dim=1)


def bin_index(values: torch.Tensor, edges: tuple[float, ...] | list[float]) -> torch.Tensor:
    """Bin of each value for ascending ``edges`` (left-closed; the last bin includes its top)."""
    inner = torch.tensor(list(edges[1:-1]), dtype=torch.float64)
    return torch.bucketize(values.to(torch.float64).contiguous(), inner, right=True)


def ratio_interval(
    num: torch.Tensor,
    den: torch.Tensor,
    *,
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, float]:
    """``Σ num / Σ den`` with a percentile bootstrap interval over the rows (prompts).

    With ``den = 1`` this is a mean and its interval. Empty input gives NaNs.
    """
    n = int(num.numel())
    nan = float("nan")
    if n == 0 or not float(den.sum()) > 0:
        return {"value": nan, "lo": nan, "hi": nan, "count": float(n)}
    num, den = num.to(torch.float64), den.to(torch.float64)
    value = float(num.sum() / den.sum())
    if n_boot < 1 or n < 2:
        return {"value": value, "lo": nan, "hi": nan, "count": float(n)}
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, n, (n_boot, n), generator=g)
    boot = num[idx].sum(dim=1) / den[idx].sum(dim=1).clamp_min(1e-300)
    q = torch.quantile(boot, torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64))
    return {"value": value, "lo": float(q[0]), "hi": float(q[1]), "count": float(n)}


def binned_ratio(
    num: torch.Tensor,
    den: torch.Tensor,
    bins: torch.Tensor,
    n_bins: int,
    *,
    n_boot: int = 200,
    seed: int = 0,
) -> list[dict[str, float]]:
    """:func:`ratio_interval` within each bin ``0 .. n_bins-1``."""
    return [
        ratio_interval(num[bins == b], den[bins == b], n_boot=n_boot, seed=seed + b)
        for b in range(n_bins)
    ]


def gap_closed(model_error: float, ridge_error: float, bayes_error: float) -> float:
    """Share of the ridge → mixture-Bayes error gap that a model closes (1 = Bayes)."""
    gap = ridge_error - bayes_error
    return (ridge_error - model_error) / gap if gap > 0 else float("nan")


@dataclass(frozen=True)
class FamilyPredictions:
    """What the diagnostics need on one family's prompts."""

    batch: Batch
    refs: References
    pretrained: torch.Tensor
    finetuned: torch.Tensor


def _spearman_finite(a: torch.Tensor, b: torch.Tensor) -> float:
    ok = torch.isfinite(a) & torch.isfinite(b)
    return rank_correlation(a[ok], b[ok]) if int(ok.sum()) > 2 else float("nan")


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> float:
    return float(values[mask].mean()) if bool(mask.any()) else float("nan")


def _median_where(values: torch.Tensor, mask: torch.Tensor) -> float:
    sel = mask & torch.isfinite(values)
    return float(values[sel].median()) if bool(sel.any()) else float("nan")


def inference_diagnostics(
    fams: dict[str, FamilyPredictions],
    *,
    alpha_finetuned: float,
    edges: tuple[float, ...] | list[float] = G_EDGES,
    n_boot: int = 200,
    seed: int = 0,
    min_count: int = 30,
) -> dict[str, Any]:
    """λ against the Bayes posterior g, before and after fine-tuning, with the Bayes ideals.

    * ``calibration``: pooled λ per g bin (families pooled) of the pretrained and fine-tuned
      model, of the mixture-Bayes predictor at the pretraining α (λ = g by construction)
      and at ``alpha_finetuned`` (the ideal fine-tuned model).
    * ``lambda_shift``: per family and g bin, the change of λ after fine-tuning (model and
      Bayes ideal) — the analogue of the paper's Fig. 5.
    * ``forgetting_by_g``: per family and g bin, the per-prompt error rise (model and ideal).
    * ``sharpness``: Spearman(λ, g), median λ where g > 0.9 / g < 0.05, gap closed.
    * ``claims``: the paper's claims in these terms, for the model and for the ideal.

    g is :func:`prompt_g` at the pretraining α. Bins with fewer than ``min_count`` prompts
    are reported but not used by the claims.
    """
    n_bins = len(edges) - 1
    per: dict[str, dict[str, torch.Tensor]] = {}
    for fam, fp in fams.items():
        r, m = fp.refs.ridge, fp.refs.dmmse
        num_pt, den = prompt_projection(fp.pretrained, r, m)
        num_ft, _ = prompt_projection(fp.finetuned, r, m)
        g = prompt_g(fp.refs)
        g_ft = prompt_g(fp.refs, alpha=alpha_finetuned)
        mix_ft = r + mixture_g(fp.refs.log_odds, alpha_finetuned) * (m - r)
        per[fam] = {
            "g": g,
            "den": den,
            "num_pt": num_pt,
            "num_ft": num_ft,
            "num_bayes_pt": g * den,
            "num_bayes_ft": g_ft * den,
            "err_pt": per_prompt_error(fp.pretrained, fp.batch),
            "err_ft": per_prompt_error(fp.finetuned, fp.batch),
            "err_bayes_pt": per_prompt_error(fp.refs.mixture, fp.batch),
            "err_bayes_ft": per_prompt_error(mix_ft, fp.batch),
        }
    allp = {k: torch.cat([p[k] for p in per.values()]) for k in next(iter(per.values()))}

    def calib(p: dict[str, torch.Tensor]) -> list[dict[str, Any]]:
        bins = bin_index(p["g"], edges)
        cols = {
            name: binned_ratio(p[f"num_{name}"], p["den"], bins, n_bins, n_boot=n_boot, seed=seed)
            for name in ("pt", "ft", "bayes_pt", "bayes_ft")
        }
        rows = []
        for b in range(n_bins):
            sel = bins == b
            rows.append(
                {
                    "g_lo": edges[b],
                    "g_hi": edges[b + 1],
                    "count": int(sel.sum()),
                    "g_mean": float(p["g"][sel].mean()) if bool(sel.any()) else float("nan"),
                    "pretrained": cols["pt"][b],
                    "finetuned": cols["ft"][b],
                    "bayes_pretrained": cols["bayes_pt"][b]["value"],
                    "bayes_finetuned": cols["bayes_ft"][b]["value"],
                }
            )
        return rows

    def shift(p: dict[str, torch.Tensor]) -> list[dict[str, Any]]:
        bins = bin_index(p["g"], edges)
        model = binned_ratio(
            p["num_ft"] - p["num_pt"], p["den"], bins, n_bins, n_boot=n_boot, seed=seed
        )
        ideal = binned_ratio(
            p["num_bayes_ft"] - p["num_bayes_pt"], p["den"], bins, n_bins, n_boot=0
        )
        return [
            {
                "g_lo": edges[b],
                "g_hi": edges[b + 1],
                "count": int(model[b]["count"]),
                "model": model[b],
                "bayes": ideal[b]["value"],
            }
            for b in range(n_bins)
        ]

    def rise(p: dict[str, torch.Tensor]) -> list[dict[str, Any]]:
        bins = bin_index(p["g"], edges)
        one = torch.ones_like(p["g"])
        model = binned_ratio(p["err_ft"] - p["err_pt"], one, bins, n_bins, n_boot=n_boot, seed=seed)
        rows = []
        for b in range(n_bins):
            sel = bins == b
            rows.append(
                {
                    "g_lo": edges[b],
                    "g_hi": edges[b + 1],
                    "count": int(sel.sum()),
                    "pretrained": _masked_mean(p["err_pt"], sel),
                    "finetuned": _masked_mean(p["err_ft"], sel),
                    "rise": model[b],
                    "bayes_pretrained": _masked_mean(p["err_bayes_pt"], sel),
                    "bayes_finetuned": _masked_mean(p["err_bayes_ft"], sel),
                    "bayes_rise": _masked_mean(p["err_bayes_ft"] - p["err_bayes_pt"], sel),
                }
            )
        return rows

    lam_pt = allp["num_pt"] / allp["den"].clamp_min(1e-300)
    lam_ft = allp["num_ft"] / allp["den"].clamp_min(1e-300)
    g = allp["g"]
    sharp: dict[str, Any] = {
        "spearman_pretrained": _spearman_finite(lam_pt, g),
        "spearman_finetuned": _spearman_finite(lam_ft, g),
        "median_lambda_g_above_0.9": _median_where(lam_pt, g > 0.9),
        "median_lambda_g_below_0.05": _median_where(lam_pt, g < 0.05),
        "finetuned_median_lambda_g_below_0.05": _median_where(lam_ft, g < 0.05),
    }
    if "discrete" in fams:
        fp = fams["discrete"]
        errs = {
            n: scalar_error(per_k_error(p, fp.batch))
            for n, p in (
                ("model", fp.pretrained),
                ("ridge", fp.refs.ridge),
                ("bayes", fp.refs.mixture),
            )
        }
        sharp["discrete_gap_closed"] = gap_closed(errs["model"], errs["ridge"], errs["bayes"])
    out: dict[str, Any] = {
        "g_edges": list(edges),
        "g": "Bayes posterior of the discrete family at the pretraining alpha, (m - r)^2-weighted over k >= 1",
        "alpha_finetuned_ideal": alpha_finetuned,
        "sharpness": sharp,
        "calibration": calib(allp),
        "lambda_shift": {fam: shift(p) for fam, p in per.items()},
        "forgetting_by_g": {fam: rise(p) for fam, p in per.items()},
    }
    out["claims"] = {
        "model": _g_claims(out, "model", min_count),
        "bayes": _g_claims(out, "bayes", min_count),
    }
    return out


def _value(cell: Any) -> float:
    return float(cell["value"]) if isinstance(cell, dict) else float(cell)


def _g_claims(diag: dict[str, Any], who: str, min_count: int) -> dict[str, bool | None]:
    """The paper's locality claims in terms of g, for the model or the Bayes ideal.

    ``None`` where too few prompts populate the bins a claim compares.
    """

    def ends(rows: list[dict[str, Any]], key: str) -> tuple[float, float] | None:
        ok = [r for r in rows if r["count"] >= min_count]
        if len(ok) < 2:
            return None
        return _value(ok[0][key]), _value(ok[-1][key])

    shift_key = "model" if who == "model" else "bayes"
    rise_key = "rise" if who == "model" else "bayes_rise"
    claims: dict[str, bool | None] = {}
    sh = diag["lambda_shift"]
    if "discrete" in sh:
        e = ends(sh["discrete"], shift_key)
        # Fig. 5: among discrete prompts, λ rises most on those closest to the continuous family.
        claims["discrete_lambda_rise_largest_at_low_g"] = None if e is None else e[0] > e[1]
    if "continuous" in sh:
        e = ends(sh["continuous"], shift_key)
        claims["continuous_lambda_rise_largest_at_high_g"] = None if e is None else e[1] > e[0]
    fg = diag["forgetting_by_g"].get("continuous")
    if fg is not None:
        e = ends(fg, rise_key)
        claims["continuous_forgetting_largest_at_high_g"] = None if e is None else e[1] > e[0]
    if who == "model":
        s = diag["sharpness"]
        claims["pretrained_lambda_tracks_g"] = bool(
            s["spearman_pretrained"] >= 0.85
            and s["median_lambda_g_above_0.9"] >= 0.7
            and s["median_lambda_g_below_0.05"] <= 0.15
        )
        if "discrete_gap_closed" in s:
            claims["pretrained_closes_80pct_of_discrete_gap"] = bool(
                s["discrete_gap_closed"] >= 0.8
            )
    return claims
