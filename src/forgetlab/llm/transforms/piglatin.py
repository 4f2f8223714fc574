"""Pig Latin with lexicon-backed decoding.

Encoding (per maximal run of letters; everything else, apostrophes included, is kept in
place): a word starting with a vowel gets ``"yay"`` (``input`` -> ``inputyay``); otherwise
its leading consonant cluster moves to the end followed by ``"ay"`` (``trash`` ->
``ashtray``, ``the`` -> ``ethay``); a word without a vowel gets ``"ay"`` (``s`` -> ``say``).
Vowels are a, e, i, o, u, and y when it is not the first letter (``my`` -> ``ymay``), as in
the paper's Pig Latin files. Case: a lower, Title or UPPER word keeps that pattern
(``Trash`` -> ``Ashtray``); other mixed case is moved letter for letter.

Decoding is ambiguous: ``ashtray`` is the encoding of both ``trash`` and ``rasht``. The
inverse lists every split whose re-encoding gives the token back, then keeps the candidates
found in an English lexicon (the packaged SCOWL list plus the words of the packaged
English sentence pool, see ``forgetlab/data/lexicon/PROVENANCE.md``); ties and misses go to
the candidate with the shortest moved cluster (the vowel-initial reading first).
"""

from __future__ import annotations

import gzip
import re
from functools import cache

from forgetlab.data import data_path
from forgetlab.llm.transforms._util import no_arg
from forgetlab.llm.transforms.base import Transform, register

_LETTERS = re.compile(r"[^\W\d_]+")
VOWELS = frozenset("aeiou")


def _is_vowel(word: str, i: int) -> bool:
    c = word[i].lower()
    return c in VOWELS or (c == "y" and i > 0)


def encode_word(word: str) -> str:
    """Pig Latin of one run of letters (case pattern preserved, see module doc)."""
    if not word:
        return word
    if word.islower():
        return _encode_lower(word)
    if len(word) > 1 and word.isupper():
        return _encode_lower(word.lower()).upper()
    if word[0].isupper() and (len(word) == 1 or word[1:].islower()):
        return _encode_lower(word.lower()).capitalize()
    return _encode_lower(word)  # mixed case: letters move as they are


def _encode_lower(word: str) -> str:
    if _is_vowel(word, 0):
        return word + "yay"
    k = next((i for i in range(len(word)) if _is_vowel(word, i)), len(word))
    return word[k:] + word[:k] + "ay"


@cache
def candidates(token: str) -> list[str]:
    """Every word whose encoding is exactly ``token``, shortest moved cluster first.

    Guesses undo each possible split (a vowel-initial word + ``"yay"``, or the last *k*
    letters before ``"ay"`` moved back to the front), each in lower, Title, UPPER and the
    token's own case; only guesses that re-encode to ``token`` are kept.
    """
    if len(token) < 3 or not token.lower().endswith("ay"):
        return []
    base = token[:-2]
    guesses = [token[:-3]] if token.lower().endswith("yay") else []
    guesses += [base[len(base) - k :] + base[: len(base) - k] for k in range(1, len(base) + 1)]
    out: list[str] = []
    for guess in guesses:
        for word in (guess.lower(), guess.lower().capitalize(), guess.upper(), guess):
            if word and word not in out and encode_word(word) == token:
                out.append(word)
    return out


@cache
def lexicon() -> frozenset[str]:
    """Lower-case English words: packaged SCOWL runs plus the English pool's words."""
    with gzip.open(data_path("lexicon", "scowl_american_50.txt.gz"), "rt", encoding="utf-8") as fh:
        words = {w for w in fh.read().split("\n") if w}
    pool = data_path(
        "understanding-forgetting", "icl_vs_if", "sentences", "random_sentences_en.txt"
    )
    words |= {w.lower() for w in _LETTERS.findall(pool.read_text(encoding="utf-8"))}
    return frozenset(words)


def decode_word(token: str, use_lexicon: bool = True) -> str:
    """Best English reading of one Pig Latin token (the token itself if none exists)."""
    cands = candidates(token)
    if not cands:
        return token
    if use_lexicon:
        lex = lexicon()
        known = [c for c in cands if c.lower() in lex]
        if known:
            return known[0]
    return cands[0]


class PigLatin(Transform):
    name = "piglatin"
    bijective = False
    scope = "full"

    def forward(self, text: str) -> str:
        return _LETTERS.sub(lambda m: encode_word(m.group()), text)

    def inverse(self, text: str) -> str:
        return _LETTERS.sub(lambda m: decode_word(m.group()), text)


@register("piglatin")
def _piglatin(arg: str) -> Transform:
    no_arg("piglatin", arg)
    return PigLatin()
