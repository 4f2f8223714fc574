"""Pretraining and fine-tuning with atomic checkpoints and exact resume.

A run directory holds:

* ``run_config.json`` — the identity of the run; a different config is refused.
* ``checkpoint.pt`` — model, optimizer and step, replaced atomically every
  ``checkpoint_every`` steps. There is no RNG or sampler state to save: batch ``t`` is a
  pure function of ``(seed, stream, t)`` and the learning rate a pure function of ``t``,
  so a run killed at any moment and rerun ends with bit-identical weights.
* ``metrics.jsonl`` — one row per ``log_every`` steps (step, loss, lr, elapsed...).
* ``model.safetensors`` + ``config.json`` — written last; their presence means "done".
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from forgetlab.config import deep_merge, parse_overrides, validate
from forgetlab.errors import ForgetlabError
from forgetlab.progress import Progress
from forgetlab.results import (
    atomic_path,
    config_hash,
    provenance,
    read_json,
    write_json,
)
from forgetlab.rundir import RunDir
from forgetlab.synthetic import distributed as ddp
from forgetlab.synthetic.model import (
    InContextRegressor,
    build_model,
    count_parameters,
    mse_loss,
    predict,
)
from forgetlab.synthetic.presets import CurriculumConfig, SyntheticConfig
from forgetlab.synthetic.tasks import TRAIN_STREAM, TaskSampler
from forgetlab.tensor_files import load_tensors, save_tensors
from forgetlab.tracking import log_scalars

__all__ = [
    "TrainingDiverged",
    "finetune",
    "is_complete",
    "load_run",
    "lr_at",
    "predict",
    "pretrain",
]

CHECKPOINT = "checkpoint.pt"
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
METRICS = "metrics.jsonl"


class TrainingDiverged(ForgetlabError):
    """The loss became NaN/inf; the last good checkpoint is kept."""


@dataclass(frozen=True)
class Phase:
    """One optimisation run (pretraining or fine-tuning) in the terms the loop needs."""

    kind: str
    stream: str
    alpha: float | None
    steps: int
    batch_size: int
    lr: float
    warmup_steps: int
    schedule: str
    min_lr_ratio: float
    weight_decay: float
    grad_clip: float | None
    checkpoint_every: int
    log_every: int
    curriculum: CurriculumConfig


def lr_at(
    step: int, *, lr: float, warmup_steps: int, steps: int, schedule: str, min_lr_ratio: float = 0.0
) -> float:
    """Learning rate for 0-based optimizer step ``step``: linear warm-up, then the schedule."""
    if warmup_steps > 0 and step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if schedule == "constant":
        return lr
    span = max(1, steps - warmup_steps)
    frac = min(1.0, (step - warmup_steps) / span)
    floor = lr * min_lr_ratio
    if schedule == "linear":
        return floor + (lr - floor) * (1.0 - frac)
    return floor + (lr - floor) * 0.5 * (1.0 + math.cos(math.pi * frac))


def _pretrain_phase(cfg: SyntheticConfig) -> Phase:
    t = cfg.train
    return Phase(
        "pretrain", TRAIN_STREAM, None, t.steps, t.batch_size, t.lr, t.warmup_steps, t.schedule,
        t.min_lr_ratio, t.weight_decay, t.grad_clip, t.checkpoint_every, t.log_every, t.curriculum,
    )  # fmt: skip


def _finetune_phase(cfg: SyntheticConfig) -> Phase:
    f = cfg.finetune
    return Phase(
        "finetune", f.stream, f.alpha, f.steps, f.batch_size, f.lr, f.warmup_steps, f.schedule,
        f.min_lr_ratio, f.weight_decay, f.grad_clip, f.checkpoint_every, f.log_every,
        CurriculumConfig(enabled=False),
    )  # fmt: skip


# ----------------------------------------------------------------------------- run files


def is_complete(run_dir: str | Path) -> bool:
    """True when ``run_dir`` holds finished weights and their config."""
    d = Path(run_dir)
    return (d / WEIGHTS).is_file() and (d / CONFIG).is_file()


def load_run(
    run_dir: str | Path, *, device: str | torch.device = "cpu"
) -> tuple[InContextRegressor, SyntheticConfig]:
    """The finished model of ``run_dir`` (eval mode, on ``device``) and its config."""
    d = Path(run_dir)
    if not is_complete(d):
        raise ForgetlabError(f"no finished synthetic run in {d} (missing {WEIGHTS} or {CONFIG})")
    cfg = validate(SyntheticConfig, read_json(d / CONFIG)["config"])
    model = build_model(cfg.task, cfg.model)
    _load_weights(model, d / WEIGHTS)
    model.to(ddp.resolve_device(device)).eval()
    return model, cfg


def _load_weights(model: nn.Module, path: Path) -> None:
    """Load ``path`` into ``model``, or fail with one line (corrupt file, other shape)."""
    state = load_tensors(path, "weights file")
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ForgetlabError(f"weights file {path} does not fit its config ({first})") from None


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _save_checkpoint(
    out: Path, model: nn.Module, opt: torch.optim.Optimizer, step: int, elapsed: float
) -> None:
    state = {
        "step": step,
        "elapsed_s": elapsed,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": _to_cpu(opt.state_dict()),
    }
    with atomic_path(out / CHECKPOINT) as tmp:
        torch.save(state, tmp)


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_cpu(v) for v in obj]
    return obj


def _load_checkpoint(out: Path) -> dict[str, Any] | None:
    path = out / CHECKPOINT
    if not path.is_file():
        return None
    try:
        ckpt: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a checkpoint is replaced atomically, so this is real damage
        raise ForgetlabError(
            f"cannot read checkpoint {path}: {exc}; delete it to restart"
        ) from None
    return ckpt


def _trim_metrics(path: Path, last_step: int) -> None:
    """Drop rows logged after the checkpoint we resume from (they will be logged again)."""
    if not path.is_file():
        return
    keep = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if row.get("step", 0) <= last_step:
            keep.append(line)
    with atomic_path(path) as tmp:
        tmp.write_text("".join(f"{line}\n" for line in keep), encoding="utf-8")


def _append_metrics(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
        fh.flush()


# ----------------------------------------------------------------------------- the loop


def _make_optimizer(model: nn.Module, phase: Phase) -> torch.optim.Optimizer:
    if phase.weight_decay > 0:
        return torch.optim.AdamW(model.parameters(), lr=phase.lr, weight_decay=phase.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=phase.lr)


def _train(
    model: InContextRegressor,
    cfg: SyntheticConfig,
    phase: Phase,
    out: Path,
    info: ddp.DistInfo,
    device: torch.device,
    show_progress: bool,
) -> dict[str, Any]:
    """Run ``phase`` from its last checkpoint in ``out`` to the end; return a summary."""
    sampler = TaskSampler(cfg.task, seed=cfg.seed)
    opt = _make_optimizer(model, phase)
    ckpt = ddp.run_on_main(lambda: _load_checkpoint(out), info)
    start, elapsed0 = 0, 0.0
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        start, elapsed0 = int(ckpt["step"]), float(ckpt["elapsed_s"])
        del ckpt
    model.to(device)
    _optimizer_to(opt, device)
    metrics = out / METRICS
    if info.is_main:
        _trim_metrics(metrics, start)
    net: nn.Module = model
    if info.enabled:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    shard = info.shard(phase.batch_size)
    bar = Progress(
        phase.steps, initial=start, desc=phase.kind, unit="step",
        enabled=show_progress and info.is_main,
    )  # fmt: skip
    t0 = time.perf_counter()
    window: list[float] = []
    last_loss = float("nan")
    model.train()
    try:
        for step in range(start, phase.steps):
            d_active, n_points = phase.curriculum.stage(step, cfg.task.d, cfg.task.n_points)
            batch = sampler.batch(
                step, phase.batch_size, stream=phase.stream, alpha=phase.alpha,
                d_active=d_active, n_points=n_points,
            )  # fmt: skip
            xs = batch.xs[shard].to(device, non_blocking=True)
            ys = batch.ys[shard].to(device, non_blocking=True)
            lr = lr_at(
                step, lr=phase.lr, warmup_steps=phase.warmup_steps, steps=phase.steps,
                schedule=phase.schedule, min_lr_ratio=phase.min_lr_ratio,
            )  # fmt: skip
            for group in opt.param_groups:
                group["lr"] = lr
            loss = mse_loss(net(xs, ys), ys)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if phase.grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), phase.grad_clip)
            loss_value = float(ddp.mean_across(loss.detach(), info).item())
            if not math.isfinite(loss_value):
                last = (_load_checkpoint(out) or {}).get("step", 0) if info.is_main else 0
                raise TrainingDiverged(
                    f"{phase.kind} loss became {loss_value} at step {step + 1}; stopped, last good "
                    f"checkpoint (step {last}) kept in {out}; lower the learning rate or set grad_clip"
                )
            opt.step()
            done = step + 1
            window.append(loss_value)
            if done % phase.log_every == 0 or done == phase.steps:
                elapsed = elapsed0 + time.perf_counter() - t0
                row = {
                    "step": done,
                    "loss": sum(window) / len(window),
                    "lr": lr,
                    "elapsed_s": round(elapsed, 3),
                    "ms_per_step": round(1000 * (time.perf_counter() - t0) / (done - start), 3),
                    "d_active": d_active,
                    "n_points": n_points,
                }
                window.clear()
                last_loss = row["loss"]
                bar.set_postfix(loss=f"{row['loss']:.4f}", lr=f"{lr:.2e}")
                if info.is_main:
                    _append_metrics(metrics, row)
                    log_scalars({k: v for k, v in row.items() if k != "step"}, done, phase.kind)
            bar.update(1)  # after the loss of this step's window is shown
            if done % phase.checkpoint_every == 0 and done < phase.steps and info.is_main:
                _save_checkpoint(out, model, opt, done, elapsed0 + time.perf_counter() - t0)
    finally:
        bar.close()
    run_s = time.perf_counter() - t0
    steps_run = phase.steps - start
    return {
        "steps": phase.steps,
        "resumed_from_step": start,
        "final_loss": last_loss,  # mean over the last log window
        "elapsed_s": round(elapsed0 + run_s, 3),
        "ms_per_step_this_session": round(1000 * run_s / steps_run, 3) if steps_run else None,
    }


def _optimizer_to(opt: torch.optim.Optimizer, device: torch.device) -> None:
    for state in opt.state.values():
        for k, v in state.items():
            if isinstance(v, torch.Tensor) and k != "step":
                state[k] = v.to(device)


def _finish(
    out: Path,
    model: nn.Module,
    cfg: SyntheticConfig,
    kind: str,
    summary: dict[str, Any],
    device: torch.device,
    info: ddp.DistInfo,
    extra: dict[str, Any],
) -> None:
    """Write final weights, then config + provenance (last: its presence means done)."""
    save_tensors(model.state_dict(), out / WEIGHTS, {"format": "pt", "kind": kind})
    write_json(
        out / CONFIG,
        {
            "kind": kind,
            "config": cfg.model_dump(mode="json"),
            "n_parameters": count_parameters(model),
            "summary": summary,
            "device": str(device),
            "world_size": info.world_size,
            "torch_threads": torch.get_num_threads(),
            **extra,
            "provenance": provenance(cfg.model_dump(mode="json"), seed=cfg.seed),
        },
    )
    (out / CHECKPOINT).unlink(missing_ok=True)


def _say(msg: str, show: bool, info: ddp.DistInfo) -> None:
    if show and info.is_main:
        print(f"forgetlab: {msg}", file=sys.stderr)


@contextlib.contextmanager
def _claimed(
    out: Path, identity: dict[str, Any], info: ddp.DistInfo, overwrite: bool
) -> Iterator[bool]:
    """Hold ``out`` for the run (rank 0 claims and locks it); yields True when already complete."""
    run = RunDir(out, identity, overwrite=overwrite)

    def claim() -> bool:
        run.claim()
        return is_complete(out)

    failed = True
    try:
        yield bool(ddp.run_on_main(claim, info))
        failed = False
    finally:
        run.close(failed=failed)


def pretrain(
    cfg: SyntheticConfig,
    out: str | Path,
    *,
    device: str | torch.device | None = None,
    show_progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Pretrain on the task mixture into ``out``; resumes from ``out``'s checkpoint; returns ``out``.

    Under ``torchrun`` the global batch is split across ranks (DDP); rank 0 writes files.
    """
    out = Path(out)
    info, dev = ddp.setup(device)
    try:
        identity = {"kind": "pretrain", "config": cfg.model_dump(mode="json")}
        with _claimed(out, identity, info, overwrite) as complete:
            if complete:
                _say(
                    f"pretraining in {out} is already complete ({cfg.train.steps} steps); nothing to do",
                    show_progress,
                    info,
                )
                return out
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(cfg.seed)
                model = build_model(cfg.task, cfg.model)
            summary = _train(model, cfg, _pretrain_phase(cfg), out, info, dev, show_progress)
            if info.is_main:
                _finish(out, model, cfg, "pretrain", summary, dev, info, {})
        _say(
            f"pretraining done: {out / WEIGHTS} (final loss {summary['final_loss']:.4f})",
            show_progress,
            info,
        )
        return out
    finally:
        ddp.teardown(info)


