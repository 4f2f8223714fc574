"""``forgetlab compare BASE TUNED --out DIR``: read both logs, pair, test, write.

Files written to DIR: ``results.json`` (typed: ``schema.CompareResults``), ``results.md``
(the delta table) and ``report.html`` (the table and a per-sample browser).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forgetlab.compare import analysis
from forgetlab.compare.align import ALIGN_CHOICES, pair_task, select_tasks
from forgetlab.compare.inspect_reader import is_inspect_log, read_inspect
from forgetlab.compare.lm_eval_reader import SAMPLES_RE, read_lm_eval
from forgetlab.compare.model import Log
from forgetlab.compare.schema import CompareResults, Side
from forgetlab.errors import ForgetlabError

RESULTS, MARKDOWN, HTML = "results.json", "results.md", "report.html"
# What the HTML browser keeps per task and direction (results.json always has every count).
KEEP_CHANGED, KEEP_UNCHANGED = 5000, 200


@dataclass(frozen=True)
class Options:
    align_by: str = "id+prompt"
    equivalence_margin: float | None = None
    tasks: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()


def harness_of(path: Path) -> str:
    """Which harness wrote ``path`` (a file or a directory), from its names and first bytes."""
    if not path.exists():
        raise ForgetlabError(f"log not found: {path}")
    if path.is_file():
        if SAMPLES_RE.match(path.name):
            return "lm-evaluation-harness"
        if path.name.startswith("results_") and path.suffix == ".json":
            raise ForgetlabError(
                f"{path}: an lm-eval results file has no per-sample scores; pass its folder "
                "or a samples_*.jsonl written with --log_samples"
            )
        if is_inspect_log(path):
            return "inspect"
        raise ForgetlabError(
            f"{path}: neither an lm-eval samples_*.jsonl nor an Inspect log (.eval, .json)"
        )
    if next(path.rglob("samples_*.jsonl"), None) is not None:
        return "lm-evaluation-harness"
    if any(p.is_file() and is_inspect_log(p) for p in path.iterdir()):
        return "inspect"
    raise ForgetlabError(
        f"{path}: no lm-eval samples_*.jsonl (lm_eval --log_samples) or Inspect logs in it"
    )


def read_log(path: Path, metrics: frozenset[str] | None) -> Log:
    if harness_of(path) == "inspect":
        return read_inspect(path, metrics)
    return read_lm_eval(path, metrics)


def _side(log: Log) -> Side:
    return Side(
        path=str(log.path), harness=log.harness, model=log.model, files=log.files, meta=log.meta
    )


def check_out(out: Path) -> None:
    """--out is a new or empty folder, or one that holds an earlier comparison."""
    if out.exists() and not out.is_dir():
        raise ForgetlabError(f"--out {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / RESULTS).is_file():
        raise ForgetlabError(
            f"--out {out} is not empty and holds no earlier comparison; pick a new folder"
        )


def compare(
    base: str | Path, tuned: str | Path, out: str | Path, options: Options = Options()
) -> CompareResults:
    """Compare two runs and write the three files; returns the results."""
    from forgetlab.compare.report import markdown, write_html
    from forgetlab.results import provenance, write_json, write_text_atomic

    if options.align_by not in ALIGN_CHOICES:
        raise ForgetlabError(f"--align-by must be one of {', '.join(ALIGN_CHOICES)}")
    margin = options.equivalence_margin
    if margin is not None and not margin > 0:
        raise ForgetlabError(f"--equivalence-margin must be > 0 (got {margin})")
    out_dir = Path(out)
    check_out(out_dir)
    metrics = frozenset(options.metrics) if options.metrics else None
    logs = {"base": read_log(Path(base), metrics), "tuned": read_log(Path(tuned), metrics)}
    if logs["base"].harness != logs["tuned"].harness:
        raise ForgetlabError(
            f"BASE is an {logs['base'].harness} run and TUNED an {logs['tuned'].harness} run; "
            "compare runs of one harness"
        )
    names = select_tasks(logs["base"], logs["tuned"], list(options.tasks) or None)
    paired = [
        pair_task(n, logs["base"].tasks[n], logs["tuned"].tasks[n], options.align_by) for n in names
    ]
    rows = analysis.all_rows(paired, margin)
    tasks = {t.name: analysis.task_summary(t, rows) for t in paired}
    config: dict[str, Any] = {
        "base": str(base),
        "tuned": str(tuned),
        "align_by": options.align_by,
        "equivalence_margin": margin,
        "tasks": list(options.tasks),
        "metrics": list(options.metrics),
    }
    results = CompareResults(
        kind="compare",
        base=_side(logs["base"]),
        tuned=_side(logs["tuned"]),
        align_by=options.align_by,
        equivalence_margin=margin,
        tasks=tasks,
        rows=rows,
        methods=dict(analysis.METHODS),
        provenance=provenance(config),
    )
    samples: list[dict[str, Any]] = []
    left_out: dict[str, dict[str, int]] = {}
    kinds = {(r["task"], r["metric"]): r["kind"] for r in rows}
    for t in paired:
        metric = str(tasks[t.name]["browser_metric"])
        got, cut = analysis.browser_rows(
            t, metric, kinds[(t.name, metric)], KEEP_UNCHANGED, KEEP_CHANGED
        )
        samples.extend(got)
        left_out[t.name] = cut
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / RESULTS, results)
    write_text_atomic(out_dir / MARKDOWN, markdown(results))
    write_html(out_dir / HTML, results, samples, left_out)
    return results
