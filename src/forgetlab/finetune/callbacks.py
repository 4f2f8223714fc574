"""Watching forgetting while it happens: evaluation at every checkpoint.

:class:`ForgettingCallback` evaluates the model being trained at step 0 and at every
checkpoint with the suites of ``--eval-suite`` (``icl-vs-if[:N]``, ``harmful[:N]``) and
writes ``forgetting_curve.json`` and ``forgetting_curve.png`` (ICL accuracy / refusal
rate per language against step). With LoRA the step-0 point is the base model through
PEFT's ``disable_adapter()``; with full fine-tuning it is the weights before the first
update. Per-sample outputs go to ``forgetting/step-N/SUITE.jsonl`` (harmful generations are
stored on disk, never printed). A resumed run keeps the points it already has and fills in
a checkpoint whose evaluation was interrupted.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from forgetlab.finetune.config import SFTRunConfig
from forgetlab.finetune.evalsuite import SuiteRunner, make_runners, parse_suites
from forgetlab.progress import Progress
from forgetlab.results import config_hash, provenance, read_json, write_json
from forgetlab.tracking import log_scalars

CURVE_JSON = "forgetting_curve.json"
CURVE_PNG = "forgetting_curve.png"


class ForgettingCallback(TrainerCallback):
    """Evaluate at step 0 and at each save; keep the curve on disk (atomic writes)."""

    def __init__(
        self,
        cfg: SFTRunConfig,
        out: Path,
        *,
        runners: Mapping[str, SuiteRunner] | None = None,
        backend_factory: Callable[..., Any] | None = None,
    ) -> None:
        self.cfg = cfg
        self.out = Path(out)
        self.suites = parse_suites(cfg.eval.suites)
        self.runners = dict(runners) if runners is not None else make_runners(self.suites, cfg.eval)
        self.curve_path = self.out / CURVE_JSON
        self.points: list[dict[str, Any]] = []
        if self.curve_path.is_file():
            old = read_json(self.curve_path)
            if old.get("config_hash") == config_hash(cfg.model_dump()):
                self.points = list(old.get("points", []))
            else:  # an --overwrite run with another config: its points and samples are stale
                shutil.rmtree(self.out / "forgetting", ignore_errors=True)
        self.tokenizer: Any = None
        self.backend_factory = backend_factory

    # -- Trainer hooks -------------------------------------------------------------------
    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.tokenizer = kw.get("processing_class") or kw.get("tokenizer")
        model = kw["model"]
        if not state.is_world_process_zero:
            return
        if not self._has(0):
            self._evaluate(model, 0, base=True)
        if state.global_step > 0 and not self._has(state.global_step):
            self._evaluate(model, state.global_step, base=False)

    def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if state.is_world_process_zero and not self._has(state.global_step):
            self._evaluate(kw["model"], state.global_step, base=False)

    # -- internals -----------------------------------------------------------------------
    def _has(self, step: int) -> bool:
        return any(p["step"] == step for p in self.points)

    def _evaluate(self, model: Any, step: int, *, base: bool) -> None:
        from forgetlab.finetune.evalsuite import backend_for

        factory = self.backend_factory or backend_for
        was_training = model.training
        model.eval()
        try:
            with _base_view(model, enabled=base):
                backend = factory(
                    model,
                    self.tokenizer,
                    name=f"{self.cfg.model}@step{step}",
                    batch_size=self.cfg.eval.batch_size,
                )
                metrics = {
                    suite: runner(backend, self.out / "forgetting" / f"step-{step}")
                    for suite, runner in self.runners.items()
                }
        finally:
            if was_training:
                model.train()
        log_scalars(metrics, step, prefix="forgetting")  # --report-to tensorboard/wandb
        self.points.append({"step": step, "side": "base" if base else "tuned", "metrics": metrics})
        self.points.sort(key=lambda p: p["step"])
        self.write()

    def write(self) -> None:
        write_json(
            self.curve_path,
            provenance(
                self.cfg.model_dump(),
                suites=[s.spec for s in self.suites],
                points=self.points,
            ),
        )
        plot_curve(
            self.points,
            self.out / CURVE_PNG,
            title=f"{self.cfg.model} fine-tuned on {Path(self.cfg.data).name}",
        )


class StderrLog(TrainerCallback):
    """Training progress on stderr (stdout carries the JSON summary): a live bar on a
    terminal, a plain line every 30 s or 5 % of the steps in a log (:mod:`forgetlab.progress`),
    with the last logged loss and learning rate.

    The Trainer logs a step's loss after that step has ended, so the count catches up when a
    loss is logged and when the next step begins: a line never shows an older loss than the
    step it counts.
    """

    def __init__(self) -> None:
        self.progress: Progress | None = None

    def _catch_up(self, state: Any) -> None:
        if self.progress is not None and state.global_step > self.progress.n:
            self.progress.update(state.global_step - self.progress.n)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if state.is_world_process_zero:
            self.progress = Progress(
                state.max_steps or None, initial=state.global_step, desc="forgetlab finetune"
            )

    def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self._catch_up(state)

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
        if self.progress is None or not logs or "loss" not in logs:
            return
        values = {"loss": f"{float(logs['loss']):.4f}"}
        if "learning_rate" in logs:
            values["lr"] = f"{float(logs['learning_rate']):.2e}"
        self.progress.set_postfix(**values)
        self._catch_up(state)

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.progress is not None:
            self._catch_up(state)
            self.progress.close()
            self.progress = None


@contextlib.contextmanager
def _base_view(model: Any, *, enabled: bool) -> Iterator[None]:
    """Inside: the base model (PEFT adapters disabled) if ``enabled`` and ``model`` has adapters."""
    disable = getattr(model, "disable_adapter", None)
    if enabled and callable(disable) and hasattr(model, "peft_config"):
        with disable():
            yield
    else:
        yield


PANELS = (
    ("icl-vs-if", "icl_accuracy", "ICL accuracy"),
    ("harmful", "refusal_rate", "refusal rate"),
)


def plot_curve(points: list[dict[str, Any]], path: Path, *, title: str = "") -> None:
    """One panel per suite present: the metric per language against training step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    panels = [p for p in PANELS if any(p[0] in pt["metrics"] for pt in points)]
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    for ax, (suite, metric, label) in zip(axes[0], panels, strict=True):
        langs = sorted(
            {lang for pt in points for lang in pt["metrics"].get(suite, {}).get(metric, {})}
        )
        for lang in langs:
            xs = [
                pt["step"] for pt in points if lang in pt["metrics"].get(suite, {}).get(metric, {})
            ]
            ys = [
                pt["metrics"][suite][metric][lang]
                for pt in points
                if lang in pt["metrics"].get(suite, {}).get(metric, {})
            ]
            ax.plot(xs, ys, marker="o", label=lang)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("training step (0 = base)")
        ax.set_ylabel(label)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(title="language")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
