"""`forgetlab synthetic reproduce`: config handling, end-to-end smoke run, resume, report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from forgetlab.cli import main
from forgetlab.errors import ForgetlabError, RunDirMismatch
from forgetlab.synthetic import train
from forgetlab.synthetic.presets import SyntheticConfig
from forgetlab.synthetic.reproduce import reproduce, reproduce_config

SMALL = ["eval.n_prompts=64", "eval.batch_size=64"]


def test_config_layers_and_errors(tmp_path: Path) -> None:
    cfg = reproduce_config("smoke", overrides=["analysis.yscale=[1.5, 2]", *SMALL])
    assert cfg.analysis.yscale == [1.5, 2.0]
    assert cfg.analysis.n_bins == 3  # the smoke analysis preset
    assert isinstance(cfg.synthetic(), SyntheticConfig)
    assert "analysis" not in cfg.synthetic().model_dump()
    yml = tmp_path / "c.yaml"
    yml.write_text("analysis:\n  rotation: [2, 3]\n")
    assert reproduce_config("cpu", yml).analysis.rotation == [2, 3]
    for bad in (["analysis.n_bins=0"], ["analysis.bogus=1"], ["analysis.ideal_finetuned_alpha=1"]):
        with pytest.raises(ForgetlabError):
            reproduce_config("smoke", overrides=bad)
    with pytest.raises(ForgetlabError, match="unknown preset"):
        reproduce_config("nope")


def test_cli_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "synthetic",
                "reproduce",
                "--preset",
                "smoke",
                "--set",
                "analysis.rotation=[0]",
                "--out",
                str(tmp_path),
            ]
        )
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("forgetlab: error:") and "\n" not in err


REQUIRED = [
    ("pretrained", "continuous_error"),
    ("pretrained", "discrete_error"),
    ("finetuned", "continuous_error"),
    ("finetuned", "discrete_error"),
    ("conjugate", "best"),
    ("conjugate", "continuous_error"),
    ("recovered_fraction",),
    ("conjugates",),
    ("implied_weight", "pretrained"),
    ("implied_weight", "finetuned"),
    ("implied_weight", "conjugate"),
    ("forgetting_by_distance", "bins"),
    ("inference", "calibration"),
    ("inference", "lambda_shift", "discrete"),
    ("inference", "forgetting_by_g", "continuous"),
    ("inference", "sharpness", "spearman_pretrained"),
    ("yscale_paper", "1.5", "model", "recovered_fraction_per_k"),
    ("yscale_paper", "2", "bayes", "recovered_fraction"),
    ("checks", "ours_best_conjugate_recovers_at_least_0.3"),
    ("checks_bayes_ideal",),
    ("provenance", "packages"),
]


def _numbers(m: dict) -> str:
    """Everything but provenance (timings and dates legitimately differ between runs).

    As JSON text, so that NaN (an empty bin, k = 0) compares equal to itself.
    """
    return json.dumps({k: v for k, v in m.items() if k != "provenance"}, sort_keys=True)


@pytest.mark.slow
def test_reproduce_smoke_end_to_end_and_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = reproduce_config("smoke", overrides=SMALL)
    out = tmp_path / "run"
    m = reproduce(cfg, out, show_progress=False, log=lambda s: None)

    on_disk = json.loads((out / "metrics.json").read_text())
    for path in REQUIRED:
        node = on_disk
        for key in path:
            assert key in node, path
            node = node[key]
    # Numeric sanity: errors are finite and positive; the zero predictor scores ~tau^2 = 1, a
    # trained model must not be wildly worse than that.
    for model in ("pretrained", "finetuned"):
        for fam in ("continuous", "discrete"):
            e = on_disk[model][f"{fam}_error"]
            assert math.isfinite(e) and 0 < e < 5
            assert len(on_disk[model][fam]["error_per_k"]) == cfg.task.n_points
    # The grid is complete and the headline is consistent with its own table.
    a = cfg.analysis
    assert len(on_disk["conjugates"]) == len(a.yscale) + len(a.xscale) + len(a.rotation)
    best = next(
        e for e in on_disk["conjugates"] if e["name"] == on_disk["conjugate"]["best"]["name"]
    )
    pt, ft = on_disk["pretrained"]["continuous_error"], on_disk["finetuned"]["continuous_error"]
    expected = (ft - best["finetuned_continuous_error"]) / (ft - pt) if ft > pt else None
    if expected is not None:
        assert on_disk["recovered_fraction"] == pytest.approx(expected)
    assert best["select"]["finetuned_continuous_error"] == min(
        e["select"]["finetuned_continuous_error"] for e in on_disk["conjugates"]
    )
    bins = on_disk["forgetting_by_distance"]["bins"]
    assert sum(b["count"] for b in bins) == cfg.eval.n_prompts
    calib = on_disk["inference"]["calibration"]
    assert sum(r["count"] for r in calib) == 2 * cfg.eval.n_prompts
    assert (
        len(on_disk["yscale_paper"]["2"]["model"]["recovered_fraction_per_k"]) == cfg.task.n_points
    )
    assert all(isinstance(v, bool) for v in on_disk["checks"].values())
    # Bayes references: ridge is optimal on continuous prompts, mixture on neither family worse
    # than the worse component.
    bay = on_disk["bayes"]
    assert bay["continuous"]["ridge"]["error"] <= bay["continuous"]["mixture"]["error"] + 1e-12
    assert bay["discrete"]["dmmse"]["error"] <= bay["discrete"]["mixture"]["error"] + 1e-12
    for fname in (
        "report.md",
        "fig_error_vs_k.png",
        "fig_forgetting_vs_distance.png",
        "fig_implied_weight.png",
        "fig_recovery.png",
        "fig_lambda_vs_g.png",
        "fig_lambda_shift_by_g.png",
        "fig_yscale_per_k.png",
    ):
        assert (out / fname).stat().st_size > 0
    assert (out / "fig_recovery.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text()
    assert "recovered fraction" in report and "Fig. 5 analogue" in report
    stages = json.loads((out / "stages.json").read_text())
    assert {"pretrain", "finetune"} <= set(stages)

    # Rerun: no stage retrains (the trainers would raise), the cached sweep is reused, and the
    # numbers are identical.
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("a finished stage was redone")

    monkeypatch.setattr(train, "pretrain", boom)
    monkeypatch.setattr(train, "finetune", boom)
    rows_before = (out / "conjugates.jsonl").read_text()
    m2 = reproduce(cfg, out, show_progress=False, log=lambda s: None)
    assert (out / "conjugates.jsonl").read_text() == rows_before
    assert _numbers(m2) == _numbers(m)

    # Interrupted sweep: drop half the cached rows and the eval cache; the rerun fills them in
    # and reproduces the same numbers.
    lines = rows_before.splitlines(keepends=True)
    (out / "conjugates.jsonl").write_text("".join(lines[: len(lines) // 2]))
    (out / "eval" / "finetuned.pt").unlink()
    m3 = reproduce(cfg, out, show_progress=False, log=lambda s: None)
    assert _numbers(m3) == _numbers(m)

    # Same --out with another config is refused.
    other = reproduce_config("smoke", overrides=[*SMALL, "analysis.n_bins=2"])
    with pytest.raises(RunDirMismatch):
        reproduce(other, out, show_progress=False, log=lambda s: None)
