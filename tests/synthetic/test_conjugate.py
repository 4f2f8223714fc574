"""Conjugate transforms, checked on the exact Bayes predictors (docs/synthetic-reproduction.md#what-the-numbers-mean)."""

from __future__ import annotations

import math

import pytest
import torch

from forgetlab.errors import ForgetlabError
from forgetlab.synthetic import bayes
from forgetlab.synthetic.analysis import per_k_error, per_prompt_error, scalar_error
from forgetlab.synthetic.conjugate import (
    Conjugate,
    conjugate_grid,
    haar_orthogonal,
    parse_conjugate,
    recovered_fraction,
    rotation_ensembles,
)
from forgetlab.synthetic.tasks import TaskConfig, TaskSampler

TASK = TaskConfig.model_validate(
    dict(d=5, n_points=8, pool_size=16, alpha=0.5, sigma=0.5, tau=1.0, pool_seed=1)
)


def _ridge(task: TaskConfig = TASK, tau: float | None = None):
    def f(xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(
            bayes.ridge_predictions(
                xs.double(), ys.double(), sigma=task.sigma, tau=task.tau if tau is None else tau
            )
        )

    return f


def _mixture(pool: torch.Tensor, alpha: float, task: TaskConfig = TASK):
    def f(xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        preds, _ = bayes.mixture_predictions(
            xs.double(), ys.double(), pool, alpha=alpha, sigma=task.sigma, tau=task.tau
        )
        return torch.as_tensor(preds)

    return f


def _batch(family: str = "continuous", n: int = 400, step: int = 0):
    sampler = TaskSampler(TASK, seed=3, dtype=torch.float64)
    return sampler, sampler.batch(step, n, stream="conj", family=family)  # type: ignore[arg-type]


@pytest.mark.parametrize("gamma", [0.25, 1.7, 3.0])
def test_yscaling_leaves_ridge_unchanged_exactly(gamma: float) -> None:
    _, b = _batch()
    plain = _ridge()(b.xs, b.ys)
    torch.testing.assert_close(
        Conjugate("yscale", gamma)(_ridge(), b.xs, b.ys), plain, atol=1e-10, rtol=1e-10
    )


@pytest.mark.parametrize("c", [0.5, 2.0])
def test_xscaling_equals_ridge_with_prior_scale_c_tau(c: float) -> None:
    # ridge(c·x) at c·x_q = x_qᵀ(XᵀX/σ² + I/(c²τ²))⁻¹Xᵀy/σ²: prior variance c²τ², i.e. λ/c².
    _, b = _batch()
    scaled = Conjugate("xscale", c)(_ridge(), b.xs, b.ys)
    torch.testing.assert_close(scaled, _ridge(tau=c * TASK.tau)(b.xs, b.ys), atol=1e-10, rtol=1e-9)
    assert not torch.allclose(scaled[:, 1:], _ridge()(b.xs, b.ys)[:, 1:], atol=1e-4)  # not neutral


def test_haar_rotations_are_orthogonal_and_unbiased() -> None:
    g = torch.Generator().manual_seed(0)
    d, n = 4, 20000
    q = haar_orthogonal(n, d, g)
    eye = torch.eye(d, dtype=torch.float64).expand(n, d, d)
    torch.testing.assert_close(q @ q.transpose(1, 2), eye, atol=1e-12, rtol=0)
    # Haar: every entry has mean 0 and variance 1/d (the unfixed QR has a biased diagonal).
    se = math.sqrt(1 / d / n)
    assert float(q[:, 0, 0].mean()).__abs__() < 5 * se
    assert float(torch.diagonal(q, dim1=1, dim2=2).mean()).__abs__() < 5 * se
    assert float((q[:, 0, 0] ** 2).mean()) == pytest.approx(1 / d, abs=0.01)


def test_rotation_keeps_ridge_exactly_equivariant_and_ensemble_is_deterministic() -> None:
    _, b = _batch()
    plain = _ridge()(b.xs, b.ys)
    for m in (1, 3):
        out = Conjugate("rotation", m, seed=7)(_ridge(), b.xs, b.ys)
        torch.testing.assert_close(out, plain, atol=1e-10, rtol=1e-9)
    mix = _mixture(_batch()[0].pool, 0.9)
    a = Conjugate("rotation", 4, seed=7)(mix, b.xs, b.ys)
    torch.testing.assert_close(a, Conjugate("rotation", 4, seed=7)(mix, b.xs, b.ys))
    assert not torch.allclose(a, Conjugate("rotation", 4, seed=8)(mix, b.xs, b.ys))


def test_rotation_sweep_shares_rotations_and_matches_each_ensemble() -> None:
    sampler, b = _batch(n=50)
    mix = _mixture(sampler.pool, 0.9)
    calls = []

    def counting(xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        return mix(xs, ys)

    ens = rotation_ensembles(counting, b.xs, b.ys, [4, 1, 2], seed=3)
    assert len(calls) == 4 and sorted(ens) == [1, 2, 4]
    for m, preds in ens.items():
        torch.testing.assert_close(
            preds, Conjugate("rotation", m, seed=3)(mix, b.xs, b.ys), atol=1e-12, rtol=0
        )


def test_single_rotation_leaves_mixture_bayes_error_distribution_unchanged() -> None:
    # A rotated continuous prompt is exactly as likely as the original, so the mixture-Bayes
    # error is unchanged in distribution: paired difference within a few standard errors.
    sampler, b = _batch(n=3000)
    mix = _mixture(sampler.pool, 0.9)
    e0 = per_prompt_error(mix(b.xs, b.ys), b)
    e1 = per_prompt_error(Conjugate("rotation", 1, seed=1)(mix, b.xs, b.ys), b)
    diff = e1 - e0
    se = float(diff.std()) / math.sqrt(len(diff))
    assert abs(float(diff.mean())) < 4 * se
    # ...but on discrete prompts a rotation moves w off the pool, so the error rises.
    _, bd = _batch("discrete", n=1000)
    d0 = per_prompt_error(mix(bd.xs, bd.ys), bd).mean()
    d1 = per_prompt_error(Conjugate("rotation", 1, seed=1)(mix, bd.xs, bd.ys), bd).mean()
    assert float(d1) > 2 * float(d0)


def test_yscaling_recovers_the_bayes_ideal_skewed_posterior() -> None:
    # A "fine-tuned" ideal (α = 0.99) loses to the pretrained ideal (α = 0.5) on continuous
    # prompts; feeding γy moves γw off the pool, so the discrete posterior drops.
    sampler, b = _batch(n=3000)
    ft, pt = _mixture(sampler.pool, 0.99), _mixture(sampler.pool, 0.5)
    e_ft = scalar_error(per_k_error(ft(b.xs, b.ys), b))
    e_pt = scalar_error(per_k_error(pt(b.xs, b.ys), b))
    e_conj = scalar_error(per_k_error(Conjugate("yscale", 3.0)(ft, b.xs, b.ys), b))
    e_ridge = scalar_error(per_k_error(_ridge()(b.xs, b.ys), b))
    assert e_ridge < e_pt < e_ft
    assert recovered_fraction(e_ft, e_conj, e_pt) > 0.5


def test_parse_grid_and_errors() -> None:
    assert parse_conjugate("yscale:2").param == 2.0
    assert parse_conjugate("rotation:8").name == "rotation:8"
    assert parse_conjugate("identity").kind == "identity"
    assert [c.name for c in conjugate_grid({"xscale": [0.5], "rotation": [2]})] == [
        "xscale:0.5",
        "rotation:2",
    ]
    for bad in ("spin:2", "yscale:x", "yscale:-1", "rotation:1.5", "rotation:0"):
        with pytest.raises(ForgetlabError):
            parse_conjugate(bad)
    assert recovered_fraction(2.0, 1.5, 1.0) == pytest.approx(0.5)
    assert math.isnan(recovered_fraction(1.0, 0.5, 1.0))
