"""λ-versus-g diagnostics, checked against brute-force loops and Bayes predictors (closed forms)."""

from __future__ import annotations

import math

import pytest
import torch

from forgetlab.synthetic import bayes
from forgetlab.synthetic.analysis import (
    G_EDGES,
    K_START,
    FamilyPredictions,
    bayes_references,
    bin_index,
    gap_closed,
    inference_diagnostics,
    mixture_g,
    per_prompt_error,
    prompt_g,
    prompt_implied_weight,
    prompt_projection,
    ratio_interval,
)
from forgetlab.synthetic.tasks import TaskConfig, TaskSampler

TASK = TaskConfig.model_validate(
    dict(d=4, n_points=10, pool_size=6, alpha=0.5, sigma=0.5, tau=1.0, pool_seed=3)
)
ALPHA_FT = 0.99


def _family(family: str, n: int = 500):
    sampler = TaskSampler(TASK, seed=7, dtype=torch.float64)
    batch = sampler.batch(0, n, stream=f"diag/{family}", family=family)  # type: ignore[arg-type]
    refs = bayes_references(batch.xs, batch.ys, sampler.pool, TASK)
    return sampler.pool, batch, refs


def _mixture(batch, pool, alpha: float) -> torch.Tensor:
    preds, _ = bayes.mixture_predictions(
        batch.xs, batch.ys, pool, alpha=alpha, sigma=TASK.sigma, tau=TASK.tau
    )
    return torch.as_tensor(preds, dtype=torch.float64)


def test_prompt_lambda_of_mixture_bayes_is_prompt_g_at_any_alpha() -> None:
    pool, batch, refs = _family("discrete")
    for alpha in (0.5, 0.2, ALPHA_FT):
        lam = prompt_implied_weight(_mixture(batch, pool, alpha), refs.ridge, refs.dmmse)
        torch.testing.assert_close(lam, prompt_g(refs, alpha=alpha), atol=1e-8, rtol=1e-7)
    # brute force for one prompt: a weighted mean of g_k with weights (m_k - r_k)^2
    i = 3
    w = [(float(refs.dmmse[i, k] - refs.ridge[i, k])) ** 2 for k in range(K_START, TASK.n_points)]
    gk = [float(refs.g[i, k]) for k in range(K_START, TASK.n_points)]
    expected = sum(a * b for a, b in zip(w, gk, strict=True)) / sum(w)
    assert float(prompt_g(refs)[i]) == pytest.approx(expected, rel=1e-10)


def test_bin_index_matches_a_loop_and_closes_the_top_edge() -> None:
    vals = torch.tensor([0.0, 0.01, 0.02, 0.5, 0.97, 0.98, 0.999, 1.0], dtype=torch.float64)
    got = bin_index(vals, G_EDGES).tolist()
    want = []
    for v in vals.tolist():
        b = max(j for j in range(len(G_EDGES) - 1) if v >= G_EDGES[j])
        want.append(b)
    assert got == want
    assert got[-1] == len(G_EDGES) - 2


