"""Non-instructional data for the recipe study: teacher vs true-second-half variants, the
contamination check against the evaluation prompts (planted overlaps), licences and errors."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from forgetlab.cli import main
from forgetlab.errors import ForgetlabError
from forgetlab.finetune.data.contamination import (
    NgramIndex,
    check_texts,
    evaluation_index,
    evaluation_prompts,
)
from forgetlab.finetune.data.io import provenance_path, read_sft_jsonl
from forgetlab.finetune.data.nonins import build_nonins
from forgetlab.llm.backends.base import Backend, GenerationConfig, ModelIdentity
from forgetlab.llm.benchmarks.ifeval import load_prompts


class Parrot(Backend):
    """A teacher that answers every request with ``reply``."""

    def __init__(self, reply: str) -> None:
        self.reply = reply

    @property
    def identity(self) -> ModelIdentity:
        return ModelIdentity(backend="fake", name="parrot")

    def complete(self, prompts: Sequence[str], config: GenerationConfig) -> list[str]:
        return [self.reply for _ in prompts]

    def chat(self, conversations: Any, config: GenerationConfig) -> list[str]:
        return [self.reply for _ in conversations]


def corpus(tmp_path: Path, extra: str = "") -> Path:
    paras = [" ".join(f"w{i}x{j}" for j in range(30 + i)) for i in range(8)]
    path = tmp_path / "corpus.txt"
    path.write_text("\n\n".join([*paras, extra]) + "\n", encoding="utf-8")
    return path


def test_evaluation_index_covers_both_benchmarks() -> None:
    prompts = evaluation_prompts()
    assert sum(b == "ifeval" for b, _, _ in prompts) == len(load_prompts()[0])
    assert sum(b == "icl-vs-if" for b, _, _ in prompts) == 2800
    index = evaluation_index()
    assert index.n == 8 and index.prompts == len(prompts)
    # a pool sentence of the ICL-vs-IF prompts, inside ordinary text, is found
    hit = index.find("As the saying goes, people generally approve of dogs eating cat food.")
    assert hit is not None and hit.benchmark == "icl-vs-if"
    assert index.find("The licence permits copying and distribution of verbatim copies.") is None


def test_ngram_index_rules() -> None:
    index = NgramIndex(
        [("b", 0, "Short one here.\nAlpha beta gamma delta epsilon zeta eta theta iota.")], n=8
    )
    assert (
        index.find("so: SHORT one HERE, said she") == index.find("short one here") is None
    )  # 3 words
    assert index.find("x beta gamma delta epsilon zeta eta theta iota y") is not None  # an 8-gram
    assert index.find("alpha beta gamma delta epsilon zeta eta x theta") is None
    four = NgramIndex([("b", 3, "Please respond in English.")], n=8)
    hit = four.find("and then please respond in english, thanks")
    assert hit is not None and (hit.benchmark, hit.prompt_index) == ("b", 3)
    with pytest.raises(
        ForgetlabError, match="row 2 shares 'please respond in english' with b prompt 3"
    ):
        check_texts(["fine text", "Please respond in English!"], four)
    with pytest.raises(ForgetlabError, match=">= 4"):
        NgramIndex([], n=3)


def test_true_half_is_the_same_passages_as_the_teacher_variant(tmp_path: Path) -> None:
    src = corpus(tmp_path)
    t = build_nonins(
        tmp_path / "t.jsonl", corpus=src, n=5, teacher="parrot",
        teacher_backend=Parrot("and so the story goes on."), min_words=10,
    )  # fmt: skip
    h = build_nonins(tmp_path / "h.jsonl", corpus=src, n=5, true_half=True, min_words=10)
    assert (t["variant"], h["variant"]) == ("teacher", "true-half")
    teacher_rows, _ = read_sft_jsonl(tmp_path / "t.jsonl")
    half_rows, _ = read_sft_jsonl(tmp_path / "h.jsonl")
    assert [r["prompt"] for r in teacher_rows] == [r["prompt"] for r in half_rows]
    assert {r["completion"] for r in teacher_rows} == {" and so the story goes on."}
    assert all(r["completion"] != " and so the story goes on." for r in half_rows)
    side = json.loads(provenance_path(tmp_path / "h.jsonl").read_text())
    assert side["config"]["variant"] == "true-half" and side["config"]["teacher"] == "none"
    assert side["corpus_licences"] == {str(src): "not known to forgetlab: check the source's terms"}
    assert side["contamination_check"]["texts"] == 5
    assert side["contamination_check"]["prompts"] == len(evaluation_prompts())


def test_planted_overlap_in_the_corpus_fails_and_writes_nothing(tmp_path: Path) -> None:
    planted = load_prompts()[0][3].prompt  # an instruction-following prompt, pasted into a text
    src = corpus(tmp_path, extra=planted + " " + " ".join(f"pad{j}" for j in range(30)))
    out = tmp_path / "c.jsonl"
    with pytest.raises(
        ForgetlabError, match=r"contamination check failed: row \d+ shares .* ifeval prompt 3"
    ):
        build_nonins(out, corpus=src, n=9, true_half=True, min_words=10)
    assert not out.exists() and not provenance_path(out).exists()


def test_planted_overlap_from_the_teacher_fails(tmp_path: Path) -> None:
    leaky = Parrot(
        "Repeat the input. Input: The busker hoped that the people passing by would throw money"
    )
    out = tmp_path / "t.jsonl"
    with pytest.raises(ForgetlabError, match="icl-vs-if prompt"):
        build_nonins(
            out, corpus=corpus(tmp_path), n=3, teacher="leaky", teacher_backend=leaky, min_words=10
        )
    assert not out.exists()


def test_short_empty_and_missing_sources_are_one_line(tmp_path: Path) -> None:
    src = corpus(tmp_path)
    with pytest.raises(ForgetlabError, match="only 8 passages"):
        build_nonins(tmp_path / "x.jsonl", corpus=src, n=20, true_half=True, min_words=10)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ForgetlabError, match="holds no readable text"):
        build_nonins(tmp_path / "x.jsonl", corpus=empty, true_half=True)
    short = tmp_path / "short.txt"
    short.write_text("a few words only\n\nand here too\n", encoding="utf-8")
    with pytest.raises(ForgetlabError, match=">= 24 words"):
        build_nonins(tmp_path / "x.jsonl", corpus=short, true_half=True)
    assert not (tmp_path / "x.jsonl").exists()


def test_teacher_that_does_not_load_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import forgetlab.llm.backends as backends_pkg

    def broken(spec: str, **kw: Any) -> Backend:
        raise OSError(f"{spec}: config.json is missing\n(details)")

    monkeypatch.setattr(backends_pkg, "load_backend", broken)
    src = corpus(tmp_path)
    with pytest.raises(
        ForgetlabError, match=r"teacher 'hf:/nowhere' did not load: hf:/nowhere: config\.json"
    ):
        build_nonins(tmp_path / "x.jsonl", corpus=src, n=2, teacher="hf:/nowhere", min_words=10)
    code = 0
    try:
        main(["finetune", "data", "nonins", "--out", str(tmp_path / "y.jsonl"), "--corpus", str(src),
              "--n", "2", "--teacher", "hf:/nowhere"])  # fmt: skip
    except SystemExit as exc:
        code = int(exc.code or 0)
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "did not load" in err
    assert not (tmp_path / "y.jsonl").exists()


def test_cli_two_corpora_true_half_and_contamination_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    corpus(a)
    pads = " ".join(f"pad{j}" for j in range(20))
    corpus(
        b,
        extra=f"People generally approve of dogs eating cat food but not cats eating dog food, {pads}",
    )

    def run(*extra: str) -> int:
        try:
            main(
                [
                    "finetune",
                    "data",
                    "nonins",
                    "--true-half",
                    "--corpus",
                    str(a / "corpus.txt"),
                    *extra,
                ]
            )
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0

    assert run("--n", "4", "--out", str(tmp_path / "ok.jsonl")) == 0
    assert json.loads(capsys.readouterr().out)["variant"] == "true-half"
    code = run("--corpus", str(b / "corpus.txt"), "--n", "17", "--out", str(tmp_path / "bad.jsonl"))
    err = capsys.readouterr().err.strip()
    assert code == 2 and "contamination check failed" in err and "\n" not in err
    assert not (tmp_path / "bad.jsonl").exists()


def test_teacher_with_only_empty_continuations_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "e.jsonl"
    with pytest.raises(ForgetlabError, match="empty continuation for all 3 passages"):
        build_nonins(
            out,
            corpus=corpus(tmp_path),
            n=3,
            teacher="mute",
            teacher_backend=Parrot("  "),
            min_words=10,
        )
    assert not out.exists()
