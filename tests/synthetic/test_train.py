"""Training: schedules, presets, run files, resume (also after SIGKILL), fine-tuning, CLI."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from forgetlab.errors import ForgetlabError
from forgetlab.synthetic import train as train_mod
from forgetlab.synthetic.presets import PRESETS, SyntheticConfig, synthetic_config
from forgetlab.synthetic.tasks import TaskSampler
from forgetlab.synthetic.train import (
    TrainingDiverged,
    finetune,
    is_complete,
    load_run,
    lr_at,
    predict,
    pretrain,
)


@pytest.fixture(autouse=True)
def _one_thread():
    """Bit-for-bit comparisons need the same reduction order: pin one intra-op thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def smoke(*sets: str) -> SyntheticConfig:
    return synthetic_config("smoke", overrides=sets)


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "model.safetensors"))


def assert_identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


# ----------------------------------------------------------------------------- schedules


def test_lr_schedule_closed_forms():
    kw = {"lr": 1.0, "warmup_steps": 10, "steps": 110}
    assert lr_at(0, schedule="cosine", **kw) == pytest.approx(0.1)
    assert lr_at(9, schedule="cosine", **kw) == pytest.approx(1.0)
    assert lr_at(10, schedule="cosine", **kw) == pytest.approx(1.0)
    assert lr_at(60, schedule="cosine", **kw) == pytest.approx(0.5)  # half way: cos(pi/2)
    assert lr_at(110, schedule="cosine", **kw) == pytest.approx(0.0)
    assert lr_at(110, schedule="cosine", min_lr_ratio=0.1, **kw) == pytest.approx(0.1)
    assert lr_at(60, schedule="linear", **kw) == pytest.approx(0.5)
    assert lr_at(100, schedule="constant", **kw) == 1.0
    assert lr_at(0, lr=2.0, warmup_steps=0, steps=5, schedule="constant") == 2.0


# ----------------------------------------------------------------------------- presets


def test_every_preset_validates_and_default_is_cpu():
    for name in PRESETS:
        cfg = synthetic_config(name)
        assert cfg.train.batch_size >= 1
    assert synthetic_config() == synthetic_config("cpu")


def test_paper_and_raventos_presets_follow_their_papers():
    p = synthetic_config("paper")
    assert (p.task.d, p.task.n_points, p.task.sigma, p.task.pool_size) == (20, 41, 1.0, 64)
    assert (p.model.n_layer, p.model.n_embd, p.model.n_head) == (12, 256, 8)
    assert (p.train.lr, p.train.batch_size, p.train.steps) == (1e-4, 64, 500_000)
    cur = p.train.curriculum
    assert cur.stage(0, 20, 41) == (5, 11)
    assert cur.stage(1999, 20, 41) == (5, 11)
    assert cur.stage(2000, 20, 41) == (6, 13)
    assert cur.stage(30_000, 20, 41) == (20, 41)
    assert cur.stage(10**6, 20, 41) == (20, 41)
    r = synthetic_config("raventos")
    assert (r.task.d, r.task.n_points, r.model.n_layer, r.model.n_embd, r.model.n_head) == (
        8,
        16,
        8,
        128,
        2,
    )


def test_bad_override_is_one_line_error():
    with pytest.raises(ForgetlabError, match=r"n_head") as err:
        synthetic_config("smoke", overrides=["model.n_head=3"])
    assert "\n" not in str(err.value)


# ----------------------------------------------------------------------------- pretraining


def test_pretrain_writes_run_and_rerun_is_a_noop(tmp_path, capsys):
    cfg = smoke()
    out = pretrain(cfg, tmp_path / "run", device="cpu", show_progress=False)
    assert is_complete(out)
    assert not (out / "checkpoint.pt").exists()
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(5, cfg.train.steps + 1, 5))
    assert all(math.isfinite(r["loss"]) and r["lr"] > 0 for r in rows)
    meta = json.loads((out / "config.json").read_text())
    assert meta["kind"] == "pretrain" and meta["config"] == cfg.model_dump(mode="json")
    assert meta["provenance"]["packages"]["torch"]

    model, loaded = load_run(out)
    assert loaded == cfg and not model.training
    assert next(model.parameters()).device.type == "cpu"
    assert_identical({k: v for k, v in model.state_dict().items()}, weights(out))

    mtime = (out / "model.safetensors").stat().st_mtime_ns
    pretrain(cfg, out, device="cpu", show_progress=True)
    assert "already complete" in capsys.readouterr().err
    assert (out / "model.safetensors").stat().st_mtime_ns == mtime


