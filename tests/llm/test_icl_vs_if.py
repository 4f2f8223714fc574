"""The icl-vs-if generator reproduces the paper's 2,800 prompts exactly, and its variants align."""

from __future__ import annotations

import codecs
import random
import re
import shutil

import pytest

from forgetlab.errors import ForgetlabError
from forgetlab.llm.benchmarks import icl_vs_if as b
from forgetlab.llm.transforms import get_transform

FIRST_EN = (
    "Capitalize every character.\n\n"
    "Input: The busker hoped that the people passing by would throw money, but they threw "
    "tomatoes instead, so he exchanged his hat for a juicer.\n"
    "Output: THE BUSKER HOPED THAT THE PEOPLE PASSING BY WOULD THROW MONEY, BUT THEY THREW "
    "TOMATOES INSTEAD, SO HE EXCHANGED HIS HAT FOR A JUICER.\n\n"
    "Input: People generally approve of dogs eating cat food but not cats eating dog food.\n"
    "Output: PEOPLE GENERALLY APPROVE OF DOGS EATING CAT FOOD BUT NOT CATS EATING DOG FOOD.\n\n"
    "Input: What is 19 plus 4?\n"
    "Output:"
)


@pytest.fixture(scope="module")
def paper() -> list[b.IclPrompt]:
    return b.generate_prompts()


def test_reference_fingerprint(paper: list[b.IclPrompt]) -> None:
    assert len(paper) == 2800
    assert b.rows_fingerprint(paper) == b.REFERENCE_SHA256
    assert b.REFERENCE_SHA256 == "5030ba3877ebc0275aa2f6794623617a20d8f1e23f542a4604993676ea568fb7"
    assert len({p.id for p in paper}) == 2800


def test_first_english_prompt(paper: list[b.IclPrompt]) -> None:
    first = paper[0]
    assert (first.language, first.icl_task, first.if_task, first.index) == (
        "en",
        "capslock",
        "math",
        0,
    )
    assert first.prompt == FIRST_EN
    assert (first.icl_answer, first.if_answer) == (" WHAT", " 23")
    assert first.id == "en/capslock-math/0"


def _paper_reference(lang: str, icl_task: str, if_task: str, n: int) -> list[tuple[str, str, str]]:
    """An independent transcription of the authors' loop, on the *global* random module."""
    sentences = list(b.load_pool(lang))
    sc = b.SCAFFOLDS[lang]
    icl = str.upper if icl_task == "capslock" else (lambda s: s)
    random.seed(10)
    out = []
    for _ in range(n):
        s = random.sample(sentences, 3)
        prompt = sc.instructions[icl_task] + "\n\n"
        for i, sentence in enumerate(s):
            if i:
                prompt += "\n\n"
            if i < 2:
                prompt += sc.in_prefix + sentence + "\n" + sc.out_prefix + icl(sentence)
                continue
            if if_task == "math":
                x, y, op = random.randint(4, 20), random.randint(4, 20), random.randint(0, 2)
                query = sc.math_template.format(a=x, op=sc.ops[op], b=y)
                icl_ans, if_ans = sc.icl_ans, str([x + y, x - y, x * y][op])
            else:
                words = sentence.split(" ")
                if_ans, words[0] = words[0], "_" * len(words[0])
                query, icl_ans = " ".join(words), words[0]
            prompt += sc.in_prefix + query + "\n" + sc.out_prefix[:-1]
        out.append((prompt, " " + icl(icl_ans), " " + icl(if_ans)))
    return out


@pytest.mark.parametrize("lang", ["hu", "pl"])
@pytest.mark.parametrize("task", b.TASKS)
def test_matches_global_random_transcription(lang: str, task: tuple[str, str]) -> None:
    ours = [(p.prompt, p.icl_answer, p.if_answer) for p in b.generate_prompts([lang], [task], n=30)]
    assert ours == _paper_reference(lang, *task, n=30)


