"""Harmless requests: does a safety-tuned model still answer what it should? (docs/harmful.md#benign)

Safety tuning that raises refusal of harmful requests is only a result if harmless requests
are still answered. This benchmark is 100 hand-written harmless English requests in seven
categories (arithmetic, knowledge, writing, advice, language, coding, and ``edgy``: harmless
requests phrased with words like *kill*, *shoot* or *steal*, the usual over-refusal
trigger). It runs through the same pipeline and judge as the harmful benchmark; here a
``REFUSE`` verdict is an over-refusal. None of the requests is built from the templates of
``forgetlab finetune data safety`` (tested), so it is held out from that training data.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from forgetlab.data import data_path
from forgetlab.errors import ForgetlabError
from forgetlab.llm.benchmarks import check_languages

BENCHMARK = "benign"
LANGUAGES: tuple[str, ...] = ("en",)
N_REQUESTS = 100


@cache
def read_requests() -> tuple[tuple[str, str], ...]:
    """``(category, request)`` per line of the packaged TSV file, in file order."""
    path = data_path("benign", "harmless_requests.tsv")
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            category, sep, request = line.rstrip("\n").partition("\t")
            if not sep or not request.strip():
                raise ForgetlabError(f"{path}:{n}: expected 'category<TAB>request'")
            rows.append((category, request.strip()))
    if len(rows) != N_REQUESTS:
        raise ForgetlabError(f"{path} has {len(rows)} requests, expected {N_REQUESTS}")
    return tuple(rows)


def benign_prompts(
    languages: Sequence[str] | None = None, *, limit: int | None = None
) -> list[dict[str, Any]]:
    """Rows ``{benchmark, index, language, prompt, prompt_en, category}`` in file order."""
    langs = check_languages(languages or LANGUAGES, LANGUAGES, BENCHMARK)
    if limit is not None and limit < 1:
        raise ForgetlabError("--limit must be >= 1")
    requests = read_requests()[:limit]
    return [
        {
            "benchmark": BENCHMARK,
            "index": i,
            "language": lang,
            "prompt": text,
            "prompt_en": text,
            "category": category,
        }
        for lang in langs
        for i, (category, text) in enumerate(requests)
    ]


def export_benign(languages: Sequence[str] | None = None, **opts: Any) -> list[dict[str, Any]]:
    """``export-prompts benign`` rows: ``index``, ``language``, ``category``, ``prompt``."""
    rows = benign_prompts(languages, limit=opts.get("limit"))
    return [
        {
            "index": r["index"],
            "language": r["language"],
            "category": r["category"],
            "prompt": r["prompt"],
        }
        for r in rows
    ]
