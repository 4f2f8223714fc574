"""Benchmark: exact mixture-Bayes predictions, every prefix in one pass vs a per-prefix loop.

Run: ``python experiments/bench_bayes.py`` (``--quick`` for a smoke run). It times, on
``--threads`` CPU threads (default 2) and taking the minimum of ``--repeats`` runs
because shared machines are noisy:

* ``forgetlab.synthetic.bayes.mixture_predictions`` (rank-one ridge sweep + cumulative
  pool residuals, chunked);
* the straightforward per-prefix loop of public reference code: for each prefix length
  ``k``, form ``XᵀX``, solve the ridge system, take ``slogdet`` for the evidence and
  recompute the pool posterior from scratch;
* the direct closed form (docs/bayes.md#setting-and-formulas): cumulative ``x xᵀ`` sums and one batched
  Cholesky of all ``B·K`` matrices (same dMMSE code), to show why the sweep is used;

checks all three agree, measures peak RSS of one ``mixture_predictions`` call at
``--big-batch`` prompts in a fresh subprocess, and ends with ``ratio_vs_loop=X``.
"""

from __future__ import annotations

# isort: off
import forgetlab  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch loads)

# isort: on

import argparse
import math
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable

import torch

from forgetlab.synthetic import bayes
from forgetlab.synthetic.tasks import TaskConfig, TaskSampler


def prompts(batch: int, d: int, k: int, n: int, sigma: float) -> tuple[torch.Tensor, ...]:
    cfg = TaskConfig.model_validate({"d": d, "n_points": k, "pool_size": n, "sigma": sigma})
    s = TaskSampler(cfg, seed=0, dtype=torch.float64)
    b = s.batch(0, batch, stream="bench")
    return b.xs, b.ys, s.pool


