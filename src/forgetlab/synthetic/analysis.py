"""Forgetting analysis: errors, distances to Bayes references, implied task weights (SPEC §2.2).

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
    diff = m - r
    denom = (diff**2).sum(dim=0)
    num = ((f - r) * diff).sum(dim=0)
    return torch.where(
        denom > 0, num / denom.clamp_min(1e-300), torch.full_like(denom, float("nan"))
    )


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
    diff = m - r
    denom = (diff**2).sum(dim=1)
    num = ((f - r) * diff).sum(dim=1)
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
