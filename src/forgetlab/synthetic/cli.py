"""`forgetlab synthetic ...` commands."""

from __future__ import annotations

import click

from forgetlab.config import SEED_TYPE
from forgetlab.tracking import report_to_option


@click.group(name="synthetic")
def synthetic() -> None:
    """synthetic lab commands."""


# --- pretrain / finetune (model training; docs/synthetic-training.md) ------------------

_OUT_HELP = "run directory (rerunning the command resumes)"
_DEVICE_HELP = "auto (default: CUDA when present), cpu, cuda, cuda:1 ..."
_OVERWRITE_HELP = "--out holds another run: move its files to OUT/replaced-<time>/ and start afresh"


@synthetic.command("pretrain")
@report_to_option
@click.option("--preset", default="cpu", show_default=True, help="smoke, cpu, raventos or paper")
@click.option("--out", required=True, type=click.Path(file_okay=False), help=_OUT_HELP)
@click.option("--steps", type=int, default=None, help="override train.steps")
@click.option("--seed", type=SEED_TYPE, default=None, help="override seed (model init and batches)")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="YAML config")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="e.g. task.alpha=0.3")
@click.option("--device", default=None, help=_DEVICE_HELP)
@click.option("--quiet", is_flag=True, help="no progress bar")
@click.option("--overwrite", is_flag=True, help=_OVERWRITE_HELP)
def pretrain_cmd(
    preset: str,
    out: str,
    steps: int | None,
    seed: int | None,
    config_file: str | None,
    overrides: tuple[str, ...],
    device: str | None,
    quiet: bool,
    overwrite: bool,
) -> None:
    """Pretrain the in-context regression transformer on the task mixture (torchrun: DDP)."""
    from forgetlab.synthetic.presets import synthetic_config
    from forgetlab.synthetic.train import pretrain

    extra: dict = {}
    if steps is not None:
        extra["train"] = {"steps": steps}
    if seed is not None:
        extra["seed"] = seed
    cfg = synthetic_config(preset, config_file, overrides, extra)
    pretrain(cfg, out, device=device, show_progress=not quiet, overwrite=overwrite)


@synthetic.command("finetune")
@report_to_option
@click.option("--from", "from_dir", required=True, help="directory of a finished pretraining run")
@click.option("--out", required=True, type=click.Path(file_okay=False), help=_OUT_HELP)
@click.option("--alpha", type=float, default=None, help="discrete share (default finetune.alpha=1)")
@click.option("--lr", type=float, default=None, help="override finetune.lr")
@click.option("--steps", type=int, default=None, help="override finetune.steps")
@click.option("--batch-size", type=int, default=None, help="override finetune.batch_size")
@click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE", help="config override, repeatable"
)
@click.option("--device", default=None, help=_DEVICE_HELP)
@click.option("--quiet", is_flag=True, help="no progress bar")
@click.option("--overwrite", is_flag=True, help=_OVERWRITE_HELP)
def finetune_cmd(
    from_dir: str,
    out: str,
    alpha: float | None,
    lr: float | None,
    steps: int | None,
    batch_size: int | None,
    overrides: tuple[str, ...],
    device: str | None,
    quiet: bool,
    overwrite: bool,
) -> None:
    """Continue training a pretrained run on the discrete family (or a mixture with --alpha)."""
    from forgetlab.synthetic.train import finetune

    finetune(
        from_dir, out, alpha=alpha, lr=lr, steps=steps, batch_size=batch_size,
        overrides=overrides, device=device, show_progress=not quiet, overwrite=overwrite,
    )  # fmt: skip


# --- reproduce / analyze (forgetting analysis and conjugate prompting) -----------------


@synthetic.command("reproduce")
@report_to_option
@click.option("--preset", default="cpu", show_default=True, help="smoke, cpu, raventos or paper")
@click.option(
    "--config", "config_file", type=click.Path(dir_okay=False), default=None, help="YAML config"
)
@click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE", help="override, e.g. train.steps=2000"
)
@click.option(
    "--out", required=True, type=click.Path(file_okay=False), help="run directory (rerun resumes)"
)
@click.option("--device", default=None, help="cpu, cuda, cuda:1 ... (default: best available)")
@click.option("--quiet", is_flag=True, help="no progress bars")
@click.option(
    "--seeds", default=1, show_default=True, help="independent seeds, in OUT/seed_<s>/ when > 1"
)
@click.option("--jobs", type=int, default=None, help="seeds run at once (default: cores // 2)")
@click.option("--overwrite", is_flag=True, help=_OVERWRITE_HELP)
def reproduce_cmd(
    preset: str,
    config_file: str | None,
    overrides: tuple[str, ...],
    out: str,
    device: str | None,
    quiet: bool,
    seeds: int,
    jobs: int | None,
    overwrite: bool,
) -> None:
    """Pretrain -> fine-tune -> evaluate -> conjugate sweep; writes metrics.json, report.md, figures."""
    from forgetlab.synthetic.reproduce import reproduce, reproduce_config

    cfg = reproduce_config(preset, config_file, overrides)
    if seeds != 1:
        from forgetlab.synthetic.seeds import run_seeds

        r = run_seeds(
            cfg, out, seeds, jobs=jobs, device=device, show_progress=not quiet,
            overwrite=overwrite, log=lambda s: click.echo(s, err=True),
        )  # fmt: skip
        click.echo(f"{len(r['seeds'])} seeds aggregated in {out}/metrics.json and {out}/report.md")
        return
    m = reproduce(
        cfg, out, device=device, show_progress=not quiet, overwrite=overwrite,
        log=lambda s: click.echo(s, err=True),
    )  # fmt: skip
    _echo_summary(m, out)


