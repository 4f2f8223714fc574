"""MEET recipe: teacher-built concise/detailed data, the controllability evaluation, control
tokens already in the vocabulary, and the joint baseline on a tiny model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
from ft_helpers import state

from forgetlab.errors import ForgetlabError
from forgetlab.finetune.config import sft_config
from forgetlab.finetune.data.control import CONTROL_TOKENS, build_control
from forgetlab.finetune.data.controllable import concise_detailed, eval_path, split_tasks
from forgetlab.finetune.data.io import provenance_path, read_sft_jsonl
from forgetlab.finetune.meet import preflight_tokens, run_meet_joint
from forgetlab.llm.backends.base import Backend, GenerationConfig, ModelIdentity

ANSWER = "Start with a clean pan. Then heat it slowly and add oil. Wipe it dry when you finish."


class Teacher(Backend):
    """Answers every request with ``reply`` (or ``reply_for(request)``)."""

    def __init__(self, reply: str = ANSWER) -> None:
        self.reply = reply
        self.calls = 0

    @property
    def identity(self) -> ModelIdentity:
        return ModelIdentity(backend="fake", name="teacher")

    def complete(self, prompts: Sequence[str], config: GenerationConfig) -> list[str]:
        raise AssertionError("the teacher is asked in chat")

    def chat(self, conversations: Any, config: GenerationConfig) -> list[str]:
        self.calls += len(conversations)
        return [self.reply for _ in conversations]


class FnBackend(Backend):
    """Raw-text model whose output is ``fn(prompt)``; records the prompts."""

    def __init__(self, fn: Any, name: str) -> None:
        self.fn, self.name, self.calls = fn, name, []

    @property
    def identity(self) -> ModelIdentity:
        return ModelIdentity(backend="fake", name=self.name)

    def complete(self, prompts: Sequence[str], config: GenerationConfig) -> list[str]:
        self.calls += list(prompts)
        return [self.fn(p) for p in prompts]

    def chat(self, conversations: Any, config: GenerationConfig) -> list[str]:
        raise AssertionError("prompt-completion data is evaluated as raw text")


def test_concise_is_the_first_sentence_when_the_contrast_is_real() -> None:
    assert concise_detailed(ANSWER) == ("Start with a clean pan.", ANSWER)
    assert concise_detailed("Just one sentence here.") is None
    assert concise_detailed("Ok. Fine.") is None  # concise under three words
    assert concise_detailed("One two three four five six. Seven.") is None  # not twice as long


def test_teacher_pairs_and_held_out_requests(tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    teacher = Teacher()
    info = build_control(
        out, n=10, teacher="fake", teacher_backend=teacher, fmt="prompt-completion"
    )
    rows, fmt = read_sft_jsonl(out)
    assert fmt == "prompt_completion" and info["rows"] == 20
    by_token = {t: [r for r in rows if r["prompt"].startswith(t)] for t in CONTROL_TOKENS}
    assert {r["completion"] for r in by_token["<concise>"]} == {" Start with a clean pan."}
    assert {r["completion"] for r in by_token["<detailed>"]} == {" " + ANSWER}
    assert all(r["prompt"].endswith("\nAnswer:") for r in rows)
    held = [json.loads(x) for x in eval_path(out).read_text().splitlines()]
    _, held_tasks = split_tasks(0, 12)
    assert len(held) == 12 * 6 and info["eval_requests"] == 72
    assert all(any(t in h["request"] for t in held_tasks) for h in held)
    assert not any(any(t in r["prompt"] for t in held_tasks) for r in rows)
    side = json.loads(provenance_path(out).read_text())
    assert side["control_tokens"] == list(CONTROL_TOKENS) and side["held_out_tasks"] == held_tasks
    assert "first sentence" in side["pairing"] and side["contamination_check"]["texts"] == 10
    calls = teacher.calls
    build_control(out, n=10, teacher="fake", teacher_backend=teacher, fmt="prompt-completion")
    assert teacher.calls == calls  # cached


def test_teacher_data_failing_the_contamination_check_writes_nothing(tmp_path: Path) -> None:
    leak = "People generally approve of dogs eating cat food but not cats eating dog food."
    out = tmp_path / "c.jsonl"
    with pytest.raises(ForgetlabError, match=r"contamination check failed.*icl-vs-if"):
        build_control(out, n=4, teacher="fake", teacher_backend=Teacher(leak + " " + ANSWER))
    assert not out.exists() and not eval_path(out).exists()


def test_control_sources_without_contrast_and_bad_teachers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ForgetlabError, match="no teacher answer"):
        build_control(tmp_path / "x.jsonl", n=3, teacher="fake", teacher_backend=Teacher("Yes."))
    import forgetlab.llm.backends as backends_pkg

    def broken(spec: str, **kw: Any) -> Backend:
        raise RuntimeError("weights missing")

    monkeypatch.setattr(backends_pkg, "load_backend", broken)
    with pytest.raises(ForgetlabError, match="teacher 'hf:/x' did not load"):
        build_control(tmp_path / "x.jsonl", n=3, teacher="hf:/x")
    with pytest.raises(ForgetlabError, match="--n 999"):
        build_control(tmp_path / "x.jsonl", n=999, teacher="fake", teacher_backend=Teacher())
    assert not (tmp_path / "x.jsonl").exists()


def test_control_tokens_already_in_the_vocabulary(tiny_model_dir: Path) -> None:
    with pytest.raises(ForgetlabError, match=r"control token\(s\) <\|end\|> already in"):
        preflight_tokens(str(tiny_model_dir), ["<concise>", "<|end|>"])
    with pytest.raises(ForgetlabError, match="distinct"):
        preflight_tokens(str(tiny_model_dir), ["<a>", "<a>"])
    preflight_tokens(str(tiny_model_dir), list(CONTROL_TOKENS))


def test_controllability_eval_with_fakes(tmp_path: Path) -> None:
    from forgetlab.llm.benchmarks.controllability import Controllability, overlap_f1
    from forgetlab.llm.benchmarks.loop import run_benchmark

    rows = [
        {"request": f"How do I do thing {i}?", "concise": "Do it.", "detailed": ANSWER,
         "format": "prompt-completion"}
        for i in range(3)
    ]  # fmt: skip
    short = FnBackend(lambda p: "Start with a clean pan.", name="short")
    obey = FnBackend(
        lambda p: "Short answer." if p.startswith("<concise>") else " ".join(["word"] * 60),
        name="obey",
    )
    bench = Controllability(
        rows, roles=("base", "tuned"), bands={"concise_max_words": 30, "detailed_min_words": 50}
    )
    res = run_benchmark(
        bench, {"base": short, "tuned": obey}, out=tmp_path / "r",
        generation=GenerationConfig(max_new_tokens=8), batch_size=2, show_progress=False,
    )  # fmt: skip
    b, t = res["per_role"]["base"], res["per_role"]["tuned"]
    assert (b["concise"]["in_band"]["k"], b["detailed"]["in_band"]["k"]) == (3, 0)
    assert (t["concise"]["in_band"]["k"], t["detailed"]["in_band"]["k"]) == (3, 3)
    assert b["controllability"] == 0.5 and t["controllability"] == 1.0
    assert t["length_ratio"] == 30.0 and b["length_ratio"] == 1.0
    assert res["paired"]["in_band"]["change"] == 0.5
    assert obey.calls[0] in {
        "<concise> How do I do thing 0?\nAnswer:",
        "<detailed> How do I do thing 0?\nAnswer:",
    }
    assert overlap_f1("the clean pan", "Start with a clean pan.") == pytest.approx(
        2 * 1 * 2 / 3 / (1 + 2 / 3)
    )


@pytest.mark.slow
def test_joint_baseline_trains_rows_and_adapter_together(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "control.jsonl"
    build_control(data, n=8, seed=0)
    stage2 = sft_config(
        "smoke", extra={"model": str(tiny_model_dir), "data": str(data), "method": "lora"}
    )
    stage1 = stage2.model_copy(update={"train": stage2.train.model_copy(update={"max_steps": 2})})
    res = run_meet_joint(stage1, stage2, tmp_path / "j")
    assert res["steps"] == 6 and res["joint"]["global_step"] == 6  # equal total steps
    base, joint = state(tiny_model_dir), state(tmp_path / "j" / "joint" / "model")
    emb = "model.embed_tokens.weight"
    n_old = base[emb].shape[0]
    assert torch.equal(base[emb], joint[emb][:n_old])  # old rows untouched
    assert any(not torch.equal(base[k], joint[k]) for k in base if k != emb)  # adapter merged
    ckpt = tmp_path / "j" / "joint" / "checkpoints" / "checkpoint-6"
    from forgetlab.tensor_files import load_tensors

    rows = load_tensors(ckpt / "control_rows.safetensors")["rows"]
    assert torch.allclose(rows, joint[emb][res["token_ids"]])  # what a resume restores
    again = run_meet_joint(stage1, stage2, tmp_path / "j")
    assert again["joint"]["resumed"] == "already complete"
    with pytest.raises(ForgetlabError, match="already in the model's vocabulary"):
        run_meet_joint(stage1, stage2, tmp_path / "k", tokens=["<|end|>"])
    assert not (tmp_path / "k").exists()
