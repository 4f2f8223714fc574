"""Assembling the page: one section per run, synthetic runs grouped side by side."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from forgetlab.report.html import finetune, harmful, paired, synthetic, xnli
from forgetlab.report.html.collect import (
    BenchmarkRun,
    FinetuneRun,
    HarmfulRun,
    LlmRun,
    PairedRun,
    Run,
    SeedsRun,
    SyntheticRun,
    XnliRun,
    collect,
)
from forgetlab.report.html.page import document
from forgetlab.results import write_text_atomic

KIND_TITLES = {
    "synthetic": "Synthetic lab",
    "paired": "ICL vs instruction following",
    "xnli": "XNLI",
    "harmful": "Harmful requests",
    "finetune": "Fine-tuning",
}


def render(runs: Sequence[Run], *, redact: bool = False) -> str:
    """The HTML of a report over ``runs`` (in the given order)."""
    sections: list[tuple[str, str, str]] = []
    syn: list[SyntheticRun] = []
    seed_sets = [r for r in runs if isinstance(r, SeedsRun)]
    for r in runs:
        if isinstance(r, SeedsRun):
            syn.extend(r.runs)
        elif isinstance(r, SyntheticRun):
            syn.append(r)
    # one seed set alone: its own aggregate (mean and interval across seeds) is shown
    aggregate = seed_sets[0] if len(seed_sets) == 1 and len(syn) == len(seed_sets[0].runs) else None
    syn_done = False
    for i, run in enumerate(runs):
        name = run.path.name
        if isinstance(run, SyntheticRun | SeedsRun):
            if not syn_done:
                title = "Synthetic lab" + (
                    f": {len(syn)} runs side by side" if len(syn) > 1 else f": {name}"
                )
                sections.append(("synthetic", title, synthetic.section(syn, aggregate=aggregate)))
                syn_done = True
        elif isinstance(run, LlmRun):
            title, html = llm_section(run, i, redact=redact)
            sections.append((f"run-{i}", f"{title}: {name}", html))
        elif isinstance(run, FinetuneRun):
            sections.append((f"run-{i}", f"Fine-tuning: {name}", finetune.section(run, i)))
    kinds = list(dict.fromkeys(kind_title(r) for r in runs))
    title = "forgetlab report: " + ", ".join(kinds)
    if len(runs) == 1:
        title += f" ({runs[0].path.name})"
    note = " Generated text of harmful-request runs is omitted (--redact)." if redact else ""
    return document(title, sections, note=note)


def llm_section(run: LlmRun, i: int, *, redact: bool) -> tuple[str, str]:
    """The title and HTML of an LLM benchmark run, as its registered command declares them
    (``BenchmarkCommand.report``); a paired run of an unregistered benchmark is drawn like
    ICL vs IF under its own name."""
    from forgetlab.llm.benchmarks.registry import run_report

    bench = str(run.results.get("benchmark", "paired"))
    report = run_report(bench)
    if report is not None:
        return report.title_of(run.results), report.render(run, i, redact=redact)
    fallback = {PairedRun: paired.section, XnliRun: xnli.section, HarmfulRun: harmful.section}
    return bench, fallback[type(run)](run, i, redact=redact)  # type: ignore[operator]


def kind_title(run: Run) -> str:
    """The page title's word for a run: its benchmark's section title for an LLM run."""
    if isinstance(run, BenchmarkRun):
        from forgetlab.llm.benchmarks.registry import run_report

        report = run_report(str(run.results.get("benchmark")))
        return report.title_of(run.results) if report else str(run.results.get("benchmark"))
    return KIND_TITLES[run.kind]


def build_report(run_dirs: Sequence[str | Path], *, redact: bool = False) -> str:
    """Collect each directory and render them into one page."""
    return render([collect(d) for d in run_dirs], redact=redact)


def write_report(run_dirs: Sequence[str | Path], out: str | Path, *, redact: bool = False) -> Path:
    """Write the page for ``run_dirs`` to ``out`` (atomically) and return its path."""
    target = Path(out)
    write_text_atomic(target, build_report(run_dirs, redact=redact))
    return target


def write_run_report(run_dir: str | Path) -> Path | None:
    """``RUN_DIR/report.html`` for one finished run (what each lab writes at its end).

    The run's results are already on disk when this is called, so a page that cannot be
    drawn costs a warning, not the run: ``forgetlab report`` can rebuild it later.
    """
    try:
        return write_report([run_dir], Path(run_dir) / "report.html")
    except Exception as exc:  # the results stand; only the page is missing
        print(
            f"forgetlab: warning: {Path(run_dir) / 'report.html'} not written "
            f"({type(exc).__name__}: {exc}); rebuild it with `forgetlab report {run_dir} --out FILE.html`",
            file=sys.stderr,
        )
        return None
