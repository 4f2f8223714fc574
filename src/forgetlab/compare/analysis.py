"""Per task × metric statistics of two paired logs: the numbers of ``results.json``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from forgetlab.compare import stats
from forgetlab.compare.align import PairedTask
from forgetlab.compare.schema import Flips, MetricRow

METHODS = {
    "delta": "tuned − base, the mean over samples of the paired per-sample difference",
    "delta_ci95": (
        f"paired percentile bootstrap over samples ({stats.B} resamples, seed {stats.SEED} "
        "and the task and metric names); differences with at most "
        f"{stats.MULTINOMIAL_MAX_VALUES} distinct values (0/1 metrics) resample exactly through "
        "multinomial counts; above that, when samples × resamples exceed "
        f"{stats.RESAMPLE_MAX:,}, the normal limit of the bootstrap (each row's `bootstrap`)"
    ),
    "binary": "exact McNemar test (two-sided binomial test on the discordant pairs)",
    "continuous": (
        "Wilcoxon signed-rank test, zero differences dropped; exact up to "
        f"{stats.EXACT_WILCOXON_MAX_N} non-zero differences without ties, otherwise the "
        "normal approximation with tie correction"
    ),
    "p_holm": "Holm step-down adjustment over every task × metric row",
    "equivalence": (
        "two one-sided tests of |delta| < margin on the bootstrap distribution of the delta "
        "(alpha 0.05: equivalent when the 90 % interval lies inside ±margin)"
    ),
}


def metric_arrays(task: PairedTask, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Base and tuned values of one metric, in the task's paired order."""
    base = np.fromiter(
        (task.base.samples[i].scores[metric] for i in task.ids), float, len(task.ids)
    )
    tuned = np.fromiter(
        (task.tuned.samples[i].scores[metric] for i in task.ids), float, len(task.ids)
    )
    return base, tuned


def is_binary(*arrays: np.ndarray) -> bool:
    return all(bool(np.all((a == 0) | (a == 1))) for a in arrays)


def metric_row(task: PairedTask, metric: str, margin: float | None = None) -> MetricRow:
    """The statistics of one task × metric (``p_holm`` is filled in over all rows later)."""
    base, tuned = metric_arrays(task, metric)
    diffs = tuned - base
    means = stats.bootstrap_means(diffs, stats.rng_for(task.name, metric))
    binary = is_binary(base, tuned)
    if binary:
        r2w = int(np.sum((base == 1) & (tuned == 0)))
        w2r = int(np.sum((base == 0) & (tuned == 1)))
        test, statistic, p = "mcnemar-exact", float(min(r2w, w2r)), stats.mcnemar_exact(r2w, w2r)
    else:
        r2w, w2r = int(np.sum(diffs < 0)), int(np.sum(diffs > 0))
        statistic, p, how = stats.wilcoxon_signed_rank(diffs)
        test = f"wilcoxon-signed-rank ({how})"
    flips = Flips(right_to_wrong=r2w, wrong_to_right=w2r, unchanged=len(diffs) - r2w - w2r)
    return MetricRow(
        task=task.name,
        metric=metric,
        kind="binary" if binary else "continuous",
        n=len(diffs),
        base_mean=float(base.mean()),
        tuned_mean=float(tuned.mean()),
        delta=float(diffs.mean()),
        delta_ci95=stats.percentile_interval(means),
        bootstrap=stats.bootstrap_method(diffs),
        test=test,
        statistic=statistic,
        p=p,
        p_holm=None,
        flips=flips,
        equivalence=None if margin is None else stats.tost_bootstrap(means, margin),
    )


def all_rows(tasks: Sequence[PairedTask], margin: float | None = None) -> list[MetricRow]:
    """Every task × metric row, with Holm-adjusted p-values over all of them."""
    rows = [metric_row(t, m, margin) for t in tasks for m in t.metrics]
    for row, adjusted in zip(rows, stats.holm([r["p"] for r in rows]), strict=True):
        row["p_holm"] = adjusted
    return rows


def flip_direction(kind: str, base: float, tuned: float) -> str:
    """How one sample changed on a metric, as the browser's filter shows it."""
    if kind == "binary":
        if base == tuned:
            return "right, both" if base == 1 else "wrong, both"
        return "right → wrong" if base == 1 else "wrong → right"
    if base == tuned:
        return "unchanged"
    return "decreased" if tuned < base else "increased"


def task_summary(task: PairedTask, rows: Sequence[MetricRow]) -> dict[str, Any]:
    """What ``results.json`` says about a task besides its rows."""
    mine = [r for r in rows if r["task"] == task.name]
    browser = next((r["metric"] for r in mine if r["kind"] == "binary"), mine[0]["metric"])
    return {
        "n": len(task.ids),
        "metrics": task.metrics,
        "browser_metric": browser,
        "version": {"base": task.base.version, "tuned": task.tuned.version},
        "source": {"base": task.base.source, "tuned": task.tuned.source},
    }


def browser_rows(
    task: PairedTask, metric: str, kind: str, keep_unchanged: int, keep_changed: int
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The samples the HTML browser shows for a task: every changed sample up to
    ``keep_changed``, and the first ``keep_unchanged`` unchanged ones. Returns the rows and
    how many of each direction were left out."""
    rows: list[dict[str, Any]] = []
    kept: dict[str, int] = {}
    left_out: dict[str, int] = {}
    for sid in task.ids:
        b, t = task.base.samples[sid], task.tuned.samples[sid]
        direction = flip_direction(kind, b.scores[metric], t.scores[metric])
        changed = direction in ("right → wrong", "wrong → right", "decreased", "increased")
        limit = keep_changed if changed else keep_unchanged
        if kept.get(direction, 0) >= limit:
            left_out[direction] = left_out.get(direction, 0) + 1
            continue
        kept[direction] = kept.get(direction, 0) + 1
        rows.append(
            {
                "task": task.name,
                "id": sid,
                "dir": direction,
                "b": b,
                "t": t,
            }
        )
    task.base.fill_texts([r["b"] for r in rows])
    task.tuned.fill_texts([r["t"] for r in rows])
    for r in rows:
        b, t = r["b"], r["t"]
        r.update(
            p=b.prompt,
            tp=t.prompt if t.prompt != b.prompt else None,
            tg=b.target,
            b={"o": b.output, "s": b.scores},
            t={"o": t.output, "s": t.scores},
        )
    return rows, left_out
