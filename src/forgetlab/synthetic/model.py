"""GPT-2-style pre-LN decoder over vector tokens (SPEC §2).

Tokens come from :func:`forgetlab.synthetic.tasks.pack_tokens` (x token ``[0, x]``, y
token ``[y, 0...]``). A linear read-in and learned positions feed pre-LN blocks (causal
self-attention, GELU MLP); a final LayerNorm and a linear read-out give one scalar per
token, read at the x positions: the prediction for ``y_i`` sees ``x_1, y_1, ..., x_i``.

Why it is written by hand rather than on ``transformers.GPT2Model``: one fused QKV
projection, ``scaled_dot_product_attention`` with ``is_causal=True`` (fused kernels on CPU
and GPU), no dropout modules and no attention-mask tensors make a training step several
times faster at these tiny sizes (benchmarks/bench_model_step.py).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from forgetlab.synthetic.presets import ModelConfig
from forgetlab.synthetic.tasks import TaskConfig, pack_tokens


class Block(nn.Module):
    """Pre-LN transformer block: ``h + attn(ln(h))`` then ``h + mlp(ln(h))``."""

    def __init__(self, n_embd: int, n_head: int, mlp_ratio: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.ln_1 = nn.LayerNorm(n_embd)
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.fc = nn.Linear(n_embd, mlp_ratio * n_embd)
        self.fc_out = nn.Linear(mlp_ratio * n_embd, n_embd)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        B, T, C = h.shape
        qkv = self.qkv(self.ln_1(h)).view(B, T, 3, self.n_head, C // self.n_head)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [B, H, T, hd]
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        h = h + self.proj(att.transpose(1, 2).reshape(B, T, C))
        return h + self.fc_out(F.gelu(self.fc(self.ln_2(h)), approximate="tanh"))


class InContextRegressor(nn.Module):
    """Maps prompts ``(xs [B, K, d], ys [B, K])`` to predictions ``[B, K]`` of every ``y_i``."""

    def __init__(self, task: TaskConfig, cfg: ModelConfig) -> None:
        super().__init__()
        self.d = task.d
        self.max_points = task.n_points
        self.read_in = nn.Linear(task.d + 1, cfg.n_embd)
        self.pos = nn.Parameter(torch.zeros(2 * task.n_points, cfg.n_embd))
        self.blocks = nn.ModuleList(
            Block(cfg.n_embd, cfg.n_head, cfg.mlp_ratio) for _ in range(cfg.n_layer)
        )
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.read_out = nn.Linear(cfg.n_embd, 1)
        self._init_weights(cfg)

    def _init_weights(self, cfg: ModelConfig) -> None:
        """GPT-2 init: N(0, std), zero biases, residual projections scaled by 1/sqrt(2L)."""
        resid_std = cfg.init_std / math.sqrt(2 * cfg.n_layer)
        for name, p in self.named_parameters():
            if p.dim() < 2 or "ln" in name:
                continue  # biases and LayerNorm stay at their defaults
            std = resid_std if name.endswith(("proj.weight", "fc_out.weight")) else cfg.init_std
            nn.init.normal_(p, mean=0.0, std=std)
        for m in self.modules():
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.pos, mean=0.0, std=cfg.init_std)

    def forward(self, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        K = xs.shape[1]
        if self.max_points < K:
            raise ValueError(f"prompt has {K} examples; the model was built for {self.max_points}")
        h = self.read_in(pack_tokens(xs, ys)) + self.pos[: 2 * K]
        for block in self.blocks:
            h = block(h)
        h = h[:, 0::2]  # x positions only: the read-out never needs the y positions
        return self.read_out(self.ln_f(h)).squeeze(-1)


def build_model(task: TaskConfig, cfg: ModelConfig) -> InContextRegressor:
    """A freshly initialised model (seed the global torch RNG first for a fixed init)."""
    return InContextRegressor(task, cfg)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def mse_loss(preds: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """Training loss: mean squared error over every query position (SPEC §2)."""
    return F.mse_loss(preds, ys)


@torch.no_grad()
def predict(
    model: nn.Module, xs: torch.Tensor, ys: torch.Tensor, *, batch_size: int = 1024
) -> torch.Tensor:
    """Predictions ``[B, K]`` in float32 on the model's device, without gradients, in chunks.

    Accepts tensors on any device and dtype; the model is put in eval mode for the call and
    its previous mode restored.
    """
    if xs.shape[:2] != ys.shape:
        raise ValueError(f"xs {tuple(xs.shape)} and ys {tuple(ys.shape)} disagree")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        outs = [
            model(
                xs[i : i + batch_size].to(device, torch.float32),
                ys[i : i + batch_size].to(device, torch.float32),
            ).float()
            for i in range(0, xs.shape[0], batch_size)
        ]
    finally:
        model.train(was_training)
    if not outs:
        return torch.empty(0, ys.shape[1], device=device)
    return torch.cat(outs)
