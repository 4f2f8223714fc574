"""Paired 95 % intervals for the ICL-accuracy drop (base − tuned) of a paired evaluation.

Both models answer the same prompts, so the uncertainty of the drop comes from which prompts
were drawn, not from two independent samples. The interval is a percentile bootstrap over
prompts that keeps each prompt's pair of outcomes together and resamples within each
(condition, task) cell, because a condition's accuracy is the mean of its task accuracies and
the overall number the mean over every cell. A fixed seed makes it reproducible: the same
samples always give the same interval.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

B = 4000  # bootstrap resamples
SEED = 0
METHOD = (
    f"paired percentile bootstrap over prompts ({B} resamples, seed {SEED} per cell), resampled "
    "within each (condition, task) cell; the drop is the mean over cells of base − tuned ICL accuracy"
)


TaskOf = Callable[[Mapping[str, Any]], str]


def icl_task(row: Mapping[str, Any]) -> str:
    """The (ICL task, IF task) cell of an ICL-vs-IF row."""
    return f"{row['icl_task']}-{row['if_task']}"


def _cells(
    rows_by_role: Mapping[str, Sequence[Mapping[str, Any]]],
    hit: str = "icl_hit",
    task: TaskOf = icl_task,
) -> dict[tuple[str, str], np.ndarray]:
    """(condition, task) -> per-prompt base − tuned hit, for prompts both models answered."""
    hits: dict[str, dict[str, bool]] = {}
    for role in ("base", "tuned"):
        hits[role] = {str(r["sample"]): bool(r[hit]) for r in rows_by_role.get(role, ())}
    cells: dict[tuple[str, str], list[int]] = {}
    for r in rows_by_role.get("base", ()):
        sid = str(r["sample"])
        if sid in hits["tuned"]:
            key = (str(r["condition"]), task(r))
            cells.setdefault(key, []).append(int(hits["base"][sid]) - int(hits["tuned"][sid]))
    return {k: np.asarray(v, dtype=np.float64) for k, v in cells.items()}


def bootstrap_cell_means(diffs: np.ndarray, rng: np.random.Generator, b: int = B) -> np.ndarray:
    """``b`` bootstrap means of one cell's paired differences."""
    idx = rng.integers(0, len(diffs), size=(b, len(diffs)))
    means: np.ndarray = diffs[idx].mean(axis=1)
    return means


def drop_intervals(
    rows_by_role: Mapping[str, Sequence[Mapping[str, Any]]],
    conditions: Sequence[str],
    *,
    hit: str = "icl_hit",
    task: TaskOf = icl_task,
) -> dict[str, Any]:
    """``{"languages": {cond: [lo, hi]}, "overall": [lo, hi]}`` (conditions without paired
    samples are left out). ``hit`` names the per-row outcome, ``task`` gives a row's cell
    within its condition (the defaults are ICL-vs-IF's)."""
    cells = _cells(rows_by_role, hit, task)
    draws = {
        key: bootstrap_cell_means(
            d, np.random.default_rng([SEED, zlib.crc32("|".join(key).encode())])
        )
        for key, d in sorted(cells.items())
    }
    out: dict[str, Any] = {"languages": {}, "overall": None}

    def interval(stacked: list[np.ndarray]) -> list[float]:
        mean = np.mean(np.stack(stacked), axis=0)
        lo, hi = np.percentile(mean, [2.5, 97.5])
        return [float(lo), float(hi)]

    for cond in conditions:
        mine = [v for (c, _), v in draws.items() if c == cond]
        if mine:
            out["languages"][cond] = interval(mine)
    if draws:
        out["overall"] = interval(list(draws.values()))
    return out


def put_intervals(
    languages: Mapping[str, dict[str, Any]],
    overall: dict[str, Any] | None,
    rows_by_role: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    hit: str = "icl_hit",
    task: TaskOf = icl_task,
) -> None:
    """Put ``drop_ci95`` into every per-condition row and the overall row (in place)."""
    iv = drop_intervals(rows_by_role, list(languages), hit=hit, task=task)
    for cond, row in languages.items():
        row["drop_ci95"] = iv["languages"].get(cond)
    if overall is not None:
        overall["drop_ci95"] = iv["overall"]


def add_drop_intervals(
    results: dict[str, Any],
    rows_by_role: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    hit: str = "icl_hit",
    task: TaskOf = icl_task,
    method: str = METHOD,
) -> None:
    """Put ``drop_ci95`` beside every ``drop`` of a results dict (in place)."""
    put_intervals(
        results.get("languages", {}), results.get("overall"), rows_by_role, hit=hit, task=task
    )
    results["drop_interval"] = method
