"""Conjugate transforms: registry, exact round trips, measured lossy round trips, errors."""

from __future__ import annotations

import operator
import re
import shutil
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import forgetlab.llm.transforms as T
from forgetlab.errors import ForgetlabError
from forgetlab.llm.benchmarks.harmful.advbench import read_behaviours
from forgetlab.llm.benchmarks.icl_vs_if import SCAFFOLDS, load_pool
from forgetlab.llm.transforms import NotInvertible, get_transform, piglatin

POOL = list(load_pool("en"))
ADVBENCH = list(read_behaviours("en"))
BIJECTIVE = ["identity", "rot13", "base64", "word-reversal"]
needs_apertium = pytest.mark.skipif(
    shutil.which("apertium") is None, reason="apertium not installed"
)


def test_registry_lists_every_transform() -> None:
    assert set(T.available_transforms()) >= {
        "identity",
        "pretranslated",
        "apertium",
        "leetspeak",
        "leetspeak-lower6",
        "piglatin",
        "piglatin-classic",
        "rot13",
        "base64",
        "word-reversal",
    }
    plain = ["identity", "rot13", "base64", "word-reversal", "leetspeak-lower6"]
    for name in plain:
        tr = get_transform(name)
        assert tr.name == name and tr.invertible
        assert tr.describe() == {
            "name": name,
            "bijective": tr.bijective,
            "scope": "full",
            "invertible": True,
        }
    # the paper's rules are the defaults; their identity differs from the earlier rules',
    # so run directories made with those are not mixed with new prompts
    assert get_transform("piglatin").describe()["rules"] == "paper"
    # decoding in context reads outputs back differently from the word-by-word decoder
    assert get_transform("piglatin").describe()["decoder"] == "frequency+word-pairs"
    assert get_transform("piglatin-classic").describe() == {
        "name": "piglatin-classic",
        "bijective": False,
        "scope": "full",
        "invertible": True,
        "decoder": "frequency+word-pairs",
    }
    assert get_transform("leetspeak").describe() == {
        "name": "leetspeak",
        "bijective": False,
        "scope": "full",
        "invertible": True,
        "rules": "paper",
        "seed": 0,
    }
    assert get_transform("leetspeak:3").describe()["seed"] == 3
    assert get_transform("pretranslated:hu").name == "pretranslated:hu"
    assert get_transform("apertium").name == "apertium:eng-spa"


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("rot26", "unknown transform 'rot26'"),
        ("rot13:x", "takes no argument"),
        ("leetspeak:x", "non-negative integer seed"),
        ("piglatin-classic:x", "takes no argument"),
        ("pretranslated:de", "unknown pretranslated language 'de'"),
        ("pretranslated", "unknown pretranslated language ''"),
        ("apertium:English to Spanish", "bad apertium pair"),
    ],
)
def test_bad_names_are_one_line_errors(name: str, match: str) -> None:
    with pytest.raises(ForgetlabError, match=match) as info:
        get_transform(name)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", BIJECTIVE)
def test_bijective_round_trip_on_pool(name: str) -> None:
    tr = get_transform(name)
    assert tr.bijective
    fwd = tr.forward_batch(POOL)
    assert tr.inverse_batch(fwd) == POOL
    if name != "identity":
        assert sum(a != b for a, b in zip(fwd, POOL, strict=True)) == len(POOL)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_bijective_round_trip_on_any_text(text: str) -> None:
    for name in BIJECTIVE:
        tr = get_transform(name)
        assert tr.inverse(tr.forward(text)) == text


def test_cipher_examples() -> None:
    assert get_transform("rot13").forward("What is 19 plus 4?") == "Jung vf 19 cyhf 4?"
    assert get_transform("base64").forward("What") == "V2hhdA=="
    assert get_transform("base64").inverse(" V2hhdA \n") == "What"  # padding restored
    assert (
        get_transform("word-reversal").forward("What is 19 plus 4?\n ok")
        == "tahW si 91 sulp ?4\n ko"
    )
    with pytest.raises(NotInvertible):
        get_transform("base64").inverse("not base64!")


