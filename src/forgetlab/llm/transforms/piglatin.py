"""Pig Latin: the paper's rules (default) and the earlier rules, decoded by frequency and context.

``piglatin`` follows the paper's ``pl`` files. Words are maximal runs of letters, and
apostrophes inside a word are dropped (``didn't`` -> ``didnt`` -> ``idntday``). A word
starting with a vowel gets ``"yay"``, or ``"ay"`` when it ends in y (``input`` ->
``inputyay``, ``only`` -> ``onlyay``); otherwise its leading consonant cluster moves to the
end followed by ``"ay"`` (``trash`` -> ``ashtray``), with a hyphen when the remaining stem
ends with the cluster's first letter (``that`` -> ``at-thay``, ``speaks`` -> ``eaks-spay``);
a word without a vowel is left alone (``Mr``, ``RVs``). Vowels are a, e, i, o, u, and y when
it is not the first letter (``my`` -> ``ymay``). Case: a lower, Title or UPPER word keeps that
pattern (``Trash`` -> ``Ashtray``); other mixed case is moved letter for letter.

``piglatin-classic`` is the earlier variant: apostrophes stay in place and split words
(``didn't`` -> ``idnday'tay``), vowel-initial words always get ``"yay"``, no hyphen, and a
vowelless word gets ``"ay"`` (``s`` -> ``say``).

Decoding is ambiguous: ``ashtray`` is the encoding of both ``trash`` and ``rasht``, ``eshay``
of ``she`` and ``hes``. The inverse lists every word whose re-encoding gives the token back
(with the paper's rules also the apostrophe forms whose letters match: ``idntday`` ->
``didn't``) and scores each by its frequency in English according to a packaged frequency
list (derived from ``wordfreq``; see ``forgetlab/data/lexicon/PROVENANCE.md``); words not in
that list fall back to the SCOWL lexicon, then to the shortest moved cluster. One word's
frequency cannot tell ``any`` from ``an`` (both ``anyay``) or ``who`` from ``how``
(``owhay``), so :func:`decode_text` decodes a whole text at once: neighbouring readings that
often stand together in English (``how to``, ``people who``, ``any other``; a packaged
word-pair table from Google Books counts) gain, plus three rules of grammar the table cannot
see. Restored apostrophes are the straight ``'``. :func:`nbest` lists the runners-up, which
``piglatin-lm`` (:mod:`forgetlab.llm.transforms.piglatin_lm`) lets a language model choose
among; this module itself needs no model.
"""

from __future__ import annotations

import gzip
import math
import re
from collections.abc import Callable
from functools import cache

from forgetlab.data import data_path
from forgetlab.llm.transforms._util import no_arg
from forgetlab.llm.transforms.base import Transform

_LETTERS = re.compile(r"[^\W\d_]+")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_APOSTROPHES = re.compile(r"['’]")
VOWELS = frozenset("aeiou")


def _is_vowel(word: str, i: int) -> bool:
    c = word[i].lower()
    return c in VOWELS or (c == "y" and i > 0)


def _with_case(word: str, encode: Callable[[str], str]) -> str:
    """Apply ``encode`` (defined on lower case) keeping a lower, Title or UPPER pattern."""
    if not word:
        return word
    if word.islower():
        return encode(word)
    if len(word) > 1 and word.isupper():
        return encode(word.lower()).upper()
    if word[0].isupper() and (len(word) == 1 or word[1:].islower()):
        return encode(word.lower()).capitalize()
    return encode(word)  # mixed case: letters move as they are


def _encode_paper(word: str) -> str:
    k = next((i for i in range(len(word)) if _is_vowel(word, i)), None)
    if k is None:
        return word
    if k == 0:
        return word + ("ay" if word[-1].lower() == "y" else "yay")
    stem, cluster = word[k:], word[:k]
    hyphen = "-" if stem[-1].lower() == cluster[0].lower() else ""
    return stem + hyphen + cluster + "ay"


def _encode_classic(word: str) -> str:
    if _is_vowel(word, 0):
        return word + "yay"
    k = next((i for i in range(len(word)) if _is_vowel(word, i)), len(word))
    return word[k:] + word[:k] + "ay"


def encode_word(word: str) -> str:
    """The paper's Pig Latin of one run of letters (case pattern preserved, see module doc)."""
    return _with_case(word, _encode_paper)


def encode_word_classic(word: str) -> str:
    """``piglatin-classic`` encoding of one run of letters."""
    return _with_case(word, _encode_classic)


