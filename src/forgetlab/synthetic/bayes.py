"""Exact Bayes-optimal predictors of the synthetic lab (docs/bayes.md), every prefix at once.

Position ``i`` of a prompt predicts ``y_i`` from the first ``i`` examples and ``x_i``
(``i = 0 … K−1``). Each function evaluates every prefix in one pass over the prompt, in
float64 and log space, chunked over the batch (and over the pool) so that intermediates
stay within a memory budget (``memory_bytes``, default 256 MiB):

* **continuous family** (ridge, ``w ~ N(0, τ²I)``): one sweep of exact rank-one
  posterior updates (recursive least squares / the Kalman filter), vectorised over the
  batch. Its log evidence is the chain rule of one-step predictive densities, which equals
  the closed form ``−½(‖y‖²/σ² − μᵀAμ) − ½(k log 2πσ² + d log τ² + log det A)``
  exactly. Why not the direct route (cumulative ``x xᵀ`` sums, then one batched Cholesky): that was
  ~9× slower on CPU (experiments/bench_bayes.py; small-matrix LAPACK calls dominate) and
  less accurate at small σ/τ (``A`` has condition number ~kτ²/σ²; it stops being
  numerically positive definite near σ/τ = 1e-8; docs/bayes.md).
* **discrete family** (dMMSE): cumulative per-pool squared residuals and a streaming
  ``logsumexp`` over pool chunks.
* **mixture**: ``g = σ(logit α + ℓ_disc − ℓ_cont)`` and ``ŵ = g ŵ_dMMSE + (1−g) ŵ_ridge``.

``sigma`` must be > 0 (and ``σ/τ ≥ 1e-6`` for the continuous family): with σ = 0 the
posteriors are point masses and the evidences infinite, so these functions raise
``ValueError`` rather than guess. Use :func:`ols_predictions` (ridge's σ → 0 limit) for
noiseless prompts, or pass a small σ (``forgetlab synthetic baselines`` uses 1e-4·τ).

``full=True`` (where offered) returns ``K + 1`` prefixes, the last one the whole prompt.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = [
    "DEFAULT_MEMORY_BYTES",
    "MIN_SIGMA_RATIO",
    "averaging_predictions",
    "averaging_weights",
    "continuous_log_evidence",
    "discrete_log_evidence",
    "discrete_posterior",
    "dmmse_predictions",
    "dmmse_weights",
    "family_log_odds",
    "mixture_predictions",
    "mixture_weights",
    "ols_predictions",
    "ols_weights",
    "ridge_predictions",
    "ridge_weights",
]

DEFAULT_MEMORY_BYTES = 256 * 2**20
# Below this σ/τ the posterior covariance spans > 1e12 in scale and float64 rounding makes
# it indefinite (σ/τ = 1e-6 still matches a QR reference to ~1e-8 at d = 100, K = 400).
MIN_SIGMA_RATIO = 1e-6
# dMMSE intermediates per chunk: larger chunks only add memory traffic (measured: 4 MiB
# is ~2.5x faster than 256 MiB). The ridge sweep prefers big chunks (fewer kernel calls).
_DMMSE_CHUNK_BYTES = 4 * 2**20
_F64 = torch.float64
_LOG_2PI = math.log(2.0 * math.pi)


# --- input checks ----------------------------------------------------------------------


def _prompt(xs: torch.Tensor, ys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = torch.as_tensor(xs), torch.as_tensor(ys)
    if xs.dim() != 3:
        raise ValueError(f"xs must have shape [B, K, d], got {tuple(xs.shape)}")
    if ys.shape != xs.shape[:2]:
        raise ValueError(
            f"ys must have shape {tuple(xs.shape[:2])} to match xs, got {tuple(ys.shape)}"
        )
    if xs.shape[1] < 1 or xs.shape[2] < 1:
        raise ValueError(f"xs must have K >= 1 and d >= 1, got shape {tuple(xs.shape)}")
    return xs.detach().to(_F64), ys.detach().to(device=xs.device, dtype=_F64)


def _pool(pool: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    pool = torch.as_tensor(pool)
    if pool.dim() != 2 or pool.shape[1] != xs.shape[2] or pool.shape[0] < 1:
        raise ValueError(f"pool must have shape [N >= 1, d={xs.shape[2]}], got {tuple(pool.shape)}")
    return pool.detach().to(device=xs.device, dtype=_F64)


def _positive(name: str, value: float) -> float:
    v = float(value)
    if not (v > 0.0 and math.isfinite(v)):
        hint = (
            " (sigma = 0 is degenerate: use ols_predictions for noiseless prompts)"
            if name == "sigma"
            else ""
        )
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}{hint}")
    return v


def _alpha(alpha: float) -> float:
    a = float(alpha)
    if not 0.0 <= a <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    return a


def _budget(memory_bytes: int | None) -> int:
    return DEFAULT_MEMORY_BYTES if memory_bytes is None else max(1, int(memory_bytes))


def _rows(per_row_bytes: int, budget: int, cap: int | None = None) -> int:
    n = max(1, budget // max(1, per_row_bytes))
    return n if cap is None else max(1, min(n, cap))


def _chunked(
    fn: Callable[[slice], tuple[torch.Tensor, ...]], batch: int, rows: int
) -> tuple[torch.Tensor, ...]:
    """Apply ``fn`` to batch slices of ``rows`` rows, writing into preallocated outputs."""
    if batch == 0:  # call once on the empty slice for correctly shaped outputs
        return fn(slice(0, 0))
    outs: tuple[torch.Tensor, ...] = ()
    for i in range(0, batch, rows):
        sl = slice(i, i + rows)
        parts = fn(sl)
        if not outs:
            outs = tuple(p.new_empty((batch, *p.shape[1:])) for p in parts)
        for o, p in zip(outs, parts, strict=True):
            o[sl] = p
    return outs


# --- continuous family (ridge) ---------------------------------------------------------


@dataclass(frozen=True)
class _Ridge:
    preds: torch.Tensor  # [b, K]   x_kᵀ μ_k
    mu: torch.Tensor  # [b, P, d] posterior means of the first P prefixes
    log_ev: torch.Tensor  # [b, P]


def _ridge_recursive(
    xs: torch.Tensor, ys: torch.Tensor, s2: float, t2: float, n_prefix: int, want_mu: bool = True
) -> _Ridge:
    """Rank-one posterior updates: Σ ← Σ − v vᵀ/s, μ ← μ + v r/s, ℓ += log N(y; xᵀμ, s).

    Σ and μᵀ are stacked into one ``[b, d+1, d]`` state so each example costs one ``bmm``
    and one ``baddbmm`` (few large kernels: cheap even when the cores are shared).
    """
    b, K, d = xs.shape
    state = xs.new_zeros(b, d + 1, d)  # rows 0..d-1: Σ, row d: μ
    state[:, :d] = torch.eye(d, dtype=_F64, device=xs.device) * t2
    lev = xs.new_zeros(b)
    mus = xs.new_empty(b, n_prefix if want_mu else 0, d)
    levs = xs.new_empty(b, n_prefix)
    preds = xs.new_empty(b, K)
    coef = xs.new_empty(b, d + 1)
    for k in range(n_prefix):
        if want_mu:
            mus[:, k] = state[:, d]
        levs[:, k] = lev
        if k == K:
            break
        x = xs[:, k]
        vm = torch.bmm(state, x.unsqueeze(2)).squeeze(2)  # [Σx, μᵀx]
        v, m = vm[:, :d], vm[:, d]
        # Predictive variance of y_k; ≥ σ² exactly, the clamp only guards rounding at tiny σ.
        s = torch.linalg.vecdot(x, v).add_(s2).clamp_(min=s2)
        preds[:, k] = m
        r = ys[:, k] - m
        lev = lev - 0.5 * (torch.log(s) + r * r / s + _LOG_2PI)
        rs = torch.rsqrt(s)
        u = v * rs.unsqueeze(1)  # v/√s
        torch.neg(u, out=coef[:, :d])
        coef[:, d] = r * rs
        # Σ −= u uᵀ (exactly symmetric), μ += u r/√s = v r/s: one rank-one update of the state
        state.baddbmm_(coef.unsqueeze(2), u.unsqueeze(1))
    return _Ridge(preds, mus, levs)


def _ridge(
    xs: torch.Tensor,
    ys: torch.Tensor,
    sigma: float,
    tau: float,
    n_prefix: int,
    memory_bytes: int | None,
    want_mu: bool,
) -> _Ridge:
    sigma, tau = _positive("sigma", sigma), _positive("tau", tau)
    if sigma < MIN_SIGMA_RATIO * tau:
        raise ValueError(
            f"sigma/tau must be >= {MIN_SIGMA_RATIO:g} for the continuous family, got "
            f"sigma={sigma!r}, tau={tau!r} (use ols_predictions for the noiseless limit)"
        )
    B, K, d = xs.shape
    budget = _budget(memory_bytes)
    s2, t2 = sigma * sigma, tau * tau
    rows = _rows(8 * (2 * d * d + n_prefix * ((d if want_mu else 0) + 1) + 4 * d + K), budget)

    def run(sl: slice) -> tuple[torch.Tensor, ...]:
        r = _ridge_recursive(xs[sl], ys[sl], s2, t2, n_prefix, want_mu)
        return r.preds, r.mu, r.log_ev

    preds, mu, log_ev = _chunked(run, B, rows)
    return _Ridge(preds, mu, log_ev)


# --- discrete family (dMMSE) -----------------------------------------------------------


@dataclass(frozen=True)
class _Disc:
    preds: torch.Tensor  # [b, K]
    w: torch.Tensor | None  # [b, P, d] posterior means (when asked for)
    log_ev: torch.Tensor  # [b, P]


def _dmmse_chunk(
    xs: torch.Tensor,
    ys: torch.Tensor,
    pool: torch.Tensor,
    s2: float,
    n_prefix: int,
    pool_rows: int,
    want_w: bool,
) -> _Disc:
    """Streaming softmax over pool chunks of cumulative squared residuals."""
    b, K, d = xs.shape
    P = n_prefix
    run_max = xs.new_full((b, P), -math.inf)
    z = xs.new_zeros(b, P)
    num = xs.new_zeros(b, K)
    wnum = xs.new_zeros(b, P, d) if want_w else None
    for j in range(0, pool.shape[0], pool_rows):
        pc = pool[j : j + pool_rows]
        proj = xs @ pc.T  # [b, K, n]: x_kᵀ w_m
        logit = xs.new_zeros(b, P, pc.shape[0])
        torch.cumsum((ys[:, : P - 1, None] - proj[:, : P - 1]).square_(), dim=1, out=logit[:, 1:])
        logit.mul_(-0.5 / s2)  # log Π_{i<k} N(y_i; x_iᵀw_m, σ²) up to the k-dependent constant
        new_max = torch.maximum(run_max, logit.amax(2))
        scale = torch.exp(run_max - new_max)
        e = torch.exp(logit.sub_(new_max.unsqueeze(2)))
        z = z * scale + e.sum(2)
        num = num * scale[:, :K] + (e[:, :K] * proj).sum(2)
        if wnum is not None:
            wnum = wnum * scale.unsqueeze(2) + e @ pc
        run_max = new_max
    k = torch.arange(P, dtype=_F64, device=xs.device)
    log_ev = (
        run_max + torch.log(z) - math.log(pool.shape[0]) - 0.5 * k * math.log(2.0 * math.pi * s2)
    )
    return _Disc(num / z[:, :K], None if wnum is None else wnum / z.unsqueeze(2), log_ev)


def _dmmse(
    xs: torch.Tensor,
    ys: torch.Tensor,
    pool: torch.Tensor,
    sigma: float,
    n_prefix: int,
    memory_bytes: int | None,
    want_w: bool,
) -> _Disc:
    sigma = _positive("sigma", sigma)
    B, K, d = xs.shape
    N = pool.shape[0]
    budget = _budget(memory_bytes)
    pool_rows = _rows(8 * 4 * (K + 1), budget, cap=N)  # one prompt's [K, n] intermediates
    per_row = 8 * (4 * (K + 1) * pool_rows + (n_prefix * d * 2 if want_w else 0) + 6 * (K + 1))
    rows = _rows(per_row, min(budget, _DMMSE_CHUNK_BYTES))

    def run(sl: slice) -> tuple[torch.Tensor, ...]:
        r = _dmmse_chunk(xs[sl], ys[sl], pool, sigma * sigma, n_prefix, pool_rows, want_w)
        return (r.preds, r.log_ev) if r.w is None else (r.preds, r.log_ev, r.w)

    out = _chunked(run, B, rows)
    return _Disc(out[0], out[2] if want_w else None, out[1])


def _n_prefix(xs: torch.Tensor, full: bool) -> int:
    return xs.shape[1] + (1 if full else 0)


# --- public API: continuous ------------------------------------------------------------


def ridge_predictions(
    xs: torch.Tensor, ys: torch.Tensor, *, sigma: float, tau: float, memory_bytes: int | None = None
) -> torch.Tensor:
    """Ridge (continuous-family posterior mean) prediction of ``y_i`` at every position ``[B, K]``."""
    xs, ys = _prompt(xs, ys)
    return _ridge(xs, ys, sigma, tau, xs.shape[1], memory_bytes, False).preds


def ridge_weights(
    xs: torch.Tensor,
    ys: torch.Tensor,
    *,
    sigma: float,
    tau: float,
    full: bool = False,
    memory_bytes: int | None = None,
) -> torch.Tensor:
    """Posterior mean ``μ_k = A⁻¹Xᵀy/σ²`` per prefix ``[B, K, d]`` (``[B, K+1, d]`` if ``full``)."""
    xs, ys = _prompt(xs, ys)
    return _ridge(xs, ys, sigma, tau, _n_prefix(xs, full), memory_bytes, True).mu


def continuous_log_evidence(
    xs: torch.Tensor,
    ys: torch.Tensor,
    *,
    sigma: float,
    tau: float,
    full: bool = False,
    memory_bytes: int | None = None,
) -> torch.Tensor:
    """``log N(y_{<k}; 0, σ²I + τ²XXᵀ)`` for prefix lengths ``k = 0 … K−1`` (``… K`` if ``full``)."""
    xs, ys = _prompt(xs, ys)
    return _ridge(xs, ys, sigma, tau, _n_prefix(xs, full), memory_bytes, False).log_ev


# --- public API: discrete --------------------------------------------------------------


def dmmse_predictions(
    xs: torch.Tensor,
    ys: torch.Tensor,
    pool: torch.Tensor,
    *,
    sigma: float,
    memory_bytes: int | None = None,
) -> torch.Tensor:
    """dMMSE (discrete-family posterior mean) prediction at every position ``[B, K]``."""
    xs, ys = _prompt(xs, ys)
    return _dmmse(xs, ys, _pool(pool, xs), sigma, xs.shape[1], memory_bytes, want_w=False).preds


def dmmse_weights(
    xs: torch.Tensor,
    ys: torch.Tensor,
    pool: torch.Tensor,
    *,
    sigma: float,
    full: bool = False,
    memory_bytes: int | None = None,
) -> torch.Tensor:
    """``ŵ = Σ_m p_m w_m`` per prefix ``[B, K, d]`` (``[B, K+1, d]`` if ``full``)."""
    xs, ys = _prompt(xs, ys)
    r = _dmmse(xs, ys, _pool(pool, xs), sigma, _n_prefix(xs, full), memory_bytes, want_w=True)
    assert r.w is not None
    return r.w


def discrete_log_evidence(
    xs: torch.Tensor,
    ys: torch.Tensor,
    pool: torch.Tensor,
    *,
    sigma: float,
    full: bool = False,
    memory_bytes: int | None = None,
) -> torch.Tensor:
    """``log (1/N) Σ_m Π_{i<k} N(y_i; x_iᵀw_m, σ²)`` per prefix ``[B, K]`` (``[B, K+1]`` if ``full``)."""
    xs, ys = _prompt(xs, ys)
    return _dmmse(
        xs, ys, _pool(pool, xs), sigma, _n_prefix(xs, full), memory_bytes, want_w=False
    ).log_ev


# --- public API: mixture ---------------------------------------------------------------


def _posterior_g(log_odds: torch.Tensor, alpha: float) -> torch.Tensor:
    # α = 0 or 1 give logit ±inf; sigmoid(±inf + finite) is exactly 0 or 1.
    logit = (
        math.log(alpha) - math.log1p(-alpha)
        if 0.0 < alpha < 1.0
        else (math.inf if alpha else -math.inf)
    )
    return torch.sigmoid(log_odds + logit)


def family_log_odds(
    xs: torch.Tensor,
    ys: torch.Tensor,
    pool: torch.Tensor,
    *,
    sigma: float,
    tau: float,
    full: bool = False,
    memory_bytes: int | None = None,
) -> torch.Tensor:
    """``ℓ_disc − ℓ_cont`` per prefix: the evidence ratio, never saturated (unlike ``g``)."""
    xs, ys = _prompt(xs, ys)
    pool = _pool(pool, xs)
    n = _n_prefix(xs, full)
    return (
        _dmmse(xs, ys, pool, sigma, n, memory_bytes, False).log_ev
        - _ridge(xs, ys, sigma, tau, n, memory_bytes, False).log_ev
    )


def discrete_posterior(
    xs: torch.Tensor,
    ys: torch.Tensor,
    pool: torch.Tensor,
    *,
    alpha: float,
    sigma: float,
    tau: float,
    full: bool = False,
    memory_bytes: int | None = None,
) -> torch.Tensor:
    """``g = P(discrete | prefix)`` per prefix ``[B, K]`` (``[B, K+1]`` if ``full``); ``g = α`` at ``k = 0``."""
    a = _alpha(alpha)
    return _posterior_g(
        family_log_odds(xs, ys, pool, sigma=sigma, tau=tau, full=full, memory_bytes=memory_bytes), a
    )


def mixture_predictions(
    xs: torch.Tensor,
    ys: torch.Tensor,
    pool: torch.Tensor,
    *,
    alpha: float,
    sigma: float,
    tau: float,
    memory_bytes: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact posterior-mean prediction under the α-mixture prior, and ``g`` (both ``[B, K]``)."""
    a = _alpha(alpha)
    xs, ys = _prompt(xs, ys)
    pool = _pool(pool, xs)
    K = xs.shape[1]
    disc = _dmmse(xs, ys, pool, sigma, K, memory_bytes, want_w=False)
    ridge = _ridge(xs, ys, sigma, tau, K, memory_bytes, False)
    g = _posterior_g(disc.log_ev - ridge.log_ev, a)
    return torch.lerp(ridge.preds, disc.preds, g), g  # exact at g = 0 and g = 1


