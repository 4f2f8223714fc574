"""`forgetlab llm ...` commands."""

from __future__ import annotations

import click

from forgetlab.llm.harmful_eval import BENCHMARKS as HARMFUL_BENCHMARKS


@click.group(name="llm")
def llm() -> None:
    """llm lab commands."""


# ---------------------------------------------------------------- harmful-request evaluation
# (heavy imports stay inside the commands)


def _split_multi(values: tuple[str, ...]) -> list[str]:
    """``--languages en,ja --languages hu`` -> ``["en", "ja", "hu"]``."""
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


@llm.command(name="harmful")
@click.option(
    "--model", required=True, help="Backend spec of the model, e.g. packaged:smollm2-135m-instruct."
)
@click.option(
    "--benchmark",
    type=click.Choice(list(HARMFUL_BENCHMARKS)),
    default="harmful",
    show_default=True,
)
@click.option(
    "--languages",
    multiple=True,
    help="Comma-separated languages (default: all of the benchmark's).",
)
@click.option(
    "--transforms",
    multiple=True,
    help="Registry transforms applied to the English prompts, e.g. leetspeak,base64.",
)
@click.option(
    "--judge", "judge_spec", default="substring", show_default=True, help="substring or llm:MODEL."
)
@click.option(
    "--back-translator",
    default=None,
    help="apertium (es only) or a backend spec used to translate outputs to English.",
)
@click.option("--limit", type=int, default=None, help="Only the first N prompts of the selection.")
@click.option(
    "--all",
    "all_prompts",
    is_flag=True,
    help="All 520 AdvBench behaviours instead of the paper's 100.",
)
@click.option(
    "--compare",
    default=None,
    help="A second model evaluated side by side (e.g. after safety tuning).",
)
@click.option("--max-new-tokens", type=int, default=512, show_default=True, help="Paper: 512.")
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option("--dtype", default=None)
@click.option("--device", default=None)
@click.option(
    "--show-outputs",
    is_flag=True,
    help="Print generated text to the terminal (off by default: it is harmful).",
)
@click.option(
    "--overwrite", is_flag=True, help="Replace a run with a different configuration in --out."
)
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Run directory."
)
def harmful_cmd(
    model: str,
    benchmark: str,
    languages: tuple[str, ...],
    transforms: tuple[str, ...],
    judge_spec: str,
    back_translator: str | None,
    limit: int | None,
    all_prompts: bool,
    compare: str | None,
    max_new_tokens: int,
    batch_size: int,
    dtype: str | None,
    device: str | None,
    show_outputs: bool,
    overwrite: bool,
    out_dir: str,
) -> None:
    """Refusal rates on harmful requests per language / conjugate transform (docs/harmful.md#protocol).

    Generations are written to OUT/generations.jsonl and OUT/samples.jsonl, never printed
    unless --show-outputs.
    """
    from forgetlab.llm.harmful_eval import run_from_flags
    from forgetlab.report.harmful_report import render_markdown

    results = run_from_flags(
        model=model,
        benchmark=benchmark,
        languages=_split_multi(languages) or None,
        transforms=_split_multi(transforms),
        judge_spec=judge_spec,
        back_translator=back_translator,
        limit=limit,
        all_prompts=all_prompts,
        compare=compare,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        dtype=dtype,
        device=device,
        overwrite=overwrite,
        out_dir=out_dir,
    )
    click.echo(render_markdown(results))
    click.echo(
        f"wrote {out_dir}/results.json, results.md, results.png; per-sample outputs in {out_dir}/samples.jsonl"
    )
    if show_outputs:
        from forgetlab.llm.harmful_eval import load_samples

        for s in load_samples(out_dir):
            click.echo(f"--- {s['id']} [{s['label']}; judged_on {s['judged_on']}]")
            click.echo(f"raw: {s['output_raw']}")
            if s["output_en"] != s["output_raw"]:
                click.echo(f"en:  {s['output_en']}")


@llm.group(name="label")
def label_group() -> None:
    """Manual labelling of harmful-eval outputs and judge agreement (Cohen's kappa)."""


@label_group.command(name="export")
@click.option("--run", "run_dir", required=True, type=click.Path(file_okay=False, exists=True))
@click.option("--out", "out_csv", required=True, type=click.Path(dir_okay=False))
@click.option("--with-judge", is_flag=True, help="Include the judge's label (default: blind).")
@click.option(
    "--sample",
    type=int,
    default=None,
    help="Only N samples, spread evenly over every (model, condition).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --sample.")