@cache
def candidates(token: str, classic: bool = False) -> list[str]:
    """Every letter run whose encoding is exactly ``token``, shortest moved cluster first.

    ``token`` is a run of letters, or (paper rules) ``stem-clusteray``. Guesses undo each
    possible split (a vowel-initial word + ``"yay"``, or the last *k* letters before
    ``"ay"`` moved back to the front), each in lower, Title, UPPER and the token's own case;
    only guesses that re-encode to ``token`` are kept. Apostrophes are not restored here.
    """
    encode = encode_word_classic if classic else encode_word
    if len(token) < 3 or not token.lower().endswith("ay"):
        return []
    base = token[:-2]
    if "-" in base:
        stem, _, cluster = base.rpartition("-")
        guesses = [cluster + stem] if stem and cluster else []
    else:
        guesses = [token[:-3]] if token.lower().endswith("yay") else []
        guesses += [base[len(base) - k :] + base[: len(base) - k] for k in range(1, len(base) + 1)]
    out: list[str] = []
    for guess in guesses:
        for word in (guess.lower(), guess.lower().capitalize(), guess.upper(), guess):
            if word and word not in out and encode(word) == token:
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


@cache
def frequency_rank() -> dict[str, int]:
    """Lower-case English word -> rank by frequency (0 = most frequent; 80,000 words)."""
    with gzip.open(data_path("lexicon", "wordfreq_en_80k.txt.gz"), "rt", encoding="utf-8") as fh:
        words = [w for w in fh.read().split("\n") if w]
    return {w: i for i, w in enumerate(words)}


@cache
def _apostrophe_forms() -> dict[str, tuple[str, ...]]:
    """Letters-only spelling -> the frequency list's apostrophe forms (``didnt`` -> didn't)."""
    forms: dict[str, list[str]] = {}
    for w in frequency_rank():
        if "'" in w:
            forms.setdefault(w.replace("'", ""), []).append(w)
    return {k: tuple(v) for k, v in forms.items()}


def _recase(word: str, like: str) -> str:
    """Give ``word`` (lower case, maybe with apostrophes) the case pattern of ``like``."""
    if like.islower():
        return word
    if len(like) > 1 and like.isupper():
        return word.upper()
    if like[0].isupper():
        return word[0].upper() + word[1:]
    return word


def _apostrophe_readings(word: str) -> list[str]:
    """The apostrophe forms of ``word`` in its case (``Hes`` -> ``He's``); a mixed-case
    reading (``hEs``) has none, since no recased form gives its letters back."""
    forms = (_recase(f, word) for f in _apostrophe_forms().get(word.lower(), ()))
    return [f for f in forms if f.replace("'", "") == word]


# Each extra letter in the moved cluster costs as much as 10**0.2 = 1.6x in frequency rank:
# chosen on MultiJail's English prompts (not on the pools we report); 0.1-0.3 decode alike.
CLUSTER_PENALTY = 0.2


def _score(word: str) -> float:
    """Lower is likelier: log10 of the word's frequency rank plus a cost per moved letter.

    Frequency alone is the Bayes rule for one word without context, but it prefers ``who``
    to ``how`` (both ``owhay``) and ``hes``-style rarities lose anyway; the small cost per
    moved consonant favours the simpler split when two readings are about as frequent.
    Words missing from the frequency list rank after all listed ones (lexicon words first).
    """
    ranks = frequency_rank()
    low = word.lower()
    rank = ranks.get(low)
    if rank is not None:
        base = math.log10(rank + 10)
    else:
        base = 9.0 if low.replace("'", "") in lexicon() else 10.0
    letters = low.replace("'", "")
    cluster = next((i for i in range(len(letters)) if _is_vowel(letters, i)), len(letters))
    return base + CLUSTER_PENALTY * cluster


def decode_word(token: str, use_lexicon: bool = True, classic: bool = False) -> str:
    """Best English reading of one Pig Latin token (the token itself if none exists).

    With ``use_lexicon=False`` the candidate with the shortest moved cluster is taken.
    """
    cands = candidates(token, classic)
    if not cands:
        return token
    if not use_lexicon:
        return cands[0]
    readings: list[str] = []
    for c in cands:
        readings.append(c)
        if not classic and "'" not in c:
            readings += _apostrophe_readings(c)
    order = {r: i for i, r in enumerate(readings)}
    return min(readings, key=lambda r: (_score(r), order[r]))


def _is_known(word: str) -> bool:
    low = word.lower()
    return low in frequency_rank() or low.replace("'", "") in lexicon()


# ---------------------------------------------------------------- context


