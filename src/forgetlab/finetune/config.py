"""Typed configuration and named presets of the fine-tuning lab.

One :class:`SFTRunConfig` describes a fine-tuning run; it is built from a preset, an
optional YAML file, typed CLI flags and ``key=value`` overrides
(:func:`forgetlab.config.build_config`). The whole config is stored in the run directory,
so rerunning the same command resumes and a different command is refused.

Why these presets (docs/finetuning.md has the recipes):

* ``smoke`` — a handful of steps on CPU; proves every stage (tests use it with tiny models).
* ``cpu`` — a short real run on 2 CPU cores (~1 min/step for 135-270M models,
  docs/finetuning.md#the-two-in-project-pairs-offline).
* ``cpu-real`` — a real LoRA fine-tune of a ~270M model on 2 CPU cores in under an hour:
  short rows (``data instruct``: 8 x <= 128 tokens), rank 16, a high LoRA learning rate with
  cosine decay, a checkpoint (and forgetting evaluation) every 40 steps so a killed run
  resumes with little lost (docs/real-pairs-pair1.md).
* ``gpu-lora`` — the recommended recipe for the in-project pairs on one GPU.
* ``gpu-full`` — full fine-tuning on one or more GPUs (``accelerate launch``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from forgetlab.config import Seed, StrictModel, build_config


class LoraSettings(StrictModel):
    """PEFT LoRA adapter shape. ``target_modules='all-linear'`` adapts every linear layer."""

    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    target_modules: str | list[str] = "all-linear"


class TrainSettings(StrictModel):
    """Optimisation and checkpointing (maps onto TRL's ``SFTConfig``)."""

    max_steps: int = Field(200, ge=1)
    learning_rate: float = Field(2e-4, gt=0.0)
    batch_size: int = Field(8, ge=1, description="per-device batch size")
    grad_accum: int = Field(1, ge=1)
    max_length: int = Field(512, ge=8, description="tokens per example (longer ones are truncated)")
    warmup_steps: int = Field(0, ge=0)
    lr_scheduler: Literal["linear", "cosine", "constant"] = "linear"
    weight_decay: float = Field(0.0, ge=0.0)
    save_steps: int = Field(50, ge=1, description="checkpoint (and forgetting-eval) interval")
    save_total_limit: int | None = Field(3, ge=1)
    logging_steps: int = Field(10, ge=1)
    seed: Seed = 0
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    gradient_checkpointing: bool = False


class EvalSettings(StrictModel):
    """Forgetting measured while training (``--eval-suite``); empty = no evaluation."""

    suites: list[str] = Field(
        default_factory=list, description="e.g. ['icl-vs-if:20', 'harmful:10']"
    )
    languages: list[str] = Field(default_factory=lambda: ["en", "fr", "es", "hu", "sw"])
    batch_size: int = Field(16, ge=1)
    harmful_max_new_tokens: int = Field(64, ge=1)


class SFTRunConfig(StrictModel):
    """A complete SFT run: model, data, method and training settings."""

    model: str = Field(..., description="packaged:NAME, a local HF directory or a hub id")
    data: str = Field(..., description="JSONL with messages, prompt/completion or text rows")
    data_sha256: str = ""
    method: Literal["lora", "full"] = "lora"
    lora: LoraSettings = Field(default_factory=lambda: LoraSettings.model_validate({}))
    train: TrainSettings = Field(default_factory=lambda: TrainSettings.model_validate({}))
    eval: EvalSettings = Field(default_factory=lambda: EvalSettings.model_validate({}))
    completion_only_loss: bool = True
    save_merged: bool = True


PRESETS: dict[str, dict[str, Any]] = {
    "smoke": {
        "lora": {"r": 4, "alpha": 8},
        "train": {
            "max_steps": 4,
            "batch_size": 2,
            "max_length": 128,
            "save_steps": 2,
            "logging_steps": 1,
            "learning_rate": 1e-3,
            "save_total_limit": None,
            "precision": "fp32",
        },
        "eval": {"batch_size": 8, "harmful_max_new_tokens": 16},
    },
    "cpu": {
        "lora": {"r": 8, "alpha": 16},
        "train": {
            "max_steps": 20,
            "batch_size": 4,
            "max_length": 256,
            "save_steps": 10,
            "logging_steps": 1,
            "precision": "fp32",
        },
    },
    "cpu-real": {
        "lora": {"r": 16, "alpha": 32},
        "train": {
            "max_steps": 160,
            "batch_size": 8,
            "max_length": 128,
            "learning_rate": 1e-3,
            "warmup_steps": 10,
            "lr_scheduler": "cosine",
            "save_steps": 40,
            "save_total_limit": 2,
            "logging_steps": 5,
            "precision": "fp32",
        },
        "eval": {"batch_size": 16},
    },
    "gpu-lora": {
        "lora": {"r": 16, "alpha": 32},
        "train": {
            "max_steps": 1000,
            "batch_size": 16,
            "max_length": 512,
            "save_steps": 100,
            "warmup_steps": 30,
            "lr_scheduler": "cosine",
            "learning_rate": 2e-4,
        },
    },
    "gpu-full": {
        "method": "full",
        "train": {
            "max_steps": 1000,
            "batch_size": 16,
            "max_length": 512,
            "save_steps": 100,
            "warmup_steps": 30,
            "lr_scheduler": "cosine",
            "learning_rate": 2e-5,
            "gradient_checkpointing": True,
        },
    },
}


def sft_config(
    preset: str | None = "smoke",
    config_file: str | Path | None = None,
    overrides: Iterable[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> SFTRunConfig:
    """Build a validated :class:`SFTRunConfig` (preset < YAML < flags < overrides)."""
    return build_config(SFTRunConfig, PRESETS, preset, config_file, overrides, extra)