def label_export(
    run_dir: str, out_csv: str, with_judge: bool, sample: int | None, seed: int
) -> None:
    """Write a CSV with an empty `label` column for annotators (REFUSE/ANSWER/AMBIGUOUS)."""
    from forgetlab.llm.harmful_eval import export_label_csv

    n = export_label_csv(run_dir, out_csv, with_judge=with_judge, sample=sample, seed=seed)
    click.echo(f"wrote {n} rows to {out_csv}")


@label_group.command(name="import")
@click.option("--run", "run_dir", required=True, type=click.Path(file_okay=False, exists=True))
@click.option("--labels", "csv_path", required=True, type=click.Path(dir_okay=False))
@click.option("--annotator", required=True, help="Name of this label set, e.g. alice.")
def label_import(run_dir: str, csv_path: str, annotator: str) -> None:
    """Store an annotated CSV as label set ANNOTATOR (blank labels are skipped)."""
    from forgetlab.llm.harmful_eval import import_labels

    counts = import_labels(run_dir, csv_path, annotator)
    click.echo(f"imported {sum(counts.values())} labels as {annotator!r}: {counts}")


@label_group.command(name="judge")
@click.option("--run", "run_dir", required=True, type=click.Path(file_okay=False, exists=True))
@click.option("--judge", "judge_spec", required=True, help="substring or llm:MODEL.")
@click.option("--name", required=True, help="Name of the new label set.")
def label_judge(run_dir: str, judge_spec: str, name: str) -> None:
    """Label a finished run's outputs with another judge (no regeneration)."""
    from forgetlab.llm.harmful_eval import store_judge_labels
    from forgetlab.llm.judges import build_judge

    counts = store_judge_labels(run_dir, build_judge(judge_spec), name)
    click.echo(f"stored {sum(counts.values())} labels as {name!r}: {counts}")


@label_group.command(name="agreement")
@click.option("--run", "run_dir", required=True, type=click.Path(file_okay=False, exists=True))
@click.option(
    "--a",
    "name_a",
    default="judge",
    show_default=True,
    help="Label set: judge (the run's) or a stored name.",
)
@click.option("--b", "name_b", required=True, help="Label set to compare with.")
@click.option(
    "--out",
    "out_json",
    default=None,
    type=click.Path(dir_okay=False),
    help="Also write the result as JSON.",
)
def label_agreement(run_dir: str, name_a: str, name_b: str, out_json: str | None) -> None:
    """Observed agreement and Cohen's kappa between two label sets on the samples both labelled."""
    from forgetlab.llm.harmful_eval import load_label_set
    from forgetlab.llm.judges import agreement
    from forgetlab.results import write_json

    res = agreement(load_label_set(run_dir, name_a), load_label_set(run_dir, name_b))
    click.echo(
        f"{name_a} vs {name_b}: n={res['n']} observed={res['observed_agreement']:.3f} "
        f"kappa={res['cohen_kappa']:.3f} (skipped judge_error: {res['skipped_judge_error']})"
    )
    for row, cols in res["confusion"].items():
        click.echo(f"  {row:>11}: " + "  ".join(f"{c}={v}" for c, v in cols.items()))
    if out_json:
        write_json(out_json, {"a": name_a, "b": name_b, **res})


# --- icl-vs-if: paired base vs tuned evaluation (evaluate.py) -------------------------------


