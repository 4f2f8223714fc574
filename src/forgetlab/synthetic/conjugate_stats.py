"""The paper's conjugate (y-scaling) per prompt length, with bootstrap intervals over prompts.

The recovered fraction ``(e_ft − e_conj) / (e_ft − e_pt)`` is a ratio of mean error
differences, so it is bootstrapped *paired*: one resample of prompts feeds numerator and
denominator alike. Reported per k (the paper: the gain is largest at small k), over all
``k >= k_start``, and over the first and last third of the prompt lengths.
"""

from __future__ import annotations

from typing import Any

import torch

from forgetlab.synthetic.analysis import K_START, ratio_interval


def recovery_by_k(
    err_pt: torch.Tensor,
    err_ft: torch.Tensor,
    err_conj: torch.Tensor,
    *,
    k_start: int = K_START,
    n_boot: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """Recovered fraction and error reduction of a conjugate, per k and pooled.

    ``err_*`` are per-prompt, per-position errors ``[B, K]`` of the pretrained model, the
    fine-tuned model, and the fine-tuned model under the conjugate, on the same prompts.
    """
    if not err_pt.shape == err_ft.shape == err_conj.shape:
        raise ValueError("error tensors must share one shape [B, K]")
    e_pt, e_ft, e_c = (t.to(torch.float64) for t in (err_pt, err_ft, err_conj))
    K = e_pt.shape[1]
    gain, gap = e_ft - e_c, e_ft - e_pt
    one = torch.ones(e_pt.shape[0], dtype=torch.float64)
    nan = {"value": float("nan"), "lo": float("nan"), "hi": float("nan"), "count": 0.0}
    per_k: list[dict[str, float]] = []
    reduction: list[dict[str, float]] = []
    for k in range(K):
        if k < k_start:
            per_k.append(dict(nan))
            reduction.append(dict(nan))
            continue
        per_k.append(ratio_interval(gain[:, k], gap[:, k], n_boot=n_boot, seed=seed + k))
        reduction.append(ratio_interval(gain[:, k], one, n_boot=n_boot, seed=seed + k))

    ks = list(range(k_start, K))
    third = max(1, len(ks) // 3)

    def pooled(sel: list[int], s: int) -> dict[str, float]:
        return ratio_interval(gain[:, sel].mean(1), gap[:, sel].mean(1), n_boot=n_boot, seed=s)

    return {
        "recovered_fraction": pooled(ks, seed + 1000),
        "recovered_fraction_small_k": pooled(ks[:third], seed + 2000),
        "recovered_fraction_large_k": pooled(ks[-third:], seed + 3000),
        "small_k": [ks[0], ks[third - 1]],
        "large_k": [ks[-third], ks[-1]],
        "recovered_fraction_per_k": per_k,
        "error_reduction_per_k": reduction,
        "gap_per_k": gap.mean(0).tolist(),
    }