def test_leetspeak_lower6_round_trip_fails_exactly_on_mapped_digits() -> None:
    tr = get_transform("leetspeak-lower6")
    assert tr.forward("Tests at noon") == "T3575 47 n00n"
    ok = [tr.inverse(tr.forward(s)) == s for s in POOL]
    has_digit = [bool(re.search("[013457]", s)) for s in POOL]
    assert ok == [not d for d in has_digit]
    assert sum(ok) / len(POOL) >= 0.99


def test_leetspeak_matches_the_papers_pool_ignoring_case() -> None:
    tr = get_transform("leetspeak")
    ours = tr.forward_batch(POOL)
    paper = list(load_pool("ls"))
    equal = sum(a.lower() == b.lower() for a, b in zip(ours, paper, strict=True))
    assert equal / len(POOL) >= 0.99
    assert sum(a == b for a, b in zip(ours, paper, strict=True)) < 10  # case is a random draw


def test_leetspeak_case_is_random_but_reproducible() -> None:
    tr = get_transform("leetspeak")
    text = "Bob sat on a big rock, then he saw the sea."
    out = tr.forward(text)
    assert out.lower() == "808 547 0n 4 81g r0ck, 7h3n h3 54w 7h3 534."
    assert tr.forward(text) == out == get_transform("leetspeak").forward(text)
    assert get_transform("leetspeak:1").forward(text) != out
    letters = "".join(c for s in tr.forward_batch(POOL) for c in s if c.isalpha())
    assert 0.45 <= sum(c.isupper() for c in letters) / len(letters) <= 0.55
    assert tr.forward("BOTTLE").lower() == "8077l3"
    assert tr.inverse("7H3 c47 54t. 1 54W 17!") == "The cat sat. I saw it!"


@pytest.mark.parametrize(
    ("word", "pig"),
    [
        ("trash", "ashtray"),
        ("Trash", "Ashtray"),
        ("HELLO", "ELLOHAY"),
        ("input", "inputyay"),
        ("the", "ethay"),
        ("my", "ymay"),
        ("rhythm", "ythmrhay"),
        ("I", "Iyay"),
        ("iPhone", "iPhoneyay"),
        ("that", "at-thay"),
        ("That", "At-thay"),
        ("speaks", "eaks-spay"),
        ("only", "onlyay"),
        ("Italy", "Italyay"),
    ],
)
def test_piglatin_encoding(word: str, pig: str) -> None:
    assert piglatin.encode_word(word) == pig
    assert word in piglatin.candidates(pig)


@pytest.mark.parametrize("word", ["s", "Mr", "RVs", "hmm"])
def test_piglatin_leaves_vowelless_words_alone(word: str) -> None:
    assert piglatin.encode_word(word) == word
    assert piglatin.candidates(word) == []


@pytest.mark.parametrize(
    ("word", "pig"),
    [("trash", "ashtray"), ("that", "atthay"), ("only", "onlyyay"), ("s", "say")],
)
def test_piglatin_classic_encoding(word: str, pig: str) -> None:
    assert piglatin.encode_word_classic(word) == pig
    assert word in piglatin.candidates(pig, classic=True)


def test_piglatin_matches_the_papers_pool() -> None:
    ours = get_transform("piglatin").forward_batch(POOL)
    paper = list(load_pool("pl"))
    assert sum(a == b for a, b in zip(ours, paper, strict=True)) / len(POOL) >= 0.99
    classic = get_transform("piglatin-classic").forward_batch(POOL)
    assert sum(a == b for a, b in zip(classic, paper, strict=True)) / len(POOL) < 0.5


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzAEIOUY", min_size=1, max_size=12))
def test_piglatin_candidates_are_exactly_the_preimages(word: str) -> None:
    for classic, encode in ((False, piglatin.encode_word), (True, piglatin.encode_word_classic)):
        pig = encode(word)
        cands = piglatin.candidates(pig, classic)
        if pig == word:  # vowelless: left alone, so no Pig Latin preimage
            assert not classic
            continue
        assert word in cands
        assert all(encode(c) == pig for c in cands)


