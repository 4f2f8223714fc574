"""The task-inference classification of ICL-vs-IF outputs, on hand-made cases."""

from __future__ import annotations

import pytest

from forgetlab.llm.benchmarks.task_inference import classify, paired_shift, shares, summarise_roles


@pytest.mark.parametrize(
    ("output", "icl_answer", "if_task", "kind"),
    [
        # math queries: the pattern's answer, any integer, or neither
        (" WHAT IS 19", " WHAT", "math", "icl"),
        ("WHAT", " WHAT", "math", "icl"),
        (" What is 19 plus 4?", " What", "math", "icl"),
        (" 23", " WHAT", "math", "if"),
        (" 20", " WHAT", "math", "if"),  # a wrong sum is still an attempt at the instruction
        (" 19 + 4 = 23", " WHAT", "math", "if"),
        ("\n-4", " WHAT", "math", "if"),
        (" +7", " WHAT", "math", "if"),
        (" Wh47 15", " Wh47", "math", "icl"),
        (" 136", " Wh47", "math", "if"),
        (" what is 19 plus 4", " WHAT", "math", "other"),  # neither the pattern nor a number
        (" The answer is 23", " WHAT", "math", "other"),
        (" a1", " WHAT", "math", "other"),  # a letter before the digit is not an integer
        ("", " WHAT", "math", "other"),
        (" ?", " WHAT", "math", "other"),
        # startblank queries: the underscores (pattern), a word (attempt), or neither
        (" ____ BUSKER", " ____", "startblank", "icl"),
        (" \\_\\_\\_\\_ busker", " ____", "startblank", "icl"),  # markdown-escaped blanks
        (" The", " ____", "startblank", "if"),
        (" 7h3 bu5k3r", " ____", "startblank", "if"),
        (" ___ BUSKER", " ____", "startblank", "other"),  # wrong number of underscores
        (" _The", " ____", "startblank", "other"),
        (" ...", " ____", "startblank", "other"),
        ("   ", " ____", "startblank", "other"),
    ],
)
def test_classify_hand_made_cases(output: str, icl_answer: str, if_task: str, kind: str) -> None:
    assert classify(output, icl_answer, if_task) == kind


def test_classify_rejects_unknown_task() -> None:
    with pytest.raises(ValueError, match="unknown IF task"):
        classify(" x", " X", "translate")


def test_shares_counts_and_wilson() -> None:
    s = shares(["icl", "icl", "if", "other"])
    assert s["n"] == 4
    assert s["icl"]["count"] == 2 and s["icl"]["share"] == 0.5
    lo, hi = s["if"]["wilson95"]
    assert 0 < lo < 0.25 < hi < 1
    assert shares([])["icl"]["share"] is None


def test_paired_shift_and_summary_by_condition() -> None:
    base = {"a": "icl", "b": "icl", "c": "if", "d": "other"}
    tuned = {"a": "if", "b": "icl", "c": "if", "d": "if"}
    shift = paired_shift(base, tuned, key="en")
    assert shift["icl"]["change"] == pytest.approx(-0.25)
    assert shift["if"]["change"] == pytest.approx(0.5)
    assert shift["if"]["only_b"] == 2 and shift["if"]["only_a"] == 0
    rows = [
        {"role": role, "condition": "en", "task_key": k, "inferred": v}
        for role, d in (("base", base), ("tuned", tuned))
        for k, v in d.items()
    ]
    out = summarise_roles(rows)
    assert out["en"]["base"]["icl"]["count"] == 2 and out["en"]["tuned"]["if"]["count"] == 3
    assert out["en"]["shift"]["if"]["change"] == pytest.approx(0.5)
