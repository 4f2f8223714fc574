"""CPU float32 matrix products through oneDNN.

Why: torch's default CPU sgemm (MKL) takes its AVX2 path on AMD processors, while oneDNN's
AVX-512 kernel is about twice as fast for the small-to-medium matrices of this project
(BENCHMARKS.md). The math is the same float32 product; only the kernel differs. Used by the
synthetic model's training step and by the hf backend's generation on CPU.
"""

from __future__ import annotations

import contextlib
import os
import types
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

_ONEDNN_LINEAR = getattr(getattr(torch.ops, "mkldnn", None), "_linear_pointwise", None)


def onednn_available() -> bool:
    """oneDNN linear is usable (and not switched off with ``FORGETLAB_ONEDNN=0``)."""
    return (
        _ONEDNN_LINEAR is not None
        and torch.backends.mkldnn.is_available()
        and os.environ.get("FORGETLAB_ONEDNN", "1") != "0"
    )


def onednn_mm(a: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``a @ w.T + bias`` by oneDNN's float32 matmul (2-D ``a``; strided inputs accepted)."""
    return _ONEDNN_LINEAR(a, w, bias, "none", [], "")  # type: ignore[misc]


def _fast_linear_forward(self: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    if (
        not torch.is_grad_enabled()
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and self.weight.dtype == torch.float32
        and not torch.is_autocast_enabled("cpu")
    ):
        x2 = x.reshape(-1, x.shape[-1])
        return onednn_mm(x2, self.weight, self.bias).view(*x.shape[:-1], self.weight.shape[0])
    return nn.Linear.forward(self, x)


@contextlib.contextmanager
def onednn_inference(model: Any) -> Iterator[int]:
    """Within the block, the ``nn.Linear`` layers of ``model`` run on oneDNN when no gradient
    is being recorded (float32, CPU); yields how many layers were switched.

    The switch is per instance and undone on exit, so the caller's model is left exactly as
    it was; training (gradients enabled) always takes the ordinary path.
    """
    layers: list[nn.Linear] = []
    if onednn_available() and isinstance(model, nn.Module):
        layers = [
            m
            for m in model.modules()
            if type(m) is nn.Linear
            and m.weight.device.type == "cpu"
            and m.weight.dtype == torch.float32
            and "forward" not in m.__dict__
        ]
    for layer in layers:
        layer.forward = types.MethodType(_fast_linear_forward, layer)  # type: ignore[method-assign]
    try:
        yield len(layers)
    finally:
        for layer in layers:
            layer.__dict__.pop("forward", None)
