"""The one spec grammar: every spec string the docs show parses as the per-site parsers did.

The reference parsers below are the string-splitting code each call site used before the
grammar existed (kept here verbatim as the oracle); hypothesis then compares the two on
arbitrary strings built from names, ``:``, ``@``, ``/``, ``.`` and ``,``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forgetlab.errors import ForgetlabError
from forgetlab.finetune.evalsuite import SUITES, Suite, parse_suites
from forgetlab.llm.back_translators import parse_back_translator
from forgetlab.llm.backends import parse_model_spec, resolve_model_spec
from forgetlab.llm.judges import parse_judge
from forgetlab.llm.transforms import available_transforms, parse_transform
from forgetlab.spec import Grammar, Spec
from forgetlab.spec import parse_spec as grammar_parse

KINDS = ("packaged", "hf", "openai", "openai-completions", "vllm")


# ------------------------------------------------------------ the parsers this replaces


def old_model(spec: str) -> tuple[str, str]:
    spec = spec.strip()
    kind, sep, target = spec.partition(":")
    if sep and kind in KINDS:
        if not target:
            raise ForgetlabError("names no model")
        return kind, target
    path = Path(spec).expanduser()
    if path.is_dir() or (path.suffix == ".gguf" and path.is_file()):
        return "hf", spec
    raise ForgetlabError("unknown model")


def old_transform(spec: str) -> tuple[str, str, str | None]:
    name, at, scope = spec.partition("@")
    if at and scope not in ("payload", "full"):
        raise ForgetlabError("scope")
    prefix, _, arg = name.partition(":")
    if prefix not in available_transforms():
        raise ForgetlabError("unknown transform")
    return prefix, arg, scope or None


def old_judge(spec: str) -> tuple[str, str]:
    if spec == "substring":
        return "substring", ""
    if spec.startswith("llm:") and len(spec) > 4:
        return "llm", spec[4:]
    raise ForgetlabError("unknown judge")


def old_suites(specs: list[str]) -> list[Suite]:
    out: list[Suite] = []
    for raw in specs:
        for spec in (s.strip() for s in raw.split(",")):
            if not spec:
                continue
            name, _, n_text = spec.partition(":")
            if name not in SUITES:
                raise ForgetlabError("unknown eval suite")
            n = SUITES.get(name).default_n
            if n_text:
                if not n_text.isdigit() or int(n_text) < 1:
                    raise ForgetlabError("positive")
                n = int(n_text)
            if n > 100:
                raise ForgetlabError("<= 100")
            if any(s.name == name for s in out):
                raise ForgetlabError("twice")
            out.append(Suite(name, n))
    return out


def outcome(fn, *args):  # type: ignore[no-untyped-def]
    try:
        return fn(*args)
    except ForgetlabError:
        return "error"


# ------------------------------------------------------------ examples from the docs

DOC_MODELS = [
    ("packaged:smollm2-135m-instruct", ("packaged", "smollm2-135m-instruct")),
    ("packaged:gemma-3-270m", ("packaged", "gemma-3-270m")),
    ("vllm:meta-llama/Llama-3.1-8B-Instruct", ("vllm", "meta-llama/Llama-3.1-8B-Instruct")),
    ("openai:M2", ("openai", "M2")),
    (
        "openai-completions:meta-llama/Llama-3.1-70B",
        ("openai-completions", "meta-llama/Llama-3.1-70B"),
    ),
    ("hf:runs/gemma-nonins/model", ("hf", "runs/gemma-nonins/model")),
    ("hf:meta-llama/Llama-3.2-1B", ("hf", "meta-llama/Llama-3.2-1B")),
    ("hf:./dir", ("hf", "./dir")),
    ("  hf:org/m  ", ("hf", "org/m")),
    ("openai:gpt-4o:2024-08-06", ("openai", "gpt-4o:2024-08-06")),  # later colons stay
    ("openai-completions:m@http://x", ("openai-completions", "m@http://x")),  # '@' is text
]


@pytest.mark.parametrize(("text", "expected"), DOC_MODELS)
def test_model_specs_from_the_docs(text: str, expected: tuple[str, str]) -> None:
    assert resolve_model_spec(text) == expected == old_model(text)


def test_bare_paths_and_kind_names_without_colon(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hf").mkdir()  # a directory named like a kind is a path
    (tmp_path / "m.gguf").write_bytes(b"")
    (tmp_path / "C:").mkdir()
    for text in ["hf", "m.gguf", str(tmp_path), "C:", "./hf"]:
        assert resolve_model_spec(text) == ("hf", text) == old_model(text)
    assert parse_model_spec("hf") == Spec("", "hf")
    for bad, needle in [("hf:", "names no model"), ("nope", "unknown model")]:
        with pytest.raises(ForgetlabError, match=needle) as info:
            resolve_model_spec(bad)
        assert "\n" not in str(info.value)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from([*KINDS, "org", "m", ":", "@", "/", ".", "-", " ", "x:y"]), max_size=6
    ).map("".join)
)
def test_model_grammar_matches_the_old_parser(text: str) -> None:
    assert outcome(resolve_model_spec, text) == outcome(old_model, text)


DOC_TRANSFORMS = [
    ("rot13", Spec("rot13")),
    ("leetspeak@payload", Spec("leetspeak", "", "payload")),
    ("apertium:eng-spa", Spec("apertium", "eng-spa")),
    ("pretranslated:fr@full", Spec("pretranslated", "fr", "full")),
    ("leetspeak:3", Spec("leetspeak", "3")),
]


@pytest.mark.parametrize(("text", "expected"), DOC_TRANSFORMS)
def test_transform_specs_from_the_docs(text: str, expected: Spec) -> None:
    parsed = parse_transform(text)
    assert parsed == expected and str(parsed) == text
    assert old_transform(text) == (parsed.kind, parsed.arg, parsed.scope)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from(["rot13", "apertium", "eng-spa", "payload", "full", ":", "@", "x"]),
        max_size=5,
    ).map("".join)
)
def test_transform_grammar_matches_the_old_parser(text: str) -> None:
    new = outcome(lambda t: (s := parse_transform(t)) and (s.kind, s.arg, s.scope), text)
    assert new == outcome(old_transform, text)


def test_transform_spec_errors_are_one_line() -> None:
    for bad, needle in [
        ("rot13@", "scope after '@' must be payload or full"),
        ("rot13@both", "scope after '@' must be payload or full"),
        ("rot99", "unknown transform 'rot99'.*did you mean 'rot13'"),
    ]:
        with pytest.raises(ForgetlabError, match=needle) as info:
            parse_transform(bad)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "text", ["substring", "llm:MODEL", "llm:packaged:smollm2-135m-instruct", "llm:hf:a/b"]
)
def test_judge_specs(text: str) -> None:
    parsed = parse_judge(text)
    assert (parsed.kind, parsed.arg) == old_judge(text)


@pytest.mark.parametrize(
    ("bad", "needle"),
    [("regex", "unknown judge 'regex'"), ("llm:", "names no model"), ("llm", "names no model")],
)
def test_bad_judge_specs(bad: str, needle: str) -> None:
    with pytest.raises(ForgetlabError, match=needle):
        parse_judge(bad)
    assert outcome(old_judge, bad) == "error"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["icl-vs-if", "harmful", ":", ",", "20", "0", "101", "x", " "]),
        max_size=6,
    ).map("".join)
)
def test_suite_grammar_matches_the_old_parser(text: str) -> None:
    assert outcome(parse_suites, [text]) == outcome(old_suites, [text])


def test_suite_specs_from_the_docs() -> None:
    assert parse_suites(["icl-vs-if:4,harmful:8"]) == [Suite("icl-vs-if", 4), Suite("harmful", 8)]
    assert parse_suites(["harmful:20", "icl-vs-if"]) == [
        Suite("harmful", 20),
        Suite("icl-vs-if", 10),
    ]
    with pytest.raises(ForgetlabError, match="positive integer"):
        parse_suites(["harmful:²"])  # a unicode digit is not a count (it used to crash)


def test_back_translator_specs() -> None:
    assert parse_back_translator(None) is None
    assert parse_back_translator("") is None and parse_back_translator("none") is None
    assert parse_back_translator("apertium") == Spec("apertium")
    assert parse_back_translator("hf:org/m") == Spec("model", "hf:org/m")
    assert parse_back_translator("packaged:gemma-3-270m") == Spec("model", "packaged:gemma-3-270m")
    with pytest.raises(ForgetlabError, match="takes no argument"):
        parse_back_translator("apertium:x")


def test_grammar_rules() -> None:
    g = Grammar("thing", lambda: ("a", "b", "n"), args={"a": "none", "n": "int"})
    assert grammar_parse("b:x:y/z", g) == Spec("b", "x:y/z")
    assert grammar_parse("n:7", g) == Spec("n", "7") and grammar_parse("n", g) == Spec("n")
    for bad, needle in [
        ("a:1", "thing 'a' takes no argument"),
        ("n:0", "N must be a positive integer"),
        ("n:-1", "N must be a positive integer"),
        ("c", r"unknown thing 'c' \(known: a, b, n\)"),
    ]:
        with pytest.raises(ForgetlabError, match=needle) as info:
            grammar_parse(bad, g)
        assert "\n" not in str(info.value)
