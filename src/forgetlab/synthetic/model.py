"""GPT-2-style pre-LN decoder over vector tokens (docs/synthetic-training.md#model).

Tokens come from :func:`forgetlab.synthetic.tasks.pack_tokens` (x token ``[0, x]``, y
token ``[y, 0...]``). A linear read-in and learned positions feed pre-LN blocks (causal
self-attention, GELU MLP); a final LayerNorm and a linear read-out give one scalar per
token, read at the x positions: the prediction for ``y_i`` sees ``x_1, y_1, ..., x_i``.

Why it is written by hand rather than on ``transformers.GPT2Model`` (a training step is
>= 2x faster at these tiny sizes on CPU, experiments/bench_model_step.py):

* every linear map on a float32 CPU tensor runs through oneDNN (:func:`linear`), whose
  AVX-512 sgemm is ~2-4x faster than the MKL sgemm behind ``torch.addmm`` on AMD CPUs
  (MKL takes its AVX2 path there); still exact float32, CUDA and other dtypes use
  ``F.linear``;
* the last block computes queries, attention output, residual and MLP only at the x
  positions, the only ones the read-out uses (keys and values still come from every token),
  and the last y token, which no prediction can see, is not fed in at all;
* one fused QKV projection, ``scaled_dot_product_attention`` (fused kernels on CPU and GPU),
  no dropout modules, and the read-in applied to ``x`` and ``y`` separately instead of to
  materialised ``[0, x]`` / ``[y, 0...]`` tokens.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from forgetlab.kernels import onednn_available, onednn_mm
from forgetlab.synthetic.presets import ModelConfig
from forgetlab.synthetic.tasks import TaskConfig

USE_ONEDNN = onednn_available()
"""Route float32 CPU linear maps through oneDNN; set to ``False`` to fall back to ``F.linear``."""


class _OneDNNLinear(torch.autograd.Function):
    """``F.linear`` with forward and both backward matmuls on oneDNN (CPU float32 only)."""

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
    ) -> torch.Tensor:
        x2 = x.reshape(-1, x.shape[-1])
        ctx.save_for_backward(x2, weight)
        ctx.has_bias = bias is not None  # type: ignore[attr-defined]
        return onednn_mm(x2, weight, bias).view(*x.shape[:-1], weight.shape[0])

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(
        ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor
    ) -> tuple[torch.Tensor | None, ...]:
        x2, weight = ctx.saved_tensors  # type: ignore[attr-defined]
        g2 = grad.reshape(-1, grad.shape[-1])
        need_x, need_w, need_b = ctx.needs_input_grad  # type: ignore[attr-defined]
        gx = onednn_mm(g2, weight.t(), None).view(*grad.shape[:-1], -1) if need_x else None
        gw = None
        if need_w:  # oneDNN copies a transposed input: transpose the narrower of g2 and x2
            if weight.shape[0] > weight.shape[1]:
                gw = onednn_mm(x2.t(), g2.t(), None).t().contiguous()
            else:
                gw = onednn_mm(g2.t(), x2.t(), None)
        gb = g2.sum(0) if need_b and ctx.has_bias else None  # type: ignore[attr-defined]
        return gx, gw, gb


def linear(x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    """``layer(x)``; on float32 CPU tensors (no autocast) computed by oneDNN, same float32 math."""
    w = layer.weight
    if (
        USE_ONEDNN
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and w.dtype == torch.float32
        and not torch.is_autocast_enabled("cpu")
    ):
        return _OneDNNLinear.apply(x, w, layer.bias)
    return F.linear(x, w, layer.bias)


class Block(nn.Module):
    """Pre-LN transformer block: ``h + attn(ln(h))`` then ``h + mlp(ln(h))``."""

    def __init__(self, n_embd: int, n_head: int, mlp_ratio: int, activation: str = "gelu") -> None:
        super().__init__()
        self.n_head = n_head
        self.gelu_approximate = "tanh" if activation == "gelu_tanh" else "none"
        self.ln_1 = nn.LayerNorm(n_embd)
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.fc = nn.Linear(n_embd, mlp_ratio * n_embd)
        self.fc_out = nn.Linear(mlp_ratio * n_embd, n_embd)

    def forward(self, h: torch.Tensor, x_only: bool = False) -> torch.Tensor:
        """All ``T`` outputs, or with ``x_only`` just those at the even (x) positions.

        ``x_only`` gives exactly the even rows of the full output: queries, attention,
        residual and MLP are computed only there, keys and values from every token.
        """
        B, T, C = h.shape
        qkv = linear(self.ln_1(h), self.qkv).view(B, T, 3, self.n_head, C // self.n_head)
        q, k, v = qkv.transpose(1, 3).unbind(2)  # each [B, H, T, hd], views
        if x_only:
            h, q = h[:, 0::2], q[:, :, 0::2]
            # query of x token i (position 2i) sees keys 0..2i
            mask = torch.ones(T, T, dtype=torch.bool, device=h.device).tril()[0::2]
            att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        else:
            att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        h = h + linear(att.transpose(1, 2).reshape(B, h.shape[1], C), self.proj)
        m = F.gelu(linear(self.ln_2(h), self.fc), approximate=self.gelu_approximate)
        return h + linear(m, self.fc_out)


class InContextRegressor(nn.Module):
    """Maps prompts ``(xs [B, K, d], ys [B, K])`` to predictions ``[B, K]`` of every ``y_i``."""

    def __init__(self, task: TaskConfig, cfg: ModelConfig) -> None:
        super().__init__()
        self.d = task.d
        self.max_points = task.n_points
        self.read_in = nn.Linear(task.d + 1, cfg.n_embd)
        self.pos = nn.Parameter(torch.zeros(2 * task.n_points, cfg.n_embd))
        self.blocks = nn.ModuleList(
            Block(cfg.n_embd, cfg.n_head, cfg.mlp_ratio, cfg.activation) for _ in range(cfg.n_layer)
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

    def embed(
        self, xs: torch.Tensor, ys: torch.Tensor, n_tokens: int | None = None
    ) -> torch.Tensor:
        """``(read_in(pack_tokens(xs, ys)) + pos)[:, :n_tokens]`` without materialising tokens.

        x token ``[0, x]`` maps to ``W[:, 1:] x + b``, y token ``[y, 0...]`` to ``W[:, 0] y + b``.
        """
        B, K, _ = xs.shape
        T = 2 * K if n_tokens is None else n_tokens
        w, b = self.read_in.weight, self.read_in.bias
        hx = F.linear(xs, w[:, 1:], b)
        hy = torch.addcmul(b, ys.unsqueeze(-1), w[:, 0])
        return torch.stack((hx, hy), dim=2).view(B, 2 * K, w.shape[0])[:, :T] + self.pos[:T]

    def forward(self, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        K = xs.shape[1]
        if self.max_points < K:
            raise ValueError(f"prompt has {K} examples; the model was built for {self.max_points}")
        # The last y token precedes no x token, so no prediction can see it: leave it out.
        h = self.embed(xs, ys, n_tokens=max(2 * K - 1, 0))
        last = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            h = block(h, x_only=i == last)  # the read-out never needs the y positions
        return linear(self.ln_f(h), self.read_out).squeeze(-1)


def build_model(task: TaskConfig, cfg: ModelConfig) -> InContextRegressor:
    """A freshly initialised model (seed the global torch RNG first for a fixed init)."""
    return InContextRegressor(task, cfg)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def mse_loss(preds: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """Training loss: mean squared error over every query position (docs/synthetic-training.md#the-task)."""
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
