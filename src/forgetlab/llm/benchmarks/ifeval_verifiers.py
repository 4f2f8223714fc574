"""Verifiers of the instruction-following benchmark's instructions (docs/ifeval.md#instructions).

Each instruction has an id in IFEval's naming (``group:name``, Zhou et al. 2023,
arXiv 2311.07911) and keyword arguments; ``check(instruction_id, kwargs, response)`` says
whether ``response`` follows it. Strict and loose scoring follow IFEval's definition:
strict checks the response as given (an empty or blank response follows nothing); loose
accepts the instruction when any of eight variants passes — the response, with its first
line removed, its last line removed, both removed, and each of those four with every ``*``
removed (markdown emphasis).

Where a rule departs from IFEval's own code it is said here and in the docs: words are
``\\w+`` runs, sentences end at ``.``, ``!`` or ``?`` followed by a space or the end (no
NLTK, which needs a download), paragraphs are separated by blank lines (IFEval uses a
``***`` divider), capitalised words need two letters or more (so ``I`` and ``A`` do not
count), English is recognised from the share of common English function words (no
langdetect), and relations include ``at most`` and ``exactly`` besides IFEval's
``at least`` and ``less than``.

This module uses only the standard library, so it can be copied next to an exported task.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Kwargs = Mapping[str, Any]
Checker = Callable[[str, Kwargs], bool]

RELATIONS: tuple[str, ...] = ("at least", "at most", "less than", "exactly")

_WORD = re.compile(r"\w+")
_LETTER_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
_SENTENCE_END = re.compile(r"[.!?]+(?=[\s\"')\]]|$)")
_BLANK_LINES = re.compile(r"\n\s*\n")
_BULLET = re.compile(r"^\s*(?:[*\-•]|\d+[.)])\s+\S", re.MULTILINE)
_PLACEHOLDER = re.compile(r"\[[^\[\]\n]+\]")
_TITLE = re.compile(r"<<[^\n<>]+>>")
_FENCE_OPEN = re.compile(r"^```[A-Za-z]*\s*")
_FENCE_CLOSE = re.compile(r"\s*```$")

# Frequent English function words: a reply whose words are mostly not English has few.
ENGLISH_FUNCTION_WORDS: frozenset[str] = frozenset(
    [
        "a",
        "about",
        "after",
        "all",
        "also",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "here",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "just",
        "like",
        "may",
        "me",
        "more",
        "most",
        "my",
        "no",
        "not",
        "now",
        "of",
        "on",
        "one",
        "only",
        "or",
        "other",
        "our",
        "out",
        "she",
        "should",
        "so",
        "some",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "too",
        "up",
        "us",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)
ENGLISH_MIN_SHARE = 0.2  # share of function words in a text of >= 5 words; English is ~0.4


def compare(value: int, relation: str, target: int) -> bool:
    """``value`` against ``target`` under one of :data:`RELATIONS`."""
    if relation == "at least":
        return value >= target
    if relation == "at most":
        return value <= target
    if relation == "less than":
        return value < target
    if relation == "exactly":
        return value == target
    raise ValueError(f"unknown relation {relation!r} (known: {', '.join(RELATIONS)})")


# --- counting ------------------------------------------------------------------------------


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


def count_sentences(text: str) -> int:
    """Sentences: stretches of text that end at ``.``/``!``/``?`` (or at the end) and hold a
    word; a list item without final punctuation counts as one."""
    pieces = _SENTENCE_END.split(text)
    return sum(1 for p in pieces if _WORD.search(p))


def paragraphs(text: str) -> list[str]:
    """Non-blank stretches of text separated by one or more blank lines."""
    return [p for p in _BLANK_LINES.split(text.strip()) if p.strip()]


def count_bullets(text: str) -> int:
    """Lines that start with ``*``, ``-``, ``•`` or ``1.``/``1)`` followed by a space."""
    return len(_BULLET.findall(text))


def capital_words(text: str) -> int:
    """Words of two letters or more written in capitals."""
    return sum(1 for w in _LETTER_WORD.findall(text) if len(w) >= 2 and w.isupper())


def keyword_count(text: str, keyword: str) -> int:
    """Case-insensitive occurrences of ``keyword`` as a whole word (or phrase)."""
    return len(re.findall(r"(?<!\w)" + re.escape(keyword) + r"(?!\w)", text, flags=re.IGNORECASE))


def looks_english(text: str) -> bool:
    """Mostly ASCII letters, and (from five words up) enough English function words."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return False
    if sum(c.isascii() for c in letters) / len(letters) < 0.95:
        return False
    words = [w.lower() for w in _LETTER_WORD.findall(text)]
    if len(words) < 5:
        return True
    share = sum(w in ENGLISH_FUNCTION_WORDS for w in words) / len(words)
    return share >= ENGLISH_MIN_SHARE


def strip_code_fence(text: str) -> str:
    """The text inside a surrounding ```` ```json ... ``` ```` fence, if it has one."""
    s = text.strip()
    if s.startswith("```"):
        s = _FENCE_CLOSE.sub("", _FENCE_OPEN.sub("", s, count=1), count=1)
    return s.strip()


# --- the checkers ----------------------------------------------------------------------------


def _lowercase(text: str, kw: Kwargs) -> bool:
    return text.islower() and looks_english(text)


def _uppercase(text: str, kw: Kwargs) -> bool:
    return text.isupper() and looks_english(text)


def _capital_frequency(text: str, kw: Kwargs) -> bool:
    return compare(capital_words(text), kw["capital_relation"], int(kw["capital_frequency"]))


def _number_words(text: str, kw: Kwargs) -> bool:
    return compare(count_words(text), kw["relation"], int(kw["num_words"]))