def mixture_weights(
    xs: torch.Tensor,
    ys: torch.Tensor,
    pool: torch.Tensor,
    *,
    alpha: float,
    sigma: float,
    tau: float,
    full: bool = False,
    memory_bytes: int | None = None,
) -> torch.Tensor:
    """``ŵ_mix = g ŵ_dMMSE + (1−g) ŵ_ridge`` per prefix ``[B, K, d]`` (``[B, K+1, d]`` if ``full``)."""
    a = _alpha(alpha)
    xs, ys = _prompt(xs, ys)
    pool = _pool(pool, xs)
    n = _n_prefix(xs, full)
    disc = _dmmse(xs, ys, pool, sigma, n, memory_bytes, want_w=True)
    ridge = _ridge(xs, ys, sigma, tau, n, memory_bytes, True)
    assert disc.w is not None
    g = _posterior_g(disc.log_ev - ridge.log_ev, a).unsqueeze(2)
    return torch.lerp(ridge.mu, disc.w, g)


# --- non-Bayes references --------------------------------------------------------------


def ols_weights(
    xs: torch.Tensor,
    ys: torch.Tensor,
    *,
    full: bool = False,
    rcond: float | None = None,
    memory_bytes: int | None = None,
) -> torch.Tensor:
    """Minimum-norm least squares ``X⁺y`` per prefix ``[B, K, d]`` (``[B, K+1, d]`` if ``full``).

    Prefix ``k`` is solved as the full ``[K, d]`` system with rows ``≥ k`` zeroed, which
    has the same minimum-norm solution; ``rcond`` is the relative singular-value cutoff
    (default ``max(K, d)·eps``). ``k = 0`` gives 0.
    """
    xs, ys = _prompt(xs, ys)
    B, K, d = xs.shape
    P = _n_prefix(xs, full)
    tri = torch.ones(P, K, dtype=torch.bool, device=xs.device).tril(-1)  # row k keeps i < k
    tol = max(K, d) * torch.finfo(_F64).eps if rcond is None else float(rcond)
    rows = _rows(8 * P * (3 * K * d + K + 3 * d), _budget(memory_bytes))

    def run(sl: slice) -> tuple[torch.Tensor, ...]:
        xm = xs[sl].unsqueeze(1) * tri[None, :, :, None]  # [b, P, K, d]
        ym = (ys[sl].unsqueeze(1) * tri[None]).unsqueeze(3)  # [b, P, K, 1]
        return ((torch.linalg.pinv(xm, rtol=tol) @ ym).squeeze(3),)

    return _chunked(run, B, rows)[0]