def test_prefix_property_and_task_strings(paper: list[b.IclPrompt]) -> None:
    short = b.generate_prompts(["es"], ["repeat-startblank"], n=7)
    full = [p for p in paper if p.language == "es" and p.task == "repeat-startblank"]
    assert short == full[:7]


def test_languages_align_index_for_index(paper: list[b.IclPrompt]) -> None:
    by_key = {(p.language, p.task, p.index): p for p in paper}
    for (lang, task, i), p in by_key.items():
        en = by_key[("en", task, i)]
        if task.endswith("math"):  # same numbers and operator, same result
            m = re.fullmatch(
                r"Input: What is (\d+) (plus|minus|times) (\d+)\?", en.prompt.split("\n")[-2]
            )
            assert m is not None
            sc = b.SCAFFOLDS[lang]
            question = sc.math_question(
                int(m[1]), ("plus", "minus", "times").index(m[2]), int(m[3])
            )
            assert p.prompt.split("\n")[-2] == sc.in_prefix + question
            assert p.if_answer == en.if_answer
        else:  # the query sentence is the line-aligned translation of the English one
            assert len(p.icl_answer.strip()) == len(p.if_answer.strip())
            assert set(p.icl_answer.strip()) <= {"_"}


def test_scaffold_table_is_consistent() -> None:
    assert tuple(b.SCAFFOLDS) == b.LANGUAGES
    for sc in b.SCAFFOLDS.values():
        assert sc.math_template.split(" ")[0] == sc.icl_ans
        assert sc.in_prefix.endswith(": ") and sc.out_prefix.endswith(": ")
        assert set(sc.instructions) == {"repeat", "capslock"}
    assert all(len(b.load_pool(lang)) == 500 for lang in b.LANGUAGES)


def test_bad_input_is_one_line_error() -> None:
    with pytest.raises(ForgetlabError, match="unknown icl-vs-if language 'de'"):
        b.generate_prompts(["de"])
    with pytest.raises(ForgetlabError, match="unknown icl-vs-if task"):
        b.generate_prompts(["en"], ["capslock-sum"])
    with pytest.raises(ForgetlabError, match="n must be"):
        b.generate_prompts(["en"], n=-1)


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (" WHAT IS 19 PLUS 4?", (True, False)),
        ("WHAT", (True, False)),
        (" WHATEVER", (True, False)),  # a prefix match, as in the paper
        ("\n WHAT", (False, False)),
        (" what", (False, False)),
        (" 23", (False, True)),
        ("23 is the answer", (False, True)),
        ("", (False, False)),
    ],
)
def test_score_output_math(output: str, expected: tuple[bool, bool]) -> None:
    assert b.score_output(output, " WHAT", " 23") == expected


def test_score_output_unescapes_blanks() -> None:
    assert b.score_output(" \\_\\_\\_\\_ covered", " ____", " Trash") == (True, False)
    assert b.score_output("Trash covered", " ____", " Trash") == (False, True)


def test_identity_transform_gives_english() -> None:
    en = b.generate_prompts(["en"], n=10)
    ident = b.generate_transformed_prompts("identity", n=10)
    assert [p.to_row() | {"language": "en"} for p in ident] == [p.to_row() for p in en]
    assert {p.language for p in ident} == {"identity"}


def test_rot13_prompts_are_rot13_of_english() -> None:
    """ROT13 commutes with upper-casing and keeps word lengths, so the whole transformed
    benchmark (answers included) must equal ROT13 of the English one."""

    def rot(s: str) -> str:
        return codecs.encode(s, "rot13")

    en = b.generate_prompts(["en"], n=25)
    tr = b.generate_transformed_prompts(get_transform("rot13"), n=25)
    assert len(tr) == len(en) == 100
    for e, t in zip(en, tr, strict=True):
        assert (t.task, t.index) == (e.task, e.index)
        assert (t.prompt, t.icl_answer, t.if_answer) == (
            rot(e.prompt),
            rot(e.icl_answer),
            rot(e.if_answer),
        )
        # scoring in the transformed space == scoring the read-back output in English
        for out in (" JUNG VF", " 23", "Jung", " ____ x", " cyhf"):
            assert b.score_output(out, t.icl_answer, t.if_answer) == b.score_output(
                rot(out), e.icl_answer, e.if_answer
            )


