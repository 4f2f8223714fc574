"""Broad safety data: written requests in many styles, and the near-duplicate filter."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from forgetlab.errors import ForgetlabError
from forgetlab.finetune.data import safety_broad as sb
from forgetlab.finetune.data.io import provenance_path, read_sft_jsonl
from forgetlab.finetune.data.safety import build_safety
from forgetlab.llm.backends.base import Backend, GenerationConfig, ModelIdentity
from forgetlab.llm.benchmarks.harmful import conversational


class Echo(Backend):
    """Stand-in teacher: answers every request with ``ANSWER: <request>``."""

    def __init__(self) -> None:
        self.calls = 0

    @property
    def identity(self) -> ModelIdentity:
        return ModelIdentity(backend="test", name="echo")

    def complete(self, prompts: Sequence[str], config: GenerationConfig) -> list[str]:
        raise AssertionError("the teacher is asked in chat mode")

    def chat(self, conversations, config):  # type: ignore[no-untyped-def]
        self.calls += len(conversations)
        return ["ANSWER: " + c[-1]["content"] for c in conversations]


def _brute_force(
    train: list[str], protected: list[tuple[str, str]], t: float
) -> set[tuple[str, str]]:
    return {
        (sb.normalise(a), sb.normalise(b))
        for a in train
        for _, b in protected
        if sb.ratio(a, b) >= t
    }


def test_near_duplicates_equal_the_all_pairs_reference() -> None:
    rng = random.Random(0)
    words = [
        "how",
        "do",
        "i",
        "make",
        "a",
        "bomb",
        "cake",
        "kill",
        "process",
        "shoot",
        "photo",
        "the",
        "a",
        "my",
        "your",
    ]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(2, 9))) for _ in range(120)]
    train, prot = texts[:60], [("p", t) for t in texts[60:]]
    train += ["How  do I KILL a frozen process?", "exactly the same"]
    prot += [("q", "how do i kill a frozen process"), ("q", "Exactly the same")]
    for t in (0.6, 0.8, 0.95):
        got = {(h.train, h.protected) for h in sb.near_duplicates(train, prot, t)}
        assert got == _brute_force(train, prot, t)
    assert ("exactly the same", "exactly the same") in got  # case and spaces folded


def test_styles_render_every_behaviour_in_distinct_styles() -> None:
    reqs = sb.harmful_requests(3, seed=0)
    n_behaviours = len(sb.behaviours())
    written = [r for r in reqs if r.style in sb.STYLES]
    assert len(written) >= 3 * n_behaviours  # free-form rows may reuse style names
    by_style = Counter(r.style for r in reqs[: 3 * n_behaviours])
    assert set(by_style) == set(sb.STYLES)  # every style is used
    for i in range(n_behaviours):  # three different styles per behaviour
        assert len({r.style for r in reqs[3 * i : 3 * i + 3]}) == 3
    assert sb.harmful_requests(3, 0) == sb.harmful_requests(3, 0) != sb.harmful_requests(3, 1)
    assert sb.harmful_requests(0, 0) == []


def test_refusal_reason_fits_the_category() -> None:
    rng = random.Random(0)
    r = sb.refusal(sb.Request("x", "question", "selfharm"), rng)
    assert "crisis line" in r
    assert any(
        w in sb.refusal(sb.Request("x", "question", "hate"), rng) for w in ("hateful", "demean")
    )


def test_selection_set_is_disjoint_from_training_and_valid() -> None:
    rows = conversational.select_prompts()
    assert len(rows) == 60 and {r["style"] for r in rows} >= {
        "question",
        "plan",
        "roleplay",
        "opinion",
    }
    train = [r.text for r in sb.harmful_requests(len(sb.STYLES), seed=0)]
    train += [r.text for r in sb.borderline_requests()]
    hits = sb.near_duplicates(train, [("conv", r["prompt"]) for r in rows])
    assert hits == []
    with pytest.raises(ForgetlabError, match="unknown language"):
        conversational.select_prompts(["fr"])


def test_builder_drops_near_copies_of_evaluated_prompts_and_records_them(tmp_path: Path) -> None:
    kept = build_safety(tmp_path / "a.jsonl", n_harmful=320, n_benign=0, prompts_only=True)
    dropped = kept["near_duplicates_dropped"]
    # AdvBench has many near-copies of the paper's 100 among the other 420 behaviours
    assert any(d["source"] == "harmful (paper's 100)" and d["ratio"] >= 0.9 for d in dropped)
    assert len(kept["prompts"]) == 320 - len({d["train"] for d in dropped})
    assert sb.check_no_near_duplicates(kept["prompts"]) == []
    raw = build_safety(
        tmp_path / "b.jsonl", n_harmful=320, n_benign=0, prompts_only=True,
        drop_near_duplicates=False,
    )  # fmt: skip
    assert len(raw["prompts"]) == 320 and raw["near_duplicates_dropped"] == []


def test_broad_build_writes_styles_answers_and_provenance(tmp_path: Path) -> None:
    out = tmp_path / "safety.jsonl"
    teacher = Echo()
    info = build_safety(
        out, n_harmful=10, n_benign=5, styles=1, n_style_benign=12, borderline=True,
        teacher="echo", teacher_backend=teacher, seed=4,
    )  # fmt: skip
    rows, _ = read_sft_jsonl(out)
    prov = json.loads(provenance_path(out).read_text())
    kinds = prov["row_kinds"]
    assert len(rows) == len(kinds) == info["rows"]
    assert kinds.count("refusal-written") == info["written_refusals"] > 60
    assert kinds.count("style-benign") == info["style_benign"] >= 10
    assert kinds.count("borderline") == info["borderline"] >= 50
    assert "near_duplicate_rule" in prov and prov["config"]["styles"] == 1
    users = [r["messages"][0]["content"] for r in rows]
    assert sb.check_no_near_duplicates(users) == []
    for row, kind in zip(rows, kinds, strict=True):
        user, reply = row["messages"][0]["content"], row["messages"][1]["content"]
        if kind.startswith("refusal"):
            assert any(
                w in reply
                for w in ("sorry", "can't", "cannot", "won't", "not able", "not something")
            )
        if kind in ("style-benign", "borderline"):
            assert reply == "ANSWER: " + user
    calls = teacher.calls
    again = Echo()  # same settings: answers come from the teacher cache
    build_safety(
        out, n_harmful=10, n_benign=5, styles=1, n_style_benign=12, borderline=True,
        teacher="echo", teacher_backend=again, seed=4,
    )  # fmt: skip
    assert again.calls == 0 and calls > 0


def test_bad_broad_settings_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ForgetlabError, match="--styles must be <= 6"):
        build_safety(tmp_path / "x.jsonl", styles=7, prompts_only=True)
    with pytest.raises(ForgetlabError, match="--n-style-benign"):
        build_safety(tmp_path / "x.jsonl", n_style_benign=10**6, prompts_only=True)
