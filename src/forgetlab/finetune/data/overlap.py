"""Does a piece of training text overlap the ICL-vs-IF evaluation? (docs/finetuning.md#data-instruct)

Training on what the benchmark shows would make its numbers meaningless, so instruction
data meant for an ICL-vs-IF measurement is checked against every part of the benchmark:

* ``sentence`` — any sentence of the seven line-aligned paper pools (3,500 lines) and of the
  fresh pools written for forgetlab (150 sentences in en/fr/es; sentences of a single word
  are skipped, they are ordinary words), and the blanked remainder of a
  ``startblank`` query (a sentence without its first word, when >= 4 words are left);
* ``math`` — a math question of any scaffold, e.g. ``What is 19 plus 4?``,
  ``Combien font 7 fois 9?`` (any numbers, any case);
* ``scaffold`` — an ICL instruction (``Capitalize every character``, ``Repeat the
  input`` and their translations, any case) or an ``Input:``/``Output:`` label of any scaffold
  anywhere (any case);
* ``demonstration`` — a capitalise or repeat demonstration: a line (>= 8 characters) that
  recurs in the same text upper-cased or verbatim.

:func:`find_overlap` returns the first hit per text; the instruct builder drops passages
that hit and refuses templates that do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

MIN_REST_WORDS = 4


@dataclass(frozen=True)
class Overlap:
    kind: str  # sentence | math | scaffold | demonstration
    match: str


@dataclass(frozen=True)
class _Benchmark:
    sentences: tuple[str, ...]
    math: re.Pattern[str]
    scaffold_phrases: tuple[str, ...]
    labels: re.Pattern[str]


@cache
def _benchmark() -> _Benchmark:
    from forgetlab.llm.benchmarks.icl_vs_if import POOLS, SCAFFOLDS, load_pool, startblank

    sentences: dict[str, None] = {}
    for pool, langs in POOLS.items():  # the paper's pools and the fresh ones
        for line in (ln for lang in langs for ln in load_pool(lang, pool)):
            s = line.strip()
            if len(s.split()) >= 2:
                sentences[s] = None
            rest = startblank(s)[0].split(" ", 1)
            if len(rest) == 2 and len(rest[1].split()) >= MIN_REST_WORDS:
                sentences[rest[1]] = None
    maths, phrases, labels = [], [], []
    for sc in SCAFFOLDS.values():
        ops = "|".join(re.escape(op) for op in sc.ops)
        parts = re.split(r"(\{a\}|\{op\}|\{b\})", sc.math_template)
        fill = {"{a}": r"\s*-?\d+\s*", "{b}": r"\s*-?\d+\s*", "{op}": f"(?:{ops})"}
        maths.append("".join(fill.get(p, re.escape(p)) for p in parts))
        phrases += [i.strip().rstrip(".") for i in sc.instructions.values()]
        labels += [re.escape(sc.in_prefix.strip()), re.escape(sc.out_prefix.strip())]
    return _Benchmark(
        tuple(sentences),
        re.compile("|".join(maths), re.IGNORECASE),
        tuple(dict.fromkeys(phrases)),
        re.compile(r"(?<!\w)(?:" + "|".join(dict.fromkeys(labels)) + ")", re.IGNORECASE),
    )


def _demonstration(text: str) -> str | None:
    lines = [ln.strip() for ln in text.split("\n")]
    seen: set[str] = set()
    for ln in lines:
        if len(ln) < 8:
            continue
        if ln in seen:
            return ln  # a repeat demonstration: the same line twice
        seen.add(ln)
    for ln in lines:
        upper = ln == ln.upper() and ln != ln.lower()
        if upper and any(o != ln and o.upper() == ln for o in seen):
            return ln  # a capitalise demonstration: a line and its upper-cased copy
    return None


def find_overlap(text: str) -> Overlap | None:
    """The first way ``text`` overlaps the ICL-vs-IF benchmark, or None."""
    b = _benchmark()
    if m := b.math.search(text):
        return Overlap("math", m.group(0))
    if m := b.labels.search(text):
        return Overlap("scaffold", m.group(0).strip())
    for phrase in b.scaffold_phrases:
        if phrase.lower() in text.lower():
            return Overlap("scaffold", phrase)
    for s in b.sentences:
        if s in text:
            return Overlap("sentence", s)
    if demo := _demonstration(text):
        return Overlap("demonstration", demo)
    return None


def overlaps(texts: Iterable[str]) -> list[tuple[int, Overlap]]:
    """Every (index, first overlap) among ``texts``."""
    out = []
    for i, text in enumerate(texts):
        hit = find_overlap(text)
        if hit is not None:
            out.append((i, hit))
    return out
