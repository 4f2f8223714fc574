"""`forgetlab finetune ...` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from forgetlab.config import SEED_TYPE


@click.group(name="finetune")
def finetune() -> None:
    """finetune lab commands."""


# ---------------------------------------------------------------- sft / meet


def _split_multi(values: tuple[str, ...]) -> list[str]:
    """``--eval-suite icl-vs-if:20,harmful --eval-suite x`` -> a flat list."""
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _echo_json(data: object) -> None:
    import json

    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _training_options(fn: Any) -> Any:
    opts = [
        click.option(
            "--model", required=True, help="packaged:NAME, a local HF directory or a hub id."
        ),
        click.option(
            "--data",
            required=True,
            type=click.Path(dir_okay=False),
            help="JSONL: messages, prompt/completion or text rows.",
        ),
        click.option(
            "--lora/--full",
            "lora",
            default=None,
            help="LoRA adapter (preset default) or full fine-tuning.",
        ),
        click.option(
            "--lora-r",
            type=int,
            default=None,
            help="LoRA rank (alpha = 2r unless set with --set lora.alpha=...).",
        ),
        click.option(
            "--preset", default="smoke", show_default=True, help="smoke, cpu, gpu-lora, gpu-full."
        ),
        click.option(
            "--config",
            "config_file",
            type=click.Path(dir_okay=False),
            default=None,
            help="YAML config file.",
        ),
        click.option(
            "--set",
            "overrides",
            multiple=True,
            help="key.sub=value overrides, e.g. train.max_steps=50.",
        ),
        click.option("--max-steps", type=int, default=None),
        click.option(
            "--eval-suite",
            "eval_suites",
            multiple=True,
            help="icl-vs-if[:N] and/or harmful[:N], evaluated at checkpoints.",
        ),
        click.option(
            "--eval-languages", multiple=True, help="Languages for --eval-suite (comma-separated)."
        ),
        click.option(
            "--out",
            "out_dir",
            required=True,
            type=click.Path(file_okay=False),
            help="Run directory (rerun to resume).",
        ),
        click.option(
            "--overwrite", is_flag=True, help="Accept an --out holding a different configuration."
        ),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _extra(
    lora: bool | None,
    lora_r: int | None,
    max_steps: int | None,
    eval_suites: tuple[str, ...],
    eval_languages: tuple[str, ...],
) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if lora is not None:
        extra["method"] = "lora" if lora else "full"
    if lora_r is not None:
        extra["lora"] = {"r": lora_r, "alpha": 2 * lora_r}
    if max_steps is not None:
        extra["train"] = {"max_steps": max_steps}
    ev: dict[str, Any] = {}
    if eval_suites:
        ev["suites"] = _split_multi(eval_suites)
    if eval_languages:
        ev["languages"] = _split_multi(eval_languages)
    if ev:
        extra["eval"] = ev
    return extra


@finetune.command(name="sft")
@_training_options
@click.option(
    "--report-to",
    "report_to",
    default="none",
    show_default=True,
    help="tensorboard and/or wandb (comma-separated): loss and forgetting evaluations as scalars.",
)
def sft_cmd(
    model: str,
    data: str,
    lora: bool | None,
    lora_r: int | None,
    preset: str,
    config_file: str | None,
    overrides: tuple[str, ...],
    max_steps: int | None,
    eval_suites: tuple[str, ...],
    eval_languages: tuple[str, ...],
    out_dir: str,
    overwrite: bool,
    report_to: str,
) -> None:
    """Supervised fine-tuning (TRL SFTTrainer; LoRA or full); rerun the same command to resume.

    Many GPUs: accelerate launch -m forgetlab finetune sft ... (see docs/finetuning.md).
    """
    from forgetlab.finetune.config import sft_config
    from forgetlab.finetune.evalsuite import parse_suites
    from forgetlab.finetune.sft import run_sft
    from forgetlab.tracking import parse_report_to, reporting

    extra = {
        "model": model,
        "data": data,
        **_extra(lora, lora_r, max_steps, eval_suites, eval_languages),
    }
    cfg = sft_config(preset, config_file, overrides, extra)
    parse_suites(cfg.eval.suites)  # fail fast on a bad suite name
    targets = parse_report_to(report_to)
    with reporting(targets, out_dir, run_name=Path(out_dir).name, config=cfg.model_dump()):
        result = run_sft(cfg, out_dir, overwrite=overwrite)
    _echo_json(_summary(result))


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "kind",
        "complete",
        "resumed",
        "resumed_from",
        "global_step",
        "train_loss",
        "seconds",
        "outputs",
        "load_with",
    )
    return {k: result[k] for k in keys if k in result}


@finetune.command(name="meet")
@_training_options
@click.option(
    "--tokens",
    default=None,
    help="Comma-separated control tokens (default: from the data's provenance).",
)
@click.option(
    "--stage1-steps",
    type=int,
    default=None,
    help="Steps of stage 1 (control-token embeddings only).",
)
@click.option(
    "--stage1-lr",
    type=float,
    default=None,
    help="Learning rate of stage 1 (default 10x stage 2's).",
)
@click.option(
    "--joint",
    is_flag=True,
    help="Baseline: control tokens and model trained together from the start, for "
    "stage-1 + stage-2 steps at stage 2's settings (OUT/joint/).",
)
def meet_cmd(
    model: str,
    data: str,
    lora: bool | None,
    lora_r: int | None,
    preset: str,
    config_file: str | None,
    overrides: tuple[str, ...],
    max_steps: int | None,
    eval_suites: tuple[str, ...],
    eval_languages: tuple[str, ...],
    out_dir: str,
    overwrite: bool,
    tokens: str | None,
    stage1_steps: int | None,
    stage1_lr: float | None,
    joint: bool,
) -> None:
    """MEET: stage 1 trains only the control-token embeddings, stage 2 fine-tunes with them
    (--joint: both together from the start, the paper's baseline)."""
    from forgetlab.finetune.config import sft_config
    from forgetlab.finetune.meet import run_meet, run_meet_joint

    extra = {
        "model": model,
        "data": data,
        **_extra(lora, lora_r, max_steps, eval_suites, eval_languages),
    }
    stage2 = sft_config(preset, config_file, overrides, extra)
    train1 = stage2.train.model_copy(
        update={
            "max_steps": stage1_steps or stage2.train.max_steps,
            "learning_rate": stage1_lr or min(1e-1, 10 * stage2.train.learning_rate),
        }
    )
    stage1 = stage2.model_copy(
        update={"train": train1, "eval": stage2.eval.model_copy(update={"suites": []})}
    )
    toks = [t.strip() for t in tokens.split(",") if t.strip()] if tokens else None
    if joint:
        res = run_meet_joint(stage1, stage2, out_dir, tokens=toks, overwrite=overwrite)
        _echo_json(
            {
                "tokens": res["tokens"],
                "token_ids": res["token_ids"],
                "steps": res["steps"],
                "joint": _summary(res["joint"]),
                "load_with": res["load_with"],
            }
        )
        return
    result = run_meet(stage1, stage2, out_dir, tokens=toks, overwrite=overwrite)
    _echo_json(
        {
            "tokens": result["tokens"],
            "token_ids": result["token_ids"],
            "stage1": _summary(result["stage1"]),
            "stage2": _summary(result["stage2"]),
            "load_with": result["load_with"],
        }
    )


# ---------------------------------------------------------------- data builders


@finetune.group(name="data")
def data_group() -> None:
    """Build fine-tuning data (JSONL + FILE.provenance.json sidecar)."""


@data_group.command(name="nonins")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False))
@click.option(
    "--corpus",
    multiple=True,
    help="Text file or directory (repeatable; default /usr/share/common-licenses).",
)
@click.option("--n", type=int, default=200, show_default=True, help="Passages.")
@click.option(
    "--teacher",
    default="packaged:smollm2-135m-instruct",
    show_default=True,
    help="Backend spec, or 'none' (use the text's own second half).",
)
@click.option(
    "--true-half",
    is_flag=True,
    help="Control variant: each passage's own second half is the response (no teacher).",
)
@click.option("--mode", type=click.Choice(["chat", "complete"]), default="chat", show_default=True)
@click.option("--max-new-tokens", type=int, default=128, show_default=True)
@click.option("--max-words", type=int, default=160, show_default=True, help="Passage length cap.")
@click.option(
    "--prose",
    is_flag=True,
    help="Keep only running prose (drop markup, code, tables): for documentation sources.",
)
@click.option(
    "--contamination-ngram",
    type=int,
    default=8,
    show_default=True,
    help="Word n-gram length of the check against the evaluation prompts.",
)
@click.option(
    "--messages",
    "as_messages",
    is_flag=True,
    help="Write chat messages rows instead of prompt/completion.",
)
@click.option("--seed", type=SEED_TYPE, default=0, show_default=True)
@click.option("--batch-size", type=int, default=8, show_default=True)
@click.option(
    "--teacher-prompt",
    default="Continue the following text.\n\n{text}",
    help="Chat mode: the user message sent to the teacher ({text} = the first half).",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace an --out built with other settings (kept as NAME.replaced-<time>).",
)
def data_nonins_cmd(
    out_file: str,
    corpus: tuple[str, ...],
    n: int,
    teacher: str,
    true_half: bool,
    mode: str,
    max_new_tokens: int,
    max_words: int,
    prose: bool,
    contamination_ngram: int,
    as_messages: bool,
    seed: int,
    batch_size: int,
    teacher_prompt: str,
    overwrite: bool,
) -> None:
    """Non-instructional data: a text's first half -> a teacher's continuation (or, with
    --true-half, its own second half), checked against the evaluation prompts."""
    from forgetlab.finetune.data.nonins import DEFAULT_CORPUS, build_nonins

    _echo_json(
        build_nonins(
            out_file,
            corpus=list(corpus) or DEFAULT_CORPUS,
            n=n,
            teacher=teacher,
            true_half=true_half,
            mode=mode,  # type: ignore[arg-type]
            max_new_tokens=max_new_tokens,
            max_words=max_words,
            seed=seed,
            as_messages=as_messages,
            batch_size=batch_size,
            teacher_prompt=teacher_prompt,
            prose=prose,
            contamination_ngram=contamination_ngram,
            overwrite=overwrite,
        )
    )


