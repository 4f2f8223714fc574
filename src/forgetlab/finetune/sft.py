"""Supervised fine-tuning on TRL's ``SFTTrainer`` (+ PEFT LoRA, + accelerate).

Output directory layout (``--out DIR``)::

    run_config.json        the full config (a different config is refused: forgetlab.rundir)
    checkpoints/checkpoint-N/   Trainer checkpoints (optimizer, scheduler, RNG, data position)
    adapter/               LoRA adapter only (PEFT format; ``PeftModel.from_pretrained``)
    model/                 merged full weights + tokenizer: what ``load_backend`` loads
    forgetting_curve.json / .png   when ``--eval-suite`` is given (see callbacks.py)
    train_result.json      provenance, loss history, ``complete: true`` once finished

Rerunning the same command resumes from the last checkpoint; a finished run is not redone.
The same code runs on many GPUs under ``accelerate launch -m forgetlab finetune sft ...``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError, is_out_of_memory
from forgetlab.finetune.config import SFTRunConfig
from forgetlab.finetune.data.io import file_sha256, read_sft_jsonl, to_trl_rows
from forgetlab.finetune.models import load_model_and_tokenizer, resolve_model_source
from forgetlab.results import config_hash, provenance, read_json, write_json
from forgetlab.rundir import RunDir

RESULT_FILE = "train_result.json"


def with_data_hash(cfg: SFTRunConfig) -> SFTRunConfig:
    """Pin the data file's content in the config, so changed data is a different run."""
    if not Path(cfg.data).is_file():
        raise ForgetlabError(f"data file {cfg.data} not found")
    return cfg.model_copy(update={"data_sha256": file_sha256(cfg.data)})


def _precision(name: str) -> tuple[bool, bool]:
    """(bf16, fp16) flags for the Trainer; ``auto`` = bf16 on a GPU that supports it."""
    import torch

    if name == "auto":
        return (bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported()), False)
    return (name == "bf16", name == "fp16")


def last_checkpoint(checkpoint_dir: Path) -> str | None:
    """Newest complete ``checkpoint-N`` in ``checkpoint_dir`` (None if there is none)."""
    if not checkpoint_dir.is_dir():
        return None
    done = [
        p
        for p in checkpoint_dir.glob("checkpoint-*")
        if p.is_dir() and p.name.split("-")[-1].isdigit() and (p / "trainer_state.json").is_file()
    ]
    if not done:
        return None
    return str(max(done, key=lambda p: int(p.name.split("-")[-1])))


def build_trainer(
    cfg: SFTRunConfig,
    out: Path,
    *,
    model: Any = None,
    tokenizer: Any = None,
    callbacks: Sequence[Any] = (),
    peft_config: Any = None,
) -> Any:
    """An ``SFTTrainer`` for ``cfg`` writing checkpoints under ``out/checkpoints``."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from forgetlab.tracking import hf_report_to

    rows, fmt = read_sft_jsonl(cfg.data)
    if model is None:
        model, tokenizer = load_model_and_tokenizer(resolve_model_source(cfg.model))
    if fmt == "messages" and not getattr(tokenizer, "chat_template", None):
        raise ForgetlabError(
            f"{cfg.data} holds chat 'messages' but model {cfg.model} has no chat template; "
            "use prompt/completion rows"
        )
    dataset = Dataset.from_list(to_trl_rows(rows, fmt))
    t = cfg.train
    bf16, fp16 = _precision(t.precision)
    args = SFTConfig(
        output_dir=str(out / "checkpoints"),
        max_steps=t.max_steps,
        per_device_train_batch_size=t.batch_size,
        gradient_accumulation_steps=t.grad_accum,
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.lr_scheduler,
        warmup_steps=t.warmup_steps,
        weight_decay=t.weight_decay,
        save_strategy="steps",
        save_steps=t.save_steps,
        save_total_limit=t.save_total_limit,
        logging_steps=t.logging_steps,
        seed=t.seed,
        data_seed=t.seed,
        bf16=bf16,
        fp16=fp16,
        gradient_checkpointing=t.gradient_checkpointing,
        max_length=t.max_length,
        completion_only_loss=None if fmt == "text" else cfg.completion_only_loss,
        report_to=hf_report_to(),
        disable_tqdm=True,
        dataset_num_proc=None,
    )
    already_peft = hasattr(model, "peft_config")  # a caller's adapter (MEET's joint run)
    if peft_config is None and cfg.method == "lora" and not already_peft:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=cfg.lora.r,
            lora_alpha=cfg.lora.alpha,
            lora_dropout=cfg.lora.dropout,
            target_modules=cfg.lora.target_modules,
            task_type="CAUSAL_LM",
        )
    from transformers.trainer_callback import PrinterCallback

    from forgetlab.finetune.callbacks import StderrLog
    from forgetlab.tracking import hf_callbacks

    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[*callbacks, *hf_callbacks(), StderrLog()],
    )
    trainer.remove_callback(PrinterCallback)  # it prints to stdout, which carries the JSON summary
    return trainer


def train_with_resume(trainer: Any, out: Path) -> Any:
    """Train, resuming from the newest checkpoint; OOM becomes a one-line hint."""
    import torch

    resume = last_checkpoint(out / "checkpoints")
    try:
        return trainer.train(resume_from_checkpoint=resume)
    except (torch.OutOfMemoryError, MemoryError, RuntimeError) as exc:
        if not is_out_of_memory(exc):
            raise
        bs = trainer.args.per_device_train_batch_size
        ga = trainer.args.gradient_accumulation_steps
        smaller = max(1, bs // 2)
        raise ForgetlabError(
            f"out of memory at batch size {bs}; retry with train.batch_size={smaller} "
            f"train.grad_accum={ga * bs // smaller} (same effective batch), a shorter "
            "train.max_length or train.gradient_checkpointing=true (add --overwrite to continue "
            "in the same --out from its last checkpoint)"
        ) from None


def _replace_dir(tmp: Path, final: Path) -> None:
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)


def save_outputs(
    trainer: Any,
    tokenizer: Any,
    out: Path,
    *,
    lora: bool,
    merged: bool,
    marker: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Save the adapter (LoRA) and the merged model, each atomically (temp dir + rename).

    ``marker`` is written as ``model/forgetlab_model.json`` (``base_model`` etc.), which lets
    the LLM lab recognise a matched base/fine-tuned pair.
    """
    saved: dict[str, str] = {}
    model = trainer.model
    if lora:
        tmp = out / "adapter.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        _replace_dir(tmp, out / "adapter")
        saved["adapter"] = str(out / "adapter")
    if merged or not lora:
        tmp = out / "model.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        full = model.merge_and_unload() if lora else model
        full.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        if marker is not None:
            write_json(tmp / "forgetlab_model.json", marker)
        _replace_dir(tmp, out / "model")
        saved["model"] = str(out / "model")
    return saved