def test_piglatin_text_and_frequency_decoding() -> None:
    tr = get_transform("piglatin")
    assert (
        tr.forward("Trash covered that landscape, didn't it? Thigh-high, said Mr. Sp’s.")
        == "Ashtray overedcay at-thay andscapelay, idntday ityay? Ighthay-igh-hay, aidsay Mr. Sps."
    )
    assert (
        tr.inverse("Ashtray overedcay at-thay andscapelay, idntday ityay? Ighthay-igh-hay")
        == "Trash covered that landscape, didn't it? Thigh-high"
    )
    assert tr.inverse(tr.forward("step-by-step")) == "step-by-step"  # not "ybepstay-step"
    assert piglatin.decode_word("ashtray") == "trash"  # not "rasht"
    assert piglatin.decode_word("ashtray", use_lexicon=False) == "rasht"
    assert piglatin.decode_word("xyz") == "xyz"  # not Pig Latin: left alone
    # frequency breaks ties that a lexicon cannot: both readings are English words
    for word in ["she", "steal", "your", "how"]:
        assert piglatin.decode_word(piglatin.encode_word(word)) == word
    assert piglatin.decode_word("Imyay") == "I'm"  # apostrophe restored from the list
    assert len(piglatin.lexicon()) > 70_000
    assert len(piglatin.frequency_rank()) == 80_000
    classic = get_transform("piglatin-classic")
    assert classic.forward("didn't it") == "idnday'tay ityay"
    assert classic.inverse("idnday'tay ityay") == "didn't it"


def _apostrophes_equal(a: str, b: str) -> bool:
    return a.replace("’", "'") == b.replace("’", "'")


def _round_trip(
    name: str, texts: list[str], same: Callable[[str, str], bool] = operator.eq
) -> float:
    tr = get_transform(name)
    back = tr.inverse_batch(tr.forward_batch(texts))
    return sum(same(a, b) for a, b in zip(back, texts, strict=True)) / len(texts)


def test_piglatin_measured_rates() -> None:
    """Ambiguous for 88% of word types without a lexicon (docs/transforms.md); far fewer with one."""
    types = sorted({w.lower() for s in POOL for w in re.findall(r"[^\W\d_]+", s)})
    cands = [piglatin.candidates(piglatin.encode_word(w)) for w in types]
    lex = piglatin.lexicon()
    ambiguous = sum(len(c) > 1 for c in cands) / len(types)
    ambiguous_lex = sum(sum(x in lex for x in c) > 1 for c in cands) / len(types)
    assert 0.80 <= ambiguous <= 0.91
    assert ambiguous_lex <= 0.05
    # Measured with word-pair context (docs/transforms.md): paper rules 89.4% of the pool
    # (93.6% counting ’ and ' as equal: the paper's rules drop apostrophes, so the 23 pool
    # lines written with ’ cannot come back exactly) and 97.9% of AdvBench; earlier rules
    # 96.8% / 99.4%. Without context: 86.6% (90.0%) / 94.2% and 94.8% / 99.4%.
    assert _round_trip("piglatin", ADVBENCH) >= 0.95
    assert _round_trip("piglatin", POOL) >= 0.89
    assert _round_trip("piglatin", POOL, same=_apostrophes_equal) >= 0.93
    assert _round_trip("piglatin-classic", POOL) >= 0.95
    assert _round_trip("piglatin-classic", ADVBENCH) >= 0.99