@data_group.command(name="safety")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False))
@click.option(
    "--n-harmful",
    type=int,
    default=200,
    show_default=True,
    help="AdvBench behaviours (outside the eval 100).",
)
@click.option("--n-benign", type=int, default=200, show_default=True)
@click.option(
    "--n-helpful",
    type=int,
    default=0,
    show_default=True,
    help="Harmless how-to requests in harmful-request phrasings, answered by --teacher.",
)
@click.option(
    "--teacher",
    default="packaged:smollm2-135m-instruct",
    show_default=True,
    help="Backend spec that answers the --n-helpful requests (chat).",
)
@click.option(
    "--styles",
    type=int,
    default=0,
    show_default=True,
    help="Add the written harmful behaviours, each in this many of the six styles "
    "(question, plan, opinion bait, role-play, …), and the written free-form requests, refused.",
)
@click.option(
    "--n-style-benign",
    type=int,
    default=0,
    show_default=True,
    help="Everyday tasks in the same style templates, answered by --teacher.",
)
@click.option(
    "--borderline",
    is_flag=True,
    help="Add the harmless look-alike requests (kill a process, shoot fireworks), answered.",
)
@click.option(
    "--keep-near-duplicates",
    is_flag=True,
    help="Keep rows that nearly copy an evaluated or selection prompt (dropped by default).",
)
@click.option(
    "--languages", multiple=True, help="AdvBench languages of the harmful requests (default en)."
)
@click.option("--seed", type=SEED_TYPE, default=0, show_default=True)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace an --out built with other settings (kept as NAME.replaced-<time>).",
)
def data_safety_cmd(
    out_file: str,
    n_harmful: int,
    n_benign: int,
    n_helpful: int,
    teacher: str,
    styles: int,
    n_style_benign: int,
    borderline: bool,
    keep_near_duplicates: bool,
    languages: tuple[str, ...],
    seed: int,
    overwrite: bool,
) -> None:
    """Safety data: refusals for held-out AdvBench behaviours + benign helpful pairs."""
    from forgetlab.finetune.data.safety import build_safety

    langs = _split_multi(languages) or ["en"]
    _echo_json(
        build_safety(
            out_file,
            n_harmful=n_harmful,
            n_benign=n_benign,
            n_helpful=n_helpful,
            styles=styles,
            n_style_benign=n_style_benign,
            borderline=borderline,
            drop_near_duplicates=not keep_near_duplicates,
            teacher=teacher,
            languages=langs,
            seed=seed,
            overwrite=overwrite,
        )
    )


