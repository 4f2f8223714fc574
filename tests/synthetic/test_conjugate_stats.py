"""Per-k y-scaling recovery: exact ratios, paired bootstrap intervals, the Bayes ideal."""

from __future__ import annotations

import math

import pytest
import torch

from forgetlab.synthetic import bayes
from forgetlab.synthetic.analysis import per_k_error
from forgetlab.synthetic.conjugate import Conjugate, recovered_fraction
from forgetlab.synthetic.conjugate_stats import recovery_by_k
from forgetlab.synthetic.tasks import TaskConfig, TaskSampler, normalised_error


def test_ratios_match_scalar_recovered_fraction_and_a_loop() -> None:
    g = torch.Generator().manual_seed(0)
    e_pt = torch.rand(300, 8, generator=g, dtype=torch.float64)
    e_ft = e_pt + 0.5 + 0.1 * torch.rand(300, 8, generator=g, dtype=torch.float64)
    e_c = e_pt + 0.2 + 0.1 * torch.rand(300, 8, generator=g, dtype=torch.float64)
    out = recovery_by_k(e_pt, e_ft, e_c, n_boot=100)
    for k in range(1, 8):
        expect = recovered_fraction(
            float(e_ft[:, k].mean()), float(e_c[:, k].mean()), float(e_pt[:, k].mean())
        )
        cell = out["recovered_fraction_per_k"][k]
        assert cell["value"] == pytest.approx(expect, rel=1e-12)
        assert cell["lo"] <= cell["value"] <= cell["hi"]
        assert out["error_reduction_per_k"][k]["value"] == pytest.approx(
            float((e_ft[:, k] - e_c[:, k]).mean()), rel=1e-12
        )
    assert math.isnan(out["recovered_fraction_per_k"][0]["value"])
    whole = recovered_fraction(
        float(e_ft[:, 1:].mean()), float(e_c[:, 1:].mean()), float(e_pt[:, 1:].mean())
    )
    assert out["recovered_fraction"]["value"] == pytest.approx(whole, rel=1e-12)
    assert out["small_k"] == [1, 2] and out["large_k"] == [6, 7]
    with pytest.raises(ValueError):
        recovery_by_k(e_pt, e_ft[:, :3], e_c)


def test_interval_excludes_zero_only_when_the_gain_is_real() -> None:
    g = torch.Generator().manual_seed(1)
    e_pt = torch.rand(2000, 4, generator=g, dtype=torch.float64)
    e_ft = e_pt + 0.3
    noise = 0.5 * torch.randn(2000, 4, generator=g, dtype=torch.float64)
    real = recovery_by_k(e_pt, e_ft, e_ft - 0.1 + noise, n_boot=200)["recovered_fraction"]
    null = recovery_by_k(e_pt, e_ft, e_ft + noise, n_boot=200)["recovered_fraction"]
    assert real["lo"] > 0 and real["value"] == pytest.approx(1 / 3, abs=0.05)
    assert null["lo"] < 0 < null["hi"]


def test_bayes_ideal_yscale_recovers_like_the_scalar_sweep() -> None:
    task = TaskConfig.model_validate(dict(d=4, n_points=8, pool_size=6, sigma=0.5, pool_seed=1))
    s = TaskSampler(task, seed=2, dtype=torch.float64)
    b = s.batch(0, 400, stream="yscale", family="continuous")

    def mix(alpha: float):
        def f(xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
            p, _ = bayes.mixture_predictions(xs, ys, s.pool, alpha=alpha, sigma=0.5, tau=1.0)
            return torch.as_tensor(p, dtype=torch.float64)

        return f

    pt, ft = mix(0.5), mix(0.99)
    conj = Conjugate("yscale", 2.0)
    preds = {"pt": pt(b.xs, b.ys), "ft": ft(b.xs, b.ys), "c": conj(ft, b.xs, b.ys)}
    out = recovery_by_k(*(normalised_error(p, b) for p in preds.values()), n_boot=0)
    errs = {n: per_k_error(p, b)[1:].mean().item() for n, p in preds.items()}
    assert out["recovered_fraction"]["value"] == pytest.approx(
        recovered_fraction(errs["ft"], errs["c"], errs["pt"]), rel=1e-10
    )
    assert out["recovered_fraction"]["value"] > 0.5  # exact conjugate for the ideal
