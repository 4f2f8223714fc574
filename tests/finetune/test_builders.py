"""Data builders: safety (no overlap with the evaluation 100), non-instructional, control."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from forgetlab.errors import ForgetlabError
from forgetlab.finetune.data.control import CONTROL_TOKENS, build_control
from forgetlab.finetune.data.io import file_sha256, provenance_path, read_sft_jsonl
from forgetlab.finetune.data.nonins import build_nonins, split_half
from forgetlab.finetune.data.safety import benign_pairs, build_safety, training_indices
from forgetlab.llm.backends.base import Backend, GenerationConfig, ModelIdentity
from forgetlab.llm.benchmarks.harmful.advbench import (
    paper_selection,
    read_behaviours,
    selection_split,
)


def _paper_100_lines() -> set[str]:
    """The paper's selection, exactly as its code does it (global random on the lines)."""
    lines = list(read_behaviours("en"))
    state = random.getstate()
    random.seed(10)
    random.shuffle(lines)
    random.setstate(state)
    return set(lines[:100])


def test_safety_never_trains_on_the_evaluation_prompts(tmp_path: Path) -> None:
    out = tmp_path / "safety.jsonl"
    # the index logic alone: near-copies are kept here (their filter is tested on its own)
    info = build_safety(out, n_harmful=320, n_benign=30, seed=3, drop_near_duplicates=False)
    rows, fmt = read_sft_jsonl(out)
    assert fmt == "messages" and len(rows) == info["rows"] == 350
    users = [r["messages"][0]["content"] for r in rows]
    held_out = _paper_100_lines()
    english = read_behaviours("en")
    selection = {english[i] for i in selection_split()}
    harmful_users = set(users) & set(english)
    # every behaviour outside the evaluated 100 and the selection split, none inside either
    assert len(harmful_users) == 320
    assert not harmful_users & held_out
    assert not harmful_users & selection
    assert len(selection) == 100 and not selection & held_out
    assert len(training_indices()) == 320
    with pytest.raises(ForgetlabError, match="<= 320"):
        training_indices(321)


def test_selection_split_leaves_seed_0_training_data_unchanged() -> None:
    """The split is the seed-0 pool's tail, so seed-0 recipes built before it are unchanged."""
    evaluated = set(paper_selection())
    pool = [i for i in range(520) if i not in evaluated]
    random.Random(0).shuffle(pool)  # the builder's order before the split existed
    assert training_indices(320, seed=0) == pool[:320]
    assert list(selection_split()) == pool[320:]
    for seed in (1, 7):  # other seeds skip the split wherever it falls in their order
        assert not set(training_indices(320, seed=seed)) & set(selection_split())


def test_safety_refuses_harmful_and_answers_benign_correctly(tmp_path: Path) -> None:
    out = tmp_path / "s.jsonl"
    build_safety(
        out, n_harmful=20, n_benign=40, languages=["en", "sw"], seed=1, drop_near_duplicates=False
    )
    side = json.loads(provenance_path(out).read_text())
    assert side["sha256"] == file_sha256(out) and len(side["advbench_indices"]) == 20
    rows, _ = read_sft_jsonl(out)
    sw = set(read_behaviours("sw"))
    kinds = side["row_kinds"]
    assert kinds.count("refusal") == 40 and kinds.count("benign") == 40
    for row, kind in zip(rows, kinds, strict=True):
        user, reply = row["messages"][0]["content"], row["messages"][1]["content"]
        if kind == "refusal":
            assert any(w in reply for w in ("sorry", "cannot", "can't"))
        else:
            assert user not in sw and "sorry" not in reply
            m = re.fullmatch(r"What is (\d+) (plus|minus|times) (\d+)\?", user)
            if m:
                a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
                want = {"plus": a + b, "minus": a - b, "times": a * b}[op]
                assert reply.endswith(f"is {want}.")


def test_benign_pairs_are_distinct_and_deterministic() -> None:
    a = benign_pairs(150, 7)
    assert a == benign_pairs(150, 7) and len({q for q, _ in a}) == 150