@data_group.command(name="control")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False))
@click.option("--n", type=int, default=200, show_default=True, help="Instructions (2 rows each).")
@click.option(
    "--source",
    type=click.Path(dir_okay=False),
    default=None,
    help="Derive from an SFT JSONL instead of templates.",
)
@click.option(
    "--teacher",
    default=None,
    help="Backend spec answering everyday requests: concise = first sentence of its answer, "
    "detailed = whole answer; writes OUT.eval.jsonl with held-out requests.",
)
@click.option("--max-new-tokens", type=int, default=160, show_default=True)
@click.option(
    "--eval-tasks", type=int, default=12, show_default=True, help="Tasks held out for evaluation."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["messages", "prompt-completion"]),
    default="messages",
    show_default=True,
)
@click.option("--seed", type=SEED_TYPE, default=0, show_default=True)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace an --out built with other settings (kept as NAME.replaced-<time>).",
)
def data_control_cmd(
    out_file: str,
    n: int,
    source: str | None,
    teacher: str | None,
    max_new_tokens: int,
    eval_tasks: int,
    fmt: str,
    seed: int,
    overwrite: bool,
) -> None:
    """Control-token (MEET) data: <concise>/<detailed> + instruction -> short/worked answer."""
    from forgetlab.finetune.data.control import build_control

    _echo_json(
        build_control(
            out_file,
            n=n,
            source=source,
            fmt=fmt,  # type: ignore[arg-type]
            seed=seed,
            teacher=teacher,
            max_new_tokens=max_new_tokens,
            eval_tasks=eval_tasks,
            overwrite=overwrite,
        )
    )


