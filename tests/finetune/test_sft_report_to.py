"""finetune sft --report-to tensorboard: TRL's training logs and the forgetting evaluations
land in OUT/tensorboard, equal to train_result.json and forgetting_curve.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forgetlab.cli import main

pytest.importorskip("tensorboard")


def test_sft_logs_loss_and_forgetting_scalars(
    tmp_path: Path, tiny_model_dir: Path, pc_data: Path
) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    main(
        [
            *("finetune", "sft", "--model", str(tiny_model_dir), "--data", str(pc_data)),
            *("--preset", "smoke", "--max-steps", "4", "--set", "train.save_steps=2"),
            *("--set", "train.logging_steps=1", "--eval-suite", "icl-vs-if:2"),
            *("--eval-languages", "en,fr", "--report-to", "tensorboard", "--out", str(out)),
        ]
    )
    acc = EventAccumulator(str(out / "tensorboard"))
    acc.Reload()
    got = {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}

    result = json.loads((out / "train_result.json").read_text())
    assert got["train/loss"] == [
        (h["step"], pytest.approx(h["loss"], rel=1e-6)) for h in result["loss_history"]
    ]
    points = json.loads((out / "forgetting_curve.json").read_text())["points"]
    assert [p["step"] for p in points] == [0, 2, 4]
    for lang in ("en", "fr"):
        assert got[f"forgetting/icl-vs-if/icl_accuracy/{lang}"] == [
            (p["step"], pytest.approx(p["metrics"]["icl-vs-if"]["icl_accuracy"][lang]))
            for p in points
        ]
    assert (out / "report.html").is_file()  # the run ends with its HTML report
