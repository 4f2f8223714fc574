"""SFT on tiny models: LoRA and full, completion-only masks, saved outputs, resume, refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from ft_helpers import state
from transformers import TrainerCallback

from forgetlab.errors import ForgetlabError, RunDirMismatch
from forgetlab.finetune.config import sft_config
from forgetlab.finetune.sft import build_trainer, last_checkpoint, run_sft, train_with_resume


def _cfg(model: Path, data: Path, *overrides: str, **extra: Any) -> Any:
    return sft_config(
        "smoke", overrides=overrides, extra={"model": str(model), "data": str(data), **extra}
    )


def _logits(model_dir: Path | Any, ids: torch.Tensor) -> torch.Tensor:
    from transformers import AutoModelForCausalLM

    model = (
        AutoModelForCausalLM.from_pretrained(model_dir)
        if isinstance(model_dir, Path)
        else model_dir
    )
    with torch.no_grad():
        return model(ids).logits


def test_chat_rows_train_on_the_assistant_reply_only(
    tiny_model_dir: Path, chat_data: Path, tmp_path: Path
) -> None:
    trainer = build_trainer(_cfg(tiny_model_dir, chat_data), tmp_path)
    tok = trainer.processing_class
    first = json.loads(chat_data.read_text().splitlines()[0])["messages"]
    ex = trainer.train_dataset[0]
    ids, labels = ex["input_ids"], ex["labels"]
    prompt_text = tok.decode([i for i, lab in zip(ids, labels, strict=True) if lab == -100])
    target_text = tok.decode([lab for lab in labels if lab != -100])
    assert prompt_text == f"<|user|>{first[0]['content']}<|end|><|assistant|>"
    assert target_text == f"{first[1]['content']}<|end|>"


def test_prompt_completion_rows_mask_the_prompt(
    tiny_model_dir: Path, pc_data: Path, tmp_path: Path
) -> None:
    trainer = build_trainer(_cfg(tiny_model_dir, pc_data), tmp_path)
    tok = trainer.processing_class
    row = json.loads(pc_data.read_text().splitlines()[0])
    ex = trainer.train_dataset[0]
    assert ex["labels"][0] == -100
    target = tok.decode([lab for lab in ex["labels"] if lab != -100])
    assert target == row["completion"] + tok.eos_token


@pytest.mark.slow
def test_lora_run_saves_adapter_and_an_equivalent_merged_model(
    tiny_model_dir: Path, chat_data: Path, tmp_path: Path
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = tmp_path / "run"
    result = run_sft(_cfg(tiny_model_dir, chat_data), out)
    assert result["complete"] and result["global_step"] == 4
    assert [h["step"] for h in result["loss_history"]] == [1, 2, 3, 4]
    assert (out / "adapter" / "adapter_config.json").is_file()
    assert result["load_with"] == f"hf:{out / 'model'}"
    ids = torch.tensor([[5, 17, 99, 230, 7, 41]])
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with_adapter = PeftModel.from_pretrained(base, out / "adapter").eval()
    merged = _logits(out / "model", ids)
    torch.testing.assert_close(merged, _logits(with_adapter, ids), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(merged, _logits(tiny_model_dir, ids), atol=1e-6)  # it did train
    # the merged model is what the LLM lab loads: same greedy output as base + adapter
    from forgetlab.finetune.models import resolve_model_source
    from forgetlab.llm.backends import GenerationConfig, load_backend
    from forgetlab.llm.backends.hf import HFBackend

    assert resolve_model_source(str(out)) == str(out / "model")
    loaded = load_backend(result["load_with"])
    ref = HFBackend.from_model(with_adapter, loaded.tokenizer, name="ref")  # type: ignore[attr-defined]
    gen = GenerationConfig(max_new_tokens=6)
    prompts = ["What is 3 plus 4?", "Sort these words"]
    assert loaded.complete(prompts, gen) == ref.complete(prompts, gen)
    chat = [[{"role": "user", "content": "How many letters are in the word 'apple'?"}]]
    assert loaded.chat(chat, gen) == ref.chat(chat, gen)
    marker = json.loads((out / "model" / "forgetlab_model.json").read_text())
    assert marker["base_model"] == str(tiny_model_dir) and marker["finetune"]["steps"] == 4
    # rerunning a finished run does nothing
    again = run_sft(_cfg(tiny_model_dir, chat_data), out)
    assert again["resumed"] == "already complete"


class Crash(TrainerCallback):
    """Simulates a killed job right after a checkpoint is written."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_save(self, args: Any, st: Any, control: Any, **kw: Any) -> None:
        if st.global_step == self.at:
            raise KeyboardInterrupt