def _number_sentences(text: str, kw: Kwargs) -> bool:
    return compare(count_sentences(text), kw["relation"], int(kw["num_sentences"]))


def _number_paragraphs(text: str, kw: Kwargs) -> bool:
    return compare(len(paragraphs(text)), kw["relation"], int(kw["num_paragraphs"]))


def _existence(text: str, kw: Kwargs) -> bool:
    return all(keyword_count(text, k) > 0 for k in kw["keywords"])


def _forbidden(text: str, kw: Kwargs) -> bool:
    return not any(keyword_count(text, k) > 0 for k in kw["forbidden_words"])


def _frequency(text: str, kw: Kwargs) -> bool:
    return compare(keyword_count(text, kw["keyword"]), kw["relation"], int(kw["frequency"]))


def _json(text: str, kw: Kwargs) -> bool:
    try:
        json.loads(strip_code_fence(text))
    except ValueError:
        return False
    return True


def _bullets(text: str, kw: Kwargs) -> bool:
    return count_bullets(text) == int(kw["num_bullets"])


def _start(text: str, kw: Kwargs) -> bool:
    return text.strip().lower().startswith(str(kw["start_phrase"]).strip().lower())


def _end(text: str, kw: Kwargs) -> bool:
    return text.strip().lower().endswith(str(kw["end_phrase"]).strip().lower())


def _title(text: str, kw: Kwargs) -> bool:
    return _TITLE.search(text) is not None


def _no_comma(text: str, kw: Kwargs) -> bool:
    return "," not in text


def _quotation(text: str, kw: Kwargs) -> bool:
    s = text.strip()
    return len(s) > 1 and s[0] == '"' and s[-1] == '"'


def _placeholders(text: str, kw: Kwargs) -> bool:
    return len(_PLACEHOLDER.findall(text)) >= int(kw["num_placeholders"])


def _postscript(text: str, kw: Kwargs) -> bool:
    marker = re.escape(str(kw["postscript_marker"]).strip())
    return re.search(r"(?:^|\n)\s*" + marker + r"\s*\S", text, flags=re.IGNORECASE) is not None


def _language(text: str, kw: Kwargs) -> bool:
    if kw.get("language", "en") != "en":
        raise ValueError(f"only English responses can be checked (got {kw.get('language')!r})")
    return looks_english(text)


# id -> (checker, required kwargs); the order is the order of the docs' table.
INSTRUCTIONS: dict[str, tuple[Checker, tuple[str, ...]]] = {
    "change_case:english_lowercase": (_lowercase, ()),
    "change_case:english_capital": (_uppercase, ()),
    "change_case:capital_word_frequency": (
        _capital_frequency,
        ("capital_relation", "capital_frequency"),
    ),
    "length_constraints:number_words": (_number_words, ("relation", "num_words")),
    "length_constraints:number_sentences": (_number_sentences, ("relation", "num_sentences")),
    "length_constraints:number_paragraphs": (_number_paragraphs, ("relation", "num_paragraphs")),
    "keywords:existence": (_existence, ("keywords",)),
    "keywords:forbidden_words": (_forbidden, ("forbidden_words",)),
    "keywords:frequency": (_frequency, ("keyword", "relation", "frequency")),
    "detectable_format:json_format": (_json, ()),
    "detectable_format:number_bullet_lists": (_bullets, ("num_bullets",)),
    "detectable_format:title": (_title, ()),
    "startend:start_checker": (_start, ("start_phrase",)),
    "startend:end_checker": (_end, ("end_phrase",)),
    "startend:quotation": (_quotation, ()),
    "punctuation:no_comma": (_no_comma, ()),
    "detectable_content:number_placeholders": (_placeholders, ("num_placeholders",)),
    "detectable_content:postscript": (_postscript, ("postscript_marker",)),
    "language:response_language": (_language, ("language",)),
}


def validate(instruction_id: str, kwargs: Kwargs) -> None:
    """Raise ``ValueError`` for an unknown id, a missing argument or an unknown relation."""
    if instruction_id not in INSTRUCTIONS:
        raise ValueError(f"unknown instruction {instruction_id!r}")
    missing = [k for k in INSTRUCTIONS[instruction_id][1] if k not in kwargs]
    if missing:
        raise ValueError(f"{instruction_id}: missing argument(s) {', '.join(missing)}")
    for key in ("relation", "capital_relation"):
        if key in kwargs and kwargs[key] not in RELATIONS:
            raise ValueError(f"{instruction_id}: unknown relation {kwargs[key]!r}")


def check(instruction_id: str, kwargs: Kwargs, response: str) -> bool:
    """Whether ``response`` follows the instruction (a blank response follows nothing)."""
    checker, _ = INSTRUCTIONS[instruction_id]
    return bool(response.strip()) and checker(response, kwargs)


def loose_variants(response: str) -> list[str]:
    """IFEval's eight loose variants of a response (the response itself first)."""
    lines = response.split("\n")
    first = "\n".join(lines[1:]).strip()
    last = "\n".join(lines[:-1]).strip()
    both = "\n".join(lines[1:-1]).strip()
    cut = [response, first, last, both]
    return [cut[0], cut[0].replace("*", ""), *cut[1:], *(c.replace("*", "") for c in cut[1:])]


def follows(
    instruction_ids: Sequence[str], kwargs: Sequence[Kwargs], response: str
) -> dict[str, list[bool]]:
    """``{"strict": [...], "loose": [...]}``: one verdict per instruction."""
    variants = loose_variants(response)
    strict = [check(i, k, response) for i, k in zip(instruction_ids, kwargs, strict=True)]
    loose = [
        any(check(i, k, v) for v in variants) for i, k in zip(instruction_ids, kwargs, strict=True)
    ]
    return {"strict": strict, "loose": loose}
