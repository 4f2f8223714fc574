"""Forgetting analysis, checked with Bayes predictors standing in for models (closed forms)."""

from __future__ import annotations

import math

import pytest
import torch

from forgetlab.synthetic import bayes
from forgetlab.synthetic.analysis import (
    bayes_references,
    effective_alpha,
    family_summary,
    forgetting_by_distance,
    implied_weight,
    implied_weight_per_prompt,
    nearest_pool_distance,
    per_k_error,
    prediction_distance,
    rank_correlation,
    robust_implied_weight,
    scalar_error,
)
from forgetlab.synthetic.tasks import TaskConfig, TaskSampler

TASK = TaskConfig.model_validate(
    dict(d=4, n_points=10, pool_size=8, alpha=0.5, sigma=0.5, tau=1.0, pool_seed=2)
)


def _batch(family: str, n: int = 600, stream: str = "test", task: TaskConfig = TASK):
    sampler = TaskSampler(task, seed=5, dtype=torch.float64)
    return sampler, sampler.batch(0, n, stream=stream, family=family)  # type: ignore[arg-type]


def _mixture(batch, pool, alpha: float, task: TaskConfig = TASK):
    preds, g = bayes.mixture_predictions(
        batch.xs, batch.ys, pool, alpha=alpha, sigma=task.sigma, tau=task.tau
    )
    return torch.as_tensor(preds, dtype=torch.float64), torch.as_tensor(g, dtype=torch.float64)


@pytest.mark.parametrize("family", ["continuous", "discrete"])
def test_per_prompt_implied_weight_of_mixture_bayes_is_g(family: str) -> None:
    sampler, batch = _batch(family)
    refs = bayes_references(batch.xs, batch.ys, sampler.pool, TASK)
    f, g = _mixture(batch, sampler.pool, 0.3)
    lam = implied_weight_per_prompt(f, refs.ridge, refs.dmmse)
    ok = ~torch.isnan(lam)
    assert ok[:, 1:].float().mean() > 0.99  # only k = 0 ties (both predict 0 when pool mean ~ 0)
    torch.testing.assert_close(lam[ok], g[ok], atol=1e-7, rtol=1e-6)


def test_pooled_implied_weight_endpoints_and_weighted_g() -> None:
    sampler, batch = _batch("continuous")
    refs = bayes_references(batch.xs, batch.ys, sampler.pool, TASK)
    r, m = refs.ridge, refs.dmmse
    torch.testing.assert_close(
        implied_weight(r, r, m)[1:], torch.zeros(TASK.n_points - 1, dtype=torch.float64)
    )
    torch.testing.assert_close(
        implied_weight(m, r, m)[1:], torch.ones(TASK.n_points - 1, dtype=torch.float64)
    )
    f, g = _mixture(batch, sampler.pool, 0.5)
    w = (m - r) ** 2
    expected = (w * g).sum(0) / w.sum(0)
    torch.testing.assert_close(implied_weight(f, r, m)[1:], expected[1:], atol=1e-9, rtol=1e-7)
    # Robust (median) version: equals the median of g over the retained prompts, so in [0, 1].
    rob = robust_implied_weight(f, r, m)[1:]
    assert bool(((rob >= 0) & (rob <= 1)).all())


