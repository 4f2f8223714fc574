"""Harmless requests: does a safety-tuned model still answer what it should? (docs/harmful.md#benign)

Safety tuning that raises refusal of harmful requests is only a result if harmless requests
are still answered. This benchmark is 100 hand-written harmless English requests in seven
categories (arithmetic, knowledge, writing, advice, language, coding, and ``edgy``: harmless
requests phrased with words like *kill*, *shoot* or *steal*, the usual over-refusal
trigger). It runs through the same pipeline and judge as the harmful benchmark; here a
``REFUSE`` verdict is an over-refusal. None of the requests is built from the templates of
``forgetlab finetune data safety`` (tested), so it is held out from that training data.

A second, smaller set (``benign-select``, 65 requests in the same categories, none shared
with the first) exists for *choosing* a fine-tuning recipe: a recipe search scores its
candidates on it, so the 100 reported requests are used once, for the final numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from forgetlab.data import data_path
from forgetlab.errors import ForgetlabError
from forgetlab.llm.benchmarks.base import check_languages

BENCHMARK = "benign"
SELECT_BENCHMARK = "benign-select"
LANGUAGES: tuple[str, ...] = ("en",)
N_REQUESTS = 100
# benchmark name -> (packaged file, number of requests)
REQUEST_SETS: dict[str, tuple[str, int]] = {
    BENCHMARK: ("harmless_requests.tsv", N_REQUESTS),
    SELECT_BENCHMARK: ("harmless_requests_select.tsv", 65),
}


@cache
def read_requests(benchmark: str = BENCHMARK) -> tuple[tuple[str, str], ...]:
    """``(category, request)`` per line of one packaged TSV file, in file order."""
    if benchmark not in REQUEST_SETS:
        raise ForgetlabError(f"unknown harmless request set {benchmark!r}")
    name, expected = REQUEST_SETS[benchmark]
    path = data_path("benign", name)
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            category, sep, request = line.rstrip("\n").partition("\t")
            if not sep or not request.strip():
                raise ForgetlabError(f"{path}:{n}: expected 'category<TAB>request'")
            rows.append((category, request.strip()))
    if len(rows) != expected:
        raise ForgetlabError(f"{path} has {len(rows)} requests, expected {expected}")
    return tuple(rows)


def benign_prompts(
    languages: Sequence[str] | None = None,
    *,
    limit: int | None = None,
    benchmark: str = BENCHMARK,
) -> list[dict[str, Any]]:
    """Rows ``{benchmark, index, language, prompt, prompt_en, category}`` in file order."""
    langs = check_languages(languages or LANGUAGES, LANGUAGES, benchmark)
    if limit is not None and limit < 1:
        raise ForgetlabError("--limit must be >= 1")
    requests = read_requests(benchmark)[:limit]
    return [
        {
            "benchmark": benchmark,
            "index": i,
            "language": lang,
            "prompt": text,
            "prompt_en": text,
            "category": category,
        }
        for lang in langs
        for i, (category, text) in enumerate(requests)
    ]


def select_prompts(
    languages: Sequence[str] | None = None, *, limit: int | None = None
) -> list[dict[str, Any]]:
    """The recipe-selection set's rows (``benign-select``), shaped like :func:`benign_prompts`."""
    return benign_prompts(languages, limit=limit, benchmark=SELECT_BENCHMARK)


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