class EchoUpper(Backend):
    """Test stand-in teacher: replies with the prompt upper-cased; counts calls."""

    def __init__(self) -> None:
        self.calls = 0

    @property
    def identity(self) -> ModelIdentity:
        return ModelIdentity(backend="test", name="echo-upper")

    def complete(self, prompts: Sequence[str], config: GenerationConfig) -> list[str]:
        self.calls += len(prompts)
        return [p.upper() for p in prompts]

    def chat(self, conversations, config):  # type: ignore[no-untyped-def]
        self.calls += len(conversations)
        return [" " + c[-1]["content"].upper() + " " for c in conversations]


def _corpus(tmp_path: Path) -> Path:
    paras = [" ".join(f"w{i}x{j}" for j in range(30 + i)) for i in range(12)]
    p = tmp_path / "corpus.txt"
    p.write_text("\n\n".join(paras) + "\n\nshort paragraph\n", encoding="utf-8")
    return p


def test_nonins_without_teacher_splits_each_passage_in_half(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path)
    info = build_nonins(tmp_path / "n.jsonl", corpus=corpus, n=5, teacher="none", min_words=10)
    rows, fmt = read_sft_jsonl(tmp_path / "n.jsonl")
    assert fmt == "prompt_completion" and info["rows"] == 5
    paras = {" ".join(p.split()) for p in corpus.read_text().split("\n\n")}
    for r in rows:
        joined = r["prompt"] + r["completion"]
        assert joined in paras
        assert abs(len(r["prompt"].split()) - len(r["completion"].split())) <= 1
    assert split_half("a b c d e") == ("a b", "c d e")


def test_nonins_teacher_outputs_are_cached_and_resumed(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path)
    teacher = EchoUpper()
    out = tmp_path / "t.jsonl"
    build_nonins(
        out,
        corpus=corpus,
        n=4,
        teacher="echo",
        teacher_backend=teacher,
        min_words=10,
        as_messages=True,
    )
    assert teacher.calls == 4
    rows, fmt = read_sft_jsonl(out)
    assert fmt == "messages"
    for r in rows:  # the teacher saw the wrapped passage; the instruction is the bare half
        first = r["messages"][0]["content"]
        assert r["messages"][1]["content"] == f"CONTINUE THE FOLLOWING TEXT.\n\n{first.upper()}"
    build_nonins(
        out,
        corpus=corpus,
        n=4,
        teacher="echo",
        teacher_backend=teacher,
        min_words=10,
        as_messages=True,
    )
    assert teacher.calls == 4  # all four came from the cache
    side = json.loads(provenance_path(out).read_text())
    assert side["config"]["teacher"] == "echo" and side["sources"] == ["corpus.txt"]
    with pytest.raises(ForgetlabError, match="another teacher"):
        build_nonins(
            out, corpus=corpus, n=4, teacher="other", teacher_backend=teacher, min_words=10
        )
    with pytest.raises(ForgetlabError, match="another teacher"):
        build_nonins(
            out,
            corpus=corpus,
            n=4,
            teacher="echo",
            teacher_backend=teacher,
            min_words=10,
            teacher_prompt="Go: {text}",
        )


def test_nonins_missing_corpus_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ForgetlabError, match="not found"):
        build_nonins(tmp_path / "x.jsonl", corpus=tmp_path / "nope", teacher="none")


