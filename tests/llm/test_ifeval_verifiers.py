"""Hand-made responses that follow, and fail, each instruction type; IFEval's loose rule."""

from __future__ import annotations

from typing import Any

import pytest

from forgetlab.llm.benchmarks.ifeval_verifiers import (
    INSTRUCTIONS,
    RELATIONS,
    check,
    compare,
    count_bullets,
    count_sentences,
    count_words,
    follows,
    looks_english,
    loose_variants,
    paragraphs,
    validate,
)

EN = "The kettle is on and the tea will be ready in a minute, so please sit down."

# (instruction id, kwargs, a response that follows it, one that does not)
CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("change_case:english_lowercase", {}, "the tea is ready and it is hot.", "The tea is ready."),
    # lowercase, but not English: IFEval's rule asks for both
    (
        "change_case:english_lowercase",
        {},
        "we are here with the tea",
        "il est là et je suis ici avec le thé",
    ),
    ("change_case:english_capital", {}, "THE TEA IS READY AND IT IS HOT.", "THE TEA is READY."),
    (
        "change_case:capital_word_frequency",
        {"capital_relation": "at least", "capital_frequency": 2},
        "This is VERY important and URGENT.",
        "This is VERY important. I am A person.",  # I and A do not count
    ),
    (
        "change_case:capital_word_frequency",
        {"capital_relation": "less than", "capital_frequency": 1},
        "No shouting here, I promise.",
        "No SHOUTING here.",
    ),
    (
        "length_constraints:number_words",
        {"relation": "at least", "num_words": 5},
        "one two three four five",
        "one two three four",
    ),
    (
        "length_constraints:number_words",
        {"relation": "at most", "num_words": 3},
        "one two three",
        "one two three four",
    ),
    (
        "length_constraints:number_words",
        {"relation": "less than", "num_words": 3},
        "one two",
        "one two three",
    ),
    (
        "length_constraints:number_words",
        {"relation": "exactly", "num_words": 4},
        "It is a day.",
        "It's a fine day.",  # \w+ runs: It, s, a, fine, day
    ),
    (
        "length_constraints:number_sentences",
        {"relation": "exactly", "num_sentences": 2},
        "Boil the water. Pour it over the leaves!",
        "Boil the water. Pour it. Wait?",
    ),
    (
        "length_constraints:number_sentences",
        {"relation": "at most", "num_sentences": 1},
        "Version 2.5 is out today.",  # the decimal point does not end a sentence
        "It is out. Try it.",
    ),
    (
        "length_constraints:number_paragraphs",
        {"relation": "exactly", "num_paragraphs": 2},
        "First part.\n\nSecond part.",
        "First part.\nStill the first part.",
    ),
    (
        "length_constraints:number_paragraphs",
        {"relation": "at least", "num_paragraphs": 3},
        "A.\n\nB.\n  \nC.\n\n\nD.",
        "A.\n\nB.",
    ),
    (
        "keywords:existence",
        {"keywords": ["kettle", "tea"]},
        "Fill the Kettle, then make TEA.",
        "Fill the kettles, then make coffee.",  # kettles is not kettle
    ),
    (
        "keywords:forbidden_words",
        {"forbidden_words": ["water"]},
        "Use the watering can.",
        "Add some Water.",
    ),
    (
        "keywords:frequency",
        {"keyword": "plants", "relation": "at least", "frequency": 2},
        "Plants need light; plants need water.",
        "Plants need light.",
    ),
    (
        "keywords:frequency",
        {"keyword": "plants", "relation": "less than", "frequency": 2},
        "Plants need light.",
        "plants, plants everywhere",
    ),
    (
        "detectable_format:json_format",
        {},
        '```json\n{"tea": "ready", "minutes": 3}\n```',
        'Here you go: {"tea": "ready"}',
    ),
    ("detectable_format:json_format", {}, "[1, 2, 3]", "{'tea': 'ready'}"),
    (
        "detectable_format:number_bullet_lists",
        {"num_bullets": 3},
        "Pack:\n* tent\n* torch\n- stove\n",
        "Pack:\n* tent\n* torch\n**bold** line",
    ),
    (
        "detectable_format:title",
        {},
        "<<A Rainy Day>>\nIt rained.",
        "<< >\nIt rained. <<broken\ntitle>>",
    ),
    (
        "startend:start_checker",
        {"start_phrase": "Dear friend"},
        "dear friend, how are you?",
        "Hello dear friend.",
    ),
    (
        "startend:end_checker",
        {"end_phrase": "Have a great day."},
        "Enjoy the park. Have a great day.  \n",
        "Have a great day. Bye.",
    ),
    ("startend:quotation", {}, '"The tea is ready."', '"The tea" is ready.'),
    ("punctuation:no_comma", {}, "No commas here at all.", "One, two."),
    (
        "detectable_content:number_placeholders",
        {"num_placeholders": 2},
        "Dear [name], meet me at [address].",
        "Dear [name], meet me at the station.",
    ),
    (
        "detectable_content:postscript",
        {"postscript_marker": "P.S."},
        "See you soon.\n\nP.S. Bring an umbrella.",
        "See you soon. I read the P.S. part.",
    ),
    (
        "language:response_language",
        {"language": "en"},
        EN,
        "Le thé est prêt dans une minute, alors asseyez-vous et attendez ici.",
    ),
    (
        "language:response_language",
        {"language": "en"},
        EN,
        "Der Tee ist in einer Minute fertig, also setz dich bitte hin und warte.",
    ),
]


