"""Paired change of a binary rate: exact McNemar against brute force, bootstrap behaviour."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest

from forgetlab.llm.paired_rates import mcnemar_exact_p, paired_change


def brute_force_p(only_a: int, only_b: int) -> float:
    """Sum the probabilities of every split of the discordant pairs as or less likely."""
    n = only_a + only_b
    probs = [Fraction(sum(1 for s in itertools.product((0, 1), repeat=n) if sum(s) == k), 2**n)
             for k in range(n + 1)]  # fmt: skip
    observed = probs[only_b]
    return float(min(Fraction(1), sum(p for p in probs if p <= observed)))


@pytest.mark.parametrize("only_a,only_b", [(0, 0), (0, 5), (1, 7), (3, 3), (2, 9), (6, 1)])
def test_mcnemar_exact_matches_brute_force(only_a: int, only_b: int) -> None:
    assert mcnemar_exact_p(only_a, only_b) == pytest.approx(brute_force_p(only_a, only_b))


def test_textbook_value() -> None:
    # 0 vs 10 discordant pairs: p = 2 / 2**10
    assert mcnemar_exact_p(0, 10) == pytest.approx(2 / 1024)


def test_paired_change_counts_and_interval() -> None:
    a = {f"p{i}": i < 10 for i in range(100)}  # 10 % refuse
    b = {f"p{i}": i < 90 for i in range(100)}  # 90 %, every a-refusal kept
    res = paired_change(a, b, key="en")
    assert res["n"] == 100 and res["rate_a"] == 0.1 and res["rate_b"] == 0.9
    assert res["change"] == pytest.approx(0.8)
    assert res["only_a"] == 0 and res["only_b"] == 80
    lo, hi = res["ci95"]
    assert 0.7 < lo < 0.8 < hi < 0.9
    assert res["mcnemar_p"] < 1e-20
    assert paired_change(a, b, key="en") == res  # reproducible


def test_no_change_and_disjoint_ids() -> None:
    a = {"x": True, "y": False}
    same = paired_change(a, dict(a))
    assert same["change"] == 0 and same["ci95"] == [0.0, 0.0] and same["mcnemar_p"] == 1.0
    assert paired_change(a, {"z": True})["n"] == 0