def is_complete(out: Path) -> bool:
    result = out / RESULT_FILE
    return result.is_file() and bool(read_json(result).get("complete"))


def run_sft(
    cfg: SFTRunConfig,
    out: str | Path,
    *,
    overwrite: bool = False,
    callbacks: Sequence[Any] = (),
    model: Any = None,
    tokenizer: Any = None,
    peft_config: Any = None,
    kind: str = "sft",
    base_model: str | None = None,
) -> dict[str, Any]:
    """Fine-tune per ``cfg`` into ``out`` (resuming if it holds the same run); return the result.

    ``model``/``tokenizer`` let a caller (MEET) pass an in-memory model; ``peft_config``
    overrides the LoRA adapter built from ``cfg``; ``base_model`` is what the merged model's
    marker names as its base (default ``cfg.model``).
    """
    from forgetlab.finetune.callbacks import ForgettingCallback
    from forgetlab.finetune.evalsuite import check_eval_settings
    from forgetlab.report.html import write_run_report

    cfg = with_data_hash(cfg)
    read_sft_jsonl(cfg.data)  # bad rows fail before any directory is claimed or model loaded
    check_eval_settings(cfg.eval)  # so do unknown suites and languages
    if model is None:
        resolve_model_source(cfg.model)  # likewise a missing model directory
    primary = int(os.environ.get("RANK", "0")) == 0  # under accelerate/torchrun rank 0 claims
    with RunDir(out, cfg.model_dump(), overwrite=overwrite, primary=primary) as claim:
        out_dir = claim.path
        if is_complete(out_dir):
            result: dict[str, Any] = read_json(out_dir / RESULT_FILE)
            result["resumed"] = "already complete"
            return result
        started = time.time()
        all_callbacks = list(callbacks)
        if cfg.eval.suites:
            all_callbacks.append(ForgettingCallback(cfg, out_dir))
        trainer = build_trainer(
            cfg,
            out_dir,
            model=model,
            tokenizer=tokenizer,
            callbacks=all_callbacks,
            peft_config=peft_config,
        )
        resumed_from = last_checkpoint(out_dir / "checkpoints")
        train_out = train_with_resume(trainer, out_dir)
        tok = trainer.processing_class
        accel = trainer.accelerator
        accel.wait_for_everyone()
        if not accel.is_main_process:  # many GPUs: only rank 0 writes the outputs
            return {
                "complete": True,
                "global_step": trainer.state.global_step,
                "rank": accel.process_index,
            }
        saved = save_outputs(
            trainer,
            tok,
            out_dir,
            lora=cfg.method == "lora" or peft_config is not None,
            merged=cfg.save_merged,
            marker={
                "name": out_dir.name,
                "base_model": base_model or cfg.model,
                "finetune": {
                    "kind": kind,
                    "method": cfg.method,
                    "data": cfg.data,
                    "data_sha256": cfg.data_sha256,
                    "steps": trainer.state.global_step,
                    "config_hash": config_hash(cfg.model_dump()),
                },
            },
        )
        losses = [
            {"step": h["step"], "loss": h["loss"]} for h in trainer.state.log_history if "loss" in h
        ]
        result = provenance(
            cfg.model_dump(),
            kind=kind,
            complete=True,
            resumed_from=resumed_from,
            global_step=trainer.state.global_step,
            train_loss=getattr(train_out, "training_loss", None),
            loss_history=losses,
            seconds=round(time.time() - started, 2),
            outputs=saved,
            load_with=f"hf:{out_dir / 'model'}" if "model" in saved else None,
        )
        write_json(out_dir / RESULT_FILE, result)
        write_run_report(out_dir)
        with contextlib.suppress(Exception):
            trainer.accelerator.free_memory()
        return json.loads(json.dumps(result, default=str))