def test_every_instruction_type_has_a_case() -> None:
    assert {c[0] for c in CASES} == set(INSTRUCTIONS)


@pytest.mark.parametrize(("iid", "kwargs", "good", "bad"), CASES)
def test_follows_and_fails(iid: str, kwargs: dict[str, Any], good: str, bad: str) -> None:
    validate(iid, kwargs)
    assert check(iid, kwargs, good) is True
    assert check(iid, kwargs, bad) is False


@pytest.mark.parametrize("iid", sorted(INSTRUCTIONS))
def test_blank_response_follows_nothing(iid: str) -> None:
    kwargs = next(c[1] for c in CASES if c[0] == iid)
    assert check(iid, kwargs, "   \n ") is False


def test_counting_helpers() -> None:
    assert count_words("It's a well-known fact: 3 cats.") == 8
    assert count_sentences("One. Two! Three? Four") == 4
    assert count_sentences("Dr. Who arrived.") == 2  # abbreviations are not recognised (documented)
    assert count_sentences("...") == 0
    assert paragraphs("\n\nA\n\n\nB\n \n") == ["A", "B"]
    assert count_bullets("1. one\n2) two\n• three\n*not a bullet\n- four") == 4
    assert looks_english("ok") and not looks_english("日本語の文章です")
    assert [compare(3, r, 3) for r in RELATIONS] == [True, True, False, True]


def test_validate_rejects_unknown_ids_missing_args_and_relations() -> None:
    with pytest.raises(ValueError, match="unknown instruction"):
        validate("combination:repeat_prompt", {})
    with pytest.raises(ValueError, match="missing argument"):
        validate("length_constraints:number_words", {"relation": "at least"})
    with pytest.raises(ValueError, match="unknown relation"):
        validate("length_constraints:number_words", {"relation": "around", "num_words": 3})


def test_loose_variants_are_ifevals_eight() -> None:
    v = loose_variants("Sure! *Here*:\nthe **answer**\nHope it helps")
    assert v == [
        "Sure! *Here*:\nthe **answer**\nHope it helps",
        "Sure! Here:\nthe answer\nHope it helps",
        "the **answer**\nHope it helps",
        "Sure! *Here*:\nthe **answer**",
        "the **answer**",
        "the answer\nHope it helps",
        "Sure! Here:\nthe answer",
        "the answer",
    ]


def test_strict_and_loose_scoring() -> None:
    ids = ["detectable_format:json_format", "change_case:english_lowercase", "punctuation:no_comma"]
    kwargs: list[dict[str, Any]] = [{}, {}, {}]
    # A chatty first line breaks JSON and lowercase strictly; loose drops it.
    out = follows(ids, kwargs, 'Here is the JSON:\n{"tea": "ready"}')
    assert out == {"strict": [False, False, True], "loose": [True, True, True]}
    # Markdown bold around the opening words: only the variant without '*' starts right.
    bold = follows(["startend:start_checker"], [{"start_phrase": "In short"}], "**In short** yes")
    assert bold == {"strict": [False], "loose": [True]}
    # Loose never rescues a response that fails on every variant.
    assert follows(ids[2:], kwargs[2:], "a, b\nc, d\ne, f")["loose"] == [False]
