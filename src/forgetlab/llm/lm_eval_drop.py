"""forgetlab's drop table from two lm-evaluation-harness runs (``forgetlab llm lm-eval-drop``).

Reads the ``results_<time>.json`` files lm-eval writes for a base and a tuned model on the
tasks of ``forgetlab llm export-lm-eval``. With ``--log_samples`` the per-prompt outcomes
(``samples_<task>_<time>.jsonl`` beside each results file) are paired prompt by prompt and
summarised exactly like ``icl-vs-if``'s ``results.json``, paired 95 % interval included (the
same bootstrap, docs/llm-evaluation.md); without them only the task means are available, so
the table has no interval. Runs on different prompts (another export, ``--limit``) are refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError

ROLES = ("base", "tuned")
NO_INTERVAL = "not available: rerun lm_eval with --log_samples for the paired interval"


@dataclass
class Subtask:
    """One exported (condition, task) cell as lm-eval scored it."""

    name: str
    condition: str
    task: str
    rows_sha256: str
    n: int
    icl_acc: float
    if_rate: float
    samples: list[dict[str, Any]] | None = None


@dataclass
class LmEvalRun:
    path: Path
    model: dict[str, Any]
    subtasks: dict[str, Subtask] = field(default_factory=dict)


def _results_file(path: Path) -> Path:
    """A results file, or the newest ``results_*.json`` in a directory (lm-eval's layout)."""
    if path.is_dir():
        found = sorted(path.glob("results_*.json")) or sorted(path.glob("*/results_*.json"))
        if not found:
            raise ForgetlabError(f"no lm-eval results_*.json in {path}")
        return found[-1]
    if not path.is_file():
        raise ForgetlabError(f"lm-eval results file not found: {path}")
    return path


def _read_samples(path: Path, sub: Subtask) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            s = json.loads(line)
            doc = s["doc"]
            icl_task, if_task = doc["icl_task"], doc["if_task"]
            rows.append(
                {
                    "sample": f"{sub.condition}/{icl_task}-{if_task}/{doc['index']}",
                    "condition": sub.condition,
                    "icl_task": icl_task,
                    "if_task": if_task,
                    "icl_hit": bool(s["icl_acc"]),
                    "if_hit": bool(s["if_rate"]),
                    "output": (s.get("filtered_resps") or [""])[0],
                }
            )
    return rows


def read_run(path: str | Path) -> LmEvalRun:
    """Load one lm-eval run: the exported subtasks it scored and, when logged, their samples."""
    file = _results_file(Path(path))
    try:
        res = json.loads(file.read_text(encoding="utf-8"))
        configs, results = res["configs"], res["results"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ForgetlabError(f"{file} is not an lm-eval results file ({exc})") from None
    cfg = res.get("config") or {}
    run = LmEvalRun(
        path=file,
        model={
            "backend": f"lm-eval:{cfg.get('model', '')}",
            "name": str(res.get("model_name") or cfg.get("model_args") or ""),
            "source": str(file),
            "extra": {
                "model_args": cfg.get("model_args"),
                "batch_size": cfg.get("batch_size"),
                "lm_eval_version": res.get("lm_eval_version"),
                "transformers_version": res.get("transformers_version"),
                "bos_token": res.get("tokenizer_bos_token"),
            },
        },
    )
    stamp = file.stem.removeprefix("results_")
    for name, conf in configs.items():
        meta = conf.get("metadata") or {}
        if "generator_fingerprint" not in meta or "task" not in meta or name not in results:
            continue  # a group, or a task that forgetlab did not export
        score = results[name]
        if "icl_acc,none" not in score or "if_rate,none" not in score:
            raise ForgetlabError(f"{file}: task {name} has no icl_acc/if_rate scores")
        sub = Subtask(
            name=name,
            condition=str(meta["condition"]),
            task=str(meta["task"]),
            rows_sha256=str((conf.get("dataset_kwargs") or {}).get("rows_sha256_expected", "")),
            n=int((res.get("n-samples") or {}).get(name, {}).get("effective", 0)),
            icl_acc=float(score["icl_acc,none"]),
            if_rate=float(score["if_rate,none"]),
        )
        samples = file.parent / f"samples_{name}_{stamp}.jsonl"
        if samples.is_file():
            try:
                sub.samples = _read_samples(samples, sub)
            except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
                raise ForgetlabError(f"{samples}: unreadable lm-eval samples ({exc!r})") from None
        run.subtasks[name] = sub
    if not run.subtasks:
        raise ForgetlabError(f"{file} holds no task exported by forgetlab llm export-lm-eval")
    return run


def _summary_from_means(subs: Sequence[Subtask], conditions: Sequence[str]) -> dict[str, Any]:
    """The shape of ``evaluate.summarise_rows`` from task means only (no per-prompt outcomes)."""

    def stats(n: int, icl: float | None, iff: float | None) -> dict[str, Any]:
        return {
            "n": n,
            "icl_hits": None if icl is None else round(icl * n),
            "if_hits": None if iff is None else round(iff * n),
            "icl_accuracy": icl,
            "if_rate": iff,
        }

    def mean(xs: Sequence[float]) -> float | None:
        return sum(xs) / len(xs) if xs else None

    out: dict[str, Any] = {}
    for cond in conditions:
        mine = [s for s in subs if s.condition == cond]
        per_task = {s.task: stats(s.n, s.icl_acc, s.if_rate) for s in mine}
        out[cond] = {
            **stats(
                sum(s.n for s in mine),
                mean([s.icl_acc for s in mine]),
                mean([s.if_rate for s in mine]),
            ),
            "per_task": per_task,
        }
    overall = stats(
        sum(s.n for s in subs), mean([s.icl_acc for s in subs]), mean([s.if_rate for s in subs])
    )
    return {"conditions": out, "overall": overall}


def drop_table(base: str | Path, tuned: str | Path) -> dict[str, Any]:
    """A ``results.json``-shaped dict (``languages``, ``overall``, ``claim``, ``drop_ci95``)."""
    from forgetlab.llm.benchmarks.icl_vs_if.benchmark import compare, summarise_rows
    from forgetlab.llm.paired_interval import add_drop_intervals
    from forgetlab.results import provenance

    runs = {"base": read_run(base), "tuned": read_run(tuned)}
    b, t = runs["base"].subtasks, runs["tuned"].subtasks
    if set(b) != set(t):
        only = sorted(set(b) ^ set(t))
        raise ForgetlabError(f"base and tuned ran different tasks ({', '.join(only[:4])} ...)")
    for name in b:
        if b[name].rows_sha256 != t[name].rows_sha256:
            raise ForgetlabError(f"{name}: base and tuned ran different exports of the prompts")
    subs = {role: list(runs[role].subtasks.values()) for role in ROLES}
    conditions = list(dict.fromkeys(s.condition for s in subs["base"]))
    paired = all(s.samples is not None for role in ROLES for s in subs[role])
    if paired:
        rows = {role: [r for s in subs[role] for r in s.samples or []] for role in ROLES}
        ids = {role: sorted(r["sample"] for r in rows[role]) for role in ROLES}
        if ids["base"] != ids["tuned"]:
            raise ForgetlabError(
                "base and tuned logged different prompts (was --limit the same?); "
                "the drop needs both models' answers to the same prompts"
            )
        summaries = {role: summarise_rows(rows[role], conditions) for role in ROLES}
    else:
        summaries = {role: _summary_from_means(subs[role], conditions) for role in ROLES}
    results: dict[str, Any] = {
        "benchmark": "icl_vs_if",
        "source": "lm-evaluation-harness",
        "files": {role: str(runs[role].path) for role in ROLES},
        "models": {role: runs[role].model for role in ROLES},
        "per_sample": paired,
        "conditions": conditions,
        **compare(summaries["base"], summaries["tuned"], conditions),
    }
    if paired:
        add_drop_intervals(results, rows)
    else:
        for row in results["languages"].values():
            row["drop_ci95"] = None
        results["overall"]["drop_ci95"] = None
        results["drop_interval"] = NO_INTERVAL
    results["provenance"] = provenance({"base": str(base), "tuned": str(tuned)})
    return results


def describe(results: Mapping[str, Any]) -> str:
    """The table plus one line on where the interval came from."""
    from forgetlab.report.llm_report import render_table

    note = (
        "paired 95% interval from per-prompt samples"
        if results["per_sample"]
        else f"no interval: {NO_INTERVAL.removeprefix('not available: ')}"
    )
    return f"{render_table(results)}\n{note}"
