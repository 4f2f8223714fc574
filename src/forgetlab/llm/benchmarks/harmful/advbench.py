"""AdvBench harmful behaviours and their line-aligned translations (docs/harmful.md#benchmarks).

The paper evaluates 100 of the 520 behaviours, chosen with ``random.seed(10);
random.shuffle(lines); lines[:100]`` on each language file. ``random.shuffle``'s permutation
depends only on the list length, so shuffling the line *indices* once gives the same 100
lines in every language; that is what :func:`paper_selection` does. ``index`` is always the
0-based line number in the 520-line files.

The other 420 behaviours are the *training pool* of ``forgetlab finetune data safety``.
Its last 100 in seed-0 order form a third set, the *selection split* (``harmful-select``):
never trained on (the data builder skips it for every seed) and never reported, it exists to
choose a safety recipe, so the paper's 100 are used once, for the final table.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from forgetlab.data import data_path
from forgetlab.errors import ForgetlabError
from forgetlab.llm.benchmarks.base import check_languages

BENCHMARK = "harmful"
SELECT_BENCHMARK = "harmful-select"
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
SELECT_N = 100


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


def training_pool(seed: int = 0) -> list[int]:
    """The 420 line indices outside the paper's selection, shuffled with ``seed``."""
    evaluated = set(paper_selection())
    pool = [i for i in range(N_BEHAVIOURS) if i not in evaluated]
    random.Random(seed).shuffle(pool)
    return pool


@cache
def selection_split() -> tuple[int, ...]:
    """The recipe-selection behaviours: the training pool's last ``SELECT_N`` in seed-0 order.

    Taken from the end, so that seed-0 training data (which uses the pool's start) are the
    same with or without the split; for other seeds the builder removes these indices.
    """
    return tuple(training_pool(0)[-SELECT_N:])


def selected_indices(
    *, all_prompts: bool = False, limit: int | None = None, benchmark: str = BENCHMARK
) -> list[int]:
    """Indices to evaluate: the paper's 100 (default), all 520 in file order, or the
    selection split (``benchmark="harmful-select"``); then ``limit``."""
    if benchmark == SELECT_BENCHMARK:
        if all_prompts:
            raise ForgetlabError("--all does not apply to the selection split")
        indices = list(selection_split())
    else:
        indices = list(range(N_BEHAVIOURS)) if all_prompts else paper_selection()
    if limit is not None:
        if limit < 1:
            raise ForgetlabError("--limit must be >= 1")
        indices = indices[:limit]
    return indices


def _check_languages(languages: Iterable[str]) -> list[str]:
    return check_languages(languages, LANGUAGES, "harmful")


def harmful_prompts(
    languages: Sequence[str] | None = None,
    *,
    all_prompts: bool = False,
    limit: int | None = None,
    benchmark: str = BENCHMARK,
) -> list[dict[str, Any]]:
    """Rows ``{benchmark, index, language, prompt, prompt_en}`` in selection order per language."""
    langs = _check_languages(languages or LANGUAGES)
    indices = selected_indices(all_prompts=all_prompts, limit=limit, benchmark=benchmark)
    english = read_behaviours("en")
    rows = []
    for lang in langs:
        lines = read_behaviours(lang)
        for i in indices:
            rows.append(
                {
                    "benchmark": benchmark,
                    "index": i,
                    "language": lang,
                    "prompt": lines[i],
                    "prompt_en": english[i],
                }
            )
    return rows


def select_prompts(
    languages: Sequence[str] | None = None, *, limit: int | None = None
) -> list[dict[str, Any]]:
    """Rows of the recipe-selection split (``harmful-select``), shaped like the paper's."""
    return harmful_prompts(languages, limit=limit, benchmark=SELECT_BENCHMARK)


def export_harmful(languages: Sequence[str] | None = None, **opts: Any) -> list[dict[str, Any]]:
    """``export-prompts harmful`` rows: ``index`` (0-based line number), ``language``, ``prompt``.

    Options: ``all_prompts`` (or ``all``) for the 520, ``limit``.
    """
    all_prompts = bool(opts.get("all_prompts", opts.get("all", False)))
    rows = harmful_prompts(languages, all_prompts=all_prompts, limit=opts.get("limit"))
    return [{"index": r["index"], "language": r["language"], "prompt": r["prompt"]} for r in rows]
