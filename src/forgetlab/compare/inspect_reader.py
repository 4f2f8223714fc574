"""UK AISI Inspect eval logs (``.eval`` and ``.json``), read with ``inspect_ai.log``.

Each log holds one task run on one model. A sample's id is Inspect's sample id (with
``#epoch`` when the task ran several epochs); the prompt hash covers the messages the model
was given before its first reply (so a solver that rewrites the input, a different template
or a different few-shot draw changes it); each scorer's value becomes a metric (``C``/``I``/
``P``/``N`` as 1/0/0.5/0, numbers and booleans as they are, a dict value as one metric per key).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from forgetlab.compare.files import file_record
from forgetlab.compare.model import Log, Sample, Task, clip
from forgetlab.errors import ForgetlabError

HARNESS = "inspect"
LETTER_VALUES = {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0}  # Inspect's CORRECT, INCORRECT, ...
SUFFIXES = (".eval", ".json")


def is_inspect_log(path: Path) -> bool:
    """A ``.eval`` file, or a ``.json`` file that starts like an Inspect log."""
    if path.suffix == ".eval":
        return True
    if path.suffix != ".json" or not path.is_file():
        return False
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return b'"eval"' in head and (b'"version"' in head or b'"status"' in head)


def find_logs(path: Path) -> list[Path]:
    """The Inspect logs a BASE/TUNED argument names (a log file or a log directory)."""
    if path.is_file():
        return [path]
    logs = [p for p in sorted(path.iterdir()) if p.is_file() and is_inspect_log(p)]
    if not logs:
        raise ForgetlabError(f"{path}: no Inspect eval logs (*.eval or *.json)")
    return logs


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for item in content or []:
        text = getattr(item, "text", None)
        parts.append(text if isinstance(text, str) else f"[{getattr(item, 'type', 'content')}]")
    return "\n".join(parts)


def prompt_messages(sample: Any) -> list[tuple[str, str]]:
    """(role, text) of the messages before the model's first reply (the input if none)."""
    out: list[tuple[str, str]] = []
    for msg in sample.messages or []:
        if msg.role == "assistant":
            break
        out.append((str(msg.role), _text(msg.content)))
    if not out:
        inp = sample.input
        if isinstance(inp, str):
            out = [("user", inp)]
        else:
            out = [(str(m.role), _text(m.content)) for m in inp]
    return out


def prompt_hash(messages: list[tuple[str, str]]) -> str:
    return hashlib.sha256(json.dumps(messages, ensure_ascii=False).encode()).hexdigest()


def score_values(name: str, value: Any, where: str) -> dict[str, float]:
    """Metric name -> number for one scorer's value (unknown value types stop the run)."""
    if isinstance(value, bool | int | float):
        return {name: float(value)}
    if isinstance(value, str) and value in LETTER_VALUES:
        return {name: LETTER_VALUES[value]}
    if isinstance(value, dict):
        out: dict[str, float] = {}
        for key, v in value.items():
            out.update(score_values(f"{name}/{key}", v, where))
        return out
    raise ForgetlabError(
        f"{where}: scorer {name!r} gave {value!r} ({type(value).__name__}), which is not a "
        "number, a boolean or C/I/P/N; pick other metrics with --metrics"
    )


def _read(path: Path) -> Any:
    try:
        from inspect_ai.log import read_eval_log
    except ImportError:
        raise ForgetlabError(
            f"{path} is an Inspect log: reading it needs inspect-ai "
            "(pip install 'forgetlab[harness]')"
        ) from None
    try:
        return read_eval_log(str(path))
    except FileNotFoundError:
        raise ForgetlabError(f"Inspect log not found: {path}") from None
    except UnicodeDecodeError:
        raise ForgetlabError(f"{path}: not UTF-8 text") from None
    except Exception as exc:  # zip, JSON and validation errors of a damaged log
        text = " ".join(str(exc).split())[:200]
        raise ForgetlabError(
            f"{path}: not a readable Inspect log ({type(exc).__name__}: {text})"
        ) from None


def read_task_log(path: Path, metrics: frozenset[str] | None = None) -> tuple[Task, Any]:
    """One log's task and the log header (status checked, samples present)."""
    log = _read(path)
    if log.status != "success":
        err = getattr(log.error, "message", None) if log.error else None
        detail = f": {' '.join(str(err).split())[:160]}" if err else ""
        raise ForgetlabError(
            f"{path} is the log of a {log.status} Inspect eval{detail}; "
            "compare logs of finished evals"
        )
    if not log.samples:
        raise ForgetlabError(
            f"{path}: the log has no samples (was it written with --no-log-samples?)"
        )
    epochs = int(getattr(log.eval.config, "epochs", None) or 1)
    task = Task(name=str(log.eval.task), source=str(path), version=str(log.eval.task_version))
    for s in log.samples:
        sid = str(s.id) if epochs == 1 else f"{s.id}#{s.epoch}"
        if s.error is not None:
            raise ForgetlabError(f"{path}: sample {sid} ended in an error; rerun the eval")
        scores: dict[str, float] = {}
        for name, score in (s.scores or {}).items():
            for metric, v in score_values(name, score.value, f"{path} sample {sid}").items():
                if metrics is None or metric in metrics:
                    scores[metric] = v
        messages = prompt_messages(s)
        if sid in task.samples:
            raise ForgetlabError(f"{path}: sample id {sid} appears twice")
        target = s.target if isinstance(s.target, str) else json.dumps(s.target)
        task.samples[sid] = Sample(
            id=sid,
            prompt_hash=prompt_hash(messages),
            scores=scores,
            prompt=clip("\n\n".join(text for _, text in messages)),
            output=clip(s.output.completion if s.output else ""),
            target=clip(target),
        )
    return task, log


def read_inspect(path: Path, metrics: frozenset[str] | None = None) -> Log:
    """Every Inspect log a BASE/TUNED argument names; one task per log."""
    out: Log | None = None
    for file in find_logs(path):
        task, log = read_task_log(file, metrics)
        if out is None:
            out = Log(path=path, harness=HARNESS, model=str(log.eval.model))
            packages = dict(log.eval.packages or {})
            out.meta = {"inspect_version": packages.get("inspect_ai")}
        if task.name in out.tasks:
            raise ForgetlabError(
                f"{path}: two logs of task {task.name} ({out.tasks[task.name].source}, {file}); "
                "keep one"
            )
        if str(log.eval.model) != out.model:
            raise ForgetlabError(
                f"{path}: logs of two models ({out.model}, {log.eval.model}); pass one model's logs"
            )
        out.tasks[task.name] = task
        out.files.append(file_record(file))
    assert out is not None  # find_logs returns at least one file
    return out