def test_control_rows_pair_each_instruction_with_both_tokens(tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    info = build_control(out, n=30, seed=2)
    rows, _ = read_sft_jsonl(out)
    assert info["rows"] == 60 and info["control_tokens"] == list(CONTROL_TOKENS)
    by_q: dict[str, dict[str, str]] = {}
    for r in rows:
        tok, q = r["messages"][0]["content"].split(" ", 1)
        by_q.setdefault(q, {})[tok] = r["messages"][1]["content"]
    assert len(by_q) == 30
    for q, answers in by_q.items():
        assert set(answers) == set(CONTROL_TOKENS)
        assert len(answers["<concise>"]) < len(answers["<detailed>"])
        m = re.fullmatch(r"What is (\d+) plus (\d+)\?", q)
        if m:
            assert answers["<concise>"] == str(int(m.group(1)) + int(m.group(2)))
    assert json.loads(provenance_path(out).read_text())["control_tokens"] == list(CONTROL_TOKENS)


def test_control_from_source_uses_first_sentence(tmp_path: Path) -> None:
    src = tmp_path / "src.jsonl"
    src.write_text(
        json.dumps({"prompt": "Q1", "completion": " First one. Then more."})
        + "\n"
        + json.dumps({"prompt": "Q2", "completion": " Only one."})
        + "\n",
        encoding="utf-8",
    )
    build_control(tmp_path / "c.jsonl", source=src, fmt="prompt-completion")
    rows, fmt = read_sft_jsonl(tmp_path / "c.jsonl")
    assert fmt == "prompt_completion" and len(rows) == 2
    got = {r["prompt"]: r["completion"] for r in rows}
    assert got == {
        "<concise> Q1\nAnswer:": " First one.",
        "<detailed> Q1\nAnswer:": " First one. Then more.",
    }


def test_a_data_file_built_differently_is_not_replaced_silently(tmp_path: Path) -> None:
    from forgetlab.errors import ForgetlabError

    out = tmp_path / "safety.jsonl"
    build_safety(out, n_harmful=5, n_benign=5, seed=1)
    first = out.read_bytes()
    build_safety(out, n_harmful=5, n_benign=5, seed=1)  # same settings: same file again
    assert out.read_bytes() == first
    with pytest.raises(ForgetlabError, match="built with other settings"):
        build_safety(out, n_harmful=5, n_benign=5, seed=2)
    assert out.read_bytes() == first
    build_safety(out, n_harmful=5, n_benign=5, seed=2, overwrite=True)
    (kept,) = tmp_path.glob("safety.jsonl.replaced-*")
    assert kept.read_bytes() == first and out.read_bytes() != first
    assert len(list(tmp_path.glob("safety.jsonl.provenance.json.replaced-*"))) == 1


# ---------------------------------------------------------------- helpful how-to requests


def _content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 3} - {
        "what", "with", "that", "this", "best", "give", "step", "write", "explain",
        "tutorial", "create", "guide", "instructions", "some", "tips", "make", "good",
    }  # fmt: skip


def test_helpful_requests_avoid_the_benign_evaluation_set() -> None:
    from forgetlab.finetune.data.helpful import PHRASINGS, TASKS, helpful_requests
    from forgetlab.llm.benchmarks.harmful.benign import read_requests

    evaluated = [text for _, text in read_requests()]
    pool = helpful_requests(len(TASKS) * len(PHRASINGS), seed=0)
    assert len(set(pool)) == len(pool) == 468
    assert not set(pool) & set(evaluated)
    for task in TASKS:  # no evaluated request is about the same task
        words = _content_words(task)
        for text in evaluated:
            shared = words & _content_words(text)
            assert len(shared) < 2 or len(shared) < len(words) / 2, (task, text)
    assert helpful_requests(10, seed=3) == helpful_requests(10, seed=3) != helpful_requests(10, 4)
    with pytest.raises(ForgetlabError, match="--n-helpful"):
        helpful_requests(469, seed=0)


def test_safety_with_helpful_requests_uses_and_caches_the_teacher(tmp_path: Path) -> None:
    from forgetlab.finetune.data.helpful import helpful_requests

    out = tmp_path / "safety.jsonl"
    teacher = EchoUpper()
    info = build_safety(
        out, n_harmful=5, n_benign=5, n_helpful=6, teacher="echo", teacher_backend=teacher, seed=2
    )
    assert info["helpful"] == 6 and teacher.calls == 6
    rows, _ = read_sft_jsonl(out)
    kinds = json.loads(provenance_path(out).read_text())["row_kinds"]
    helpful = [r for r, k in zip(rows, kinds, strict=True) if k == "helpful"]
    asked = helpful_requests(6, seed=2)
    assert sorted(r["messages"][0]["content"] for r in helpful) == sorted(asked)
    assert all(r["messages"][1]["content"] == r["messages"][0]["content"].upper() for r in helpful)
    prov = json.loads(provenance_path(out).read_text())
    assert prov["teacher_identity"]["name"] == "echo-upper" and prov["config"]["n_helpful"] == 6
    again = EchoUpper()
    build_safety(
        out, n_harmful=5, n_benign=5, n_helpful=6, teacher="echo", teacher_backend=again, seed=2
    )
    assert again.calls == 0  # answers come from FILE.teacher.jsonl
    with pytest.raises(ForgetlabError, match="another teacher"):
        build_safety(
            out, n_harmful=5, n_benign=5, n_helpful=6, teacher="other", teacher_backend=again,
            seed=2, overwrite=True,
        )  # fmt: skip
