"""The vector-token decoder: shapes, causality, attention against a brute-force reference."""

from __future__ import annotations

import math

import pytest
import torch

from forgetlab.synthetic import model as model_mod
from forgetlab.synthetic.model import (
    Block,
    build_model,
    count_parameters,
    linear,
    mse_loss,
    predict,
)
from forgetlab.synthetic.presets import ModelConfig
from forgetlab.synthetic.tasks import TaskConfig, TaskSampler, pack_tokens

TASK = TaskConfig(d=3, n_points=6, pool_size=4)
SHAPE = ModelConfig(n_layer=2, n_embd=16, n_head=2)


def _model(seed: int = 0, task: TaskConfig = TASK, shape: ModelConfig = SHAPE):
    torch.manual_seed(seed)
    model = build_model(task, shape)
    # Larger weights than the GPT-2 init so that every input visibly moves the output.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model.eval()


def _batch(n: int = 4, step: int = 0):
    return TaskSampler(TASK, seed=3).batch(step, n, stream="test")


def test_output_shape_and_dtype():
    b = _batch()
    out = _model()(b.xs, b.ys)
    assert out.shape == (4, TASK.n_points)
    assert out.dtype == torch.float32


def test_prediction_for_y_i_sees_only_earlier_examples_and_x_i():
    """Causality at the prompt level: f_i depends on (x_1, y_1, ..., x_i), nothing later."""
    model = _model()
    b = _batch(2)
    base = model(b.xs, b.ys)
    for i in range(TASK.n_points):
        ys = b.ys.clone()
        ys[:, i] += 5.0  # y_i itself must be invisible to its own prediction
        out = model(b.xs, ys)
        assert torch.equal(out[:, : i + 1], base[:, : i + 1])
        if i + 1 < TASK.n_points:
            assert not torch.allclose(out[:, i + 1 :], base[:, i + 1 :])
        xs = b.xs.clone()
        xs[:, i] += 1.0
        out = model(xs, b.ys)
        assert torch.equal(out[:, :i], base[:, :i])
        assert not torch.allclose(out[:, i], base[:, i])


def test_shorter_prompt_gives_the_prefix_predictions():
    model = _model()
    b = _batch(3)
    full = model(b.xs, b.ys)
    part = model(b.xs[:, :4], b.ys[:, :4])
    assert torch.allclose(part, full[:, :4], atol=1e-6)


def test_too_long_prompt_is_refused():
    b = TaskSampler(TaskConfig(d=3, n_points=8), seed=0).batch(0, 2)
    with pytest.raises(ValueError, match="built for 6"):
        _model()(b.xs, b.ys)


def _reference_block(block: Block, h: torch.Tensor) -> torch.Tensor:
    """Textbook pre-LN block: explicit per-head softmax attention with a causal mask."""
    _, T, C = h.shape
    H = block.n_head
    hd = C // H
    a = block.ln_1(h)
    w, bias = block.qkv.weight, block.qkv.bias
    q = a @ w[:C].T + bias[:C]
    k = a @ w[C : 2 * C].T + bias[C : 2 * C]
    v = a @ w[2 * C :].T + bias[2 * C :]
    heads = []
    for j in range(H):
        sl = slice(j * hd, (j + 1) * hd)
        scores = q[..., sl] @ k[..., sl].transpose(1, 2) / math.sqrt(hd)
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        scores = scores.masked_fill(mask, float("-inf"))
        heads.append(torch.softmax(scores, dim=-1) @ v[..., sl])
    h = h + block.proj(torch.cat(heads, dim=-1))
    m = block.fc(block.ln_2(h))
    if block.gelu_approximate == "tanh":  # GPT-2's approximation
        gelu = 0.5 * m * (1 + torch.tanh(math.sqrt(2 / math.pi) * (m + 0.044715 * m**3)))
    else:  # exact GELU: x * Phi(x)
        gelu = 0.5 * m * (1 + torch.erf(m / math.sqrt(2)))
    return h + block.fc_out(gelu)


@pytest.mark.parametrize("activation", ["gelu", "gelu_tanh"])
def test_block_matches_brute_force_attention(activation):
    torch.manual_seed(1)
    block = Block(n_embd=24, n_head=3, mlp_ratio=4, activation=activation)
    with torch.no_grad():
        for p in block.parameters():
            p.normal_(0, 0.3)
    h = torch.randn(2, 10, 24, dtype=torch.float64)
    block = block.double()
    assert torch.allclose(block(h), _reference_block(block, h), atol=1e-10)


def test_parameter_count_closed_form():
    d, K, C, L, r = 5, 16, 64, 4, 4
    model = build_model(
        TaskConfig(d=d, n_points=K), ModelConfig(n_layer=L, n_embd=C, n_head=2, mlp_ratio=r)
    )
    per_block = (3 * C * C + 3 * C) + (C * C + C) + (r * C * C + r * C) + (r * C * C + C) + 4 * C
    expected = (d + 1) * C + C + 2 * K * C + L * per_block + 2 * C + C + 1
    assert count_parameters(model) == expected


def test_init_is_seeded_and_gpt2_scaled():
    a, b = (build_model(TASK, SHAPE) for _ in range(2))
    assert not torch.equal(a.read_in.weight, b.read_in.weight)
    torch.manual_seed(5)
    c = build_model(TASK, SHAPE)
    torch.manual_seed(5)
    d = build_model(TASK, SHAPE)
    assert all(torch.equal(p, q) for p, q in zip(c.parameters(), d.parameters(), strict=True))
    big = build_model(TaskConfig(d=3, n_points=6), ModelConfig(n_layer=4, n_embd=256, n_head=4))
    assert big.blocks[0].qkv.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert big.blocks[0].proj.weight.std().item() == pytest.approx(0.02 / math.sqrt(8), rel=0.05)
    assert torch.count_nonzero(big.blocks[0].qkv.bias) == 0


