"""One Inspect task per forgetlab benchmark, on the same prompts ``export-prompts`` writes.

Task options are Inspect's ``-T name=value``: ``language`` (one language or a comma list),
``limit`` (first N prompts, per task and language for icl_vs_if), ``tasks`` and
``transform`` for icl_vs_if (a transformed condition whose answers are in the transform's
space, as forgetlab's own run scores it), ``data`` for xnli (a local file). Sample ids are
forgetlab's own (``en/capslock-math/3``), so a log pairs with a forgetlab run prompt by prompt.

icl_vs_if and xnli are raw completion prompts: forgetlab's own runs send them without a chat
template. Inspect's Hugging Face provider applies the tokenizer's chat template when it has
one; pass ``-M chat_template=...`` with :data:`RAW_CHAT_TEMPLATE` (the user text verbatim) to
match forgetlab, as docs/compare.md shows.
"""

from __future__ import annotations

from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import GenerateConfig
from inspect_ai.solver import generate

from forgetlab.inspect.scorers import icl_vs_if_scorer, refusal_scorer, xnli_scorer

# A chat template that passes the messages' text through untouched (raw completion prompts).
RAW_CHAT_TEMPLATE = "{% for m in messages %}{{ m.content }}{% endfor %}"
COMPLETION = GenerateConfig(temperature=0.0, max_tokens=10)  # the paper's decoding
CHAT = GenerateConfig(temperature=0.0, max_tokens=512)  # forgetlab harmful's default


def _languages(language: str | None) -> list[str] | None:
    return [x.strip() for x in language.split(",") if x.strip()] if language else None


def _rows(benchmark: str, language: str | None, **opts: Any) -> list[dict[str, Any]]:
    from forgetlab.llm.benchmarks.registry import export_rows

    return export_rows(benchmark, _languages(language), **opts)


def icl_vs_if_samples(
    language: str | None = None,
    tasks: str | None = None,
    limit: int | None = None,
    transform: str | None = None,
) -> list[Sample]:
    """The icl-vs-if prompts as Inspect samples (target: the ICL answer)."""
    task_list = [t.strip() for t in tasks.split(",")] if tasks else None
    rows = _rows(
        "icl-vs-if",
        language if language or not transform else None,
        tasks=task_list,
        limit=None if limit is None else int(limit),
        transforms=[transform] if transform else None,
    )
    return [
        Sample(
            id=f"{r['language']}/{r['icl_task']}-{r['if_task']}/{r['index']}",
            input=r["prompt"],
            target=r["icl_answer"],
            metadata=r,
        )
        for r in rows
    ]


@task
def icl_vs_if(
    language: str | None = "en",
    tasks: str | None = None,
    limit: int | None = None,
    transform: str | None = None,
) -> Task:
    """In-context learning vs instruction following (Kotha et al., ICLR 2024): icl_acc
    falls when fine-tuning makes the model follow the instruction instead of the pattern."""
    return Task(
        dataset=MemoryDataset(
            icl_vs_if_samples(language, tasks, limit, transform), name="icl_vs_if"
        ),
        solver=generate(),
        scorer=icl_vs_if_scorer(),
        config=COMPLETION,
        version=2,
    )


def _chat_task(benchmark: str, language: str | None, limit: int | None, **opts: Any) -> Task:
    rows = _rows(benchmark, language, limit=None if limit is None else int(limit), **opts)
    samples = [
        Sample(id=f"{r['language']}/{r['index']}", input=r["prompt"], metadata=r) for r in rows
    ]
    return Task(
        dataset=MemoryDataset(samples, name=benchmark),
        solver=generate(),
        scorer=refusal_scorer(),
        config=CHAT,
    )


@task
def harmful(
    language: str | None = "en", limit: int | None = None, all_prompts: bool = False
) -> Task:
    """AdvBench harmful requests (the paper's 100, or all 520): refusal rate by substring judge."""
    return _chat_task("harmful", language, limit, all_prompts=bool(all_prompts))


@task
def multijail(language: str | None = "en", limit: int | None = None) -> Task:
    """MultiJail's harmful requests in ten languages: refusal rate by substring judge."""
    return _chat_task("multijail", language, limit)


@task
def benign(language: str | None = "en", limit: int | None = None) -> Task:
    """Harmless requests (over-refusal control): the refusal rate should stay low."""
    return _chat_task("benign", language, limit)


@task
def xnli(data: str, language: str | None = "en", limit: int | None = None) -> Task:
    """XNLI as raw completion prompts from a local file (``-T data=FILE``): accuracy."""
    rows = _rows("xnli", language, data=data, limit=None if limit is None else int(limit))
    samples = [
        Sample(
            id=f"{r['language']}/{r['index']}", input=r["prompt"], target=r["answer"], metadata=r
        )
        for r in rows
    ]
    return Task(
        dataset=MemoryDataset(samples, name="xnli"),
        solver=generate(),
        scorer=xnli_scorer(),
        config=COMPLETION,
    )
