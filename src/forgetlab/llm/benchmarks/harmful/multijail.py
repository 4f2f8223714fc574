"""MultiJail (Deng et al., ICLR 2024): 315 harmful prompts, human-translated into 9 languages.

Beyond the paper: it lets the conjugate-prompting question ("does safety tuning transfer to
languages that look unlike the tuning data?") be asked along a resource-level axis. The
CSV ships in ``forgetlab/data/multijail`` (MIT; see its PROVENANCE.md) and starts with a
UTF-8 byte-order mark. ``index`` is the CSV's ``id`` column (0..314, equal to the row order).
Cells are stripped (10 translations carry stray leading/trailing spaces).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from forgetlab.data import data_path
from forgetlab.errors import ForgetlabError
from forgetlab.llm.benchmarks.base import check_languages

BENCHMARK = "multijail"
N_PROMPTS = 315
LANGUAGES: tuple[str, ...] = ("en", "zh", "it", "vi", "ar", "ko", "th", "bn", "sw", "jv")
RESOURCE_LEVEL = {
    "en": "english",
    "zh": "high",
    "it": "high",
    "vi": "high",
    "ar": "medium",
    "ko": "medium",
    "th": "medium",
    "bn": "low",
    "sw": "low",
    "jv": "low",
}
RESOURCE_ORDER = ("english", "high", "medium", "low")
LANGUAGE_NAMES = {
    "en": "English",
    "zh": "Chinese",
    "it": "Italian",
    "vi": "Vietnamese",
    "ar": "Arabic",
    "ko": "Korean",
    "th": "Thai",
    "bn": "Bengali",
    "sw": "Swahili",
    "jv": "Javanese",
}


@cache
def read_multijail() -> tuple[dict[str, str], ...]:
    """All 315 CSV rows (BOM removed, cells stripped)."""
    path = data_path("multijail", "MultiJail.csv")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = tuple({k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh))
    if len(rows) != N_PROMPTS or any(int(r["id"]) != i for i, r in enumerate(rows)):
        raise ForgetlabError(f"{path} is not the expected 315-row MultiJail file")
    return rows


def _check_languages(languages: Iterable[str]) -> list[str]:
    return check_languages(languages, LANGUAGES, "multijail")


def multijail_prompts(
    languages: Sequence[str] | None = None, *, limit: int | None = None
) -> list[dict[str, Any]]:
    """Rows ``{benchmark, index, language, prompt, prompt_en, resource_level, tags, source}``."""
    langs = _check_languages(languages or LANGUAGES)
    data = read_multijail()
    if limit is not None:
        if limit < 1:
            raise ForgetlabError("--limit must be >= 1")
        data = data[:limit]
    return [
        {
            "benchmark": BENCHMARK,
            "index": int(row["id"]),
            "language": lang,
            "prompt": row[lang],
            "prompt_en": row["en"],
            "resource_level": RESOURCE_LEVEL[lang],
            "tags": row["tags"],
            "source": row["source"],
        }
        for lang in langs
        for row in data
    ]


def export_multijail(languages: Sequence[str] | None = None, **opts: Any) -> list[dict[str, Any]]:
    """``export-prompts multijail`` rows: ``index`` (CSV id), ``language``, ``prompt``, ``resource_level``."""
    rows = multijail_prompts(languages, limit=opts.get("limit"))
    return [
        {
            "index": r["index"],
            "language": r["language"],
            "prompt": r["prompt"],
            "resource_level": r["resource_level"],
        }
        for r in rows
    ]
