"""The fresh ICL-vs-IF pools: written for forgetlab, no copy of the paper's, same generator."""

from __future__ import annotations

import difflib
import re

import pytest

from forgetlab.data import data_path
from forgetlab.errors import ForgetlabError
from forgetlab.llm.benchmarks import icl_vs_if as b

FRESH = ("fresh-select", "fresh-report")
SIZES = {"fresh-select": 50, "fresh-report": 100}
FINGERPRINTS = {
    "fresh-select": "3c4048e48eff3875d0a11f7001e5a6fe6e7e8841f50e04f16e5819ca14b1c654",
    "fresh-report": "19b849d2e8446b67b345a3e7484e1b61013c2d68586e523cbca75ac129846ff8",
}
MAX_RATIO = 0.6
SHARED_WORDS = 6


def _grams(text: str, n: int = SHARED_WORDS) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+(?:'\w+)?", text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _fresh_lines() -> list[str]:
    return [s for pool in FRESH for lang in b.POOLS[pool] for s in b.load_pool(lang, pool)]


def test_files_are_line_aligned_without_trailing_newline() -> None:
    for pool in FRESH:
        assert b.POOLS[pool] == ("en", "fr", "es")
        for lang in b.POOLS[pool]:
            name = f"{pool.removeprefix('fresh-')}_{lang}.txt"
            raw = data_path("fresh-pools", name).read_text(encoding="utf-8")
            assert not raw.endswith("\n") and raw.count("\n") == SIZES[pool] - 1
            assert len(b.load_pool(lang, pool)) == SIZES[pool]
    assert data_path("fresh-pools", "PROVENANCE.md").is_file()


def test_english_sentences_have_the_paper_style() -> None:
    for pool in FRESH:
        for s in b.load_pool("en", pool):
            assert 8 <= len(s.split()) <= 30 and s.isascii(), s
            assert s[0].isalpha() and s[-1] in ".!?" and s == s.strip(), s
    lines = _fresh_lines()
    assert len(set(lines)) == len(lines)  # no sentence twice, in any pool or language


def test_no_fresh_line_shares_six_words_with_a_paper_line() -> None:
    paper = [s for lang in b.LANGUAGES for s in b.load_pool(lang)]
    assert len(paper) == 3500
    paper_grams: set[tuple[str, ...]] = set()
    for s in paper:
        paper_grams |= _grams(s)
    for line in _fresh_lines():
        assert not _grams(line) & paper_grams, line


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "fr", "es"])
def test_no_fresh_line_is_close_to_a_paper_line_of_its_language(lang: str) -> None:
    """difflib ratio < 0.6 against the paper's pool of the same language.

    The pools were also checked against all seven paper pools when written
    (fresh-pools/PROVENANCE.md); every cross-language pair costs seconds per line, so the
    test keeps to the comparisons where a paraphrase could hide.
    """
    paper = [s.lower() for s in b.load_pool(lang)]
    for pool in FRESH:
        for line in b.load_pool(lang, pool):
            sm = difflib.SequenceMatcher(None, b=line.lower())  # b is indexed once
            for other in paper:
                sm.set_seq1(other)
                if sm.real_quick_ratio() >= MAX_RATIO and sm.quick_ratio() >= MAX_RATIO:
                    assert sm.ratio() < MAX_RATIO, (line, other)


def test_the_check_would_catch_a_close_paraphrase() -> None:
    line = b.load_pool("en")[5]  # a paper sentence, lightly edited
    edited = line.replace("dog", "cat").replace("The ", "A ")
    ratio = difflib.SequenceMatcher(None, edited.lower(), line.lower()).ratio()
    assert ratio >= MAX_RATIO and _grams(edited) & _grams(line)


@pytest.mark.parametrize("pool", FRESH)
def test_fresh_pool_fingerprint_and_generator(pool: str) -> None:
    prompts = b.generate_prompts(pool=pool)
    assert len(prompts) == 3 * 4 * 100  # en/fr/es x 4 tasks x 100: sentences recur
    assert b.rows_fingerprint(prompts) == FINGERPRINTS[pool]
    sentences = b.load_pool("en", pool)
    paper_en = b.generate_prompts(["en"])
    for fresh, paper in zip(b.generate_prompts(["en"], pool=pool), paper_en, strict=True):
        assert fresh.id == paper.id
        assert fresh.prompt.split("\n\n")[0] == paper.prompt.split("\n\n")[0]  # scaffold
        if fresh.if_task == "math":  # the pool's own draws: the sample's bits depend on its size
            d = b.draws(SIZES[pool], "math")[fresh.index]
            assert d.math is not None and fresh.if_answer == f" {d.math_result}"
            assert b.SCAFFOLDS["en"].math_question(*d.math) in fresh.prompt
        demos = [
            ln.split(": ", 1)[1] for ln in fresh.prompt.split("\n") if ln.startswith("Input: ")
        ]
        assert all(d in sentences for d in demos[:2])
    draws = b.draws(SIZES[pool], "startblank")
    for p, d in zip(
        b.generate_prompts(["es"], ["repeat-startblank"], pool=pool), draws, strict=True
    ):
        query, _, first = b.startblank(b.load_pool("es", pool)[d.indices[-1]])
        assert p.if_answer == " " + first and query in p.prompt


def test_default_pool_is_the_paper_and_bad_pools_are_refused() -> None:
    assert b.rows_fingerprint(b.generate_prompts(pool="paper")) == b.REFERENCE_SHA256
    with pytest.raises(ForgetlabError, match="unknown icl-vs-if pool"):
        b.generate_prompts(pool="nope")
    with pytest.raises(ForgetlabError, match="has no language 'hu'"):
        b.generate_prompts(["hu"], pool="fresh-report")
    with pytest.raises(ForgetlabError, match="has no language"):
        b.load_pool("pl", "fresh-select")
