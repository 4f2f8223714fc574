"""Cached, resumable batched generation: the loop every LLM benchmark shares.

Samples whose id is already in the per-sample JSONL are skipped, so a killed run
resumes where it stopped and nothing finished is recomputed. Each batch is appended (and
fsynced) as soon as it is generated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from forgetlab.llm.backends.base import Backend, GenerationConfig
from forgetlab.progress import Progress
from forgetlab.results import JsonlCache

Row = dict[str, Any]


def generate_cached(
    backend: Backend,
    items: Sequence[Mapping[str, Any]],
    *,
    cache: JsonlCache,
    mode: Literal["complete", "chat"],
    config: GenerationConfig,
    batch_size: int,
    input_field: str = "model_input",
    finish: Callable[[Mapping[str, Any], str], Row] | None = None,
    desc: str = "generate",
    show_progress: bool = True,
) -> list[Row]:
    """Generate for every item not yet in ``cache``; return all rows in ``items`` order.

    ``items`` carry a unique ``cache.key`` and the model input under ``input_field`` (a
    string for ``complete``; a string or a message list for ``chat``). ``finish`` turns
    ``(item, raw_output)`` into the stored row (e.g. map back and score); by default the row
    is the item plus ``output``.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    key = cache.key
    todo = [it for it in items if str(it[key]) not in cache]
    bar = Progress(
        len(items),
        initial=len(items) - len(todo),
        desc=desc,
        unit="prompt",
        enabled=show_progress,
        leave=False,
    )
    try:
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            inputs = [it[input_field] for it in chunk]
            if mode == "complete":
                outputs = backend.complete(inputs, config)
            else:
                convs = [
                    [{"role": "user", "content": x}] if isinstance(x, str) else x for x in inputs
                ]
                outputs = backend.chat(convs, config)
            if len(outputs) != len(chunk):
                raise RuntimeError(
                    f"backend returned {len(outputs)} outputs for {len(chunk)} inputs"
                )
            rows = [
                finish(it, out) if finish else {**it, "output": out}
                for it, out in zip(chunk, outputs, strict=True)
            ]
            cache.add_many(rows)
            bar.update(len(chunk))
    finally:
        bar.close()
    return [cache.rows[str(it[key])] for it in items]