def test_same_seed_same_weights_other_seed_differs(tmp_path):
    a = pretrain(smoke("train.steps=10"), tmp_path / "a", show_progress=False)
    b = pretrain(smoke("train.steps=10"), tmp_path / "b", show_progress=False)
    c = pretrain(smoke("train.steps=10", "seed=1"), tmp_path / "c", show_progress=False)
    assert_identical(weights(a), weights(b))
    assert not torch.equal(weights(a)["read_in.weight"], weights(c)["read_in.weight"])


def test_out_with_different_config_is_refused(tmp_path):
    pretrain(smoke("train.steps=5"), tmp_path / "run", show_progress=False)
    with pytest.raises(ForgetlabError, match="different configuration") as err:
        pretrain(smoke("train.steps=6"), tmp_path / "run", show_progress=False)
    assert "\n" not in str(err.value)


class _Stop(Exception):
    pass


def _interrupt_at(monkeypatch, step_to_fail: int, value: float | None = None):
    """Make the loss call number ``step_to_fail`` (1-based) raise, or return ``value``."""
    calls = {"n": 0}
    real = train_mod.mse_loss

    def loss(preds, ys):
        calls["n"] += 1
        out = real(preds, ys)
        if calls["n"] == step_to_fail:
            if value is None:
                raise _Stop
            return out * 0 + value
        return out

    monkeypatch.setattr(train_mod, "mse_loss", loss)


def test_interrupted_run_resumes_to_identical_weights(tmp_path, monkeypatch):
    cfg = smoke()
    ref = pretrain(cfg, tmp_path / "ref", show_progress=False)
    _interrupt_at(monkeypatch, 26)  # checkpoints at 10 and 20: resume from 20
    with pytest.raises(_Stop):
        pretrain(cfg, tmp_path / "run", show_progress=False)
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert ckpt["step"] == 20
    monkeypatch.undo()
    pretrain(cfg, tmp_path / "run", show_progress=False)
    assert_identical(weights(tmp_path / "run"), weights(ref))
    steps = [
        json.loads(x)["step"] for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps == sorted(set(steps))  # rows logged after the checkpoint were not duplicated


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    cfg = smoke()
    _interrupt_at(monkeypatch, 23, value=float("nan"))
    with pytest.raises(TrainingDiverged, match=r"nan at step 23.*checkpoint \(step 20\)") as err:
        pretrain(cfg, tmp_path / "run", show_progress=False)
    assert "\n" not in str(err.value)
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert ckpt["step"] == 20
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())
    assert not is_complete(tmp_path / "run")


def test_curriculum_shapes_reach_the_model(tmp_path, monkeypatch):
    seen = []
    real = train_mod.mse_loss

    def spy(preds, ys):
        seen.append(tuple(preds.shape))
        return real(preds, ys)

    monkeypatch.setattr(train_mod, "mse_loss", spy)
    cfg = smoke(
        "train.steps=6", "train.curriculum.enabled=true", "train.curriculum.d_start=1",
        "train.curriculum.n_start=2", "train.curriculum.n_inc=3", "train.curriculum.every=2",
    )  # fmt: skip
    pretrain(cfg, tmp_path / "run", show_progress=False)
    assert [k for _, k in seen] == [2, 2, 5, 5, 6, 6]
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["d_active"] == 3 and rows[0]["n_points"] == 6  # step 5 is in stage 2


@pytest.mark.slow
def test_sigkilled_run_resumes_bit_identical(tmp_path):
    """Kill -9 a CLI run after a checkpoint, rerun the command, compare with torch.equal."""
    sets = ("train.steps=80", "train.checkpoint_every=5", "train.log_every=5")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "forgetlab", "synthetic", "pretrain", "--preset", "smoke"]
    cmd += ["--device", "cpu", "--quiet", *(x for kv in sets for x in ("--set", kv))]
    run = tmp_path / "killed"
    proc = subprocess.Popen([*cmd, "--out", str(run)], env=env, stderr=subprocess.DEVNULL)
    ckpt = run / "checkpoint.pt"
    deadline = time.monotonic() + 120
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    killed_at = torch.load(ckpt, weights_only=True)["step"]
    assert 0 < killed_at < 80 and not is_complete(run)

    subprocess.run([*cmd, "--out", str(run)], env=env, check=True, capture_output=True)
    ref = pretrain(smoke(*sets), tmp_path / "ref", device="cpu", show_progress=False)
    assert_identical(weights(run), weights(ref))
    # identical tensors are written as identical bytes (the sha256 a fine-tune records)
    assert (run / "model.safetensors").read_bytes() == (ref / "model.safetensors").read_bytes()


