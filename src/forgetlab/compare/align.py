"""Pairing two logs sample by sample, and refusing pairs that are not the same evaluation.

Two runs are comparable only if both models answered the same prompts: the same task, the
same sample ids and, by default, the same prompt text (its hash). A different few-shot draw,
task version or template changes the prompt, and the first such sample is named.
"""

from __future__ import annotations

from dataclasses import dataclass

from forgetlab.compare.model import Log, Sample, Task
from forgetlab.errors import ForgetlabError

ALIGN_CHOICES = ("id+prompt", "id")


@dataclass
class PairedTask:
    """One task present in both logs: samples in the base log's order, paired by id."""

    name: str
    base: Task
    tuned: Task
    ids: list[str]
    metrics: list[str]

    def pairs(self) -> list[tuple[Sample, Sample]]:
        return [(self.base.samples[i], self.tuned.samples[i]) for i in self.ids]


def select_tasks(base: Log, tuned: Log, tasks: list[str] | None) -> list[str]:
    """The tasks to compare: all (which must be in both logs) or the ones asked for."""
    if tasks:
        missing = [
            f"{t} (not in {side.path})"
            for t in tasks
            for side in (base, tuned)
            if t not in side.tasks
        ]
        if missing:
            raise ForgetlabError(f"--tasks: {', '.join(missing[:4])}")
        return list(tasks)
    only_base = sorted(set(base.tasks) - set(tuned.tasks))
    only_tuned = sorted(set(tuned.tasks) - set(base.tasks))
    if only_base or only_tuned:
        parts = []
        if only_base:
            parts.append(f"only in BASE: {', '.join(only_base)}")
        if only_tuned:
            parts.append(f"only in TUNED: {', '.join(only_tuned)}")
        raise ForgetlabError(
            f"the logs hold different tasks ({'; '.join(parts)}); "
            "compare the shared ones with --tasks"
        )
    return list(base.tasks)


def pair_task(name: str, base: Task, tuned: Task, align_by: str = "id+prompt") -> PairedTask:
    """Pair one task's samples; different sample sets or prompts stop with one line."""
    if align_by not in ALIGN_CHOICES:
        raise ForgetlabError(f"--align-by must be one of {', '.join(ALIGN_CHOICES)}")
    b, t = base.samples, tuned.samples
    if len(b) != len(t) or b.keys() != t.keys():
        missing = next((i for i in b if i not in t), None)
        extra = next((i for i in t if i not in b), None)
        first = (
            f"sample {missing} is only in BASE"
            if missing is not None
            else f"sample {extra} is only in TUNED"
        )
        raise ForgetlabError(
            f"task {name}: BASE has {len(b)} samples and TUNED {len(t)}; {first} "
            "(was --limit or the dataset the same?)"
        )
    if align_by == "id+prompt":
        for sid, sample in b.items():
            if sample.prompt_hash != t[sid].prompt_hash:
                raise ForgetlabError(
                    f"task {name}: sample {sid} has a different prompt in BASE and TUNED "
                    "(different few-shot draws, task versions or prompt templates); "
                    "--align-by id pairs by id alone"
                )
    ids = list(b)
    metrics = _shared_metrics(name, base, tuned, ids)
    return PairedTask(name=name, base=base, tuned=tuned, ids=ids, metrics=metrics)


def _shared_metrics(name: str, base: Task, tuned: Task, ids: list[str]) -> list[str]:
    """Metrics scored on every sample of both logs, in first-seen order."""
    seen: dict[str, None] = {}
    for sample in base.samples.values():
        seen.update(dict.fromkeys(sample.scores))
    for sample in tuned.samples.values():
        seen.update(dict.fromkeys(sample.scores))
    metrics = []
    for metric in seen:
        for side, task in (("BASE", base), ("TUNED", tuned)):
            gap = next((i for i in ids if metric not in task.samples[i].scores), None)
            if gap is not None:
                raise ForgetlabError(
                    f"task {name}: metric {metric!r} is missing for sample {gap} in {side}"
                )
        metrics.append(metric)
    if not metrics:
        raise ForgetlabError(f"task {name}: no per-sample metric to compare")
    return metrics
