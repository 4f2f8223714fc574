"""`forgetlab llm ...` commands.

Benchmarks have no command code here: ``llm run NAME`` builds each one's command from the
flags its module declares (``BENCHMARKS`` in ``benchmarks/registry.py``), and the older
``llm icl-vs-if``, ``llm harmful`` and ``llm xnli`` are the same commands under their first
names. Heavy imports stay inside the commands.
"""

from __future__ import annotations

from typing import Any

import click

from forgetlab.llm.benchmarks import registry as benchmark_registry
from forgetlab.llm.benchmarks.command import MISSING, BenchmarkCommand, Flag, split_csv

# Benchmarks that are also commands of `forgetlab llm` itself (their names before `llm run`).
DIRECT_BENCHMARKS = ("harmful", "icl-vs-if", "xnli")


# --- benchmark commands from their declarations (benchmarks/command.py) ---------------------


def click_option(flag: Flag) -> click.Option:
    """The click option a :class:`Flag` declares."""
    attrs: dict[str, Any] = {}
    if flag.kind == "int":
        attrs["type"] = int
    elif flag.kind == "choice":
        attrs["type"] = click.Choice(list(flag.choices))
    elif flag.kind == "dir":
        attrs["type"] = click.Path(file_okay=False)
    elif flag.kind == "file":
        attrs["type"] = click.Path(dir_okay=False)
    elif flag.kind == "switch" and "/" not in flag.decl:
        attrs["is_flag"] = True
    if flag.default is not MISSING:
        attrs["default"] = flag.default
    if flag.required and not flag.aliases:  # with aliases, checked once all are parsed
        attrs["required"] = True
    if flag.multiple:
        attrs["multiple"] = True
    if flag.show_default:
        attrs["show_default"] = True
    return click.Option([flag.decl, flag.name], help=flag.help, **attrs)


def _alias_dest(flag: Flag, alias: str) -> str:
    return f"{flag.name}__{alias.lstrip('-').replace('-', '_')}"


def alias_options(flag: Flag) -> list[click.Option]:
    """Hidden options for a flag's older spellings (see :func:`apply_aliases`)."""
    kind = {"int": int}.get(flag.kind, str)
    return [
        click.Option([alias, _alias_dest(flag, alias)], type=kind, hidden=True, default=None)
        for alias in flag.aliases
    ]


def apply_aliases(spec: BenchmarkCommand, values: dict[str, Any]) -> dict[str, Any]:
    """Fold the values of deprecated spellings into their flag (with a note on stderr each),
    and require a required flag given under neither name."""
    out = dict(values)
    for flag in spec.flags:
        for alias in flag.aliases:
            given = out.pop(_alias_dest(flag, alias), None)
            if given is None:
                continue
            if out.get(flag.name) is not None:
                raise click.UsageError(f"{alias} and {flag.decl} name the same option; give one")
            click.echo(f"forgetlab: note: {alias} is deprecated; use {flag.decl}", err=True)
            out[flag.name] = given
        if flag.aliases and flag.required and out.get(flag.name) is None:
            raise click.MissingParameter(param_hint=f"'{flag.decl}'", param_type="option")
    return out


def benchmark_command(name: str, spec: BenchmarkCommand) -> click.Command:
    """A click command that parses ``spec``'s flags, runs it and prints what it describes."""

    def callback(**parsed: Any) -> None:
        values = apply_aliases(spec, parsed)
        results = spec.run(**spec.run_values(values))
        for line in spec.describe(results, values):
            click.echo(line)

    params: list[click.Parameter] = [click_option(f) for f in spec.flags]
    params += [opt for f in spec.flags for opt in alias_options(f)]
    return click.Command(name, callback=callback, params=params, help=spec.help)


def registered_command(name: str) -> click.Command:
    """Benchmark ``name``'s command (an unknown name is a one-line error with a suggestion)."""
    return benchmark_command(name, benchmark_registry.BENCHMARKS.get(name))


class BenchmarkGroup(click.Group):
    """``llm run``: one subcommand per registered benchmark, built when it is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return benchmark_registry.BENCHMARKS.names()

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return registered_command(cmd_name)


class LlmGroup(click.Group):
    """``llm``: its own commands plus the benchmarks that keep a direct command."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *DIRECT_BENCHMARKS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in DIRECT_BENCHMARKS:
            return registered_command(cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(name="llm", cls=LlmGroup)
def llm() -> None:
    """llm lab commands."""


@llm.group(name="run", cls=BenchmarkGroup, subcommand_metavar="BENCHMARK [ARGS]...")
def run_group() -> None:
    """Run a registered benchmark: forgetlab llm run BENCHMARK --help for its options."""


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
    from forgetlab.llm.labels import export_label_csv

    n = export_label_csv(run_dir, out_csv, with_judge=with_judge, sample=sample, seed=seed)
    click.echo(f"wrote {n} rows to {out_csv}")


@label_group.command(name="import")
@click.option("--run", "run_dir", required=True, type=click.Path(file_okay=False, exists=True))
@click.option("--labels", "csv_path", required=True, type=click.Path(dir_okay=False))
@click.option("--annotator", required=True, help="Name of this label set, e.g. alice.")
def label_import(run_dir: str, csv_path: str, annotator: str) -> None:
    """Store an annotated CSV as label set ANNOTATOR (blank labels are skipped)."""
    from forgetlab.llm.labels import import_labels

    counts = import_labels(run_dir, csv_path, annotator)
    click.echo(f"imported {sum(counts.values())} labels as {annotator!r}: {counts}")


@label_group.command(name="judge")
@click.option("--run", "run_dir", required=True, type=click.Path(file_okay=False, exists=True))
@click.option("--judge", "judge_spec", required=True, help="substring or llm:MODEL.")
@click.option("--name", required=True, help="Name of the new label set.")
def label_judge(run_dir: str, judge_spec: str, name: str) -> None:
    """Label a finished run's outputs with another judge (no regeneration)."""
    from forgetlab.llm.judges import build_judge
    from forgetlab.llm.labels import store_judge_labels

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
    from forgetlab.llm.judges import agreement
    from forgetlab.llm.labels import load_label_set
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


# --- prompt exports: export-prompts / export-lm-eval (benchmarks/registry.py) ----------------


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
        split_csv(languages) or None,
        tasks=split_csv(tasks) or None,
        limit=limit,
        transforms=split_csv(transforms) or None,
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
    res = export_lm_eval(
        out, split_csv(languages) or None, split_csv(transforms), split_csv(tasks) or None, limit
    )
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
    --log_samples get the paired 95% interval of icl-vs-if's results.json. For any lm-eval
    task or Inspect log, with paired tests and a per-sample browser: forgetlab compare.
    """
    from forgetlab.llm.lm_eval_drop import describe, drop_table
    from forgetlab.results import write_json

    results = drop_table(base, tuned)
    click.echo(describe(results))
    if out:
        write_json(out, results)
        click.echo(f"wrote {out}")
