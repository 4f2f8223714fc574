"""The paired statistics against brute force, exact fractions and scipy."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from forgetlab.compare import stats


def brute_mcnemar(b: int, c: int) -> float:
    """P(a split of the b + c discordant pairs at least as uneven as observed), all 2^n coin flips."""
    n = b + c
    obs = abs(b - n / 2)
    extreme = sum(
        1 for signs in itertools.product((0, 1), repeat=n) if abs(sum(signs) - n / 2) >= obs
    )
    return extreme / 2**n


@pytest.mark.parametrize(
    ("b", "c"), [(0, 0), (1, 0), (3, 0), (5, 2), (2, 5), (4, 4), (9, 3), (0, 12)]
)
def test_mcnemar_matches_enumeration(b: int, c: int) -> None:
    assert stats.mcnemar_exact(b, c) == pytest.approx(brute_mcnemar(b, c), abs=1e-12)


def test_mcnemar_large_n_log_space_matches_exact_fraction() -> None:
    b, c = 560, 480  # n > 1000 takes the log-space path
    n = b + c
    exact = min(Fraction(1), 2 * Fraction(sum(math.comb(n, i) for i in range(c + 1)), 2**n))
    assert stats.mcnemar_exact(b, c) == pytest.approx(float(exact), rel=1e-9)


def test_mcnemar_matches_scipy_binomtest() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    for b, c in [(7, 1), (30, 5), (120, 98), (700, 650)]:
        ref = scipy_stats.binomtest(min(b, c), b + c, 0.5).pvalue
        assert stats.mcnemar_exact(b, c) == pytest.approx(ref, rel=1e-9)


def brute_wilcoxon(d: np.ndarray) -> float:
    """Two-sided exact p by flipping every sign of the non-zero differences."""
    d = d[d != 0]
    ranks = stats.rank_average(np.abs(d))
    t_obs = ranks[d > 0].sum()
    sums = [
        sum(r for r, s in zip(ranks, signs, strict=True) if s)
        for signs in itertools.product((0, 1), repeat=len(d))
    ]
    lower = np.mean([s <= t_obs + 1e-9 for s in sums])
    upper = np.mean([s >= t_obs - 1e-9 for s in sums])
    return float(min(1.0, 2 * min(lower, upper)))


def test_wilcoxon_exact_matches_enumeration() -> None:
    rng = np.random.default_rng(3)
    for n in (1, 4, 7, 10):
        d = rng.normal(0.3, 1, n)
        t, p, how = stats.wilcoxon_signed_rank(d)
        assert how == "exact"
        assert p == pytest.approx(brute_wilcoxon(d), abs=1e-12)
        assert t == pytest.approx(float(stats.rank_average(np.abs(d))[d > 0].sum()))


def test_wilcoxon_matches_scipy() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(5)
    d = rng.normal(0.2, 1, 30)
    ref = scipy_stats.wilcoxon(d, method="exact")
    assert stats.wilcoxon_signed_rank(d)[1] == pytest.approx(ref.pvalue, rel=1e-9)
    tied = np.round(rng.normal(0.1, 1, 400), 1)  # ties and zeros: the normal approximation
    ref = scipy_stats.wilcoxon(tied, zero_method="wilcox", correction=False, method="approx")
    _t, p, how = stats.wilcoxon_signed_rank(tied)
    assert how == "normal approximation"
    assert p == pytest.approx(ref.pvalue, rel=1e-9)


def test_wilcoxon_hand_case_with_ties() -> None:
    # d = [1, -1, 2, 2, 0]: zero dropped; |d| ranks 1.5, 1.5, 3.5, 3.5; T+ = 1.5 + 7 = 8.5
    # tied magnitudes -> normal approximation: mean 5, var 4·5·9/24 − (6 + 6)/48 = 7.25
    t, p, how = stats.wilcoxon_signed_rank(np.array([1.0, -1.0, 2.0, 2.0, 0.0]))
    assert t == 8.5 and how == "normal approximation"
    z = (8.5 - 5) / math.sqrt(7.25)
    assert p == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-12)


def test_holm_hand_case() -> None:
    # sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 -> max so far 0.06
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5, None, 0.9]) == [pytest.approx(1.0), None, pytest.approx(1.0)]


def test_holm_matches_brute_force_definition() -> None:
    rng = np.random.default_rng(0)
    p = list(rng.uniform(0, 0.2, 9))
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    expect = [0.0] * m
    for k, i in enumerate(order):
        expect[i] = min(1.0, max((m - j) * p[order[j]] for j in range(k + 1)))
    assert stats.holm(p) == pytest.approx(expect)


def test_bootstrap_multinomial_path_has_the_resampling_distribution() -> None:
    # 0/1 differences: the multinomial shortcut must give the same distribution as drawing
    # indices; compare both against the analytic standard error of a mean.
    diffs = np.array([-1.0] * 30 + [1.0] * 5 + [0.0] * 165)
    fast = stats.bootstrap_means(diffs, np.random.default_rng(1), b=20000)
    idx = np.random.default_rng(2).integers(0, len(diffs), size=(20000, len(diffs)))
    slow = diffs[idx].mean(axis=1)
    se = diffs.std() / math.sqrt(len(diffs))
    for draws in (fast, slow):
        assert draws.mean() == pytest.approx(diffs.mean(), abs=0.003)
        assert draws.std() == pytest.approx(se, rel=0.03)
    assert stats.percentile_interval(fast) == pytest.approx(
        stats.percentile_interval(slow), abs=0.01
    )


def test_bootstrap_generic_path_and_reproducibility() -> None:
    diffs = np.random.default_rng(4).normal(0.1, 1, 500)  # 500 distinct values: index resampling
    a = stats.bootstrap_means(diffs, stats.rng_for("t", "m"))
    b = stats.bootstrap_means(diffs, stats.rng_for("t", "m"))
    assert np.array_equal(a, b)
    assert a.std() == pytest.approx(diffs.std() / math.sqrt(500), rel=0.06)


def test_tost() -> None:
    means = np.random.default_rng(0).normal(0.0, 0.005, 4000)
    eq = stats.tost_bootstrap(means, 0.02)
    assert eq["equivalent"] is True and eq["p"] < 0.05
    far = stats.tost_bootstrap(means + 0.018, 0.02)
    assert far["equivalent"] is False and far["p"] > 0.05
    _lo, hi = far["interval90"]  # type: ignore[misc]
    assert hi > 0.02


def test_bootstrap_normal_limit_matches_resampling_for_large_n() -> None:
    diffs = np.round(np.random.default_rng(6).normal(0.05, 0.3, 6000), 4)  # thousands of values
    assert "normal limit" in stats.bootstrap_method(diffs)
    fast = stats.percentile_interval(stats.bootstrap_means(diffs, np.random.default_rng(0)))
    idx = np.random.default_rng(1).integers(0, len(diffs), size=(4000, len(diffs)))
    slow = stats.percentile_interval(diffs[idx].mean(axis=1))
    assert fast == pytest.approx(slow, abs=0.0015)  # SE ≈ 0.0039
    small = diffs[:500]
    assert stats.bootstrap_method(small) == "resampled indices"
