"""Paired tests for one metric of two models on the same samples.

Everything is computed with numpy alone (no scipy at run time) so that ``forgetlab compare``
works wherever forgetlab installs; the tests check each function against scipy or brute force.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

import numpy as np

B = 4000  # bootstrap resamples
SEED = 0
EXACT_WILCOXON_MAX_N = 50  # exact null distribution up to this many non-zero differences
_CHUNK = 4_000_000  # resampled values drawn at once (memory bound of the index bootstrap)
MULTINOMIAL_MAX_VALUES = 64  # distinct differences up to which the counts are drawn
RESAMPLE_MAX = 20_000_000  # samples × resamples above which the normal limit is used


def rng_for(*key: str) -> np.random.Generator:
    """A generator seeded by ``SEED`` and the key, so every (task, metric) is reproducible."""
    return np.random.default_rng([SEED, zlib.crc32("|".join(key).encode())])


def bootstrap_means(diffs: np.ndarray, rng: np.random.Generator, b: int = B) -> np.ndarray:
    """``b`` percentile-bootstrap means of paired differences.

    Resampling n values with replacement only changes how often each distinct value is drawn,
    so when the differences take few values (0/1 metrics: −1, 0, 1) the counts are drawn from
    a multinomial instead: the same distribution in O(b · distinct) rather than O(b · n).
    Many distinct values and many samples (more than ``RESAMPLE_MAX`` values drawn in all)
    take the normal limit of the bootstrap distribution, mean ± its standard error
    (:func:`bootstrap_method` says which applied).
    """
    n = len(diffs)
    if n == 0:
        return np.full(b, np.nan)
    values, counts = np.unique(diffs, return_counts=True)
    if len(values) <= MULTINOMIAL_MAX_VALUES:
        draws = rng.multinomial(n, counts / n, size=b)
        means: np.ndarray = draws @ values / n
        return means
    if n * b > RESAMPLE_MAX:
        return rng.normal(float(diffs.mean()), float(diffs.std()) / math.sqrt(n), size=b)
    out = np.empty(b)
    step = max(1, _CHUNK // n)
    for start in range(0, b, step):
        stop = min(b, start + step)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = diffs[idx].mean(axis=1)
    return out


def bootstrap_method(diffs: np.ndarray, b: int = B) -> str:
    """How :func:`bootstrap_means` draws for these differences."""
    if len(np.unique(diffs)) <= MULTINOMIAL_MAX_VALUES:
        return "multinomial counts of the distinct differences (exact resampling)"
    if len(diffs) * b > RESAMPLE_MAX:
        return "normal limit of the bootstrap (mean ± standard error; many samples and values)"
    return "resampled indices"


def percentile_interval(means: np.ndarray, level: float = 0.95) -> list[float] | None:
    """The central ``level`` percentile interval of bootstrap means (``None`` without data)."""
    if len(means) == 0 or not np.all(np.isfinite(means)):
        return None
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return [float(lo), float(hi)]


def _log_binom_pmf(k: np.ndarray, n: int) -> np.ndarray:
    return (
        math.lgamma(n + 1)
        - np.array([math.lgamma(x + 1) + math.lgamma(n - x + 1) for x in k])
        - n * math.log(2)
    )


def mcnemar_exact(b: int, c: int) -> float:
    """Exact (binomial) McNemar p-value, two-sided, for ``b`` and ``c`` discordant pairs.

    Under the null each discordant pair is right→wrong or wrong→right with probability ½, so
    p = min(1, 2 · P[Binomial(b + c, ½) ≤ min(b, c)]).
    """
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    if n <= 1000:
        tail = sum(math.comb(n, i) for i in range(k + 1))
        return min(1.0, 2 * tail / 2**n)
    logs = _log_binom_pmf(np.arange(k + 1), n)
    top = float(np.max(logs))
    return float(min(1.0, 2 * math.exp(top) * float(np.sum(np.exp(logs - top)))))


def rank_average(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    ranks = np.empty(len(x))
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ends = np.r_[starts[1:], len(x)]
    for s, e in zip(starts, ends, strict=True):
        ranks[order[s:e]] = (s + 1 + e) / 2
    return ranks


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


def _exact_signed_rank_counts(n: int) -> np.ndarray:
    """How many of the 2^n sign patterns give each rank sum T+ = 0..n(n+1)/2."""
    counts = np.zeros(n * (n + 1) // 2 + 1, dtype=np.float64)
    counts[0] = 1
    for r in range(1, n + 1):
        counts[r:] = counts[r:] + counts[:-r].copy()
    return counts


def wilcoxon_signed_rank(diffs: np.ndarray) -> tuple[float, float, str]:
    """Two-sided Wilcoxon signed-rank test of paired differences: ``(T+, p, method)``.

    Zero differences are dropped (Wilcoxon's convention). With at most
    ``EXACT_WILCOXON_MAX_N`` non-zero differences and no tied magnitudes the p-value is exact;
    otherwise it is the normal approximation with the tie correction of the variance and no
    continuity correction (scipy's ``method="approx", correction=False``).
    """
    d = diffs[diffs != 0]
    n = len(d)
    if n == 0:
        return 0.0, 1.0, "no non-zero differences"
    ranks = rank_average(np.abs(d))
    t_plus = float(ranks[d > 0].sum())
    ties = len(np.unique(np.abs(d))) < n
    if n <= EXACT_WILCOXON_MAX_N and not ties:
        counts = _exact_signed_rank_counts(n)
        total = 2.0**n
        t = round(t_plus)
        lower = counts[: t + 1].sum() / total
        upper = counts[t:].sum() / total
        return t_plus, float(min(1.0, 2 * min(lower, upper))), "exact"
    mean = n * (n + 1) / 4
    _, tie_counts = np.unique(np.abs(d), return_counts=True)
    var = n * (n + 1) * (2 * n + 1) / 24 - float(np.sum(tie_counts**3 - tie_counts)) / 48
    if var <= 0:
        return t_plus, 1.0, "normal approximation"
    z = (t_plus - mean) / math.sqrt(var)
    return t_plus, float(min(1.0, 2 * _normal_sf(abs(z)))), "normal approximation"


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment (``None`` entries are skipped and stay ``None``)."""
    present = [(p, i) for i, p in enumerate(pvalues) if p is not None]
    m = len(present)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(present)):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def tost_bootstrap(means: np.ndarray, margin: float, alpha: float = 0.05) -> dict[str, object]:
    """Two one-sided tests of |delta| < ``margin`` on bootstrap means of the delta.

    Each one-sided p-value is the share of bootstrap means beyond the margin; the pair is
    equivalent at ``alpha`` when the larger one is below it (equivalently, the 1 − 2·alpha
    percentile interval lies inside ±margin).
    """
    p_low = float(np.mean(means <= -margin))
    p_high = float(np.mean(means >= margin))
    p = max(p_low, p_high)
    return {
        "margin": margin,
        "p": p,
        "equivalent": p < alpha,
        "interval90": percentile_interval(means, 1 - 2 * alpha),
    }
