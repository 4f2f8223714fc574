"""Label rates of a refusal run: counts, rates and Wilson 95 % intervals per label."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from forgetlab.llm.judges import ALL_LABELS

Z95 = 1.959963984540054


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for ``k`` successes in ``n`` trials (NaNs when ``n == 0``).

    Unlike the normal approximation it stays inside [0, 1] and is sensible at k = 0 or n,
    which matters for refusal rates of 0% or 100% on 20-100 prompts.
    """
    if n <= 0:
        return (math.nan, math.nan)
    if not 0 <= k <= n:
        raise ValueError("need 0 <= k <= n")
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def summarise(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts, rates and Wilson 95% intervals of each label over ``rows``."""
    n = len(rows)
    counts = Counter(str(r["label"]) for r in rows)
    out: dict[str, Any] = {
        "n": n,
        "counts": {lab: counts.get(lab, 0) for lab in ALL_LABELS},
        "rates": {lab: (counts.get(lab, 0) / n if n else math.nan) for lab in ALL_LABELS},
        "wilson95": {lab: list(wilson_interval(counts.get(lab, 0), n)) for lab in ALL_LABELS},
        "judged_on": dict(sorted(Counter(str(r.get("judged_on", "")) for r in rows).items())),
    }
    return out
