"""The typed layout of ``forgetlab compare``'s ``results.json`` (docs/compare.md)."""

from __future__ import annotations

from typing import Any, TypedDict


class Side(TypedDict):
    """One compared run: where it came from and which model it evaluated."""

    path: str
    harness: str  # lm-evaluation-harness or inspect
    model: str
    files: list[dict[str, Any]]  # {"path", "bytes", "sha256"} of every file read
    meta: dict[str, Any]


class Flips(TypedDict):
    """Per-sample changes from base to tuned (0/1 metrics: right→wrong and wrong→right)."""

    right_to_wrong: int
    wrong_to_right: int
    unchanged: int


class MetricRow(TypedDict):
    """One task × metric: means, the paired delta (tuned − base) and its tests."""

    task: str
    metric: str
    kind: str  # binary (every value 0 or 1) or continuous
    n: int
    base_mean: float
    tuned_mean: float
    delta: float  # tuned − base
    delta_ci95: list[float] | None  # paired percentile bootstrap
    bootstrap: str  # how the bootstrap drew (stats.bootstrap_method)
    test: str  # mcnemar-exact or wilcoxon-signed-rank (exact / normal approximation)
    statistic: float
    p: float
    p_holm: float | None  # Holm over every row of the file
    flips: Flips  # for a continuous metric: decreased, increased, unchanged
    equivalence: dict[str, Any] | None  # TOST against --equivalence-margin


class CompareResults(TypedDict):
    kind: str  # "compare"
    base: Side
    tuned: Side
    align_by: str
    equivalence_margin: float | None
    tasks: dict[str, dict[str, Any]]  # task -> {"n", "metrics", "browser_metric", "version"}
    rows: list[MetricRow]
    methods: dict[str, str]
    provenance: dict[str, Any]