def test_predict_batches_casts_and_restores_mode():
    model = _model()
    model.train()
    b = _batch(7)
    out = predict(model, b.xs.double(), b.ys.double(), batch_size=3)
    assert out.dtype == torch.float32 and out.shape == (7, TASK.n_points)
    assert not out.requires_grad
    assert model.training
    with torch.no_grad():
        direct = model.eval()(b.xs, b.ys)
    assert torch.allclose(out, direct, atol=1e-6)
    assert predict(model, b.xs[:0], b.ys[:0]).shape == (0, TASK.n_points)


def test_loss_is_mean_squared_error_over_all_positions():
    preds = torch.tensor([[1.0, 2.0], [3.0, 5.0]])
    ys = torch.tensor([[0.0, 2.0], [3.0, 3.0]])
    assert mse_loss(preds, ys).item() == pytest.approx((1 + 0 + 0 + 4) / 4)


def test_model_config_rejects_heads_not_dividing_width():
    with pytest.raises(ValueError, match="must divide"):
        ModelConfig(n_embd=10, n_head=3)


needs_onednn = pytest.mark.skipif(not model_mod.USE_ONEDNN, reason="no oneDNN in this torch build")


@needs_onednn
@pytest.mark.parametrize(
    ("n_in", "n_out", "bias"), [(24, 80, True), (80, 24, True), (16, 16, False)]
)
def test_onednn_linear_matches_float64_reference_in_value_and_gradients(n_in, n_out, bias):
    torch.manual_seed(2)
    layer = torch.nn.Linear(n_in, n_out, bias=bias)
    x = torch.randn(3, 50, n_in, requires_grad=True)
    out = linear(x, layer)
    assert type(out.grad_fn).__name__ == "_OneDNNLinearBackward"  # the fast path really ran
    g = torch.randn_like(out)
    out.backward(g)
    ref_layer = torch.nn.Linear(n_in, n_out, bias=bias).double()
    ref_layer.load_state_dict(layer.state_dict())
    xd = x.detach().double().requires_grad_()
    ref = ref_layer(xd)
    ref.backward(g.double())
    assert torch.allclose(out.double(), ref, rtol=1e-5, atol=1e-5)
    assert x.grad is not None and xd.grad is not None
    assert torch.allclose(x.grad.double(), xd.grad, rtol=1e-5, atol=1e-5)
    assert torch.allclose(layer.weight.grad.double(), ref_layer.weight.grad, rtol=1e-5, atol=1e-4)
    assert layer.weight.grad.is_contiguous()
    if bias:
        assert torch.allclose(layer.bias.grad.double(), ref_layer.bias.grad, rtol=1e-5, atol=1e-4)


def test_linear_falls_back_outside_float32_cpu():
    layer = torch.nn.Linear(4, 3).double()
    x = torch.randn(2, 4, dtype=torch.float64)
    assert torch.equal(linear(x, layer), layer(x))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_last_block_x_only_is_the_even_rows_of_the_full_block(dtype):
    torch.manual_seed(4)
    block = Block(n_embd=24, n_head=3, mlp_ratio=4).to(dtype)
    with torch.no_grad():
        for p in block.parameters():
            p.normal_(0, 0.3)
    h = torch.randn(2, 12, 24, dtype=dtype, requires_grad=True)
    full = block(h)
    part = block(h, x_only=True)
    tol = 1e-6 if dtype == torch.float32 else 1e-12
    assert part.shape == (2, 6, 24)
    assert torch.allclose(part, full[:, 0::2], atol=tol)
    g = torch.randn_like(part)
    (gh_part,) = torch.autograd.grad(part, h, g)
    (gh_full,) = torch.autograd.grad(full[:, 0::2], h, g)
    assert torch.allclose(gh_part, gh_full, atol=10 * tol)
    assert torch.count_nonzero(gh_part[:, -1]) == 0  # the last y token feeds no x output


def test_embed_equals_read_in_of_packed_tokens():
    model = _model()
    b = _batch(5)
    K = TASK.n_points
    packed = model.read_in(pack_tokens(b.xs, b.ys)) + model.pos[: 2 * K]
    assert torch.allclose(model.embed(b.xs, b.ys), packed, atol=1e-6)


def _full_reference_forward(model, xs, ys):
    """The plain computation: packed tokens, every block on every position, F.linear."""
    h = model.read_in(pack_tokens(xs, ys)) + model.pos[: 2 * xs.shape[1]]
    for block in model.blocks:
        h = _reference_block(block, h)
    return model.read_out(model.ln_f(h[:, 0::2])).squeeze(-1)


def test_model_equals_plain_full_computation_in_value_and_gradients():
    model = _model().train()
    b = _batch(6)
    loss = mse_loss(model(b.xs, b.ys), b.ys)
    fast = torch.autograd.grad(loss, list(model.parameters()))
    ref_loss = mse_loss(_full_reference_forward(model, b.xs, b.ys), b.ys)
    ref = torch.autograd.grad(ref_loss, list(model.parameters()))
    assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-5)
    for g, r in zip(fast, ref, strict=True):
        assert torch.allclose(g, r, rtol=1e-4, atol=1e-5)
