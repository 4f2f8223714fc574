"""Exact Bayes predictors (docs/bayes.md#setting-and-formulas) against brute-force references and closed forms."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.distributions import MultivariateNormal, Normal

from forgetlab.synthetic import bayes
from forgetlab.synthetic.tasks import TaskConfig, TaskSampler

F64 = torch.float64


def rand_prompts(
    B: int, K: int, d: int, sigma: float, seed: int, pool: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random inputs; labels from a pool member when ``pool`` is given, else from N(0, I)."""
    g = torch.Generator().manual_seed(seed)
    xs = torch.randn(B, K, d, generator=g, dtype=F64)
    if pool is None:
        w = torch.randn(B, d, generator=g, dtype=F64)
    else:
        w = pool[torch.randint(0, len(pool), (B,), generator=g)]
    ys = torch.einsum("bkd,bd->bk", xs, w) + sigma * torch.randn(B, K, generator=g, dtype=F64)
    return xs, ys, w


def brute_ridge(
    xs: torch.Tensor, ys: torch.Tensor, sigma: float, tau: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-prefix loop: μ by a direct solve, evidence by MultivariateNormal and by the closed form."""
    B, K, d = xs.shape
    mu = torch.zeros(B, K + 1, d, dtype=F64)
    ev_mvn = torch.zeros(B, K + 1, dtype=F64)
    ev_spec = torch.zeros(B, K + 1, dtype=F64)
    for b in range(B):
        for k in range(K + 1):
            X, y = xs[b, :k], ys[b, :k]
            A = X.T @ X / sigma**2 + torch.eye(d, dtype=F64) / tau**2
            m = torch.linalg.solve(A, X.T @ y / sigma**2)
            mu[b, k] = m
            ev_spec[b, k] = -0.5 * (y @ y / sigma**2 - m @ A @ m) - 0.5 * (
                k * math.log(2 * math.pi * sigma**2) + d * math.log(tau**2) + torch.logdet(A)
            )
            if k:
                cov = sigma**2 * torch.eye(k, dtype=F64) + tau**2 * X @ X.T
                ev_mvn[b, k] = MultivariateNormal(torch.zeros(k, dtype=F64), cov).log_prob(y)
    return mu, ev_mvn, ev_spec


def brute_dmmse(
    xs: torch.Tensor, ys: torch.Tensor, pool: torch.Tensor, sigma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Explicit Bayes' rule with products of Gaussian likelihoods: (ŵ [B,K+1,d], log evidence)."""
    B, K, d = xs.shape
    w = torch.zeros(B, K + 1, d, dtype=F64)
    ev = torch.zeros(B, K + 1, dtype=F64)
    for b in range(B):
        for k in range(K + 1):
            lik = torch.ones(len(pool), dtype=F64)
            for i in range(k):
                lik = lik * Normal(pool @ xs[b, i], sigma).log_prob(ys[b, i]).exp()
            post = lik / lik.sum()
            w[b, k] = post @ pool
            ev[b, k] = torch.log(lik.mean())
    return w, ev


RIDGE_CASES = [  # (B, K, d, sigma, tau)
    (3, 6, 4, 0.5, 1.0),
    (2, 5, 1, 0.3, 2.0),  # d = 1
    (4, 1, 3, 1.0, 0.7),  # K = 1
    (2, 7, 3, 1e-3, 1.0),  # sigma small
]


@pytest.mark.parametrize(("B", "K", "d", "sigma", "tau"), RIDGE_CASES)
def test_ridge_and_continuous_evidence_match_brute_force(
    B: int, K: int, d: int, sigma: float, tau: float
) -> None:
    xs, ys, _ = rand_prompts(B, K, d, sigma, seed=K * 10 + d)
    mu_ref, ev_mvn, ev_spec = brute_ridge(xs, ys, sigma, tau)
    mu = bayes.ridge_weights(xs, ys, sigma=sigma, tau=tau, full=True)
    ev = bayes.continuous_log_evidence(xs, ys, sigma=sigma, tau=tau, full=True)
    assert mu.dtype == ev.dtype == F64 and mu.shape == (B, K + 1, d) and ev.shape == (B, K + 1)
    torch.testing.assert_close(mu, mu_ref, rtol=1e-8, atol=1e-9)
    torch.testing.assert_close(ev, ev_mvn, rtol=1e-8, atol=1e-7)
    torch.testing.assert_close(ev, ev_spec, rtol=1e-8, atol=1e-7)  # the closed form too
    torch.testing.assert_close(
        bayes.continuous_log_evidence(xs, ys, sigma=sigma, tau=tau), ev[:, :K]
    )
    preds = bayes.ridge_predictions(xs, ys, sigma=sigma, tau=tau)
    torch.testing.assert_close(preds, (mu_ref[:, :K] * xs).sum(2), rtol=1e-8, atol=1e-9)


DMMSE_CASES = [  # (B, K, d, N, sigma, labels from the pool?)
    (3, 6, 4, 5, 0.7, False),
    (2, 5, 1, 3, 0.5, False),  # d = 1
    (3, 1, 3, 4, 1.0, False),  # K = 1
    (3, 5, 3, 1, 0.5, False),  # N = 1
    (2, 6, 3, 6, 0.02, True),  # sigma small (labels from the pool so products stay finite)
]


@pytest.mark.parametrize(("B", "K", "d", "N", "sigma", "from_pool"), DMMSE_CASES)
def test_dmmse_and_discrete_evidence_match_bayes_rule(
    B: int, K: int, d: int, N: int, sigma: float, from_pool: bool
) -> None:
    pool = torch.randn(N, d, generator=torch.Generator().manual_seed(N), dtype=F64)
    xs, ys, _ = rand_prompts(B, K, d, sigma, seed=7 * K + N, pool=pool if from_pool else None)
    w_ref, ev_ref = brute_dmmse(xs, ys, pool, sigma)
    assert torch.isfinite(ev_ref).all()
    w = bayes.dmmse_weights(xs, ys, pool, sigma=sigma, full=True)
    ev = bayes.discrete_log_evidence(xs, ys, pool, sigma=sigma, full=True)
    torch.testing.assert_close(w, w_ref, rtol=1e-8, atol=1e-9)
    torch.testing.assert_close(ev, ev_ref, rtol=1e-9, atol=1e-8)
    preds = bayes.dmmse_predictions(xs, ys, pool, sigma=sigma)
    torch.testing.assert_close(preds, (w_ref[:, :K] * xs).sum(2), rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("alpha", [0.5, 0.1, 0.97])
def test_mixture_matches_bayes_rule_over_families(alpha: float) -> None:
    sigma, tau, d, K = 0.6, 1.2, 3, 6
    pool = tau * torch.randn(5, d, generator=torch.Generator().manual_seed(1), dtype=F64)
    xs, ys, _ = rand_prompts(4, K, d, sigma, seed=2)
    mu, ev_c, _ = brute_ridge(xs, ys, sigma, tau)
    wd, ev_d = brute_dmmse(xs, ys, pool, sigma)
    num = alpha * ev_d.exp()
    g_ref = num / (num + (1 - alpha) * ev_c.exp())  # P(discrete | data), explicit
    w_ref = g_ref[..., None] * wd + (1 - g_ref[..., None]) * mu
    preds, g = bayes.mixture_predictions(xs, ys, pool, alpha=alpha, sigma=sigma, tau=tau)
    torch.testing.assert_close(g, g_ref[:, :K], rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(preds, (w_ref[:, :K] * xs).sum(2), rtol=1e-8, atol=1e-9)
    w = bayes.mixture_weights(xs, ys, pool, alpha=alpha, sigma=sigma, tau=tau, full=True)
    torch.testing.assert_close(w, w_ref, rtol=1e-8, atol=1e-9)
    gf = bayes.discrete_posterior(xs, ys, pool, alpha=alpha, sigma=sigma, tau=tau, full=True)
    torch.testing.assert_close(gf, g_ref, rtol=1e-9, atol=1e-10)
    lo = bayes.family_log_odds(xs, ys, pool, sigma=sigma, tau=tau, full=True)
    torch.testing.assert_close(lo, ev_d - ev_c, rtol=1e-9, atol=1e-8)


def test_prefix_zero_identities() -> None:
    """k = 0: dMMSE = pool mean, ridge = 0, g = α, both evidences 0."""
    pool = torch.randn(7, 4, generator=torch.Generator().manual_seed(3), dtype=F64)
    xs, ys, _ = rand_prompts(5, 3, 4, 0.5, seed=4)
    dm = bayes.dmmse_predictions(xs, ys, pool, sigma=0.5)
    torch.testing.assert_close(dm[:, 0], xs[:, 0] @ pool.mean(0))
    torch.testing.assert_close(
        bayes.dmmse_weights(xs, ys, pool, sigma=0.5)[:, 0], pool.mean(0).expand(5, 4)
    )
    assert torch.equal(
        bayes.ridge_predictions(xs, ys, sigma=0.5, tau=1.0)[:, 0], torch.zeros(5, dtype=F64)
    )
    for alpha in (0.0, 0.3, 1.0):
        _, g = bayes.mixture_predictions(xs, ys, pool, alpha=alpha, sigma=0.5, tau=1.0)
        torch.testing.assert_close(g[:, 0], torch.full((5,), alpha, dtype=F64))
    assert torch.equal(
        bayes.continuous_log_evidence(xs, ys, sigma=0.5, tau=1.0)[:, 0], torch.zeros(5, dtype=F64)
    )
    torch.testing.assert_close(
        bayes.discrete_log_evidence(xs, ys, pool, sigma=0.5)[:, 0], torch.zeros(5, dtype=F64)
    )


def test_alpha_limits_give_the_components() -> None:
    pool = torch.randn(6, 3, generator=torch.Generator().manual_seed(5), dtype=F64)
    xs, ys, _ = rand_prompts(8, 5, 3, 0.5, seed=6)
    kw: dict[str, Any] = {"sigma": 0.5, "tau": 1.0}
    ridge = bayes.ridge_predictions(xs, ys, **kw)
    dmmse = bayes.dmmse_predictions(xs, ys, pool, sigma=0.5)
    p1, g1 = bayes.mixture_predictions(xs, ys, pool, alpha=1.0, **kw)
    p0, g0 = bayes.mixture_predictions(xs, ys, pool, alpha=0.0, **kw)
    assert torch.equal(p1, dmmse) and torch.equal(g1, torch.ones_like(g1))
    assert torch.equal(p0, ridge) and torch.equal(g0, torch.zeros_like(g0))
    # The limits are continuous: the gap shrinks linearly in ε = 1 − α (or α).
    gaps_1 = [
        (bayes.mixture_predictions(xs, ys, pool, alpha=1 - e, **kw)[0] - dmmse).abs().max()
        for e in (1e-9, 1e-12)
    ]
    gaps_0 = [
        (bayes.mixture_predictions(xs, ys, pool, alpha=e, **kw)[0] - ridge).abs().max()
        for e in (1e-9, 1e-12)
    ]
    for big, small in (gaps_1, gaps_0):
        assert 0 < small < big / 500


@pytest.mark.slow  # ~2 s CPU, more wall time on a busy machine
def test_mixture_risk_is_below_both_components_on_the_mixture_prior() -> None:
    cfg = TaskConfig.model_validate(
        {"d": 4, "n_points": 10, "pool_size": 8, "alpha": 0.5, "sigma": 0.5}
    )
    s = TaskSampler(cfg, seed=0, dtype=F64)
    b = s.batch(0, 6000, stream="test-bayes")
    preds, _ = bayes.mixture_predictions(b.xs, b.ys, s.pool, alpha=0.5, sigma=0.5, tau=1.0)
    err = {
        "mixture": (preds - b.targets) ** 2,
        "ridge": (bayes.ridge_predictions(b.xs, b.ys, sigma=0.5, tau=1.0) - b.targets) ** 2,
        "dmmse": (bayes.dmmse_predictions(b.xs, b.ys, s.pool, sigma=0.5) - b.targets) ** 2,
    }
    for other in ("ridge", "dmmse"):
        diff = (err["mixture"] - err[other]).mean(1)  # paired, per prompt
        se = diff.std() / math.sqrt(len(diff))
        assert diff.mean() < 0 and diff.mean() + 3 * se < 0, other  # strictly better overall
        per_k = (err["mixture"] - err[other]).mean(0)
        se_k = (err["mixture"] - err[other]).std(0) / math.sqrt(len(diff))
        assert (per_k <= 3 * se_k + 1e-12).all(), other  # and no worse at any k


def test_noiseless_min_norm_ols_error_is_one_minus_k_over_d() -> None:
    d, K, B = 6, 9, 4000
    xs, ys, w = rand_prompts(B, K, d, 0.0, seed=8)
    err = ((bayes.ols_predictions(xs, ys) - torch.einsum("bkd,bd->bk", xs, w)) ** 2).mean(0) / d
    scale = (w.square().sum(1) / d).mean()  # E‖w‖²/d (≈ τ² = 1), exact conditioning
    for k in range(d):
        assert abs(err[k].item() - (1 - k / d) * scale.item()) < 0.05 * (1 - k / d) + 0.01, k
    assert err[d:].max() < 1e-20  # exact recovery once k ≥ d


def test_ols_is_the_minimum_norm_solution_even_when_rank_deficient() -> None:
    xs, ys, _ = rand_prompts(3, 5, 4, 0.3, seed=9)
    xs[:, :, 3] = 0.0  # a dead coordinate: XᵀX singular at every k
    xs[1, 2] = xs[1, 0]  # a repeated example
    w = bayes.ols_weights(xs, ys, full=True)
    for b in range(3):
        for k in range(6):
            ref = torch.linalg.pinv(xs[b, :k]) @ ys[b, :k] if k else torch.zeros(4, dtype=F64)
            torch.testing.assert_close(w[b, k], ref, rtol=1e-9, atol=1e-10)
    assert torch.equal(w[:, :, 3], torch.zeros(3, 6, dtype=F64))


@pytest.mark.parametrize("sigma", [0.0, 0.5])
def test_averaging_estimator_error_is_d_plus_1_over_k(sigma: float) -> None:
    """E err_k = ((d+1)‖w‖²/d + σ²)/k; with τ = 1, σ = 0 this is (d+1)/k."""
    d, K, B = 5, 8, 20000
    xs, ys, w = rand_prompts(B, K, d, sigma, seed=10)
    pred = bayes.averaging_predictions(xs, ys)
    assert torch.equal(pred[:, 0], torch.zeros(B, dtype=F64))
    err = ((pred - torch.einsum("bkd,bd->bk", xs, w)) ** 2).mean(0) / d
    w2 = (w.square().sum(1) / d).mean().item()
    for k in range(1, K):
        expect = ((d + 1) * w2 + sigma**2) / k
        assert abs(err[k].item() / expect - 1) < 0.06, (k, err[k].item(), expect)
        if sigma == 0.0:
            assert abs(err[k].item() - (d + 1) / k) < 0.1 * (d + 1) / k
    torch.testing.assert_close(
        bayes.averaging_weights(xs[:2], ys[:2], full=True)[:, 3],
        (ys[:2, :3, None] * xs[:2, :3]).mean(1),
    )


def test_chunked_equals_unchunked() -> None:
    pool = torch.randn(9, 3, generator=torch.Generator().manual_seed(11), dtype=F64)
    xs, ys, _ = rand_prompts(7, 6, 3, 0.4, seed=12)
    kw: dict[str, Any] = {"alpha": 0.4, "sigma": 0.4, "tau": 1.1}
    for mem in (1, 3000):  # 1 byte: one prompt and one pool weight per chunk
        for fn in (bayes.mixture_weights, bayes.discrete_posterior):
            torch.testing.assert_close(
                fn(xs, ys, pool, full=True, memory_bytes=mem, **kw),
                fn(xs, ys, pool, full=True, **kw),
                rtol=1e-12,
                atol=1e-13,
            )
        a = bayes.mixture_predictions(xs, ys, pool, memory_bytes=mem, **kw)
        torch.testing.assert_close(
            a, bayes.mixture_predictions(xs, ys, pool, **kw), rtol=1e-12, atol=1e-13
        )
        torch.testing.assert_close(
            bayes.ols_weights(xs, ys, memory_bytes=mem),
            bayes.ols_weights(xs, ys),
            rtol=1e-12,
            atol=1e-13,
        )


def test_small_sigma_approaches_the_min_norm_interpolant() -> None:
    xs, ys, _ = rand_prompts(6, 8, 5, 0.0, seed=13)
    ridge = bayes.ridge_predictions(xs, ys, sigma=1e-6, tau=1.0)
    torch.testing.assert_close(ridge, bayes.ols_predictions(xs, ys), rtol=0, atol=1e-8)


def test_bad_arguments_raise_clear_errors() -> None:
    pool = torch.randn(3, 2, dtype=F64)
    xs, ys, _ = rand_prompts(2, 3, 2, 0.5, seed=14)
    with pytest.raises(ValueError, match="sigma must be"):
        bayes.ridge_predictions(xs, ys, sigma=0.0, tau=1.0)
    with pytest.raises(ValueError, match="sigma must be"):
        bayes.dmmse_predictions(xs, ys, pool, sigma=0.0)
    with pytest.raises(ValueError, match="sigma/tau"):
        bayes.ridge_predictions(xs, ys, sigma=1e-9, tau=1.0)
    with pytest.raises(ValueError, match="tau must be"):
        bayes.ridge_predictions(xs, ys, sigma=1.0, tau=-1.0)
    with pytest.raises(ValueError, match="alpha"):
        bayes.mixture_predictions(xs, ys, pool, alpha=1.5, sigma=0.5, tau=1.0)
    with pytest.raises(ValueError, match="ys must"):
        bayes.ridge_predictions(xs, ys[:, :2], sigma=0.5, tau=1.0)
    with pytest.raises(ValueError, match="pool must"):
        bayes.dmmse_predictions(xs, ys, torch.randn(3, 5), sigma=0.5)
    with pytest.raises(ValueError, match="K >= 1"):
        bayes.ridge_predictions(xs[:, :0], ys[:, :0], sigma=0.5, tau=1.0)


def test_float32_inputs_give_float64_outputs_and_empty_batches_work() -> None:
    pool = torch.randn(3, 2)
    xs, ys = torch.randn(2, 4, 2), torch.randn(2, 4)
    p, g = bayes.mixture_predictions(xs, ys, pool, alpha=0.5, sigma=0.5, tau=1.0)
    assert p.dtype == g.dtype == F64
    ref, _ = bayes.mixture_predictions(
        xs.double(), ys.double(), pool.double(), alpha=0.5, sigma=0.5, tau=1.0
    )
    assert torch.equal(p, ref)
    p0, g0 = bayes.mixture_predictions(xs[:0], ys[:0], pool, alpha=0.5, sigma=0.5, tau=1.0)
    assert p0.shape == g0.shape == (0, 4)
    assert bayes.mixture_weights(
        xs[:0], ys[:0], pool, alpha=0.5, sigma=0.5, tau=1.0, full=True
    ).shape == (0, 5, 2)


# --- properties ---------------------------------------------------------------------------

dims = st.tuples(st.integers(1, 4), st.integers(1, 6), st.integers(1, 4), st.integers(1, 6))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shape=dims,
    alpha=st.floats(0.0, 1.0),
    sigma=st.floats(0.01, 3.0),
    tau=st.floats(0.1, 3.0),
    seed=st.integers(0, 2**16),
)
def test_properties_shapes_finiteness_and_invariances(
    shape: tuple[int, int, int, int], alpha: float, sigma: float, tau: float, seed: int
) -> None:
    B, K, d, N = shape
    g_ = torch.Generator().manual_seed(seed)
    xs = torch.randn(B, K, d, generator=g_, dtype=F64)
    ys = 3 * torch.randn(B, K, generator=g_, dtype=F64)
    pool = tau * torch.randn(N, d, generator=g_, dtype=F64)
    kw: dict[str, Any] = {"alpha": alpha, "sigma": sigma, "tau": tau}
    preds, g = bayes.mixture_predictions(xs, ys, pool, **kw)
    assert preds.shape == g.shape == (B, K) and preds.dtype == F64
    assert torch.isfinite(preds).all() and torch.isfinite(g).all()
    assert ((g >= 0) & (g <= 1)).all()
    w = bayes.mixture_weights(xs, ys, pool, full=True, **kw)
    assert w.shape == (B, K + 1, d) and torch.isfinite(w).all()
    torch.testing.assert_close((w[:, :K] * xs).sum(2), preds, rtol=1e-9, atol=1e-9)
    # pool order does not matter; prompts are independent (batch order is equivariant)
    perm = torch.randperm(N, generator=g_)
    torch.testing.assert_close(
        bayes.mixture_predictions(xs, ys, pool[perm], **kw), (preds, g), rtol=1e-10, atol=1e-10
    )
    bp = torch.randperm(B, generator=g_)
    p2, g2 = bayes.mixture_predictions(xs[bp], ys[bp], pool, **kw)
    torch.testing.assert_close((p2, g2), (preds[bp], g[bp]), rtol=1e-10, atol=1e-10)
    # a rotation of x and of the pool leaves every prediction unchanged
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g_, dtype=F64))
    torch.testing.assert_close(
        bayes.mixture_predictions(xs @ q, ys, pool @ q, **kw), (preds, g), rtol=1e-8, atol=1e-8
    )
    # ridge is linear in y (y-scaling, docs/synthetic-reproduction.md) and x-scaling by c equals tau -> c·tau
    r = bayes.ridge_predictions(xs, ys, sigma=sigma, tau=tau)
    torch.testing.assert_close(
        bayes.ridge_predictions(xs, 2.5 * ys, sigma=sigma, tau=tau), 2.5 * r, rtol=1e-9, atol=1e-9
    )
    torch.testing.assert_close(
        bayes.ridge_predictions(1.7 * xs, ys, sigma=sigma, tau=tau),
        bayes.ridge_predictions(xs, ys, sigma=sigma, tau=1.7 * tau),
        rtol=1e-8,
        atol=1e-9,
    )