@data_group.command(name="instruct")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False))
@click.option(
    "--n-instructions",
    type=int,
    default=800,
    show_default=True,
    help="Templated instructions with exact answers.",
)
@click.option(
    "--n-passages", type=int, default=200, show_default=True, help="Prose continuation rows."
)
@click.option(
    "--corpus",
    default="/usr/share/doc/python3.11/html/_sources",
    show_default=True,
    help="Text file or directory (default: Debian package python3.11-doc).",
)
@click.option(
    "--teacher",
    default="none",
    show_default=True,
    help="Backend spec that continues the passages, or 'none' (the passage's own second half).",
)
@click.option("--mode", type=click.Choice(["chat", "complete"]), default="chat", show_default=True)
@click.option("--max-new-tokens", type=int, default=64, show_default=True)
@click.option(
    "--max-words",
    type=int,
    default=40,
    show_default=True,
    help="Passage length cap (short rows keep a CPU step cheap).",
)
@click.option("--seed", type=SEED_TYPE, default=0, show_default=True)
@click.option(
    "--families",
    type=click.Choice(["classic", "broad"]),
    default="classic",
    show_default=True,
    help="Instruction families: the 18 exact-answer drills, or those plus broader task types "
    "(fact tables, rewriting, classification, extraction, lists, definitions, comparisons).",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace an --out built with other settings (kept as NAME.replaced-<time>).",
)
def data_instruct_cmd(
    out_file: str,
    n_instructions: int,
    n_passages: int,
    corpus: str,
    teacher: str,
    mode: str,
    max_new_tokens: int,
    max_words: int,
    seed: int,
    families: str,
    overwrite: bool,
) -> None:
    """Raw-text instruction data for a base model, with no overlap with ICL-vs-IF."""
    from forgetlab.finetune.data.instruct import build_instruct

    _echo_json(
        build_instruct(
            out_file,
            n_instructions=n_instructions,
            n_passages=n_passages,
            corpus=corpus,
            teacher=teacher,
            mode=mode,  # type: ignore[arg-type]
            max_new_tokens=max_new_tokens,
            max_words=max_words,
            seed=seed,
            overwrite=overwrite,
            families=families,
        )
    )