@synthetic.command("analyze")
@click.option(
    "--pretrained", "pretrained_dir", required=True, type=click.Path(file_okay=False, exists=True)
)
@click.option(
    "--finetuned", "finetuned_dir", required=True, type=click.Path(file_okay=False, exists=True)
)
@click.option(
    "--out", required=True, type=click.Path(file_okay=False), help="where metrics/report go"
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="analysis setting, e.g. yscale=[1.5,2]",
)
@click.option("--device", default=None, help="cpu, cuda ... (default: best available)")
@click.option("--overwrite", is_flag=True, help=_OVERWRITE_HELP)
def analyze_cmd(
    pretrained_dir: str,
    finetuned_dir: str,
    out: str,
    overrides: tuple[str, ...],
    device: str | None,
    overwrite: bool,
) -> None:
    """Analyse an existing pretrained / fine-tuned pair (errors, λ̂, distance bins, conjugates)."""
    from pathlib import Path

    from forgetlab.config import parse_overrides, validate
    from forgetlab.rundir import RunDir
    from forgetlab.synthetic.reproduce import AnalysisConfig, analyze_pair

    acfg = validate(AnalysisConfig, parse_overrides(overrides))
    claim = {
        "kind": "analyze",
        "pretrained": str(Path(pretrained_dir).resolve()),
        "finetuned": str(Path(finetuned_dir).resolve()),
        "analysis": acfg.model_dump(mode="json"),
    }
    with RunDir(out, claim, name="analyze_config.json", overwrite=overwrite) as run:
        m = analyze_pair(
            Path(pretrained_dir),
            Path(finetuned_dir),
            run.path,
            acfg,
            device=device,
            log=lambda s: click.echo(s, err=True),
        )
    _echo_summary(m, out)


def _echo_summary(m: dict, out: str) -> None:
    pt, ft, cj = m["pretrained"], m["finetuned"], m["conjugate"]
    click.echo(
        f"continuous error: pretrained {pt['continuous_error']:.4f}  fine-tuned {ft['continuous_error']:.4f}"
    )
    click.echo(
        f"discrete error:   pretrained {pt['discrete_error']:.4f}  fine-tuned {ft['discrete_error']:.4f}"
    )
    click.echo(
        f"best conjugate {cj['best']['name']}: continuous {cj['continuous_error']:.4f}, "
        f"recovered fraction {m['recovered_fraction']:.3f}"
    )
    click.echo(f"report: {out}/report.md   metrics: {out}/metrics.json")


# --- baselines (exact Bayes and reference predictors; docs/bayes.md) -------------------


@synthetic.command("baselines")
@click.option("--preset", default="cpu", show_default=True, help="smoke, cpu, raventos or paper")
@click.option(
    "--config", "config_file", type=click.Path(dir_okay=False), default=None, help="YAML config"
)
@click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE", help="override, e.g. task.alpha=0.3"
)
@click.option("--n-prompts", type=int, default=None, help="prompts per family (eval.n_prompts)")
@click.option("--seed", type=SEED_TYPE, default=None, help="seed of the evaluation prompts")
@click.option(
    "--out", required=True, type=click.Path(file_okay=False), help="writes baselines.json/.png"
)
@click.option("--overwrite", is_flag=True, help=_OVERWRITE_HELP)
def baselines_cmd(
    preset: str,
    config_file: str | None,
    overrides: tuple[str, ...],
    n_prompts: int | None,
    seed: int | None,
    out: str,
    overwrite: bool,
) -> None:
    """Normalised error vs k of ridge, dMMSE, mixture-Bayes, OLS, averaging and zero."""
    from forgetlab.synthetic.baselines import format_table, run_baselines
    from forgetlab.synthetic.presets import synthetic_config

    extra: dict = {}
    if n_prompts is not None:
        extra["eval"] = {"n_prompts": n_prompts}
    if seed is not None:
        extra["seed"] = seed
    cfg = synthetic_config(preset, config_file, overrides, extra)
    result = run_baselines(cfg, out, overwrite=overwrite)
    click.echo(format_table(result))
    if result["bayes_sigma"] != cfg.task.sigma:
        click.echo(
            f"note: task.sigma = {cfg.task.sigma}; Bayes predictors use sigma = {result['bayes_sigma']:g}"
        )
    click.echo(f"wrote {out}/baselines.json and {out}/baselines.png")
