"""Concise vs detailed answers to the same everyday requests, from a teacher (MEET's task).

How the pairs are made (docs/finetuning.md#data-control--control-tokens-for-meet): the
requests are the harmless how-to requests of the safety builder (78 everyday tasks × 6
phrasings, :mod:`forgetlab.finetune.data.helpful`; none is in the harmless evaluation set).
The tasks are split, seeded, into training tasks and ``eval_tasks`` held-out tasks, so no
evaluation request shares its task with a training one. A teacher model answers every
request once through its chat template (greedy); the **detailed** answer is that whole
answer and the **concise** answer its first sentence. A pair is kept only when the contrast
is real: the concise answer has at least ``MIN_CONCISE_WORDS`` words, the detailed one at
least two sentences and at least twice the concise one's words. Teacher answers are cached
in ``OUT.teacher.jsonl`` (an interrupted build resumes); the held-out requests with their
two reference answers go to ``OUT.eval.jsonl``, which ``forgetlab llm run controllability``
reads.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError
from forgetlab.results import write_text_atomic

MIN_CONCISE_WORDS = 3
_SENTENCE = re.compile(r"(.+?[.!?])(\s|$)", re.S)


def eval_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".jsonl") + ".eval.jsonl")


def concise_detailed(answer: str) -> tuple[str, str] | None:
    """(first sentence, whole answer) when they differ enough to teach the contrast."""
    detailed = " ".join(answer.split())
    m = _SENTENCE.match(detailed)
    if not m:
        return None
    concise = m.group(1).strip()
    rest = detailed[m.end() :]
    n_concise, n_detailed = len(concise.split()), len(detailed.split())
    if n_concise < MIN_CONCISE_WORDS or not _SENTENCE.match(rest.strip() + " "):
        return None
    if n_detailed < 2 * n_concise:
        return None
    return concise, detailed


def split_tasks(seed: int, eval_tasks: int) -> tuple[list[str], list[str]]:
    """(training tasks, held-out tasks), seeded."""
    from forgetlab.finetune.data.helpful import TASKS

    if not 1 <= eval_tasks < len(TASKS):
        raise ForgetlabError(f"--eval-tasks must be between 1 and {len(TASKS) - 1}")
    tasks = list(TASKS)
    random.Random(seed).shuffle(tasks)
    return tasks[eval_tasks:], tasks[:eval_tasks]


def requests_for(tasks: list[str], seed: int) -> list[str]:
    from forgetlab.finetune.data.helpful import PHRASINGS

    pool = [p.format(t=t) for t in tasks for p in PHRASINGS]
    random.Random(seed).shuffle(pool)
    return pool


def teacher_triples(
    out: Path,
    *,
    n: int,
    seed: int,
    teacher: str,
    teacher_backend: Any = None,
    max_new_tokens: int = 160,
    eval_tasks: int = 12,
    batch_size: int = 8,
) -> dict[str, Any]:
    """``train``: up to ``n`` (request, concise, detailed) triples; ``eval``: the held-out
    requests with their references; plus the teacher identity and what was skipped."""
    from forgetlab.finetune.data.nonins import load_teacher
    from forgetlab.llm.backends.base import GenerationConfig
    from forgetlab.llm.runner import generate_cached
    from forgetlab.results import JsonlCache

    train_tasks, held_tasks = split_tasks(seed, eval_tasks)
    train_requests = requests_for(train_tasks, seed)
    if n > len(train_requests):
        raise ForgetlabError(
            f"--n {n} is more than the {len(train_requests)} training requests "
            f"({len(train_tasks)} tasks x 6 phrasings)"
        )
    held = requests_for(held_tasks, seed)
    if teacher_backend is None:
        teacher_backend = load_teacher(teacher)
    cache = JsonlCache(out.with_name(out.name + ".teacher.jsonl"))
    if any(r.get("teacher") != teacher for r in cache.rows.values()):
        raise ForgetlabError(
            f"{cache.path} holds outputs of another teacher; delete it or choose another output"
        )
    items = [{"id": q, "request": q} for q in [*train_requests[:n], *held]]
    rows = generate_cached(
        teacher_backend,
        items,
        cache=cache,
        mode="chat",
        config=GenerationConfig(max_new_tokens=max_new_tokens, temperature=0.0),
        batch_size=batch_size,
        input_field="request",
        finish=lambda it, o: {**it, "response": o.strip(), "teacher": teacher},
        desc="teacher",
    )
    answers = {r["request"]: r["response"] for r in rows}
    train, skipped = [], 0
    for q in train_requests[:n]:
        pair = concise_detailed(answers[q])
        if pair is None:
            skipped += 1
        else:
            train.append((q, *pair))
    held_rows = []
    for q in held:
        pair = concise_detailed(answers[q])
        if pair is not None:
            held_rows.append({"request": q, "concise": pair[0], "detailed": pair[1]})
    if not train:
        raise ForgetlabError(
            f"no teacher answer to the {n} requests gives a concise/detailed pair "
            "(answers too short or a single sentence); raise --max-new-tokens or use another teacher"
        )
    return {
        "train": train,
        "eval": held_rows,
        "teacher_identity": teacher_backend.identity.as_dict(),
        "pairing": "concise = first sentence of the teacher's answer, detailed = whole answer",
        "skipped_without_contrast": skipped,
        "held_out_tasks": held_tasks,
    }


def write_eval_file(out: Path, rows: list[dict[str, Any]], fmt: str) -> Path:
    """The held-out requests and references, one JSON row each, with the data's format."""
    path = eval_path(out)
    text = "".join(json.dumps({**r, "format": fmt}, ensure_ascii=False) + "\n" for r in rows)
    write_text_atomic(path, text)
    return path
