"""Paired bootstrap intervals of the ICL drop (results.json ``drop_ci95``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes import FakeBackend, english_instruction_follower, upper_query

from forgetlab.llm.benchmarks.icl_vs_if.benchmark import evaluate_icl_vs_if
from forgetlab.llm.paired_interval import drop_intervals


def rows(cond: str, base: list[int], tuned: list[int], task: str = "a-b") -> dict[str, Any]:
    icl, iff = task.split("-")
    mk = lambda hits, role: [  # noqa: E731
        {"sample": f"{cond}/{task}/{i}", "condition": cond, "icl_task": icl, "if_task": iff,
         "icl_hit": bool(h), "model": role}
        for i, h in enumerate(hits)
    ]  # fmt: skip
    return {"base": mk(base, "base"), "tuned": mk(tuned, "tuned")}


def merge(*parts: dict[str, Any]) -> dict[str, Any]:
    return {role: [r for p in parts for r in p[role]] for role in ("base", "tuned")}


def test_degenerate_pairs_give_point_intervals() -> None:
    same = rows("en", [1, 0, 1, 1, 0], [1, 0, 1, 1, 0])
    assert drop_intervals(same, ["en"])["languages"]["en"] == [0.0, 0.0]
    lost = rows("fr", [1] * 6, [0] * 6)
    assert drop_intervals(lost, ["fr"])["overall"] == [1.0, 1.0]


def test_width_matches_the_normal_approximation() -> None:
    """For a large cell the percentile bootstrap ~ mean ± 1.96 · sd(d) / √n of the paired d."""
    rng = np.random.default_rng(7)
    n = 600
    base = (rng.random(n) < 0.8).astype(int)
    tuned = np.where(rng.random(n) < 0.6, base, (rng.random(n) < 0.3).astype(int))
    d = base - tuned
    lo, hi = drop_intervals(rows("en", list(base), list(tuned)), ["en"])["languages"]["en"]
    half = 1.959964 * d.std(ddof=1) / math.sqrt(n)
    assert lo < d.mean() < hi
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.1)


def test_condition_mean_over_tasks_and_independence() -> None:
    en_a = rows("en", [1, 1, 1, 1], [0, 0, 0, 0], "a-b")  # drop 1 in task a
    en_c = rows("en", [0, 0, 0, 0], [0, 0, 0, 0], "c-d")  # drop 0 in task c
    fr = rows("fr", [1, 0, 1, 0, 1], [0, 0, 1, 1, 0])
    alone = drop_intervals(merge(en_a, en_c), ["en"])
    assert alone["languages"]["en"] == [0.5, 0.5]  # mean over the two tasks, no spread
    both = drop_intervals(merge(en_a, en_c, fr), ["en", "fr"])
    assert both["languages"]["en"] == alone["languages"]["en"]
    assert both == drop_intervals(merge(fr, en_c, en_a), ["en", "fr"])  # order-free


def test_pipeline_writes_an_interval_around_every_drop(tmp_path: Path) -> None:
    res = evaluate_icl_vs_if(
        {
            "base": FakeBackend(upper_query, name="b"),
            "tuned": FakeBackend(english_instruction_follower, name="t"),
        },
        out=tmp_path,
        languages=["en", "fr"],
        limit=5,
        show_progress=False,
    )
    assert "bootstrap" in res["drop_interval"]
    for row in [*res["languages"].values(), res["overall"]]:
        lo, hi = row["drop_ci95"]
        assert lo <= row["drop"] + 1e-12 and row["drop"] - 1e-12 <= hi
    assert res["languages"]["en"]["drop"] > 0 and res["languages"]["en"]["drop_ci95"][0] > 0


def test_markdown_table_shows_the_interval(tmp_path: Path) -> None:
    from forgetlab.report.llm_report import render_table

    res = evaluate_icl_vs_if(
        {"base": FakeBackend(upper_query, name="b"), "tuned": FakeBackend(upper_query, name="t")},
        out=tmp_path,
        languages=["en"],
        limit=2,
        show_progress=False,
    )
    assert res["languages"]["en"]["drop_ci95"] == [0.0, 0.0]  # same model twice
    assert render_table(res).splitlines()[2].endswith("| +0.0 | 0.0 | 0.0 | 8 | [+0.0, +0.0] |")
