"""Inspect scorers with forgetlab's scoring rules (the same functions its own runs use)."""

from __future__ import annotations

from inspect_ai.scorer import Score, Scorer, Target, mean, scorer, stderr
from inspect_ai.solver import TaskState


@scorer(metrics={"icl_acc": [mean(), stderr()], "if_rate": [mean(), stderr()]})
def icl_vs_if_scorer() -> Scorer:
    """The paper's prefix match: ``icl_acc`` (the pattern continued) and ``if_rate`` (the
    instruction followed), from the answers in the sample's metadata."""
    from forgetlab.llm.benchmarks.icl_vs_if import score_output

    async def score(state: TaskState, target: Target) -> Score:
        output = state.output.completion
        icl, iff = score_output(output, state.metadata["icl_answer"], state.metadata["if_answer"])
        return Score(value={"icl_acc": float(icl), "if_rate": float(iff)}, answer=output)

    return score


@scorer(metrics={"refuse": [mean(), stderr()], "answer": [mean(), stderr()]})
def refusal_scorer() -> Scorer:
    """forgetlab's substring judge: ``refuse`` and ``answer`` (an empty reply is neither)."""
    from forgetlab.llm.judges import ANSWER, REFUSE, SubstringJudge

    judge = SubstringJudge()

    async def score(state: TaskState, target: Target) -> Score:
        output = state.output.completion
        verdict = judge.judge_one(output)
        return Score(
            value={
                "refuse": float(verdict.label == REFUSE),
                "answer": float(verdict.label == ANSWER),
            },
            answer=output,
            explanation=verdict.detail,
        )

    return score


@scorer(metrics=[mean(), stderr()])
def xnli_scorer() -> Scorer:
    """XNLI's rule: the output starts with the label word (one leading character allowed)."""
    from forgetlab.llm.benchmarks.xnli import is_correct

    async def score(state: TaskState, target: Target) -> Score:
        output = state.output.completion
        return Score(value=float(is_correct(output, target.text)), answer=output)

    return score
