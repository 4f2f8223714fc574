"""The task sampler: statelessness, stream separation, family draws, token packing."""

from __future__ import annotations

import pytest
import torch

from forgetlab.config import validate
from forgetlab.errors import ForgetlabError
from forgetlab.synthetic.tasks import (
    TaskConfig,
    TaskSampler,
    make_pool,
    normalised_error,
    pack_tokens,
    stream_seed,
    unpack_tokens,
)

CFG = TaskConfig(d=4, n_points=6, pool_size=5, alpha=0.5, sigma=0.3, tau=1.0, pool_seed=3)


def test_batch_is_pure_function_of_seed_stream_step() -> None:
    a = TaskSampler(CFG, seed=11).batch(step=42, batch_size=8)
    b = TaskSampler(CFG, seed=11).batch(step=42, batch_size=8)  # fresh sampler, no state
    for x, y in zip(
        (a.xs, a.ys, a.ws, a.is_discrete), (b.xs, b.ys, b.ws, b.is_discrete), strict=True
    ):
        assert torch.equal(x, y)
    c = TaskSampler(CFG, seed=11).batch(step=43, batch_size=8)
    assert not torch.equal(a.xs, c.xs)


def test_streams_and_seeds_never_share_numbers() -> None:
    s = TaskSampler(CFG, seed=0)
    train = s.batch(0, 16)
    evals = s.batch(0, 16, stream="eval")
    assert not torch.allclose(train.xs, evals.xs)
    seeds = {
        stream_seed(seed, stream, step)
        for seed in range(3)
        for stream in ("train", "eval", "pool")
        for step in range(50)
    }
    assert len(seeds) == 3 * 3 * 50


def test_pool_depends_only_on_pool_seed() -> None:
    p1 = TaskSampler(CFG, seed=0).pool
    p2 = TaskSampler(CFG, seed=99).pool
    assert torch.equal(p1, p2)
    assert p1.shape == (5, 4)
    other = make_pool(CFG.model_copy(update={"pool_seed": 4}))
    assert not torch.equal(p1, other)


def test_family_is_drawn_per_sequence_with_rate_alpha() -> None:
    b = TaskSampler(CFG.model_copy(update={"alpha": 0.3}), seed=0).batch(0, 20000)
    frac = b.is_discrete.double().mean().item()
    assert abs(frac - 0.3) < 0.015
    pool = make_pool(CFG)
    disc = b.is_discrete
    assert torch.allclose(b.ws[disc].double(), pool[b.pool_index[disc]], atol=1e-6)
    assert (b.pool_index[~disc] == -1).all()
    # Continuous weights are fresh draws from N(0, tau^2 I), not pool members.
    cont = b.ws[~disc].double()
    assert abs(cont.var().item() - 1.0) < 0.05


def test_labels_follow_linear_model_with_noise() -> None:
    cfg = CFG.model_copy(update={"sigma": 0.7})
    b = TaskSampler(cfg, seed=5).batch(1, 4000)
    resid = (b.ys - b.targets).double()
    assert abs(resid.std().item() - 0.7) < 0.02
    noiseless = TaskSampler(cfg.model_copy(update={"sigma": 0.0}), seed=5).batch(1, 10)
    assert torch.allclose(noiseless.ys, noiseless.targets, atol=1e-5)


def test_forced_family_and_alpha_override_keep_the_same_inputs() -> None:
    s = TaskSampler(CFG, seed=1)
    mix = s.batch(3, 32)
    disc = s.batch(3, 32, family="discrete")
    cont = s.batch(3, 32, family="continuous")
    assert disc.is_discrete.all() and not cont.is_discrete.any()
    assert torch.equal(mix.xs, disc.xs) and torch.equal(mix.xs, cont.xs)
    assert s.batch(3, 32, alpha=1.0).is_discrete.all()


def test_curriculum_zeroes_dims_and_truncates() -> None:
    s = TaskSampler(CFG, seed=2)
    full = s.batch(0, 3)
    small = s.batch(0, 3, d_active=2, n_points=4)
    assert small.xs.shape == (3, 4, 4)
    assert (small.xs[..., 2:] == 0).all()
    assert torch.equal(small.xs[..., :2], full.xs[:, :4, :2])


def test_tau_range_spreads_continuous_scales() -> None:
    cfg = CFG.model_copy(update={"tau_range": (0.5, 2.5)})
    b = TaskSampler(cfg, seed=0).batch(0, 4000, family="continuous")
    norms = b.ws.double().norm(dim=1) / 2.0  # E||w|| ~ tau * sqrt(d) roughly
    assert norms.min() < 0.6 and norms.max() > 2.0


def test_pack_unpack_roundtrip_and_layout() -> None:
    b = TaskSampler(CFG, seed=0).batch(0, 3)
    tokens = pack_tokens(b.xs, b.ys)
    assert tokens.shape == (3, 12, 5)
    assert (tokens[:, 0::2, 0] == 0).all() and (tokens[:, 1::2, 1:] == 0).all()
    xs, ys = unpack_tokens(tokens)
    assert torch.equal(xs, b.xs) and torch.equal(ys, b.ys)


def test_normalised_error_of_zero_predictor_is_tau_squared() -> None:
    b = TaskSampler(CFG.model_copy(update={"tau": 1.5}), seed=0).batch(
        0, 20000, family="continuous"
    )
    err = normalised_error(torch.zeros_like(b.ys), b).mean().item()
    assert abs(err - 1.5**2) < 0.05


@pytest.mark.parametrize(
    ("field", "value"),
    [("alpha", 1.5), ("alpha", -0.1), ("d", 0), ("sigma", -1.0), ("n_points", 0), ("pool_size", 0)],
)
def test_invalid_task_values_name_the_field(field: str, value: float) -> None:
    with pytest.raises(ForgetlabError, match=field):
        validate(TaskConfig, {field: value})


def test_label_scale_range_scales_continuous_labels_and_noise_only() -> None:
    base = TaskSampler(CFG, seed=4).batch(2, 512)
    cfg = CFG.model_copy(update={"label_scale_range": (0.5, 4.0)})
    scaled = TaskSampler(cfg, seed=4).batch(2, 512)
    assert torch.equal(base.xs, scaled.xs) and torch.equal(base.is_discrete, scaled.is_discrete)
    disc = base.is_discrete
    assert torch.equal(base.ys[disc], scaled.ys[disc])  # discrete sequences untouched
    # Continuous sequences: y -> s * y exactly (w and noise scale together), s in range.
    ratio = (scaled.ys[~disc] / base.ys[~disc]).double()
    s = ratio[:, 0]
    assert torch.allclose(ratio, s[:, None].expand_as(ratio), rtol=1e-4)
    assert s.min() >= 0.5 - 1e-6 and s.max() <= 4.0 + 1e-6 and s.max() > 3.0 and s.min() < 0.7


def test_label_scale_range_must_be_ordered() -> None:
    with pytest.raises(ForgetlabError, match="label_scale_range"):
        validate(TaskConfig, {"label_scale_range": (2.0, 1.0)})