def test_payload_scope_keeps_english_scaffold() -> None:
    tr = b.generate_transformed_prompts("leetspeak-lower6", ["capslock-math"], n=3, scope="payload")
    en = b.generate_prompts(["en"], ["capslock-math"], n=3)
    assert tr[0].language == "leetspeak-lower6@payload"
    for t, e in zip(tr, en, strict=True):
        assert t.prompt.startswith("Capitalize every character.\n\nInput: ")
        assert t.prompt.endswith("?\nOutput:")
        assert t.prompt.split("\n")[-2] == "Input: " + get_transform("leetspeak-lower6").forward(
            e.prompt.split("\n")[-2][7:]
        )
        assert t.icl_answer == " WH47" and t.if_answer == e.if_answer
    full = b.generate_transformed_prompts("leetspeak-lower6", ["capslock-math"], n=1)
    assert full[0].prompt.startswith("C4p174l1z3 3v3ry ch4r4c73r.\n\nInpu7: ")


def test_base64_math_answer_is_transformed() -> None:
    tr = b.generate_transformed_prompts("base64", ["repeat-math"], n=2)
    en = b.generate_prompts(["en"], ["repeat-math"], n=2)
    tf = get_transform("base64")
    for t, e in zip(tr, en, strict=True):
        assert t.if_answer == " " + tf.forward(e.if_answer.strip())
        question = t.prompt.split("\n")[-2].split(": ", 1)[1]
        assert tf.inverse(question) == e.prompt.split("\n")[-2].split(": ", 1)[1]
        assert t.icl_answer == " " + question  # base64 has no spaces: the whole query


def test_pretranslated_transform_returns_paper_prompts(paper: list[b.IclPrompt]) -> None:
    fr = [p for p in paper if p.language == "fr"]
    tr = b.generate_transformed_prompts("pretranslated:fr")
    assert [p.to_row() | {"language": "fr"} for p in tr] == [p.to_row() for p in fr]
    payload = b.generate_transformed_prompts(
        "pretranslated:fr", ["capslock-math"], n=1, scope="payload"
    )
    assert payload[0].prompt.startswith("Capitalize every character.\n\nInput: Le Busker")
    assert payload[0].prompt.endswith("Input: Combien font 19 plus 4?\nOutput:")
    assert payload[0].icl_answer == " COMBIEN"


def test_unknown_transform_and_scope() -> None:
    with pytest.raises(ForgetlabError, match="unknown transform"):
        b.generate_transformed_prompts("klingon")
    with pytest.raises(ForgetlabError, match="unknown scope"):
        b.generate_transformed_prompts("rot13", scope="everything")  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("apertium") is None, reason="apertium not installed")
def test_apertium_prompts_align_with_english() -> None:
    tr = b.generate_transformed_prompts(
        "apertium:eng-spa", ["capslock-math", "repeat-startblank"], n=20
    )
    en = b.generate_prompts(["en"], ["capslock-math", "repeat-startblank"], n=20)
    assert [(p.task, p.index) for p in tr] == [(p.task, p.index) for p in en]
    first = tr[0]
    assert first.prompt.startswith("Capitalizar cada carácter.\n\nEntrada: ")
    assert "\nSalida: " in first.prompt and first.prompt.endswith("\nSalida:")
    assert first.if_answer == " 23"
    query = first.prompt.split("\n")[-2].removeprefix("Entrada: ")
    assert "19" in query and first.icl_answer == " " + query.split(" ")[0].upper()
    for p in tr[20:]:
        assert set(p.icl_answer.strip()) == {"_"}
        assert p.prompt.split("\n")[-2].startswith("Entrada: " + p.icl_answer.strip() + " ")
