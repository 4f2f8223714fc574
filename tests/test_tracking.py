"""--report-to: scalars reach TensorBoard event files, equal to what the run writes itself."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from forgetlab.cli import main
from forgetlab.errors import ForgetlabError
from forgetlab.tracking import log_scalars, parse_report_to, reporting

pytest.importorskip("tensorboard")


def scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar series in the event files of ``log_dir`` (TensorBoard's own reader)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir))
    acc.Reload()
    return {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}


def test_parse_report_to() -> None:
    assert parse_report_to("none") == [] and parse_report_to(None) == []
    assert parse_report_to("tensorboard, none,tensorboard") == ["tensorboard"]
    with pytest.raises(ForgetlabError, match="choose from"):
        parse_report_to("mlflow")
    if importlib.util.find_spec("wandb") is None:
        with pytest.raises(ForgetlabError, match="pip install wandb"):
            parse_report_to("wandb")


def test_log_scalars_needs_a_session(tmp_path: Path) -> None:
    log_scalars({"a": 1.0}, 0)  # no session: nothing happens, nothing is written
    assert not list(tmp_path.iterdir())
    with reporting(["tensorboard"], tmp_path):
        log_scalars({"x": {"y": 0.25, "flag": True, "text": "no"}, "nan": float("nan")}, 3, "p")
        log_scalars({"x": {"y": 0.5}}, 7, "p")
    assert scalars(tmp_path / "tensorboard") == {"p/x/y": [(3, 0.25), (7, 0.5)]}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_synthetic_reproduce_reports_training_and_evaluation(tmp_path: Path) -> None:
    out = tmp_path / "run"
    main(
        [
            *("synthetic", "reproduce", "--preset", "smoke", "--quiet"),
            *("--report-to", "tensorboard", "--out", str(out)),
        ]
    )
    got = scalars(out / "tensorboard")
    for phase, sub in (("pretrain", "pretrained"), ("finetune", "finetuned")):
        rows = read_jsonl(out / sub / "metrics.jsonl")
        assert [s for s, _ in got[f"{phase}/loss"]] == [r["step"] for r in rows]
        assert [v for _, v in got[f"{phase}/loss"]] == pytest.approx([r["loss"] for r in rows])
        assert [v for _, v in got[f"{phase}/lr"]] == pytest.approx([r["lr"] for r in rows])
    m = json.loads((out / "metrics.json").read_text())
    steps = m["provenance"]["config"]["synthetic"]["finetune"]["steps"]
    assert got["eval/finetuned/continuous_error"] == [
        (steps, pytest.approx(m["finetuned"]["continuous_error"]))
    ]
    assert got["eval/conjugate/recovered_fraction"][0][1] == pytest.approx(m["recovered_fraction"])


def test_bad_report_to_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(
            [
                *("synthetic", "pretrain", "--preset", "smoke", "--report-to", "mlflow"),
                *("--out", str(tmp_path / "x")),
            ]
        )
    err = capsys.readouterr().err
    assert exc.value.code == 2 and len(err.strip().splitlines()) == 1 and "mlflow" in err
    assert not (tmp_path / "x").exists()


class FakeWandb:
    """Stands in for the wandb module: records init/log/finish calls."""

    def __init__(self, run: object = None) -> None:
        self.run = run
        self.calls: list[tuple[str, Any]] = []

    def init(self, **kw: Any) -> None:
        self.calls.append(("init", kw))
        self.run = object()

    def log(self, data: dict[str, float]) -> None:
        self.calls.append(("log", data))

    def finish(self) -> None:
        self.calls.append(("finish", None))
        self.run = None


def test_wandb_sink_opens_logs_and_closes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from forgetlab.tracking import hf_report_to

    fake = FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    assert hf_report_to() == "none"
    with reporting(["wandb"], tmp_path, run_name="r1", config={"a": 1}):
        assert hf_report_to() == ["wandb"]  # TRL/HF then log to the same run
        log_scalars({"loss": 0.5, "skip": float("inf")}, 4, prefix="pretrain")
    assert [c[0] for c in fake.calls] == ["init", "log", "finish"]
    assert fake.calls[0][1]["project"] == "forgetlab" and fake.calls[0][1]["name"] == "r1"
    assert fake.calls[1][1] == {"pretrain/loss": 0.5, "forgetlab/step": 4}

    existing = FakeWandb(run="opened-by-someone-else")
    monkeypatch.setitem(sys.modules, "wandb", existing)
    with reporting(["wandb"], tmp_path):
        log_scalars({"x": 1}, 0)
    assert [c[0] for c in existing.calls] == ["log"]  # reused, not re-initialised or closed