def test_bayes_references_rebuild_the_mixture_exactly() -> None:
    sampler, batch = _batch("discrete", n=200)
    for alpha in (0.5, 0.9):
        refs = bayes_references(batch.xs, batch.ys, sampler.pool, TASK, alpha=alpha)
        f, g = _mixture(batch, sampler.pool, alpha)
        torch.testing.assert_close(refs.mixture, f, atol=1e-9, rtol=1e-9)
        torch.testing.assert_close(refs.g, g, atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("alpha", [0.05, 0.3, 0.8, 0.97])
def test_effective_alpha_recovers_the_alpha_used(alpha: float) -> None:
    sampler, batch = _batch("continuous", n=300)
    refs = bayes_references(batch.xs, batch.ys, sampler.pool, TASK)
    f, _ = _mixture(batch, sampler.pool, alpha)
    assert effective_alpha(f, refs) == pytest.approx(alpha, rel=1e-4)


def test_effective_alpha_of_pure_posteriors_hits_the_ends() -> None:
    sampler, batch = _batch("continuous", n=300)
    refs = bayes_references(batch.xs, batch.ys, sampler.pool, TASK)
    assert effective_alpha(refs.ridge, refs) < 1e-5
    assert effective_alpha(refs.dmmse, refs) > 1 - 1e-5


def test_errors_and_distances() -> None:
    sampler, batch = _batch("continuous", n=500)
    refs = bayes_references(batch.xs, batch.ys, sampler.pool, TASK)
    # The oracle (noiseless target) has zero error; the zero predictor scores |w|²/d on average.
    assert float(per_k_error(batch.targets, batch).abs().max()) == 0.0
    zero = per_k_error(torch.zeros_like(batch.ys), batch)
    expected = ((batch.xs @ batch.ws[:, :, None]).squeeze(-1) ** 2).mean(0) / TASK.d
    torch.testing.assert_close(zero, expected)
    # Scalar error skips k = 0 only.
    per_k = torch.arange(TASK.n_points, dtype=torch.float64)
    assert scalar_error(per_k) == pytest.approx(float(per_k[1:].mean()))
    # Δ is symmetric, zero on itself, and Δ(ridge, dmmse) matches a direct computation.
    assert float(prediction_distance(refs.ridge, refs.ridge, TASK.d).abs().max()) == 0.0
    direct = ((refs.ridge - refs.dmmse) ** 2).mean(0) / TASK.d
    torch.testing.assert_close(prediction_distance(refs.dmmse, refs.ridge, TASK.d), direct)
    # Bayes ordering on continuous prompts: ridge is optimal, so mixture error >= ridge error.
    s = family_summary(refs.mixture, batch, refs)
    assert s["error"] >= scalar_error(per_k_error(refs.ridge, batch)) - 1e-12
    assert s["distance"]["mixture"] == 0.0


def test_nearest_pool_distance_matches_brute_force() -> None:
    sampler, batch = _batch("mixture", n=64)
    dist = nearest_pool_distance(batch.ws, sampler.pool)
    for i in range(64):
        brute = min(float(torch.linalg.norm(batch.ws[i] - p)) for p in sampler.pool) / math.sqrt(
            TASK.d
        )
        assert float(dist[i]) == pytest.approx(brute, abs=1e-9)
    assert bool((dist[batch.is_discrete] < 1e-9).all())


def test_forgetting_bins_cover_all_prompts_and_find_the_near_rise() -> None:
    gen = torch.Generator().manual_seed(0)
    n = 1003
    dist = torch.rand(n, generator=gen, dtype=torch.float64)
    before = torch.full((n,), 1.0, dtype=torch.float64)
    after = before + 0.5 * (1 - dist)  # constructed: forgetting shrinks with distance
    rows = forgetting_by_distance(dist, {"pretrained": before, "finetuned": after}, n_bins=5)
    assert sum(r["count"] for r in rows) == n
    assert all(rows[i]["hi"] <= rows[i + 1]["lo"] for i in range(len(rows) - 1))
    assert rows[0]["lo"] == float(dist.min()) and rows[-1]["hi"] == float(dist.max())
    total = sum(r["finetuned"] * r["count"] for r in rows) / n
    assert total == pytest.approx(float(after.mean()))
    rises = [r["rise"] for r in rows]
    assert rises == sorted(rises, reverse=True)
    assert rank_correlation(dist, after - before) == pytest.approx(-1.0)
    with pytest.raises(ValueError):
        forgetting_by_distance(dist, {}, n_bins=0)