def test_piglatin_context_decoding() -> None:
    """Readings that one word cannot settle, settled by the neighbours."""
    tr = get_transform("piglatin")
    for text in [
        "Is there any other way?",  # anyay otheryay: any other, not "an other"
        "Show me any car",  # an before a consonant is not English
        "Explain how to pick a lock",  # owhay otay: how to
        "The man who was here",  # owhay asway: who was
        "Teach someone how to fish",  # who/how after a noun, decided by "to"
        "Steal a user's password",  # a + plural is not English: a user's
        "Do not touch my car",
    ]:
        assert tr.inverse(tr.forward(text)) == text
    assert piglatin.decode_word("owhay") == "how"  # one word alone: the likelier reading
    assert piglatin.context_keys("didn't") == ("did", ("not",))
    assert piglatin.context_keys("user's") == ("user", ("is", "his"))
    table = piglatin.bigram_pmi()
    assert 50_000 < len(table) < 150_000
    assert table[("how", "to")] > table.get(("who", "to"), 0.0)
    assert table[("any", "other")] > table.get(("an", "other"), 0.0)


@pytest.mark.parametrize("lang", ["fr", "es", "nl", "hu", "ls", "pl"])
def test_pretranslated_lookup(lang: str) -> None:
    tr = get_transform(f"pretranslated:{lang}")
    target = list(load_pool(lang))
    assert tr.forward_batch(POOL) == target
    back = tr.inverse_batch(target)
    assert tr.forward_batch(back) == target  # duplicates map to the same English line
    assert back == POOL
    sc, en = SCAFFOLDS[lang], SCAFFOLDS["en"]
    assert tr.forward(en.instructions["capslock"]) == sc.instructions["capslock"]
    assert tr.forward("What is 7 times 12?") == sc.math_question(7, 2, 12)
    assert tr.inverse(sc.math_question(7, 2, 12)) == "What is 7 times 12?"
    assert tr.forward("84") == "84"
    assert tr.forward(POOL[0] + "\n\n" + POOL[1]) == target[0] + "\n\n" + target[1]
    with pytest.raises(ForgetlabError, match="only knows the paper's"):
        tr.forward("Completely new text.")
    with pytest.raises(NotInvertible):
        tr.inverse("Completely new text.")


@needs_apertium
def test_apertium_batches_stay_aligned() -> None:
    """Single newlines let Apertium read neighbouring lines as one phrase ("Input\\nOutput" ->
    "Salida\\nde entrada"); each batch item must equal its stand-alone translation."""
    tr = get_transform("apertium:eng-spa")
    texts = ["Input", "Output", "plus", "", "Repeat the input.", "Input\n\nOutput"]
    batch = tr.forward_batch(texts)
    assert batch[:2] == ["Entrada", "Salida"]
    assert batch[3] == ""
    assert batch[5] == "Entrada\n\nSalida"
    assert batch[4] == tr.forward("Repeat the input.")
    assert tr.forward_batch(texts) == batch  # deterministic
    assert tr.inverse("Hola mundo.") == "Hello World."


@pytest.mark.slow
@needs_apertium
def test_apertium_round_trip_is_close() -> None:
    tr = get_transform("apertium:eng-spa")
    sample = POOL[:60]
    back = tr.inverse_batch(tr.forward_batch(sample))
    assert len(back) == len(sample)
    overlap = [
        len(set(a.lower().split()) & set(b.lower().split())) / len(set(a.lower().split()))
        for a, b in zip(sample, back, strict=True)
    ]
    assert sum(overlap) / len(overlap) >= 0.4


def test_apertium_missing_binary_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from forgetlab.llm.transforms import apertium

    monkeypatch.setattr(apertium.shutil, "which", lambda _name: None)
    apertium.installed_pairs.cache_clear()
    apertium._translate_cached.cache_clear()
    try:
        with pytest.raises(ForgetlabError, match="apertium is not installed") as info:
            get_transform("apertium:eng-spa").forward_batch(["Hello"])
        assert "\n" not in str(info.value)
    finally:
        apertium.installed_pairs.cache_clear()


@needs_apertium
def test_apertium_unknown_pair() -> None:
    with pytest.raises(ForgetlabError, match="pair 'eng-xyz' is not installed"):
        get_transform("apertium:eng-xyz").forward("Hello")
