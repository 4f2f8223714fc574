"""``forgetlab compare``: what fine-tuning changed, from two harness logs."""

from __future__ import annotations

import click

from forgetlab.compare.align import ALIGN_CHOICES


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


@click.command("compare")
@click.argument("base", type=click.Path())
@click.argument("tuned", type=click.Path())
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option(
    "--align-by",
    type=click.Choice(ALIGN_CHOICES),
    default="id+prompt",
    show_default=True,
    help="Pair samples by id and prompt hash, or by id alone (prompts may differ).",
)
@click.option(
    "--equivalence-margin",
    type=float,
    default=None,
    help="Also test |delta| < M with two one-sided tests (TOST), e.g. 0.02.",
)
@click.option("--tasks", default=None, help="Comma-separated tasks to compare (default: all).")
@click.option(
    "--metrics", default=None, help="Comma-separated per-sample metrics (default: all numeric)."
)
def compare(
    base: str,
    tuned: str,
    out: str,
    align_by: str,
    equivalence_margin: float | None,
    tasks: str | None,
    metrics: str | None,
) -> None:
    """Paired comparison of two runs of the same evaluation: BASE and TUNED are
    lm-evaluation-harness output folders or samples_*.jsonl files (--log_samples), or Inspect
    eval logs (.eval/.json files or a log folder).

    Per task and metric: means, delta with a paired bootstrap 95% interval, exact McNemar
    (0/1 metrics) or Wilcoxon signed-rank, flip counts, Holm-adjusted p; writes results.json,
    results.md and report.html (with a per-sample browser) to OUT.
    """
    from pathlib import Path

    from forgetlab.compare.report import markdown
    from forgetlab.compare.run import HTML, MARKDOWN, RESULTS, Options
    from forgetlab.compare.run import compare as run_compare

    options = Options(
        align_by=align_by,
        equivalence_margin=equivalence_margin,
        tasks=_csv(tasks),
        metrics=_csv(metrics),
    )
    results = run_compare(base, tuned, out, options)
    click.echo(markdown(results).split("\n", 4)[4].rstrip())
    for name in (RESULTS, MARKDOWN, HTML):
        click.echo(f"wrote {Path(out) / name}")
