"""Is training data free of the evaluation prompts? (docs/finetuning.md#contamination-check)

A recipe's gain on an instruction-following benchmark means nothing if its training data
holds the benchmark's prompts, so the data builders check every finished row against the
prompts of the evaluations the recipes are measured on: the instruction-following benchmark
(``ifeval``, 158 prompts) and all 2,800 ICL-vs-IF prompts (seven languages), read through
the benchmark registry (``export-prompts``).

The test is word n-gram overlap, as in the decontamination of GPT-3's training data: texts
are lower-cased and cut into ``\\w+`` words; each evaluation prompt is split into segments
at line breaks, sentence ends and colons, and every ``n``-word window of a segment (a whole
segment when it has fewer than ``n`` words but at least ``MIN_SEGMENT_WORDS``) is a marker.
A training text that contains a marker as consecutive words fails. ``n`` = 8 by default:
long enough that ordinary phrases do not collide, short enough to catch a copied sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from forgetlab.errors import ForgetlabError

BENCHMARKS: tuple[str, ...] = ("ifeval", "icl-vs-if")
NGRAM = 8
MIN_SEGMENT_WORDS = 4
_WORD = re.compile(r"\w+")
_SEGMENT = re.compile(r"[\n.!?:;]+")


@dataclass(frozen=True)
class Hit:
    """Where a training text meets an evaluation prompt."""

    benchmark: str
    prompt_index: int
    words: str  # the shared words


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


class NgramIndex:
    """The markers of a set of evaluation prompts (see the module docstring)."""

    def __init__(self, prompts: Iterable[tuple[str, int, str]], n: int = NGRAM) -> None:
        if n < MIN_SEGMENT_WORDS:
            raise ForgetlabError(f"contamination n-gram length must be >= {MIN_SEGMENT_WORDS}")
        self.n = n
        self.markers: dict[tuple[str, ...], tuple[str, int]] = {}
        self.prompts = 0
        for benchmark, index, text in prompts:
            self.prompts += 1
            for segment in _SEGMENT.split(text):
                ws = tuple(words(segment))
                if len(ws) < MIN_SEGMENT_WORDS:
                    continue
                grams = [ws] if len(ws) < n else [ws[i : i + n] for i in range(len(ws) - n + 1)]
                for g in grams:
                    self.markers.setdefault(g, (benchmark, index))
        self.lengths = sorted({len(g) for g in self.markers})

    def find(self, text: str) -> Hit | None:
        """The first marker ``text`` contains, or None."""
        ws = words(text)
        for length in self.lengths:
            for i in range(len(ws) - length + 1):
                gram = tuple(ws[i : i + length])
                if gram in self.markers:
                    bench, index = self.markers[gram]
                    return Hit(bench, index, " ".join(gram))
        return None


def evaluation_prompts(benchmarks: Sequence[str] = BENCHMARKS) -> list[tuple[str, int, str]]:
    """(benchmark, index, prompt) of every prompt of ``benchmarks`` (their export rows)."""
    from forgetlab.llm.benchmarks.registry import export_rows

    return [
        (name, i, str(row["prompt"]))
        for name in benchmarks
        for i, row in enumerate(export_rows(name))
    ]


@cache
def evaluation_index(n: int = NGRAM) -> NgramIndex:
    return NgramIndex(evaluation_prompts(), n)


def check_texts(texts: Sequence[str], index: NgramIndex, *, what: str = "row") -> dict[str, int]:
    """Raise a one-line error naming the first text that meets an evaluation prompt; else
    return what was checked (for the provenance)."""
    for i, text in enumerate(texts, start=1):
        hit = index.find(text)
        if hit is not None:
            raise ForgetlabError(
                f"contamination check failed: {what} {i} shares {hit.words!r} with {hit.benchmark} "
                f"prompt {hit.prompt_index} ({index.n}-gram overlap); nothing written"
            )
    return {"texts": len(texts), "prompts": index.prompts, "ngram": index.n}


def describe(index: NgramIndex) -> str:
    return (
        f"word {index.n}-gram overlap (segments of {MIN_SEGMENT_WORDS}-{index.n - 1} words whole) "
        f"against {index.prompts} prompts of {', '.join(BENCHMARKS)}: no row may share one"
    )