def loop_mixture(
    xs: torch.Tensor, ys: torch.Tensor, pool: torch.Tensor, alpha: float, sigma: float, tau: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-prefix loop: every prefix re-solved and re-scored from scratch."""
    B, K, d = xs.shape
    s2, t2 = sigma**2, tau**2
    eye = torch.eye(d, dtype=torch.float64)
    preds = torch.empty(B, K, dtype=torch.float64)
    g = torch.empty(B, K, dtype=torch.float64)
    logit_a = math.log(alpha) - math.log1p(-alpha)
    for k in range(K):
        X, y, xq = xs[:, :k], ys[:, :k], xs[:, k]
        A = X.transpose(1, 2) @ X / s2 + eye / t2
        rhs = (X.transpose(1, 2) @ y.unsqueeze(2)).squeeze(2) / s2
        mu = torch.linalg.solve(A, rhs)
        logdet = torch.linalg.slogdet(A).logabsdet
        l_cont = -0.5 * ((y * y).sum(1) / s2 - (mu * rhs).sum(1))
        l_cont = l_cont - 0.5 * (k * math.log(2 * math.pi * s2) + d * math.log(t2) + logdet)
        logits = -((y.unsqueeze(2) - X @ pool.T) ** 2).sum(1) / (2 * s2)
        l_disc = (
            torch.logsumexp(logits, 1) - math.log(len(pool)) - 0.5 * k * math.log(2 * math.pi * s2)
        )
        w_disc = torch.softmax(logits, 1) @ pool
        gk = torch.sigmoid(logit_a + l_disc - l_cont)
        preds[:, k] = gk * (w_disc * xq).sum(1) + (1 - gk) * (mu * xq).sum(1)
        g[:, k] = gk
    return preds, g


def cholesky_mixture(
    xs: torch.Tensor, ys: torch.Tensor, pool: torch.Tensor, alpha: float, sigma: float, tau: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The direct closed form: cumulative sums, one batched Cholesky (chunked)."""
    B, K, d = xs.shape
    s2, t2 = sigma**2, tau**2
    l_disc = bayes.discrete_log_evidence(xs, ys, pool, sigma=sigma)
    p_disc = bayes.dmmse_predictions(xs, ys, pool, sigma=sigma)
    out_p, out_l = [], []
    for i in range(0, B, 512):
        x, y = xs[i : i + 512], ys[i : i + 512]
        a = torch.zeros(len(x), K, d, d, dtype=torch.float64)
        a[:, 0] = torch.eye(d, dtype=torch.float64) / t2
        a[:, 1:] = x[:, :-1, :, None] * x[:, :-1, None, :] / s2
        a.cumsum_(1)
        rhs = torch.zeros(len(x), K, d, dtype=torch.float64)
        rhs[:, 1:] = (x[:, :-1] * y[:, :-1, None]).cumsum(1) / s2
        yy = torch.zeros(len(x), K, dtype=torch.float64)
        yy[:, 1:] = y[:, :-1].square().cumsum(1) / s2
        chol = torch.linalg.cholesky(a)
        mu = torch.cholesky_solve(rhs.unsqueeze(3), chol).squeeze(3)
        logdet = 2 * torch.diagonal(chol, dim1=2, dim2=3).log().sum(2)
        k = torch.arange(K, dtype=torch.float64)
        quad = yy - (mu * rhs).sum(2)
        out_l.append(-0.5 * (quad + k * math.log(2 * math.pi * s2) + d * math.log(t2) + logdet))
        out_p.append((mu * x).sum(2))
    p_ridge, l_cont = torch.cat(out_p), torch.cat(out_l)
    g = torch.sigmoid(math.log(alpha) - math.log1p(-alpha) + l_disc - l_cont)
    return p_ridge + g * (p_disc - p_ridge), g


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Minimum wall and CPU seconds over ``repeats`` runs."""
    wall, cpu = math.inf, math.inf
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    return wall, cpu


def peak_rss_child(batch: int, d: int, k: int, n: int, threads: int) -> None:
    """Subprocess body: print RSS (MB) after building the prompts and after one call."""
    torch.set_num_threads(threads)
    xs, ys, pool = prompts(batch, d, k, n, 1.0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    bayes.mixture_predictions(xs, ys, pool, alpha=0.5, sigma=1.0, tau=1.0)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{before:.0f} {after:.0f} {wall:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--points", type=int, default=41, help="K")
    ap.add_argument("--dim", type=int, default=20, help="d")
    ap.add_argument("--pool", type=int, default=64, help="N")
    ap.add_argument("--threads", default="2,1", help="comma-separated torch thread counts")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--loop-repeats", type=int, default=2)
    ap.add_argument("--big-batch", type=int, default=65536, help="B for the peak-memory run")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--contended", action="store_true", help="also time it beside a busy process")
    a = ap.parse_args()
    threads = [int(t) for t in str(a.threads).split(",")]
    if a.quick:
        a.batch, a.repeats, a.loop_repeats, a.big_batch = 256, 2, 1, 2048
    if a.child:
        peak_rss_child(a.big_batch, a.dim, a.points, a.pool, threads[0])
        return
    xs, ys, pool = prompts(a.batch, a.dim, a.points, a.pool, 1.0)
    args = (xs, ys, pool, 0.5, 1.0, 1.0)

    def vectorised() -> tuple[torch.Tensor, torch.Tensor]:
        return bayes.mixture_predictions(xs, ys, pool, alpha=0.5, sigma=1.0, tau=1.0)

    p_vec, g_vec = vectorised()
    p_loop, g_loop = loop_mixture(*args)
    p_chol, g_chol = cholesky_mixture(*args)
    diff = max((p_vec - p_loop).abs().max().item(), (g_vec - g_loop).abs().max().item())
    diff_chol = max((p_vec - p_chol).abs().max().item(), (g_vec - g_chol).abs().max().item())

    print(f"# bench_bayes: B={a.batch} K={a.points} d={a.dim} N={a.pool}, float64")
    print(
        f"# {platform.machine()}, {os.cpu_count()} CPUs visible, torch {torch.__version__}, "
        f"load average {os.getloadavg()[0]:.1f} at start; min over repeats"
    )
    print(
        f"{'threads':>7} {'method':<32} {'wall min (s)':>12} {'cpu min (s)':>12} {'wall vs loop':>12} {'cpu vs loop':>11}"
    )
    ratios: dict[int, float] = {}
    for n in threads:
        torch.set_num_threads(n)
        t_loop = timed(lambda: loop_mixture(*args), a.loop_repeats)
        t_chol = timed(lambda: cholesky_mixture(*args), a.repeats)
        t_vec = timed(vectorised, a.repeats)
        for name, (w, c) in [
            ("per-prefix loop (reference)", t_loop),
            ("cumsum + one batched Cholesky", t_chol),
            ("bayes.mixture_predictions", t_vec),
        ]:
            print(
                f"{n:>7} {name:<32} {w:>12.3f} {c:>12.3f} {t_loop[0] / w:>11.1f}x {t_loop[1] / c:>10.1f}x"
            )
        ratios[n] = t_loop[0] / t_vec[0]
    print(f"max |difference| vs loop: {diff:.2e}; vs Cholesky form: {diff_chol:.2e}")

    child = subprocess.run(
        [sys.executable, __file__, "--child", "--big-batch", str(a.big_batch), "--dim", str(a.dim),
         "--points", str(a.points), "--pool", str(a.pool), "--threads", str(threads[-1])],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    rss_before, rss_after, big_wall = (float(v) for v in child.stdout.split())
    print(
        f"peak RSS at B={a.big_batch} ({threads[-1]} thread(s)): {rss_after:.0f} MB "
        f"(after building the inputs {rss_before:.0f} MB), call {big_wall:.2f} s wall"
    )
    for n in threads[1:]:
        print(f"ratio_vs_loop_{n}_threads={ratios[n]:.1f}")
    print(f"ratio_vs_loop={ratios[threads[0]]:.1f}")
    if a.contended:
        from contention import quiet_and_contended, report

        torch.set_num_threads(threads[0])
        quiet, contended = quiet_and_contended(vectorised, a.repeats)
        print(report("bayes.mixture_predictions", quiet, contended))


if __name__ == "__main__":
    main()