FROZEN_FOR_FINETUNE = ("model", "task.d", "task.n_points")


def finetune_config(
    parent: SyntheticConfig,
    *,
    alpha: float | None = None,
    lr: float | None = None,
    steps: int | None = None,
    batch_size: int | None = None,
    overrides: Iterable[str] = (),
) -> SyntheticConfig:
    """``parent`` with fine-tuning settings changed (the model shape cannot change)."""
    update = parse_overrides(overrides)
    for key in FROZEN_FOR_FINETUNE:
        node: Any = update
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            raise ForgetlabError(f"fine-tuning cannot change {key} (it fixes the model's shape)")
    flags = {"alpha": alpha, "lr": lr, "steps": steps, "batch_size": batch_size}
    ft = {k: v for k, v in flags.items() if v is not None}
    data = deep_merge(parent.model_dump(mode="json"), {"finetune": ft})
    return validate(SyntheticConfig, deep_merge(data, update))


def finetune(
    from_dir: str | Path,
    out: str | Path,
    *,
    alpha: float | None = None,
    lr: float | None = None,
    steps: int | None = None,
    batch_size: int | None = None,
    overrides: Iterable[str] = (),
    device: str | torch.device | None = None,
    show_progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Continue training the finished run in ``from_dir`` on ``cfg.finetune`` (alpha = 1: discrete).

    Batches come from the ``finetune.stream`` stream, never the pretraining one. Resumes like
    :func:`pretrain`. Returns ``out``.
    """
    src, out = Path(from_dir), Path(out)
    if not is_complete(src):
        raise ForgetlabError(
            f"--from {src}: no finished pretraining run there (missing {WEIGHTS} or {CONFIG})"
        )
    if src.resolve() == out.resolve():
        raise ForgetlabError(
            "--out must differ from --from (fine-tuning never overwrites its parent)"
        )
    parent_cfg = validate(SyntheticConfig, read_json(src / CONFIG)["config"])
    cfg = finetune_config(
        parent_cfg, alpha=alpha, lr=lr, steps=steps, batch_size=batch_size, overrides=overrides
    )
    parent_sha = _file_sha256(src / WEIGHTS)
    info, dev = ddp.setup(device)
    try:
        identity = {
            "kind": "finetune",
            "config": cfg.model_dump(mode="json"),
            "parent_sha256": parent_sha,
        }
        with _claimed(out, identity, info, overwrite) as complete:
            if complete:
                _say(
                    f"fine-tuning in {out} is already complete ({cfg.finetune.steps} steps); nothing to do",
                    show_progress,
                    info,
                )
                return out
            model = build_model(cfg.task, cfg.model)
            _load_weights(model, src / WEIGHTS)
            summary = _train(model, cfg, _finetune_phase(cfg), out, info, dev, show_progress)
            if info.is_main:
                extra = {
                    "parent": str(src.resolve()),
                    "parent_sha256": parent_sha,
                    "parent_config_hash": config_hash(parent_cfg.model_dump(mode="json")),
                }
                _finish(out, model, cfg, "finetune", summary, dev, info, extra)
        _say(
            f"fine-tuning done: {out / WEIGHTS} (final loss {summary['final_loss']:.4f})",
            show_progress,
            info,
        )
        return out
    finally:
        ddp.teardown(info)