def ols_predictions(
    xs: torch.Tensor,
    ys: torch.Tensor,
    *,
    rcond: float | None = None,
    memory_bytes: int | None = None,
) -> torch.Tensor:
    """Minimum-norm least-squares prediction at every position ``[B, K]`` (0 at ``k = 0``)."""
    xs, ys = _prompt(xs, ys)
    return (ols_weights(xs, ys, rcond=rcond, memory_bytes=memory_bytes) * xs).sum(2)


def averaging_weights(xs: torch.Tensor, ys: torch.Tensor, *, full: bool = False) -> torch.Tensor:
    """Averaging estimator ``ŵ_k = (1/k) Σ_{i<k} y_i x_i`` per prefix (``ŵ_0 = 0``)."""
    xs, ys = _prompt(xs, ys)
    B, _, d = xs.shape
    P = _n_prefix(xs, full)
    w = xs.new_zeros(B, P, d)
    w[:, 1:] = (xs[:, : P - 1] * ys[:, : P - 1, None]).cumsum(1)
    k = torch.arange(P, dtype=_F64, device=xs.device).clamp_(min=1.0)
    return w / k[None, :, None]


def averaging_predictions(xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """Averaging-estimator prediction at every position ``[B, K]`` (0 at ``k = 0``)."""
    xs, ys = _prompt(xs, ys)
    return (averaging_weights(xs, ys) * xs).sum(2)