@pytest.mark.slow
def test_training_fits_a_one_task_pool(tmp_path):
    """150 steps on a pool of one weight drive its error to ~0 (zero predictor: |w|^2/d)."""
    cfg = smoke(
        "task.alpha=1", "task.pool_size=1", "train.steps=150", "train.checkpoint_every=1000"
    )
    model, cfg = load_run(pretrain(cfg, tmp_path / "run", show_progress=False))
    b = TaskSampler(cfg.task, seed=99).batch(0, 512, stream="eval", family="discrete")
    err = ((predict(model, b.xs, b.ys) - b.targets) ** 2).mean(0) / cfg.task.d
    zero = (b.targets**2).mean(0) / cfg.task.d
    assert (err < 0.05 * zero).all()


# ----------------------------------------------------------------------------- fine-tuning


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    torch.set_num_threads(1)
    return pretrain(smoke(), tmp_path_factory.mktemp("pt") / "run", show_progress=False)


def test_finetune_draws_discrete_batches_from_its_own_stream(pretrained, tmp_path, monkeypatch):
    calls = []
    real = TaskSampler.batch

    def spy(self, step, batch_size, **kw):
        calls.append((step, kw.get("stream"), kw.get("alpha")))
        return real(self, step, batch_size, **kw)

    monkeypatch.setattr(TaskSampler, "batch", spy)
    out = finetune(pretrained, tmp_path / "ft", steps=7, show_progress=False)
    assert calls == [(s, "finetune", 1.0) for s in range(7)]
    _, cfg = load_run(out)
    assert cfg.finetune.steps == 7 and cfg.finetune.alpha == 1.0
    meta = json.loads((out / "config.json").read_text())
    assert meta["kind"] == "finetune" and meta["parent"] == str(pretrained.resolve())
    changed = [
        not torch.equal(a, b)
        for a, b in zip(weights(out).values(), weights(pretrained).values(), strict=True)
    ]
    assert any(changed)


def test_finetune_resumes_exactly_and_refuses_another_parent(pretrained, tmp_path, monkeypatch):
    ref = finetune(pretrained, tmp_path / "ref", alpha=0.8, lr=1e-3, show_progress=False)
    _interrupt_at(monkeypatch, 15)
    with pytest.raises(_Stop):
        finetune(pretrained, tmp_path / "run", alpha=0.8, lr=1e-3, show_progress=False)
    monkeypatch.undo()
    finetune(pretrained, tmp_path / "run", alpha=0.8, lr=1e-3, show_progress=False)
    assert_identical(weights(tmp_path / "run"), weights(ref))

    other = pretrain(smoke("seed=3"), tmp_path / "other", show_progress=False)
    with pytest.raises(ForgetlabError, match="different configuration"):
        finetune(other, tmp_path / "run", alpha=0.8, lr=1e-3, show_progress=False)


def test_finetune_input_errors(pretrained, tmp_path):
    with pytest.raises(ForgetlabError, match="no finished pretraining run"):
        finetune(tmp_path / "missing", tmp_path / "ft")
    with pytest.raises(ForgetlabError, match="cannot change model"):
        finetune(pretrained, tmp_path / "ft", overrides=["model.n_layer=3"])
    with pytest.raises(ForgetlabError, match="--out must differ"):
        finetune(pretrained, pretrained)


# ----------------------------------------------------------------------------- CLI


def test_cli_pretrain_then_finetune(tmp_path, capsys):
    from forgetlab.cli import main

    main(
        [
            "synthetic",
            "pretrain",
            "--preset",
            "smoke",
            "--out",
            str(tmp_path / "pt"),
            "--steps",
            "8",
            "--seed",
            "2",
            "--quiet",
            "--set",
            "train.log_every=4",
        ]
    )
    _, cfg = load_run(tmp_path / "pt")
    assert (cfg.train.steps, cfg.seed, cfg.train.log_every) == (8, 2, 4)
    main(
        [
            "synthetic",
            "finetune",
            "--from",
            str(tmp_path / "pt"),
            "--out",
            str(tmp_path / "ft"),
            "--alpha",
            "0.9",
            "--lr",
            "1e-4",
            "--steps",
            "3",
            "--quiet",
        ]
    )
    _, ft = load_run(tmp_path / "ft")
    assert (ft.finetune.alpha, ft.finetune.lr, ft.finetune.steps) == (0.9, 1e-4, 3)


def test_cli_missing_checkpoint_is_one_line_exit_2(tmp_path, capsys):
    from forgetlab.cli import main

    with pytest.raises(SystemExit) as exc:
        main(
            [
                "synthetic",
                "finetune",
                "--from",
                str(tmp_path / "nope"),
                "--out",
                str(tmp_path / "ft"),
            ]
        )
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("forgetlab: error:") and "no finished pretraining run" in err
    assert len(err.splitlines()) == 1
