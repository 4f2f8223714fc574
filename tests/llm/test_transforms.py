"""Conjugate transforms: registry, exact round trips, measured lossy round trips, errors."""

from __future__ import annotations

import re
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import forgetlab.llm.transforms as T
from forgetlab.errors import ForgetlabError
from forgetlab.llm.benchmarks.icl_vs_if import SCAFFOLDS, load_pool
from forgetlab.llm.transforms import NotInvertible, get_transform, piglatin

POOL = list(load_pool("en"))
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
        "piglatin",
        "rot13",
        "base64",
        "word-reversal",
    }
    for name in ["identity", "rot13", "base64", "word-reversal", "leetspeak", "piglatin"]:
        tr = get_transform(name)
        assert tr.name == name and tr.invertible
        assert tr.describe() == {
            "name": name,
            "bijective": tr.bijective,
            "scope": "full",
            "invertible": True,
        }
    assert get_transform("pretranslated:hu").name == "pretranslated:hu"
    assert get_transform("apertium").name == "apertium:eng-spa"


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("rot26", "unknown transform 'rot26'"),
        ("rot13:x", "takes no argument"),
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


def test_leetspeak_round_trip_fails_exactly_on_mapped_digits() -> None:
    tr = get_transform("leetspeak")
    assert tr.forward("Tests at noon") == "T3575 47 n00n"
    ok = [tr.inverse(tr.forward(s)) == s for s in POOL]
    has_digit = [bool(re.search("[013457]", s)) for s in POOL]
    assert ok == [not d for d in has_digit]
    assert sum(ok) / len(POOL) >= 0.99


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
        ("s", "say"),
        ("iPhone", "iPhoneyay"),
    ],
)
def test_piglatin_encoding(word: str, pig: str) -> None:
    assert piglatin.encode_word(word) == pig
    assert word in piglatin.candidates(pig)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzAEIOUY", min_size=1, max_size=12))
def test_piglatin_candidates_are_exactly_the_preimages(word: str) -> None:
    pig = piglatin.encode_word(word)
    cands = piglatin.candidates(pig)
    assert word in cands
    assert all(piglatin.encode_word(c) == pig for c in cands)


def test_piglatin_text_and_lexicon_decoding() -> None:
    tr = get_transform("piglatin")
    assert (
        tr.forward("Trash covered the landscape, didn't it?")
        == "Ashtray overedcay ethay andscapelay, idnday'tay ityay?"
    )
    assert (
        tr.inverse("Ashtray overedcay ethay andscapelay, idnday'tay ityay?")
        == "Trash covered the landscape, didn't it?"
    )
    assert piglatin.decode_word("ashtray") == "trash"  # not "rasht"
    assert piglatin.decode_word("ashtray", use_lexicon=False) == "rasht"
    assert piglatin.decode_word("xyz") == "xyz"  # not Pig Latin: left alone
    assert len(piglatin.lexicon()) > 70_000


def test_piglatin_measured_rates() -> None:
    """SPEC §5: ambiguous for 88% of word types without a lexicon; far fewer with one."""
    types = sorted({w.lower() for s in POOL for w in re.findall(r"[^\W\d_]+", s)})
    cands = [piglatin.candidates(piglatin.encode_word(w)) for w in types]
    lex = piglatin.lexicon()
    ambiguous = sum(len(c) > 1 for c in cands) / len(types)
    ambiguous_lex = sum(sum(x in lex for x in c) > 1 for c in cands) / len(types)
    assert 0.85 <= ambiguous <= 0.91
    assert ambiguous_lex <= 0.05
    tr = get_transform("piglatin")
    back = tr.inverse_batch(tr.forward_batch(POOL))
    assert sum(a == b for a, b in zip(back, POOL, strict=True)) / len(POOL) >= 0.65
    words = [w for s in POOL for w in s.split()]
    back_words = [w for s in back for w in s.split()]
    assert len(words) == len(back_words)
    assert sum(a == b for a, b in zip(words, back_words, strict=True)) / len(words) >= 0.95


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