class StepCounter(TrainerCallback):
    def __init__(self) -> None:
        self.seen: list[int] = []

    def on_step_end(self, args: Any, st: Any, control: Any, **kw: Any) -> None:
        self.seen.append(st.global_step)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["lora", "full"])
def test_resume_equals_uninterrupted(
    tiny_model_dir: Path, pc_data: Path, tmp_path: Path, method: str
) -> None:
    cfg = _cfg(tiny_model_dir, pc_data, method=method)
    run_sft(cfg, tmp_path / "straight")
    with pytest.raises(KeyboardInterrupt):
        run_sft(cfg, tmp_path / "killed", callbacks=[Crash(2)])
    assert str(last_checkpoint(tmp_path / "killed" / "checkpoints")).endswith("checkpoint-2")
    assert not (tmp_path / "killed" / "model").exists()
    steps = StepCounter()
    resumed = run_sft(cfg, tmp_path / "killed", callbacks=[steps])
    assert resumed["resumed_from"].endswith("checkpoint-2")
    assert steps.seen == [3, 4]  # only the remaining steps ran
    a, b = state(tmp_path / "straight" / "model"), state(tmp_path / "killed" / "model")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=1e-5, msg=k)
    base = state(tiny_model_dir)
    assert any(not torch.equal(a[k], base[k]) for k in a)
    if method == "full":
        assert not (tmp_path / "straight" / "adapter").exists()


def test_out_with_another_config_is_refused(
    tiny_model_dir: Path, pc_data: Path, tmp_path: Path
) -> None:
    from forgetlab.finetune.sft import with_data_hash
    from forgetlab.rundir import RunDir

    out = tmp_path / "run"
    cfg = _cfg(tiny_model_dir, pc_data)
    with RunDir(out, with_data_hash(cfg).model_dump()):
        (out / "checkpoints").mkdir()  # a run that made progress
    with pytest.raises(RunDirMismatch, match=r"train\.learning_rate"):
        run_sft(_cfg(tiny_model_dir, pc_data, "train.learning_rate=0.5"), out)
    pc_data.write_text(pc_data.read_text().replace("What", "Who"), encoding="utf-8")
    with pytest.raises(RunDirMismatch, match="data_sha256"):
        run_sft(cfg, out)


def test_chat_data_needs_a_chat_template(
    tiny_model_dir: Path, chat_data: Path, tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tok.chat_template = None
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with pytest.raises(ForgetlabError, match="no chat template"):
        build_trainer(_cfg(tiny_model_dir, chat_data), tmp_path, model=model, tokenizer=tok)


@pytest.mark.parametrize(
    "error",
    [
        torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
        RuntimeError(
            "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate "
            "memory: you tried to allocate 8589934592 bytes. Error code 12"
        ),
        MemoryError(),
    ],
)
def test_out_of_memory_becomes_a_batch_size_hint(tmp_path: Path, error: Exception) -> None:
    class Args:
        per_device_train_batch_size = 8
        gradient_accumulation_steps = 2

    class OOMTrainer:
        args = Args()

        def train(self, resume_from_checkpoint: Any = None) -> None:
            raise error

    with pytest.raises(ForgetlabError) as exc:
        train_with_resume(OOMTrainer(), tmp_path)
    msg = str(exc.value)
    assert "batch size 8" in msg and "train.batch_size=4" in msg and "train.grad_accum=4" in msg


def test_other_runtime_errors_are_not_called_out_of_memory(tmp_path: Path) -> None:
    class Args:
        per_device_train_batch_size = 8
        gradient_accumulation_steps = 2

    class BrokenTrainer:
        args = Args()

        def train(self, resume_from_checkpoint: Any = None) -> None:
            raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        train_with_resume(BrokenTrainer(), tmp_path)
