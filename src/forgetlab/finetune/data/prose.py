"""Keep the running prose of a documentation corpus, without its markup and code.

Documentation sources (the Python documentation's reStructuredText, say) mix prose with
code blocks, tables, directives and inline markup. Continuation data should be ordinary
English sentences, so :func:`prose_paragraph` strips the common inline markup
(``:role:`text```, double-backquoted literals, ``*emphasis*``, ```text <url>`_`` links)
and rejects paragraphs that do not read as prose: directives and headings, code, tables,
or paragraphs whose words are mostly not plain words.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":[A-Za-z][\w:+-]*:`(?:[^`<]*<)?~?!?([^`>]*)>?`")
_LINK = re.compile(r"`([^`<]+?)\s*<[^`>]*>`_{1,2}")
_LITERAL = re.compile(r"``([^`]+)``")
_INTERPRETED = re.compile(r"`([^`]+)`_{0,2}")
_EMPH = re.compile(r"\*{1,2}([^*\s][^*]*?)\*{1,2}")
_WORD = re.compile(r"^[(\"'“‘]?[A-Za-z][A-Za-z'’-]*[)\"'”’]?[.,;:!?]?[)\"'”’]?$")
MIN_WORD_SHARE = 0.85


def strip_markup(text: str) -> str:
    """reStructuredText inline markup replaced by its text."""
    for pattern in (_ROLE, _LINK, _LITERAL, _INTERPRETED, _EMPH):
        text = pattern.sub(r"\1", text)
    return " ".join(text.split())


def prose_paragraph(paragraph: str) -> str | None:
    """The paragraph as plain prose, or None if it is markup, code or a table."""
    raw = paragraph.strip()
    if not raw or raw.startswith(("..", ">>>", "$ ", "|", "+-", "=", "-", "*", "#")):
        return None
    if "::" in raw or "\\" in raw or "{" in raw or "=" in raw:
        return None
    text = strip_markup(raw)
    if not text or not text[0].isupper() or not text.endswith((".", "!", "?")):
        return None
    words = text.split()
    plain = sum(1 for w in words if _WORD.match(w))
    if plain < MIN_WORD_SHARE * len(words):
        return None
    return text
