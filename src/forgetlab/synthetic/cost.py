"""Training cost of a synthetic preset from FLOP counts, to plan GPU runs before paying for them.

Counts follow the model's actual computation (``model.InContextRegressor``): a prompt of K
examples is ``T = 2K − 1`` tokens (the last label is never read); every block but the last
runs on all T tokens; the last block computes queries, attention output and MLP only at
the K x positions. A training step costs about three forward passes (backward ≈ 2×).

Run ``python -m forgetlab.synthetic.cost [preset]`` for the table in docs/synthetic-training.md.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from forgetlab.synthetic.presets import ModelConfig, SyntheticConfig, synthetic_config
from forgetlab.synthetic.tasks import TaskConfig


def forward_flops(
    task: TaskConfig, model: ModelConfig, n_points: int | None = None
) -> dict[str, float]:
    """FLOPs of one prompt's forward pass: ``linear`` (matmuls) and ``attention`` (QKᵀ, AV)."""
    K = task.n_points if n_points is None else n_points
    D, L, r = model.n_embd, model.n_layer, model.mlp_ratio
    T = 2 * K - 1
    per_token_block = 2 * (3 * D * D + D * D + 2 * r * D * D)
    linear = (L - 1) * T * per_token_block
    linear += T * 2 * 3 * D * D + K * 2 * (D * D + 2 * r * D * D)  # last block, x positions only
    # read-in of the x tokens (zeroed curriculum inputs still cost their multiply) and read-out
    linear += K * 2 * task.d * D + K * 2 * D
    attention = (L - 1) * 2 * 2 * T * T * D + 2 * 2 * K * T * D
    return {"linear": float(linear), "attention": float(attention),
            "total": float(linear + attention)}  # fmt: skip


def train_step_flops(cfg: SyntheticConfig, step: int | None = None) -> float:
    """FLOPs of one pretraining step (global batch) at ``step`` (full size when ``None``)."""
    k = cfg.task.n_points
    if step is not None:
        k = cfg.train.curriculum.stage(step, cfg.task.d, cfg.task.n_points)[1]
    return 3.0 * cfg.train.batch_size * forward_flops(cfg.task, cfg.model, k)["total"]


def pretrain_flops(cfg: SyntheticConfig) -> float:
    """All pretraining FLOPs, following the curriculum stage by stage."""
    cur = cfg.train.curriculum
    if not cur.enabled:
        return cfg.train.steps * train_step_flops(cfg)
    total, step = 0.0, 0
    while step < cfg.train.steps:
        nxt = min(cfg.train.steps, (step // cur.every + 1) * cur.every)
        total += (nxt - step) * train_step_flops(cfg, step)
        step = nxt
    return total


@dataclass(frozen=True)
class GPU:
    """Dense peak throughput (TFLOP/s) of a GPU class, float32 and TF32 tensor cores."""

    name: str
    fp32: float
    tf32: float


# Vendor datasheet peaks (dense, no sparsity).
GPUS = (
    GPU("T4", 8.1, 8.1),
    GPU("L4", 30.3, 60.0),
    GPU("A100 (SXM)", 19.5, 156.0),
    GPU("RTX 4090", 82.6, 82.6),
    GPU("H100 (SXM)", 67.0, 494.0),
)
UTILISATION = 0.4
"""Assumed share of peak reached by the matmuls of a 9M-parameter model at batch 64."""
STEP_FLOOR_S = 0.006
"""Assumed floor per step: ~1,500 kernel launches (forward, backward, Adam) at ~4 µs."""


def estimate(cfg: SyntheticConfig, gpu: GPU, *, tf32: bool = False, n_gpus: int = 1) -> dict[str, float]:  # fmt: skip
    """Estimated ms/step, steps/s and pretraining hours; an estimate, not a measurement."""
    peak = (gpu.tf32 if tf32 else gpu.fp32) * 1e12 * UTILISATION * n_gpus
    step_s = max(train_step_flops(cfg) / peak, STEP_FLOOR_S)
    mean_step_s = max(pretrain_flops(cfg) / cfg.train.steps / peak, STEP_FLOOR_S)
    return {
        "ms_per_step": 1000 * step_s,
        "steps_per_s": 1 / step_s,
        "pretrain_hours": mean_step_s * cfg.train.steps / 3600,
    }


def table(preset: str = "paper") -> str:
    cfg = synthetic_config(preset)
    f = forward_flops(cfg.task, cfg.model)
    lines = [
        f"preset {preset}: forward {f['total'] / 1e9:.2f} GFLOP per prompt "
        f"(attention {f['attention'] / f['total']:.0%}), training step "
        f"{train_step_flops(cfg) / 1e9:.0f} GFLOP, pretraining {pretrain_flops(cfg) / 1e15:.0f} PFLOP",
        "| GPU | fp32 ms/step | fp32 steps/s | fp32 pretrain h | TF32 ms/step | TF32 pretrain h |",
        "|---|---|---|---|---|---|",
    ]
    for gpu in GPUS:
        a, b = estimate(cfg, gpu), estimate(cfg, gpu, tf32=True)
        lines.append(
            f"| {gpu.name} | {a['ms_per_step']:.1f} | {a['steps_per_s']:.0f} | "
            f"{a['pretrain_hours']:.1f} | {b['ms_per_step']:.1f} | {b['pretrain_hours']:.1f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(sys.argv[1] if len(sys.argv) > 1 else "paper"))
