"""Judges: refusal substrings, LLM-judge parsing and failure handling, Cohen's kappa."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from forgetlab.errors import ForgetlabError
from forgetlab.llm.backends.base import Backend, GenerationConfig, Message, ModelIdentity
from forgetlab.llm.judges import (
    ADVBENCH_TEST_PREFIXES,
    AMBIGUOUS,
    ANSWER,
    JUDGE_ERROR,
    REFUSE,
    Judge,
    LLMJudge,
    SubstringJudge,
    Verdict,
    agreement,
    build_judge,
    cohen_kappa,
    parse_judge_output,
    safe_judge,
)


class ScriptedBackend(Backend):
    """Replies with ``reply(user_message)``; records prompts."""

    def __init__(self, reply, fail: bool = False) -> None:  # type: ignore[no-untyped-def]
        self.reply = reply
        self.fail = fail
        self.seen: list[str] = []

    @property
    def identity(self) -> ModelIdentity:
        return ModelIdentity(backend="scripted", name="judge-model")

    def complete(self, prompts: Sequence[str], config: GenerationConfig) -> list[str]:
        raise NotImplementedError

    def chat(
        self, conversations: Sequence[Sequence[Message]], config: GenerationConfig
    ) -> list[str]:
        if self.fail:
            raise ConnectionError("judge API down")
        msgs = [c[-1]["content"] for c in conversations]
        self.seen.extend(msgs)
        return [self.reply(m) for m in msgs]


def test_substring_judge() -> None:
    j = SubstringJudge()
    assert j.judge_one("I'm sorry, but I can't help with that.").label == REFUSE
    assert j.judge_one("I’m sorry, no.").label == REFUSE  # typographic apostrophe
    assert j.judge_one("Sure! Step 1: gather materials.").label == ANSWER
    assert (
        j.judge_one("Step 1 ... note this is illegal in most places").label == REFUSE
    )  # known weakness
    assert j.judge_one("i'm sorry").label == ANSWER  # the original check is case-sensitive
    assert j.judge_one("  \n").label == AMBIGUOUS
    assert len(ADVBENCH_TEST_PREFIXES) == 29 and len(set(ADVBENCH_TEST_PREFIXES)) == 29
    # every listed string triggers REFUSE on its own
    assert all(j.judge_one(f"xx {p} yy").label == REFUSE for p in ADVBENCH_TEST_PREFIXES)
    assert j.identity()["n_prefixes"] == 29


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("LABEL: REFUSE", REFUSE),
        ("label: answer", ANSWER),
        ("**Label:** AMBIGUOUS\nbecause it is gibberish", AMBIGUOUS),
        ("REFUSE", REFUSE),
        ("The assistant refused.", REFUSE),
        ("ANSWER. The response gives steps.", ANSWER),
        ("LABEL: ANSWER (it did not REFUSE)", ANSWER),
        ("I think REFUSE or ANSWER", JUDGE_ERROR),
        ("banana", JUDGE_ERROR),
        ("", JUDGE_ERROR),
        ("LABEL: maybe", JUDGE_ERROR),
    ],
)
def test_parse_judge_output(text: str, label: str) -> None:
    assert parse_judge_output(text).label == label


def test_llm_judge_uses_rubric_and_parses() -> None:
    def reply(msg: str) -> str:
        if "I cannot" in msg:
            return "LABEL: REFUSE"
        if "Step 1" in msg:
            return "LABEL: ANSWER"
        return "no idea what to say"

    backend = ScriptedBackend(reply)
    judge = LLMJudge(backend, spec="scripted", batch_size=2)
    verdicts = judge.judge(["req a", "req b", "req c"], ["I cannot help.", "Step 1: do it", "blah"])
    assert [v.label for v in verdicts] == [REFUSE, ANSWER, JUDGE_ERROR]
    assert "req a" in backend.seen[0] and "I cannot help." in backend.seen[0]
    assert "REFUSE" in backend.seen[0] and "AMBIGUOUS" in backend.seen[0]
    ident = judge.identity()
    assert ident["name"] == "llm:scripted" and ident["model"]["name"] == "judge-model"
    assert ident["generation"]["temperature"] == 0.0


def test_failing_judge_is_judge_error_never_answer() -> None:
    judge = LLMJudge(ScriptedBackend(lambda m: "", fail=True))
    out = safe_judge(judge, ["p1", "p2"], ["r1", "r2"])
    assert [v.label for v in out] == [JUDGE_ERROR, JUDGE_ERROR]
    assert "judge failed: ConnectionError" in out[0].detail

    class Short(Judge):
        def identity(self) -> dict[str, object]:
            return {"name": "short"}

        def judge(self, prompts: Sequence[str], responses: Sequence[str]) -> list[Verdict]:
            return [Verdict(ANSWER)]

    class Weird(Short):
        def judge(self, prompts: Sequence[str], responses: Sequence[str]) -> list[Verdict]:
            return [Verdict("YES")] * len(prompts)

    assert [v.label for v in safe_judge(Short(), ["a", "b"], ["x", "y"])] == [JUDGE_ERROR] * 2
    assert [v.label for v in safe_judge(Weird(), ["a"], ["x"])] == [JUDGE_ERROR]


def test_build_judge() -> None:
    assert isinstance(build_judge("substring"), SubstringJudge)
    judge = build_judge("llm:m1", load_backend=lambda spec: ScriptedBackend(lambda m: spec))
    assert isinstance(judge, LLMJudge) and judge.spec == "m1"
    with pytest.raises(ForgetlabError):
        build_judge("regex")
    with pytest.raises(ForgetlabError):
        build_judge("llm:")


def test_cohen_kappa_hand_computed_two_by_two() -> None:
    # 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15.
    # p_o = 35/50 = 0.7; rater A says yes 25/50, rater B 30/50;
    # p_e = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = (0.7-0.5)/(1-0.5) = 0.4
    a = ["y"] * 20 + ["y"] * 5 + ["n"] * 10 + ["n"] * 15
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_cohen_kappa_three_labels_and_edges() -> None:
    # 10 items. A: R R R R A A A M M M ; B: R R R A A A M M M R
    # agree on items 1-3 (R), 5-6 (A), 8-9 (M): p_o = 7/10.
    # marginals A: R4 A3 M3; B: R4 A3 M3 -> p_e = (16+9+9)/100 = 0.34
    # kappa = (0.7-0.34)/0.66 = 0.5454...
    a = list("RRRRAAAMMM")
    b = list("RRRAAAMMMR")
    assert cohen_kappa(a, b) == pytest.approx(0.36 / 0.66)
    assert cohen_kappa(a, a) == pytest.approx(1.0)
    assert math.isnan(cohen_kappa(["R"] * 4, ["R"] * 4))  # p_e = 1: undefined
    assert cohen_kappa(["R", "A"], ["A", "R"]) == pytest.approx(-1.0)
    with pytest.raises(ValueError):
        cohen_kappa(["R"], [])


def test_agreement_on_common_ids_skips_judge_errors() -> None:
    a = {"1": REFUSE, "2": ANSWER, "3": ANSWER, "4": JUDGE_ERROR, "5": REFUSE}
    b = {"1": REFUSE, "2": REFUSE, "3": ANSWER, "4": ANSWER, "6": ANSWER}
    res = agreement(a, b)
    assert res["n"] == 3 and res["skipped_judge_error"] == 1
    assert res["only_a"] == 1 and res["only_b"] == 1
    assert res["observed_agreement"] == pytest.approx(2 / 3)
    # A: R1 A2, B: R2 A1 -> p_e = (1*2 + 2*1)/9 = 4/9; kappa = (6/9-4/9)/(5/9) = 0.4
    assert res["cohen_kappa"] == pytest.approx(0.4)
    assert res["confusion"][ANSWER][REFUSE] == 1
