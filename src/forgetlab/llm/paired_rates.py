"""Paired comparison of a binary outcome (e.g. refusal) between two models on the same prompts.

When a base and a tuned model answer the same 100 prompts, their two refusal rates are not
independent samples: the right interval for the change comes from the per-prompt pairs. This
module gives the change (b − a), a percentile bootstrap interval over prompts that keeps each
prompt's pair together, and the exact McNemar test (a two-sided binomial test on the
discordant pairs), which is what a reviewer expects for "did the rate change?" on paired
binary data.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np

B = 4000
SEED = 0
METHOD = (
    f"paired percentile bootstrap over prompts ({B} resamples, seed {SEED}) for b − a; "
    "exact two-sided McNemar test on the discordant pairs"
)


def mcnemar_exact_p(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: discordant pairs ~ Binomial(n, 1/2) under H0."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_change(a: Mapping[str, bool], b: Mapping[str, bool], *, key: str = "") -> dict[str, Any]:
    """Change in the rate of a True outcome from ``a`` to ``b`` over the ids both have.

    Returns ``n``, ``rate_a``, ``rate_b``, ``change`` (b − a), ``ci95`` (bootstrap),
    ``only_a`` / ``only_b`` (discordant pairs) and ``mcnemar_p``. ``key`` seeds the bootstrap
    so that every condition gets its own, reproducible resamples.
    """
    ids = sorted(set(a) & set(b))
    if not ids:
        return {"n": 0, "rate_a": None, "rate_b": None, "change": None, "ci95": None,
                "only_a": 0, "only_b": 0, "mcnemar_p": None}  # fmt: skip
    xa = np.array([a[i] for i in ids], dtype=np.float64)
    xb = np.array([b[i] for i in ids], dtype=np.float64)
    diffs = xb - xa
    rng = np.random.default_rng([SEED, zlib.crc32(key.encode())])
    idx = rng.integers(0, len(diffs), size=(B, len(diffs)))
    lo, hi = np.percentile(diffs[idx].mean(axis=1), [2.5, 97.5])
    only_a = int(((xa == 1) & (xb == 0)).sum())
    only_b = int(((xa == 0) & (xb == 1)).sum())
    return {
        "n": len(ids),
        "rate_a": float(xa.mean()),
        "rate_b": float(xb.mean()),
        "change": float(diffs.mean()),
        "ci95": [float(lo), float(hi)],
        "only_a": only_a,
        "only_b": only_b,
        "mcnemar_p": mcnemar_exact_p(only_a, only_b),
    }
