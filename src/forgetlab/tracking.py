"""Training curves where ML users already look: TensorBoard and Weights & Biases.

``--report-to tensorboard,wandb`` opens a :func:`reporting` context around a training
command; inside it, :func:`log_scalars` sends numbers (loss, learning rate, forgetting
evaluations) to every open sink, and does nothing when no context is open, so the training
loops call it unconditionally. TensorBoard event files go to ``<run dir>/tensorboard``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError

TARGETS = ("tensorboard", "wandb")
TB_DIR = "tensorboard"

_sinks: list[Any] = []


def parse_report_to(values: str | Sequence[str] | None) -> list[str]:
    """``"tensorboard,wandb"`` (or repeated options) -> checked names; ``none`` -> []."""
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    names = [n.strip().lower() for v in items for n in v.split(",") if n.strip()]
    names = [n for n in names if n != "none"]
    for n in names:
        if n not in TARGETS:
            raise ForgetlabError(f"--report-to {n!r}: choose from {', '.join(TARGETS)} or none")
    for n in names:
        _require(n)
    return list(dict.fromkeys(names))


def _require(name: str) -> None:
    import importlib.util

    module = "tensorboard" if name == "tensorboard" else "wandb"
    if importlib.util.find_spec(module) is None:
        raise ForgetlabError(
            f"--report-to {name} needs the {module} package (pip install {module})"
        )


class _TensorBoard:
    """Event files in ``log_dir``, created on the first scalar (after the run dir is claimed)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.writer: Any = None

    def log(self, scalars: Mapping[str, float], step: int) -> None:
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(self.log_dir))
        for key, value in scalars.items():
            self.writer.add_scalar(key, value, step)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class _Wandb:
    def __init__(self, log_dir: Path, run_name: str, config: Mapping[str, Any]) -> None:
        import wandb

        self.wandb = wandb
        self.owned = wandb.run is None  # a run opened by TRL/HF is reused, not replaced
        if self.owned:
            wandb.init(project="forgetlab", name=run_name, dir=str(log_dir), config=dict(config))

    def log(self, scalars: Mapping[str, float], step: int) -> None:
        # the step goes in as a metric: HF's callback may already own wandb's step counter
        self.wandb.log({**scalars, "forgetlab/step": step})

    def close(self) -> None:
        if self.owned and self.wandb.run is not None:
            self.wandb.finish()


@contextlib.contextmanager
def reporting(
    report_to: Sequence[str],
    run_dir: str | Path,
    *,
    run_name: str = "",
    config: Mapping[str, Any] | None = None,
) -> Iterator[list[Any]]:
    """Open the requested sinks for the duration of a command (nested sessions add sinks)."""
    opened: list[Any] = []
    try:
        for name in report_to:
            if name == "tensorboard":
                opened.append(_TensorBoard(Path(run_dir) / TB_DIR))
            elif name == "wandb":
                opened.append(_Wandb(Path(run_dir), run_name or Path(run_dir).name, config or {}))
        _sinks.extend(opened)
        yield opened
    finally:
        for sink in opened:
            _sinks.remove(sink)
            sink.close()


def hf_report_to() -> list[str] | str:
    """``report_to`` for a Hugging Face/TRL trainer inside the context (``"none"`` outside)."""
    return ["wandb"] if any(isinstance(s, _Wandb) for s in _sinks) else "none"


def hf_callbacks() -> list[Any]:
    """HF's TensorBoardCallback writing into the open context's TensorBoard directory, if open.

    Passed explicitly (rather than ``report_to="tensorboard"``) so the events land in
    ``<run dir>/tensorboard`` beside the forgetting scalars, not under the checkpoints.
    """
    out = []
    for sink in _sinks:
        if isinstance(sink, _TensorBoard):
            from transformers.integrations import TensorBoardCallback

            cb = TensorBoardCallback()
            cb.logging_dir = str(sink.log_dir)
            out.append(cb)
    return out


def log_scalars(scalars: Mapping[str, Any], step: int, prefix: str = "") -> None:
    """Send the finite numbers of ``scalars`` (nested dicts flattened with '/') to every sink."""
    if not _sinks:
        return
    flat: dict[str, float] = {}

    def walk(node: Any, key: str) -> None:
        if isinstance(node, Mapping):
            for k, v in node.items():
                walk(v, f"{key}/{k}" if key else str(k))
        elif isinstance(node, bool):
            return
        elif isinstance(node, int | float) and math.isfinite(node):
            flat[key] = float(node)

    walk(scalars, prefix.rstrip("/"))
    if flat:
        for sink in _sinks:
            sink.log(flat, step)


# headline numbers of a finished synthetic run, logged once it ends (metrics.json paths)
SYNTHETIC_EVAL = {
    "pretrained/continuous_error": ("pretrained", "continuous_error"),
    "pretrained/discrete_error": ("pretrained", "discrete_error"),
    "finetuned/continuous_error": ("finetuned", "continuous_error"),
    "finetuned/discrete_error": ("finetuned", "discrete_error"),
    "conjugate/continuous_error": ("conjugate", "continuous_error"),
    "conjugate/recovered_fraction": ("recovered_fraction",),
    "implied_weight/pretrained_continuous": ("implied_weight", "pretrained", "continuous", "mean"),
    "implied_weight/finetuned_continuous": ("implied_weight", "finetuned", "continuous", "mean"),
}


def log_synthetic_eval(run_dir: str | Path) -> None:
    """The forgetting evaluation of a finished ``synthetic reproduce`` run, as ``eval/*`` scalars
    at the last fine-tuning step (read from its ``metrics.json``)."""
    import json

    path = Path(run_dir) / "metrics.json"
    if not _sinks or not path.is_file():
        return
    m = json.loads(path.read_text(encoding="utf-8"))

    def at(keys: Sequence[str]) -> Any:
        node: Any = m
        for k in keys:
            node = node.get(k) if isinstance(node, Mapping) else None
        return node

    step = at(("provenance", "config", "synthetic", "finetune", "steps")) or 0
    log_scalars({k: at(keys) for k, keys in SYNTHETIC_EVAL.items()}, int(step), prefix="eval")


def report_to_option(command: Any) -> Any:
    """Add ``--report-to`` to a click command whose run directory is its ``out`` argument.

    The command runs inside a :func:`reporting` context; a ``reproduce`` run then logs its
    forgetting evaluation (``eval/*``) too.
    """
    import functools

    import click

    @functools.wraps(command)
    def wrapper(*args: Any, report_to: str = "none", **kwargs: Any) -> Any:
        targets = parse_report_to(report_to)
        out = kwargs.get("out")
        if not targets or out is None:
            return command(*args, **kwargs)
        with reporting(targets, out, run_name=Path(out).name):
            result = command(*args, **kwargs)
            log_synthetic_eval(out)
        return result

    return click.option(
        "--report-to",
        "report_to",
        default="none",
        show_default=True,
        help="tensorboard and/or wandb (comma-separated): training curves as scalars",
    )(wrapper)
