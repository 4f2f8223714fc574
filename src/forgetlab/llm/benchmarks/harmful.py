"""AdvBench harmful behaviours and their line-aligned translations (docs/harmful.md#benchmarks).

The paper evaluates 100 of the 520 behaviours, chosen with ``random.seed(10);
random.shuffle(lines); lines[:100]`` on each language file. ``random.shuffle``'s permutation
depends only on the list length, so shuffling the line *indices* once gives the same 100
lines in every language; that is what :func:`paper_selection` does. ``index`` is always the
0-based line number in the 520-line files.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from forgetlab.data import data_path
from forgetlab.errors import ForgetlabError
from forgetlab.llm.benchmarks import check_languages

BENCHMARK = "harmful"
LANGUAGES: tuple[str, ...] = ("en", "ja", "hu", "sw", "ml")
LANGUAGE_NAMES = {
    "en": "English",
    "ja": "Japanese",
    "hu": "Hungarian",
    "sw": "Swahili",
    "ml": "Malayalam",
}
N_BEHAVIOURS = 520
PAPER_SEED = 10
PAPER_N = 100


def harmful_file(language: str) -> str:
    """Path of the packaged behaviour file for ``language``."""
    _check_languages([language])
    return str(
        data_path(
            "understanding-forgetting",
            "harmful_generation",
            "harmful_instructions",
            f"harmful_instructions_{language}.txt",
        )
    )


@cache
def read_behaviours(language: str) -> tuple[str, ...]:
    """All 520 behaviours of one language, each stripped like the paper's loader does."""
    with open(harmful_file(language), encoding="utf-8") as fh:
        lines = tuple(line.strip() for line in fh)
    if len(lines) != N_BEHAVIOURS:
        raise ForgetlabError(
            f"{harmful_file(language)} has {len(lines)} lines, expected {N_BEHAVIOURS}"
        )
    return lines


def paper_selection(
    n_lines: int = N_BEHAVIOURS, k: int = PAPER_N, seed: int = PAPER_SEED
) -> list[int]:
    """The paper's selection as line indices: shuffle ``range(n_lines)`` with ``seed``, keep ``k``.

    ``random.Random(seed).shuffle`` draws exactly what ``random.seed(seed); random.shuffle``
    draws, without touching the global generator.
    """
    order = list(range(n_lines))
    random.Random(seed).shuffle(order)
    return order[:k]


def selected_indices(*, all_prompts: bool = False, limit: int | None = None) -> list[int]:
    """Indices to evaluate: the paper's 100 (default) or all 520 in file order; then ``limit``."""
    indices = list(range(N_BEHAVIOURS)) if all_prompts else paper_selection()
    if limit is not None:
        if limit < 1:
            raise ForgetlabError("--limit must be >= 1")
        indices = indices[:limit]
    return indices


def _check_languages(languages: Iterable[str]) -> list[str]:
    return check_languages(languages, LANGUAGES, "harmful")


def harmful_prompts(
    languages: Sequence[str] | None = None, *, all_prompts: bool = False, limit: int | None = None
) -> list[dict[str, Any]]:
    """Rows ``{benchmark, index, language, prompt, prompt_en}`` in selection order per language."""
    langs = _check_languages(languages or LANGUAGES)
    indices = selected_indices(all_prompts=all_prompts, limit=limit)
    english = read_behaviours("en")
    rows = []
    for lang in langs:
        lines = read_behaviours(lang)
        for i in indices:
            rows.append(
                {
                    "benchmark": BENCHMARK,
                    "index": i,
                    "language": lang,
                    "prompt": lines[i],
                    "prompt_en": english[i],
                }
            )
    return rows


def export_harmful(languages: Sequence[str] | None = None, **opts: Any) -> list[dict[str, Any]]:
    """``export-prompts harmful`` rows: ``index`` (0-based line number), ``language``, ``prompt``.

    Options: ``all_prompts`` (or ``all``) for the 520, ``limit``.
    """
    all_prompts = bool(opts.get("all_prompts", opts.get("all", False)))
    rows = harmful_prompts(languages, all_prompts=all_prompts, limit=opts.get("limit"))
    return [{"index": r["index"], "language": r["language"], "prompt": r["prompt"]} for r in rows]