def test_ratio_interval_mean_and_normal_approximation() -> None:
    x = torch.randn(4000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = ratio_interval(x, torch.ones_like(x), n_boot=400, seed=1)
    assert out["value"] == pytest.approx(float(x.mean()), abs=1e-12)
    half = 1.96 * float(x.std()) / math.sqrt(x.numel())
    assert out["hi"] - out["lo"] == pytest.approx(2 * half, rel=0.2)
    assert out["lo"] < out["value"] < out["hi"]
    empty = ratio_interval(x[:0], x[:0])
    assert math.isnan(empty["value"]) and empty["count"] == 0


def test_gap_closed_endpoints() -> None:
    assert gap_closed(0.2, 0.2, 0.1) == 0.0
    assert gap_closed(0.1, 0.2, 0.1) == 1.0
    assert math.isnan(gap_closed(0.1, 0.1, 0.1))


def _bayes_pair() -> dict[str, FamilyPredictions]:
    fams = {}
    for fam in ("continuous", "discrete"):
        pool, batch, refs = _family(fam)
        fams[fam] = FamilyPredictions(
            batch=batch,
            refs=refs,
            pretrained=_mixture(batch, pool, TASK.alpha),
            finetuned=_mixture(batch, pool, ALPHA_FT),
        )
    return fams


def test_bayes_models_reproduce_the_bayes_ideal_columns_exactly() -> None:
    """A 'model' that is mixture-Bayes at α and at the fine-tuning α is the ideal itself."""
    fams = _bayes_pair()
    diag = inference_diagnostics(fams, alpha_finetuned=ALPHA_FT, n_boot=50)
    for row in diag["calibration"]:
        if row["count"]:
            assert row["pretrained"]["value"] == pytest.approx(row["bayes_pretrained"], abs=1e-8)
            assert row["finetuned"]["value"] == pytest.approx(row["bayes_finetuned"], abs=1e-8)
            assert row["g_lo"] - 1e-12 <= row["bayes_pretrained"] <= row["g_hi"] + 1e-12
    for fam in ("continuous", "discrete"):
        for row in diag["lambda_shift"][fam]:
            if row["count"]:
                assert row["model"]["value"] == pytest.approx(row["bayes"], abs=1e-8)
        for row in diag["forgetting_by_g"][fam]:
            if row["count"]:
                assert row["rise"]["value"] == pytest.approx(row["bayes_rise"], abs=1e-10)
    s = diag["sharpness"]
    assert s["spearman_pretrained"] == pytest.approx(1.0, abs=1e-6)
    assert s["discrete_gap_closed"] == pytest.approx(1.0, abs=1e-12)
    shared = set(diag["claims"]["bayes"])
    assert {k: diag["claims"]["model"][k] for k in shared} == diag["claims"]["bayes"]
    assert diag["claims"]["model"]["pretrained_lambda_tracks_g"] is True


def test_binned_columns_against_a_brute_force_loop() -> None:
    fams = _bayes_pair()
    # a model that is not Bayes: ridge plus a constant share of dMMSE's offset, plus noise
    cont = fams["continuous"]
    noise = 0.05 * torch.randn(cont.pretrained.shape, generator=torch.Generator().manual_seed(2))
    r, m = cont.refs.ridge, cont.refs.dmmse
    fams["continuous"] = FamilyPredictions(
        cont.batch, cont.refs, r + 0.3 * (m - r) + noise, r + 0.6 * (m - r) + noise
    )
    diag = inference_diagnostics(fams, alpha_finetuned=ALPHA_FT, n_boot=20)
    g = prompt_g(cont.refs)
    g_ft = prompt_g(cont.refs, alpha=ALPHA_FT)
    f_pt, f_ft = fams["continuous"].pretrained, fams["continuous"].finetuned
    e_pt = per_prompt_error(f_pt, cont.batch)
    e_ft = per_prompt_error(f_ft, cont.batch)
    mix_ft = r + mixture_g(cont.refs.log_odds, ALPHA_FT) * (m - r)
    e_bft = per_prompt_error(mix_ft, cont.batch) - per_prompt_error(cont.refs.mixture, cont.batch)
    for b, row in enumerate(diag["lambda_shift"]["continuous"]):
        idx = [
            i
            for i in range(len(g))
            if G_EDGES[b] <= g[i] < G_EDGES[b + 1] or (b == len(G_EDGES) - 2 and g[i] == 1.0)
        ]
        assert row["count"] == len(idx)
        if not idx:
            continue
        num = den = num_b = 0.0
        for i in idx:
            for k in range(K_START, TASK.n_points):
                dk = float(m[i, k] - r[i, k])
                num += float(f_ft[i, k] - f_pt[i, k]) * dk
                den += dk * dk
            num_b += float(g_ft[i] - g[i]) * sum(
                float(m[i, k] - r[i, k]) ** 2 for k in range(K_START, TASK.n_points)
            )
        assert row["model"]["value"] == pytest.approx(num / den, rel=1e-9)
        assert row["bayes"] == pytest.approx(num_b / den, rel=1e-9)
        rise = diag["forgetting_by_g"]["continuous"][b]
        assert rise["rise"]["value"] == pytest.approx(
            sum(float(e_ft[i] - e_pt[i]) for i in idx) / len(idx), rel=1e-9
        )
        assert rise["bayes_rise"] == pytest.approx(
            sum(float(e_bft[i]) for i in idx) / len(idx), rel=1e-9
        )
    num, den = prompt_projection(f_pt, r, m)
    torch.testing.assert_close(num / den, prompt_implied_weight(f_pt, r, m))


def test_bayes_ideal_satisfies_the_locality_claims() -> None:
    """The ideal's λ moves most where g is ambiguous: the claims hold for it."""
    diag = inference_diagnostics(_bayes_pair(), alpha_finetuned=ALPHA_FT, n_boot=0, min_count=10)
    claims = diag["claims"]["bayes"]
    assert claims["discrete_lambda_rise_largest_at_low_g"] is True
    assert claims["continuous_lambda_rise_largest_at_high_g"] is True
