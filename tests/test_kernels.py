"""oneDNN float32 linear: same values as F.linear, switched on only inside the block."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from forgetlab.kernels import onednn_available, onednn_inference

pytestmark = pytest.mark.skipif(not onednn_available(), reason="oneDNN linear not available")


def test_inference_block_matches_plain_linear_and_restores_model() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(24, 40), nn.GELU(), nn.Linear(40, 8, bias=False))
    x = torch.randn(3, 5, 24)
    with torch.no_grad():
        ref = model(x)
        with onednn_inference(model) as switched:
            assert switched == 2
            assert all("forward" in m.__dict__ for m in model if isinstance(m, nn.Linear))
            fast = model(x)
    assert torch.allclose(fast, ref, atol=1e-5, rtol=1e-5)
    assert all("forward" not in m.__dict__ for m in model)  # nothing left behind


def test_gradients_take_the_ordinary_path_inside_the_block() -> None:
    torch.manual_seed(1)
    layer = nn.Linear(6, 4)
    x = torch.randn(2, 6, requires_grad=True)
    with onednn_inference(layer):
        layer(x).sum().backward()
    assert x.grad is not None and torch.allclose(x.grad, layer.weight.sum(0).expand(2, 6))


def test_switch_can_be_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORGETLAB_ONEDNN", "0")
    with onednn_inference(nn.Linear(3, 3)) as switched:
        assert switched == 0