@llm.command("icl-vs-if")
@click.option("--base", "base", required=True, help="Base model spec, e.g. packaged:gemma-3-270m.")
@click.option("--tuned", "tuned", required=True, help="Fine-tuned model spec.")
@click.option(
    "--languages",
    default="en,fr,es,nl,hu,ls,pl",
    show_default=True,
    help="Comma-separated pretranslated languages ('' for none).",
)
@click.option(
    "--transforms",
    default="",
    help="Comma-separated registry transforms applied to the English prompts, NAME[@payload|@full] "
    "(e.g. rot13,leetspeak,apertium:eng-spa).",
)
@click.option(
    "--limit", type=int, default=None, help="First N prompts per (task, language); default all 100."
)
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option("--dtype", default=None, help="Model dtype (backend default if unset).")
@click.option("--device", default=None, help="Device (backend default if unset).")
@click.option("--max-new-tokens", type=int, default=10, show_default=True)
@click.option(
    "--bos/--no-bos",
    default=None,
    help="Prepend a BOS token. Default: the backend's (no BOS as in the paper, except models "
    "that need one, e.g. Gemma).",
)
@click.option(
    "--overwrite", is_flag=True, help="Replace a run directory holding a different configuration."
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run directory.")
def icl_vs_if_cmd(
    base: str,
    tuned: str,
    languages: str,
    transforms: str,
    limit: int | None,
    batch_size: int,
    dtype: str | None,
    device: str | None,
    max_new_tokens: int,
    bos: bool | None,
    overwrite: bool,
    quiet: bool,
    out: str,
) -> None:
    """ICL vs instruction following, base vs fine-tuned (the paper's Table 1), resumable."""
    from forgetlab.llm.evaluate import (
        CHART_FILE,
        REPORT_FILE,
        RESULTS_FILE,
        ROLES,
        SAMPLES_FILE,
        run_from_flags,
    )
    from forgetlab.report.llm_report import render_table

    results = run_from_flags(
        base=base,
        tuned=tuned,
        languages=languages,
        transforms=transforms,
        limit=limit,
        batch_size=batch_size,
        dtype=dtype,
        device=device,
        max_new_tokens=max_new_tokens,
        add_bos=bos,
        overwrite=overwrite,
        quiet=quiet,
        out=out,
    )
    click.echo(render_table(results))
    pair = results["pair"]
    if pair.get("matched") is not True:
        click.echo(f"note: {pair['note']}")
    for role in ROLES:
        if results["models"].get(role, {}).get("backend") == "openai":
            click.echo(
                f"note: the {role} model is a chat model: each prompt was sent as one user "
                "message, so its scores are not those of raw-text continuation"
            )
    click.echo(
        f"wrote {out}/{RESULTS_FILE}, {REPORT_FILE}, {CHART_FILE}; samples in {SAMPLES_FILE}"
    )


# --- xnli: paired base vs tuned natural-language inference (benchmarks/xnli.py) -------------


@llm.command("xnli")
@click.option("--model", required=True, help="Base model spec, e.g. hf:meta-llama/Llama-2-7b-hf.")
@click.option(
    "--compare", required=True, help="Tuned model spec, e.g. hf:codellama/CodeLlama-7b-hf."
)
@click.option(
    "--languages", default=None, help="Comma-separated languages (default: all the benchmark has)."
)
@click.option(
    "--data",
    default=None,
    type=click.Path(dir_okay=False),
    help="Local JSONL or TSV file (premise, hypothesis, label[, language]) instead of the "
    "Hugging Face hub id xnli (docs/xnli.md#data).",
)
@click.option("--limit", type=int, default=None, help="First N pairs per language; default all.")
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option("--dtype", default=None, help="Model dtype (backend default if unset).")
@click.option("--device", default=None, help="Device (backend default if unset).")
@click.option(
    "--bos/--no-bos",
    default=None,
    help="Prepend a BOS token. Default: the backend's (none, except models that need one).",
)
@click.option(
    "--overwrite", is_flag=True, help="Replace a run directory holding a different configuration."
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run directory.")
def xnli_cmd(
    model: str,
    compare: str,
    languages: str | None,
    data: str | None,
    limit: int | None,
    batch_size: int,
    dtype: str | None,
    device: str | None,
    bos: bool | None,
    overwrite: bool,
    quiet: bool,
    out: str,
) -> None:
    """XNLI accuracy, base (--model) vs tuned (--compare), with paired drops (docs/xnli.md)."""
    from forgetlab.llm.benchmarks.xnli import RESULTS_FILE, run_from_flags
    from forgetlab.report.xnli_report import render_table

    results = run_from_flags(
        model=model,
        compare=compare,
        languages=None if languages is None else _csv(languages),
        data=data,
        limit=limit,
        batch_size=batch_size,
        dtype=dtype,
        device=device,
        add_bos=bos,
        overwrite=overwrite,
        quiet=quiet,
        out=out,
    )
    click.echo(render_table(results))
    pair = results["pair"]
    if pair.get("matched") is not True:
        click.echo(f"note: {pair['note']}")
    click.echo(f"wrote {out}/{RESULTS_FILE}, report.md; samples in samples.jsonl")


# --- prompt exports: export-prompts / export-lm-eval (benchmarks/registry.py) ----------------


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@llm.command("export-prompts")
@click.argument("benchmark")
@click.option(
    "--languages", default=None, help="Comma-separated languages (default: all of the benchmark's)."
)
@click.option(
    "--transforms",
    default=None,
    help="icl-vs-if only: comma-separated transforms NAME[@payload] applied to the English "
    "prompts (without --languages: only the transformed prompts).",
)
@click.option("--tasks", default=None, help="icl-vs-if only: e.g. capslock-math,repeat-startblank.")
@click.option(
    "--limit", type=int, default=None, help="First N prompts (per task and language for icl-vs-if)."
)
@click.option(
    "--all",
    "all_prompts",
    is_flag=True,
    help="harmful only: all 520 behaviours, not the paper's 100.",
)
@click.option(
    "--data",
    default=None,
    type=click.Path(dir_okay=False),
    help="xnli only: local JSONL/TSV file instead of the hub (docs/xnli.md#data).",
)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output .jsonl file.")
def export_prompts_cmd(
    benchmark: str,
    languages: str | None,
    transforms: str | None,
    tasks: str | None,
    limit: int | None,
    all_prompts: bool,
    data: str | None,
    out: str,
) -> None:
    """Write a benchmark's prompts as JSONL, one row per prompt (icl-vs-if, harmful, multijail,
    benign, xnli)."""
    import json

    from forgetlab.llm.benchmarks.registry import export_rows
    from forgetlab.results import write_text_atomic

    if limit is not None and limit < 1:
        raise click.UsageError(f"--limit must be >= 1 (got {limit})")
    rows = export_rows(
        benchmark,
        _csv(languages) or None,
        tasks=_csv(tasks) or None,
        limit=limit,
        transforms=_csv(transforms) or None,
        all_prompts=all_prompts,
        data=data,
    )
    write_text_atomic(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    click.echo(f"wrote {len(rows)} {benchmark} prompts to {out}")


@llm.command("export-lm-eval")
@click.option(
    "--languages", default=None, help="Comma-separated icl-vs-if languages (default: all 7)."
)
@click.option(
    "--transforms",
    default=None,
    help="Transformed English conditions, NAME[@payload] (without --languages: only these).",
)
@click.option("--tasks", default=None, help="Subset of tasks, e.g. capslock-math (default: all 4).")
@click.option("--limit", type=int, default=None, help="First N prompts per task and condition.")
@click.option(
    "--out", required=True, type=click.Path(file_okay=False), help="Output task directory."
)
def export_lm_eval_cmd(
    languages: str | None, transforms: str | None, tasks: str | None, limit: int | None, out: str
) -> None:
    """Write icl-vs-if as lm-evaluation-harness tasks (use with lm_eval --include_path OUT)."""
    from forgetlab.llm.lm_eval_export import export_lm_eval

    if limit is not None and limit < 1:
        raise click.UsageError(f"--limit must be >= 1 (got {limit})")
    res = export_lm_eval(out, _csv(languages) or None, _csv(transforms), _csv(tasks) or None, limit)
    n_tasks, n_groups = len(res["tasks"]), len(res["groups"])
    click.echo(
        f"wrote {n_tasks} lm-eval tasks in {n_groups} groups ({res['rows']} prompts) to {res['dir']}"
    )
    click.echo(
        f"run: lm_eval --model hf --model_args pretrained=MODEL,add_bos_token=False "
        f"--include_path {res['dir']} --tasks icl_vs_if --log_samples --output_path OUT "
        "(add_bos_token=True for Gemma models; see README.md there)"
    )


@llm.command("lm-eval-drop")
@click.argument("base", type=click.Path(exists=True))
@click.argument("tuned", type=click.Path(exists=True))
@click.option(
    "--out", default=None, type=click.Path(dir_okay=False), help="Also write the table as JSON."
)
def lm_eval_drop_cmd(base: str, tuned: str, out: str | None) -> None:
    """Drop table (base - tuned ICL accuracy) from two lm-eval runs of the export-lm-eval tasks.

    BASE and TUNED are lm-eval results_*.json files (or their folders). Runs made with
    --log_samples get the paired 95% interval of icl-vs-if's results.json.
    """
    from forgetlab.llm.lm_eval_drop import describe, drop_table
    from forgetlab.results import write_json

    results = drop_table(base, tuned)
    click.echo(describe(results))
    if out:
        write_json(out, results)
        click.echo(f"wrote {out}")
