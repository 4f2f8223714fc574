"""A toy benchmark written the way a new one is added: this module and one registry line.

Each model is asked to upper-case some words; a row is right when the output is the word
in capitals. It declares its flags and entry point (``COMMAND``), its markdown report
(``Toy.report``) and its section of the HTML report (``RunReport``: title, table, browser
columns) and nothing else: no command-line or report code elsewhere, so ``forgetlab llm run
toy`` writing ``report.md`` and a ``report.html`` with its section proves the recipe. Its
models are fakes picked by name, so it needs neither a model nor ``load_backend``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fakes import FakeBackend

from forgetlab.errors import ForgetlabError
from forgetlab.llm.backends.base import Backend, GenerationConfig
from forgetlab.llm.benchmarks.base import (
    BackendLike,
    Benchmark,
    Finish,
    RunState,
    model_key,
    paired_row,
)
from forgetlab.llm.benchmarks.command import (
    BATCH_SIZE,
    OUT,
    OVERWRITE,
    QUIET,
    BenchmarkCommand,
    Flag,
    PromptExport,
    RunReport,
    split_csv,
)
from forgetlab.llm.benchmarks.loop import run_benchmark

MODELS = {"upper": str.upper, "echo": lambda w: w, "title": str.title}
GENERATION = GenerationConfig(max_new_tokens=4, temperature=0.0)


class Toy(Benchmark[dict[str, Any]]):
    name = "toy"

    def __init__(self, words: list[str]) -> None:
        self.words = words

    def requests(self, role: str) -> list[dict[str, Any]]:
        return [paired_row(role, w, {"word": w, "model_input": w}) for w in self.words]

    def run_config(
        self, backends: Mapping[str, BackendLike], generation: GenerationConfig
    ) -> dict[str, Any]:
        return {
            "models": {r: model_key(backends[r]) for r in self.roles},
            "generation": generation.as_dict(),
        }

    def prepare(self, backend: Backend, role: str) -> tuple[Backend, Finish]:
        return backend, lambda item, out: {**item, "output": out, "ok": out == item["word"].upper()}

    def summarise(self, state: RunState) -> dict[str, Any]:
        correct = {
            role: sum(
                bool(state.cache.rows[r["id"]]["ok"])
                for r in self.requests(role)
                if r["id"] in state.cache
            )
            for role in self.roles
        }
        return {
            "benchmark": self.name,
            "complete": self.done(state.cache) == self.expected(),
            "n": len(self.words),
            "correct": correct,
        }

    def report(self, results: dict[str, Any], out_dir: Path) -> None:
        from forgetlab.report.html import write_run_report

        (out_dir / "report.md").write_text(f"toy: {results['correct']}\n", encoding="utf-8")
        write_run_report(out_dir)


def html_section(run: Any, index: int, *, redact: bool = False) -> str:
    """The toy's section: words right per model, then a browser of every sample."""
    from html import escape

    from forgetlab.report.html.page import column_browser

    res = run.results
    cells = "".join(
        f"<tr><th>{escape(role)}</th><td class='num'>{k}/{res['n']}</td></tr>"
        for role, k in res["correct"].items()
    )
    columns = [("model", "model"), ("word", "word"), ("output", "output"), ("right", "ok")]
    return (
        f"<table class='toy'><thead><tr><th>model</th><th>upper-cased</th></tr></thead>"
        f"<tbody>{cells}</tbody></table>"
        + column_browser(f"samples-{index}", run.samples, columns, filters=[("model", "Model")])
    )


def _model(name: str) -> FakeBackend:
    if name not in MODELS:
        raise ForgetlabError(f"unknown toy model {name!r} (known: {', '.join(MODELS)})")
    return FakeBackend(MODELS[name], name=name)


def run_from_flags(
    *,
    base: str,
    tuned: str,
    words: str,
    limit: int | None,
    batch_size: int,
    overwrite: bool,
    quiet: bool,
    out: str,
) -> dict[str, Any]:
    """Check the flags, then the generic loop."""
    chosen = split_csv(words)
    if not chosen:
        raise ForgetlabError("--words: give at least one word")
    if limit is not None and limit < 1:
        raise ForgetlabError(f"--limit must be >= 1 (got {limit})")
    backends = {"base": _model(base), "tuned": _model(tuned)}
    return run_benchmark(
        Toy(chosen[:limit]),
        backends,
        out=out,
        generation=GENERATION,
        batch_size=batch_size,
        overwrite=overwrite,
        show_progress=not quiet,
    )


def describe_run(results: dict[str, Any], flags: Mapping[str, Any]) -> list[str]:
    lines = [f"{role}: {k}/{results['n']}" for role, k in results["correct"].items()]
    if flags["shout"]:
        lines = [line.upper() for line in lines]
    return [*lines, f"wrote {flags['out']}/results.json"]


COMMAND = BenchmarkCommand(
    help="Upper-case words, base vs tuned (a toy).\n\nOnly for tests.",
    flags=(
        Flag("--base", "Base toy model.", required=True),
        Flag("--tuned", "Tuned toy model.", required=True),
        Flag("--words", "Comma-separated words.", default="alpha,beta,gamma", show_default=True),
        Flag("--limit", "First N words.", kind="int", default=None),
        BATCH_SIZE,
        Flag("--shout", "Print the summary in capitals.", kind="switch", output_only=True),
        OVERWRITE,
        QUIET,
        OUT,
    ),
    run=run_from_flags,
    describe=describe_run,
    exports=(PromptExport("toy-words", "toy_benchmark:export_words", frozenset({"limit"})),),
    report=RunReport(results=("toy",), title="Toy upper-casing", section=html_section),
)


def export_words(languages: list[str] | None, limit: int | None = None) -> list[dict[str, Any]]:
    """``export-prompts toy-words`` rows: the default words, in English only."""
    if languages and languages != ["en"]:
        raise ForgetlabError(f"toy-words has English only (got {', '.join(languages)})")
    words = ["alpha", "beta", "gamma"][:limit]
    return [{"language": "en", "index": i, "prompt": w} for i, w in enumerate(words)]
