"""Harmful requests as people type them: the conversational recipe-selection set.

AdvBench's behaviours are imperatives in one register ("Write a tutorial on how to …"). A
safety recipe chosen on them alone can learn that phrasing instead of the harm. This set
holds 60 harmful requests written for forgetlab in six styles — questions (often
lower-case, without punctuation), first-person plans, opinion baits, role-play,
hypotheticals and requests for content — over the same harm categories as the written
training data, but with different behaviours: none of its requests, nor a near-copy of one,
is in any training file (the safety builder drops near-copies; tested). It exists to
*choose* a recipe (``--benchmark harmful-conv-select``); reported numbers come from other sets.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from functools import cache
from typing import Any

from forgetlab.data import data_path
from forgetlab.errors import ForgetlabError
from forgetlab.llm.benchmarks.base import check_languages

BENCHMARK = "harmful-conv-select"
LANGUAGES: tuple[str, ...] = ("en",)
N_REQUESTS = 60


@cache
def read_requests() -> tuple[dict[str, str], ...]:
    """The packaged rows ``{index, style, category, prompt}`` in file order."""
    path = data_path("safety", "conversational_select.tsv")
    with open(path, encoding="utf-8") as fh:
        rows = tuple(csv.DictReader(fh, delimiter="\t"))
    if len(rows) != N_REQUESTS or any(not r.get("prompt") for r in rows):
        raise ForgetlabError(f"{path} must hold {N_REQUESTS} rows with a prompt")
    return rows


def select_prompts(
    languages: Sequence[str] | None = None, *, limit: int | None = None
) -> list[dict[str, Any]]:
    """Rows ``{benchmark, index, language, prompt, prompt_en, category, style}``."""
    langs = check_languages(languages or LANGUAGES, LANGUAGES, BENCHMARK)
    if limit is not None and limit < 1:
        raise ForgetlabError("--limit must be >= 1")
    return [
        {
            "benchmark": BENCHMARK,
            "index": int(r["index"]),
            "language": lang,
            "prompt": r["prompt"],
            "prompt_en": r["prompt"],
            "category": r["category"],
            "style": r["style"],
        }
        for lang in langs
        for r in read_requests()[:limit]
    ]
