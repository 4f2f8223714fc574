"""`reproduce --seeds N`: interval arithmetic, aggregation, resume per seed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from forgetlab.cli import main
from forgetlab.synthetic import train
from forgetlab.synthetic.reproduce import reproduce_config
from forgetlab.synthetic.seeds import (
    aggregate,
    default_jobs,
    flatten,
    mean_interval,
    run_seeds,
    t_quantile,
)

TINY = [
    "train.steps=6",
    "finetune.steps=3",
    "eval.n_prompts=24",
    "eval.batch_size=24",
    "analysis.rotation=[2]",
    "analysis.xscale=[]",
    "analysis.yscale=[2]",
    "analysis.n_boot=10",
]


def test_mean_interval_is_the_t_interval() -> None:
    cell = mean_interval([1.0, 2.0, 3.0, float("nan")])
    assert cell["n"] == 3 and cell["mean"] == 2.0 and cell["sd"] == pytest.approx(1.0)
    half = 4.303 / math.sqrt(3)
    assert (cell["lo"], cell["hi"]) == pytest.approx((2.0 - half, 2.0 + half))
    one = mean_interval([5.0])
    assert one["mean"] == 5.0 and math.isnan(one["lo"])
    assert t_quantile(1) == 12.706 and t_quantile(100) == 1.96 and math.isnan(t_quantile(0))


def test_flatten_and_aggregate_by_hand() -> None:
    a = {"x": {"y": 1.0, "z": [1.0, 3.0]}, "flag": True, "provenance": {"t": 9.0},
         "checks": {"c": True, "d": False}, "checks_bayes_ideal": {"c": True}}  # fmt: skip
    b = {"x": {"y": 3.0, "z": [5.0, 7.0]}, "flag": False, "provenance": {"t": 1.0},
         "checks": {"c": True, "d": True}, "checks_bayes_ideal": {"c": True}}  # fmt: skip
    assert flatten(a) == {"x.y": 1.0, "x.z.0": 1.0, "x.z.1": 3.0}
    agg = aggregate({0: a, 1: b})
    assert agg["aggregate"]["x.y"]["mean"] == 2.0
    assert agg["aggregate"]["x.z.1"]["mean"] == 5.0
    assert agg["checks"]["c"] == {
        "passed": 2,
        "of": 2,
        "bayes_ideal_passed": 2,
        "bayes_ideal_of": 2,
    }
    assert agg["checks"]["d"]["passed"] == 1


def test_default_jobs() -> None:
    assert default_jobs(3, cpu_count=2) == 1
    assert default_jobs(3, cpu_count=16) == 3
    assert default_jobs(20, cpu_count=16) == 8


@pytest.mark.slow
def test_two_seeds_resume_and_aggregate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = reproduce_config("smoke", overrides=TINY)
    out = tmp_path / "seeds"
    r = run_seeds(cfg, out, 2, jobs=1, show_progress=False, log=lambda s: None)
    assert r["seeds"] == [0, 1]
    per = [json.loads((out / f"seed_{s}" / "metrics.json").read_text()) for s in (0, 1)]
    assert per[0]["pretrained"]["continuous_error"] != per[1]["pretrained"]["continuous_error"]
    head = r["headline"]["pretrained.continuous_error"]
    assert head["values"] == [p["pretrained"]["continuous_error"] for p in per]
    assert head["mean"] == pytest.approx(sum(head["values"]) / 2)
    for name, ok in r["checks"].items():
        assert ok == all(p["checks"][name] for p in per)
    assert "seed_1/report.md" in (out / "report.md").read_text()

    # Resume: nothing retrains, the aggregate is identical.
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("a finished seed was retrained")

    monkeypatch.setattr(train, "pretrain", boom)
    monkeypatch.setattr(train, "finetune", boom)
    r2 = run_seeds(cfg, out, 2, jobs=1, show_progress=False, log=lambda s: None)
    assert json.dumps(r2["aggregate"], sort_keys=True) == json.dumps(r["aggregate"], sort_keys=True)


def test_cli_rejects_zero_seeds(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(
            ["synthetic", "reproduce", "--preset", "smoke", "--seeds", "0", "--out", str(tmp_path)]
        )
    assert exc.value.code == 2
