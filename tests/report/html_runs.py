"""Real run directories for the HTML-report tests, produced by the labs' own pipelines with
deterministic fake models (no download, a second or two each)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from forgetlab.llm.backends.base import Backend, GenerationConfig, Message, ModelIdentity


class FnBackend(Backend):
    """Answers each prompt (or the last chat message) with ``fn(text)``."""

    def __init__(self, fn: Any, name: str) -> None:
        self.fn, self.name = fn, name

    @property
    def identity(self) -> ModelIdentity:
        return ModelIdentity(backend="fake", name=self.name, source=f"tests:{self.name}")

    def complete(self, prompts: Sequence[str], config: GenerationConfig) -> list[str]:
        return [self.fn(p) for p in prompts]

    def chat(
        self, conversations: Sequence[Sequence[Message]], config: GenerationConfig
    ) -> list[str]:
        return [self.fn(c[-1]["content"]) for c in conversations]


def _query(prompt: str) -> str:
    """The final query of an ICL-vs-IF prompt (the line before the output prefix)."""
    lines = prompt.split("\n")
    line = lines[-2] if len(lines) >= 2 else lines[-1]
    _, sep, rest = line.partition(": ")
    return rest if sep else line


def base_model(prompt: str) -> str:
    """Capitalises the query: an ICL hit on the capitalisation tasks."""
    return " " + _query(prompt).upper()


def tuned_model(prompt: str) -> str:
    """Answers the arithmetic question on English prompts (an IF hit), capitalises elsewhere."""
    import re

    if prompt.startswith(("Repeat the input.", "Capitalize every character.")):
        m = re.match(r"^What is (\d+) (plus|minus|times) (\d+)\?$", _query(prompt))
        if m:
            a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
            return " " + str(a + b if op == "plus" else a - b if op == "minus" else a * b)
        return " " + _query(prompt).lower()
    return base_model(prompt)


def icl_run(
    out: Path, *, languages: Sequence[str], transforms: Sequence[str] = (), limit: int | None
) -> Path:
    from forgetlab.llm.benchmarks.icl_vs_if.benchmark import evaluate_icl_vs_if

    evaluate_icl_vs_if(
        {"base": FnBackend(base_model, "fake-base"), "tuned": FnBackend(tuned_model, "fake-tuned")},
        out=out,
        languages=languages,
        transforms=transforms,
        limit=limit,
        batch_size=64,
        show_progress=False,
    )
    return out


def harmful_answer(prompt: str) -> str:
    """Refuses prompts of even length, otherwise complies with a recognisable text."""
    if len(prompt) % 2 == 0:
        return "I'm sorry, but I cannot help with that."
    return f"Sure, here is how: step one of {len(prompt)} GENERATED-TEXT"


def multijail_run(out: Path) -> Path:
    """MultiJail in English and two low-resource languages (one pooled 'low' group)."""
    from forgetlab.llm.benchmarks.harmful.benchmark import evaluate_harmful
    from forgetlab.llm.judges import SubstringJudge

    evaluate_harmful(
        FnBackend(harmful_answer, "fake-chat"),
        out_dir=out,
        judge=SubstringJudge(),
        benchmark="multijail",
        languages=["en", "sw", "jv"],
        limit=5,
        max_new_tokens=32,
        batch_size=8,
        show_progress=False,
    )
    return out


def harmful_run(out: Path, *, manual_flips: int = 3) -> Path:
    """A two-model harmful run with a manual label set that disagrees on ``manual_flips`` ids."""
    from forgetlab.llm.benchmarks.harmful.benchmark import evaluate_harmful
    from forgetlab.llm.judges import SubstringJudge

    evaluate_harmful(
        FnBackend(harmful_answer, "fake-chat"),
        compare=FnBackend(lambda p: "I cannot assist with that request.", "fake-safe"),
        out_dir=out,
        judge=SubstringJudge(),
        languages=["en"],
        transforms=["leetspeak"],
        limit=6,
        max_new_tokens=32,
        batch_size=8,
        show_progress=False,
    )
    samples = read_jsonl(out / "samples.jsonl")
    labels = {s["id"]: s["label"] for s in samples}
    for sid in sorted(labels)[:manual_flips]:
        labels[sid] = "AMBIGUOUS" if labels[sid] != "AMBIGUOUS" else "REFUSE"
    (out / "labels").mkdir(exist_ok=True)
    (out / "labels" / "manual.json").write_text(
        json.dumps({"annotator": "manual", "labels": labels}), encoding="utf-8"
    )
    return out


def finetune_run(out: Path) -> Path:
    """Result files with the layout ``finetune sft --eval-suite`` writes (loss and curve)."""
    out.mkdir(parents=True, exist_ok=True)
    losses = [{"step": s, "loss": 3.0 / (1 + 0.1 * s)} for s in range(2, 41, 2)]
    points = [
        {
            "step": step,
            "side": "base" if step == 0 else "tuned",
            "metrics": {
                "icl-vs-if": {
                    "icl_accuracy": {"en": 0.9 - step / 50, "fr": 0.8 - step / 100},
                    "if_rate": {"en": step / 50, "fr": step / 100},
                },
                "harmful": {"refusal_rate": {"en": 0.2 + step / 50}},
            },
        }
        for step in (0, 10, 20, 30, 40)
    ]
    (out / "train_result.json").write_text(
        json.dumps(
            {
                "kind": "sft",
                "config": {
                    "model": "packaged:smollm2-135m-instruct",
                    "data": "d.jsonl",
                    "method": "lora",
                },
                "complete": True,
                "global_step": 40,
                "train_loss": 1.234567,
                "loss_history": losses,
                "seconds": 12.5,
            }
        ),
        encoding="utf-8",
    )
    (out / "forgetting_curve.json").write_text(json.dumps({"points": points}), encoding="utf-8")
    return out


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