@cache
def bigram_pmi() -> dict[tuple[str, str], float]:
    """``(a, b)`` -> log10 pointwise mutual information of the English word pair ``a b``.

    Google Books counts via ``symspellpy``, kept for pairs that involve a word whose Pig
    Latin spelling is shared (see ``forgetlab/data/lexicon/PROVENANCE.md``); a pair not in
    the table counts as 0 (no evidence either way).
    """
    table: dict[tuple[str, str], float] = {}
    with gzip.open(data_path("lexicon", "bigram_pmi_en.txt.gz"), "rt", encoding="utf-8") as fh:
        for line in fh:
            first, *rest = line.rstrip("\n").split("\t")
            for item in rest:
                second, tenths = item.split(" ")
                table[(first, second)] = int(tenths) / 10
    return table


_CONTRACTIONS = (
    ("n't", "not"),
    ("'re", "are"),
    ("'ve", "have"),
    ("'ll", "will"),
    ("'d", "would"),
    ("'m", "am"),
)


def context_keys(word: str) -> tuple[str, tuple[str, ...]]:
    """The words that stand for ``word`` in the pair table: (to its left, to its right).

    A plain word is itself on both sides. A contraction is its first word to the left and
    the expanded second word to the right (``didn't``: did | not); ``X's`` is ``X`` to the
    left and, to the right, either ``is`` or the possessive ``his`` (whichever fits better).
    """
    low = word.lower()
    if "'" not in low:
        return low, (low,)
    for suffix, expanded in _CONTRACTIONS:
        if low.endswith(suffix) and len(low) > len(suffix):
            return low[: -len(suffix)], (expanded,)
    if low.endswith("'s") and len(low) > 2:
        return low[:-2], ("is", "his")
    plain = low.replace("'", "")
    return plain, (plain,)


def _pair_score(prev: str, word: str) -> float:
    """Evidence (log10 PMI) that ``word`` follows ``prev``; 0 when the table has no pair."""
    table = bigram_pmi()
    left = context_keys(word)[0]
    return max(table.get((right, left), 0.0) for right in context_keys(prev)[1])


# Recorded in describe(): outputs read back with another decoder are not mixed in a run.
DECODER = "frequency+word-pairs"
# Weight of the word-pair evidence against the one-word score: chosen on MultiJail's English
# prompts (0.2-0.3 decode alike there), never on the pools whose round trips we report.
CONTEXT_WEIGHT = 0.25
# Grammar the pair table cannot see (it has no sentence starts and no word triples):
# "who can I ..." is rare, "how can I ..." common
_MODALS = frozenset(
    {"can", "could", "would", "should", "will", "shall", "may", "might", "must"}
    | {"do", "does", "did"}
)
_SUBJECTS = frozenset(["i", "you", "we", "they", "he", "she", "it", "one"])
_SINGULAR = frozenset(["a", "an", "another", "each", "every"])  # "a users" is not English


def _rule_cost(word: str, readings: list[str], prev: str | None, nxt: list[str | None]) -> float:
    """Extra cost of reading a token as ``word`` given its neighbours' likeliest readings."""
    low = word.lower()
    n1 = nxt[0].lower() if nxt[0] else None
    n2 = nxt[1].lower() if nxt[1] else None
    if low == "an" and n1 and n1[0] not in "aeiouh" and not (nxt[0] or "").isupper():
        return 3.0  # "an" only before a vowel sound: anyay car = any car
    if low == "who" and ((n1 in _MODALS and n2 in _SUBJECTS) or n1 == "to"):
        return 1.0
    plural_of_possessive = (
        low.endswith("s") and "'" not in low and word[:-1] + "'" + word[-1] in readings
    )
    if plural_of_possessive and prev is not None and prev.lower() in _SINGULAR:
        return 1.0  # a user's account, not "a users account"
    return 0.0


def _readings(token: str, classic: bool = False) -> list[str]:
    """Every English reading of a token: its preimages and (paper rules) apostrophe forms."""
    cands = candidates(token, classic)
    if not cands:
        return [token]
    out: list[str] = []
    for c in cands:
        out.append(c)
        if not classic and "'" not in c:
            out += _apostrophe_readings(c)
    return list(dict.fromkeys(out))


def _units(text: str, classic: bool) -> list[tuple[int, int, list[str]]]:
    """(start, end, readings) of each token; ``a-bay`` is one token when it encodes a word."""
    runs = list(_LETTERS.finditer(text))
    units: list[tuple[int, int, list[str]]] = []
    i = 0
    while i < len(runs):
        m = runs[i]
        nxt = runs[i + 1] if i + 1 < len(runs) else None
        if not classic and nxt is not None and text[m.end() : nxt.start()] == "-":
            joined = text[m.start() : nxt.end()]
            known = [r for r in _readings(joined) if r != joined and _is_known(r)]
            if known:
                units.append((m.start(), nxt.end(), known))
                i += 2
                continue
        units.append((m.start(), m.end(), _readings(m.group(), classic)))
        i += 1
    return units


