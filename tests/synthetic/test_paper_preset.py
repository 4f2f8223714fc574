"""The `paper` preset: its shape, a few real steps on CPU, and the FLOP model behind its cost table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from forgetlab.synthetic import model as model_mod
from forgetlab.synthetic.cost import forward_flops, pretrain_flops, train_step_flops
from forgetlab.synthetic.model import build_model, count_parameters
from forgetlab.synthetic.presets import synthetic_config
from forgetlab.synthetic.train import finetune, pretrain


def test_paper_preset_is_the_papers_recipe() -> None:
    p = synthetic_config("paper")
    assert (p.task.d, p.task.n_points, p.task.pool_size, p.task.sigma) == (20, 41, 64, 1.0)
    assert (p.model.n_layer, p.model.n_embd) == (12, 256)
    assert (p.finetune.steps, p.finetune.alpha) == (400, 1.0)
    # 12 blocks of 12 D^2 weights dominate: ~9.5M parameters
    n = count_parameters(build_model(p.task, p.model))
    assert 9.4e6 < n < 9.6e6


@pytest.mark.parametrize("n_points", [7, 4])
def test_linear_flops_match_torch_flop_counter(
    monkeypatch: pytest.MonkeyPatch, n_points: int
) -> None:
    """torch counts every matmul on CPU (not SDPA): the linear term must match it exactly."""
    monkeypatch.setattr(model_mod, "USE_ONEDNN", False)
    cfg = synthetic_config(
        "smoke", overrides=["model.n_layer=3", "model.n_embd=32", "task.n_points=7", "task.d=4"]
    )
    net = build_model(cfg.task, cfg.model)
    xs, ys = torch.randn(5, n_points, 4), torch.randn(5, n_points)
    with FlopCounterMode(display=False) as fc:
        net(xs, ys)
    assert fc.get_total_flops() == 5 * forward_flops(cfg.task, cfg.model, n_points)["linear"]
    with FlopCounterMode(display=False) as fc:
        net(xs, ys).sum().backward()
    assert fc.get_total_flops() / (5 * forward_flops(cfg.task, cfg.model, n_points)["linear"]) == (
        pytest.approx(3.0, rel=0.01)
    )


def test_curriculum_lowers_the_pretraining_flops() -> None:
    p = synthetic_config("paper")
    full = p.train.steps * train_step_flops(p)
    assert train_step_flops(p, step=0) < train_step_flops(p, step=10**6) == train_step_flops(p)
    assert 0.9 * full < pretrain_flops(p) < full


@pytest.mark.slow
def test_paper_preset_runs_a_few_steps_on_cpu(tmp_path: Path) -> None:
    small = ["train.batch_size=2", "train.steps=2", "train.checkpoint_every=1", "train.log_every=1"]
    cfg = synthetic_config("paper", overrides=small)
    pt = pretrain(cfg, tmp_path / "pt", device="cpu", show_progress=False)
    ft = finetune(pt, tmp_path / "ft", steps=1, batch_size=2, device="cpu", show_progress=False)
    rows = [json.loads(x) for x in (pt / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    assert rows[0]["n_points"] == 11 and rows[0]["d_active"] == 5  # curriculum stage 0
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in rows)
    assert (ft / "metrics.jsonl").exists()
