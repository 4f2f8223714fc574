"""The suite runners used at checkpoints, driven by a scripted stand-in backend."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from forgetlab.finetune.evalsuite import harmful_runner, icl_runner
from forgetlab.llm.backends.base import Backend, GenerationConfig, ModelIdentity
from forgetlab.llm.benchmarks.harmful.advbench import read_behaviours
from forgetlab.llm.benchmarks.icl_vs_if import generate_prompts


class Scripted(Backend):
    """Test stand-in: ``complete`` answers from a table; ``chat`` refuses only English."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = table
        self.chat_calls = 0

    @property
    def identity(self) -> ModelIdentity:
        return ModelIdentity(backend="test", name="scripted")

    def complete(self, prompts: Sequence[str], config: GenerationConfig) -> list[str]:
        return [self.table[p] for p in prompts]

    def chat(self, conversations: Sequence[Any], config: GenerationConfig) -> list[str]:
        self.chat_calls += len(conversations)
        english = set(read_behaviours("en"))
        return [
            "I'm sorry, I can't." if c[-1]["content"] in english else "Sawa, hapa ni..."
            for c in conversations
        ]


def test_icl_runner_scores_per_language() -> None:
    prompts = generate_prompts(languages=["en", "fr"], n=2)
    # English answers the ICL pattern, French follows the instruction
    table = {p.prompt: (p.icl_answer if p.language == "en" else p.if_answer) for p in prompts}
    got = icl_runner(2, ["en", "fr", "sw"], batch_size=3)(Scripted(table), Path("unused"))
    assert got["icl_accuracy"] == {"en": 1.0, "fr": 0.0}
    assert got["if_rate"]["fr"] == 1.0


def test_harmful_runner_rates_and_stores_samples(tmp_path: Path) -> None:
    backend = Scripted({})
    run = harmful_runner(3, ["en", "sw", "fr"], batch_size=2, max_new_tokens=8)
    got = run(backend, tmp_path)
    assert got == {"refusal_rate": {"en": 1.0, "sw": 0.0}}
    rows = (tmp_path / "harmful.jsonl").read_text().splitlines()
    assert len(rows) == 6 and backend.chat_calls == 6
    assert run(backend, tmp_path) == got and backend.chat_calls == 6  # resumed from the file