def nbest(text: str, k: int = 16, classic: bool = False) -> list[tuple[float, str]]:
    """The ``k`` cheapest decodings of ``text`` as ``(cost, text)``, cheapest first.

    Costs are those of :func:`decode_text` (lower is likelier, log10 units), so the first
    entry is exactly its answer; the others are the next best sequences of readings under
    the same scores (k-best dynamic programming: every state keeps its ``k`` best paths).
    A text with no ambiguous token has one entry.
    """
    if k < 1:
        raise ValueError("k must be >= 1")
    units = _units(text, classic)
    return [(cost, _render(text, units, path)) for cost, path in _kbest_paths(text, units, k)]


def _kbest_paths(
    text: str, units: list[tuple[int, int, list[str]]], k: int
) -> list[tuple[float, list[str]]]:
    best = [min(rs, key=lambda r: (_score(r), rs.index(r))) for _, _, rs in units]
    linked = [n > 0 and not text[units[n - 1][1] : units[n][0]].strip() for n in range(len(units))]
    # states: reading -> its k cheapest (cost, path of readings), cheapest first
    states: dict[str, list[tuple[float, list[str]]]] = {}
    for n, (_, _, rs) in enumerate(units):
        nxt: list[str | None] = [None, None]
        if n + 1 < len(units) and linked[n + 1]:
            nxt[0] = best[n + 1]
            if n + 2 < len(units) and linked[n + 2]:
                nxt[1] = best[n + 2]
        prev_best = best[n - 1] if linked[n] else None
        merged = sorted(p for paths in states.values() for p in paths)[:k] if states else []
        new: dict[str, list[tuple[float, list[str]]]] = {}
        for r in rs:
            cost = _score(r) + _rule_cost(r, rs, prev_best, nxt)
            if states and linked[n]:
                incoming = sorted(
                    (c - CONTEXT_WEIGHT * _pair_score(p, r), path)
                    for p, paths in states.items()
                    for c, path in paths
                )[:k]
            else:
                incoming = merged or [(0.0, [])]
            new[r] = [(total + cost, [*path, r]) for total, path in incoming]
        states = new
    if not states:
        return [(0.0, [])]
    return sorted(p for paths in states.values() for p in paths)[:k]


def _render(text: str, units: list[tuple[int, int, list[str]]], path: list[str]) -> str:
    out: list[str] = []
    pos = 0
    for (start, end, _), word in zip(units, path, strict=True):
        out += [text[pos:start], word]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def decode_text(text: str, classic: bool = False) -> str:
    """Decode every Pig Latin token of ``text``, each in the context of its neighbours.

    Per token the readings are scored as in :func:`decode_word` (frequency and moved
    cluster); tokens separated only by white space are linked, and a linked pair of readings
    gains ``CONTEXT_WEIGHT`` times its log10 PMI from :func:`bigram_pmi`; a few grammar
    rules add costs (:func:`_rule_cost`). The cheapest sequence is found by dynamic
    programming (Viterbi; :func:`nbest` lists the runners-up). A hyphen between two runs is
    the text's own unless the two together encode a word (``Ighthay-igh-hay`` =
    ``Thigh-high``, ``at-thay`` = ``that``).
    """
    units = _units(text, classic)
    return _render(text, units, _kbest_paths(text, units, 1)[0][1])


class PigLatin(Transform):
    """The paper's Pig Latin (see the module doc)."""

    name = "piglatin"
    bijective = False
    scope = "full"

    def forward(self, text: str) -> str:
        return _WORD.sub(lambda m: encode_word(_APOSTROPHES.sub("", m.group())), text)

    def inverse(self, text: str) -> str:
        return decode_text(text)

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "rules": "paper", "decoder": DECODER}


class PigLatinClassic(Transform):
    """The earlier Pig Latin: apostrophes kept, no hyphen, ``yay`` for every vowel start."""

    name = "piglatin-classic"
    bijective = False
    scope = "full"

    def forward(self, text: str) -> str:
        return _LETTERS.sub(lambda m: encode_word_classic(m.group()), text)

    def inverse(self, text: str) -> str:
        return decode_text(text, classic=True)

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "decoder": DECODER}


def make_piglatin(arg: str) -> Transform:
    no_arg("piglatin", arg)
    return PigLatin()


def make_piglatin_classic(arg: str) -> Transform:
    no_arg("piglatin-classic", arg)
    return PigLatinClassic()
