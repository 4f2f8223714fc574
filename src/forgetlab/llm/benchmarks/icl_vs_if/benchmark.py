"""Paired ICL-vs-instruction-following evaluation: base vs fine-tuned model (docs/icl-vs-if.md).

Both models see the same prompts in every language (and under every requested conjugate
transform); the headline number is the **drop** in ICL accuracy from base to tuned per
language, each language's accuracy being the mean over the 4 (ICL task, IF task) pairs as in
the paper. :class:`IclVsIf` is the benchmark (prompts, scoring, summary, report); the run
itself is the common loop :func:`forgetlab.llm.benchmarks.loop.run_benchmark`, so a killed
run resumes from ``samples.jsonl`` and nothing finished is recomputed.

What makes a run directory reusable (its ``run_config.json``) is only what determines each
sample's output: the two models (spec, dtype, BOS) and the decoding settings. *Which* samples
are evaluated (languages, transforms, ``limit``) is a selection over the cache: growing
``--limit`` or adding a language resumes and only computes the new samples; the result files
always describe the latest selection. A cached sample whose prompt text differs from the one
the current code builds (changed transform, edited data) is refused rather than mixed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forgetlab.errors import ForgetlabError
from forgetlab.llm.backends.base import Backend, GenerationConfig, Message, ModelIdentity
from forgetlab.llm.benchmarks.base import (
    BackendLike,
    Benchmark,
    Finish,
    LazyBackend,
    RunState,
    check_roles,
    lazy_backend,
    model_key,
    paired_row,
)
from forgetlab.llm.benchmarks.command import (
    BASE,
    BATCH_SIZE,
    BOS,
    DEVICE,
    DTYPE,
    OUT,
    OVERWRITE,
    QUIET,
    TUNED,
    BenchmarkCommand,
    Flag,
    PromptExport,
    RunReport,
    languages_flag,
    split_csv,
    transforms_flag,
)
from forgetlab.llm.benchmarks.icl_vs_if.prompts import LANGUAGES as ICL_LANGUAGES
from forgetlab.llm.benchmarks.loop import run_benchmark
from forgetlab.llm.benchmarks.schema import IclVsIfResults
from forgetlab.llm.paired_interval import METHOD as INTERVAL_METHOD
from forgetlab.llm.paired_interval import put_intervals
from forgetlab.llm.transforms.base import get_transform, parse_transform
from forgetlab.results import provenance

if TYPE_CHECKING:
    from forgetlab.llm.transforms.base import Transform

PAPER_LANGUAGES: tuple[str, ...] = ICL_LANGUAGES  # the benchmark module is their one home
PAPER_GENERATION = GenerationConfig(max_new_tokens=10, temperature=0.0)
ROLES: tuple[str, str] = ("base", "tuned")
BENCHMARK = "icl_vs_if"
BENCHMARK_VERSION = 1  # bump when prompts or scoring change, so old run dirs are refused

SAMPLES_FILE = "samples.jsonl"
RESULTS_FILE = "results.json"
MODELS_FILE = "models.json"
REPORT_FILE = "report.md"
CHART_FILE = "icl_vs_if.png"


@dataclass(frozen=True)
class EvalItem:
    """One prompt as one condition presents it to both models."""

    id: str  # "<condition>/<icl>-<if>/<index>", the same for both models
    condition: str  # "en", "fr", ... or "en+<transform>"
    language: str  # language of the untransformed prompt
    transform: str | None
    icl_task: str
    if_task: str
    index: int
    prompt: str  # untransformed prompt
    model_input: str  # what the model sees
    icl_answer: str  # answers in the space outputs are scored in
    if_answer: str

    @property
    def task(self) -> str:
        return f"{self.icl_task}-{self.if_task}"


# --- building the prompts ------------------------------------------------------------------


def _bench() -> Any:
    from forgetlab.llm.benchmarks.icl_vs_if import prompts

    return prompts


def _item(
    p: Any, condition: str, *, language: str, prompt: str, transform: str | None = None
) -> EvalItem:
    return EvalItem(
        id=f"{condition}/{p.icl_task}-{p.if_task}/{p.index}",
        condition=condition,
        language=language,
        transform=transform,
        icl_task=p.icl_task,
        if_task=p.if_task,
        index=int(p.index),
        prompt=prompt,
        model_input=p.prompt,
        icl_answer=p.icl_answer,
        if_answer=p.if_answer,
    )


def build_items(
    languages: Sequence[str] = PAPER_LANGUAGES,
    transforms: Sequence[str] = (),
    limit: int | None = None,
) -> tuple[list[EvalItem], dict[str, Transform]]:
    """All (condition, prompt) items, and the transform object of each transformed condition.

    Conditions are the pretranslated languages (prompts exactly as the paper) and, per
    transform spec ``NAME[@payload|@full]``, the English prompts moved into the transform's
    space as condition ``en+SPEC``. ``limit`` keeps the first ``limit`` prompts per (task,
    condition): the same indices everywhere, since the generator's draws depend only on the
    pool size and the pools are line-aligned.
    """
    if limit is not None and limit < 1:
        raise ForgetlabError(f"--limit must be >= 1 (got {limit})")
    bench = _bench()
    n = bench.N_PROMPTS if limit is None else limit
    items: list[EvalItem] = []
    used: dict[str, Transform] = {}
    for lang in dict.fromkeys(languages):
        for p in bench.generate_prompts(languages=[lang], n=n):
            items.append(_item(p, lang, language=lang, prompt=p.prompt))
    if transforms:
        english = {
            (p.task, p.index): p.prompt for p in bench.generate_prompts(languages=["en"], n=n)
        }
    for spec in dict.fromkeys(transforms):
        parsed = parse_transform(spec)
        transform = get_transform(parsed.name)
        cond = f"en+{spec}"
        used[cond] = transform
        for p in bench.generate_transformed_prompts(transform, n=n, scope=parsed.scope):
            items.append(
                _item(p, cond, language="en", prompt=english[(p.task, p.index)], transform=spec)
            )
    return items, used


def _read_back(tr: Transform, outputs: list[str]) -> list[str | None]:
    """``inverse`` of each output, ``None`` where there is none (reading aid only: a
    non-invertible output must never cost a generation)."""
    if not tr.invertible:
        return [None] * len(outputs)
    try:
        return list(tr.inverse_batch(outputs))
    except Exception:
        mapped: list[str | None] = []
        for o in outputs:
            try:
                mapped.append(tr.inverse(o))
            except Exception:
                mapped.append(None)
        return mapped


class _InverseMemo(Backend):
    """Wraps a backend so each batch's outputs are read back with ``inverse_batch`` at once
    (one subprocess call per batch for a translator, not one per sample)."""

    def __init__(
        self, inner: Backend, transforms: Mapping[str, Transform], cond_of: Mapping[str, list[str]]
    ) -> None:
        self.inner = inner
        self.transforms = transforms
        self.cond_of = cond_of  # model_input -> condition (transformed conditions only)
        self.memo: dict[tuple[str, str], str | None] = {}

    @property
    def identity(self) -> ModelIdentity:
        return self.inner.identity

    def complete(self, prompts: Sequence[str], config: GenerationConfig) -> list[str]:
        outputs = self.inner.complete(prompts, config)
        groups: dict[str, list[str]] = {}
        for prompt, output in zip(prompts, outputs, strict=False):
            for cond in self.cond_of.get(prompt, ()):
                groups.setdefault(cond, []).append(output)
        for cond, outs in groups.items():
            self.memo.update(
                zip(((cond, o) for o in outs), _read_back(self.transforms[cond], outs), strict=True)
            )
        return outputs

    def chat(
        self, conversations: Sequence[Sequence[Message]], config: GenerationConfig
    ) -> list[str]:
        return self.inner.chat(conversations, config)


# --- scoring and aggregation -----------------------------------------------------------------


def _stats(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    icl = sum(bool(r["icl_hit"]) for r in rows)
    iff = sum(bool(r["if_hit"]) for r in rows)
    return {
        "n": n,
        "icl_hits": icl,
        "if_hits": iff,
        "icl_accuracy": icl / n if n else None,
        "if_rate": iff / n if n else None,
    }


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def summarise_rows(
    rows: Sequence[Mapping[str, Any]], conditions: Sequence[str] | None = None
) -> dict[str, Any]:
    """Per-condition stats for one model: per task, then the mean over tasks (the paper's
    per-language number), plus pooled counts; ``overall`` averages the per-task cells."""
    by_cond: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for r in rows:
        by_cond.setdefault(r["condition"], {}).setdefault(
            f"{r['icl_task']}-{r['if_task']}", []
        ).append(r)
    order = list(conditions) if conditions is not None else sorted(by_cond)
    out: dict[str, Any] = {}
    cells: list[dict[str, Any]] = []
    for cond in order:
        tasks = by_cond.get(cond, {})
        per_task = {task: _stats(task_rows) for task, task_rows in tasks.items()}
        cells.extend(per_task.values())
        pooled = _stats([r for task_rows in tasks.values() for r in task_rows])
        out[cond] = {
            **pooled,
            "icl_accuracy": _mean(s["icl_accuracy"] for s in per_task.values()),
            "if_rate": _mean(s["if_rate"] for s in per_task.values()),
            "per_task": per_task,
        }
    overall = {
        "n": sum(c["n"] for c in cells),
        "icl_hits": sum(c["icl_hits"] for c in cells),
        "if_hits": sum(c["if_hits"] for c in cells),
        "icl_accuracy": _mean(c["icl_accuracy"] for c in cells),
        "if_rate": _mean(c["if_rate"] for c in cells),
    }
    return {"conditions": out, "overall": overall}


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def compare(
    base: Mapping[str, Any], tuned: Mapping[str, Any], conditions: Sequence[str]
) -> dict[str, Any]:
    """Join two :func:`summarise_rows` outputs: drop = base − tuned ICL accuracy."""
    langs: dict[str, Any] = {}
    for cond in conditions:
        b = base["conditions"].get(cond)
        t = tuned["conditions"].get(cond)
        if b is None or t is None:
            continue
        langs[cond] = {
            "base": b,
            "tuned": t,
            "drop": _diff(b["icl_accuracy"], t["icl_accuracy"]),
            "if_increase": _diff(t["if_rate"], b["if_rate"]),
        }
    overall = {
        "base": base["overall"],
        "tuned": tuned["overall"],
        "drop": _diff(base["overall"]["icl_accuracy"], tuned["overall"]["icl_accuracy"]),
        "if_increase": _diff(tuned["overall"]["if_rate"], base["overall"]["if_rate"]),
    }
    claim = None
    others = [v["drop"] for k, v in langs.items() if k != "en" and v["drop"] is not None]
    if "en" in langs and langs["en"]["drop"] is not None and others:
        mean_other = sum(others) / len(others)
        claim = {
            "english_drop": langs["en"]["drop"],
            "mean_other_drop": mean_other,
            "smaller_outside_english": mean_other < langs["en"]["drop"],
        }
    return {"languages": langs, "overall": overall, "claim": claim}


# --- the benchmark on the generic loop ----------------------------------------------------------


def _row_fields(item: EvalItem, role: str) -> dict[str, Any]:
    fields = asdict(item)
    return paired_row(role, fields.pop("id"), fields)


class IclVsIf(Benchmark[IclVsIfResults]):
    """ICL vs IF on :func:`forgetlab.llm.benchmarks.loop.run_benchmark`: prompts per condition,
    prefix-match scoring in each prompt's own space, paired drops per condition."""

    name = "icl-vs-if"
    roles = ROLES
    generations_file = SAMPLES_FILE
    results_file = RESULTS_FILE
    models_file = MODELS_FILE

    def __init__(
        self,
        languages: Sequence[str] = PAPER_LANGUAGES,
        transforms: Sequence[str] = (),
        limit: int | None = None,
        *,
        batch_size: int = 16,
    ) -> None:
        self.items, self.transforms = build_items(languages, transforms, limit)
        self.selection: dict[str, Any] = {
            "languages": list(dict.fromkeys(languages)),
            "transforms": list(dict.fromkeys(transforms)),
            "limit": limit,
            "batch_size": batch_size,
        }
        self._requests = {role: [_row_fields(it, role) for it in self.items] for role in ROLES}
        self.cond_of: dict[str, list[str]] = {}  # model_input -> transformed conditions
        for it in self.items:
            if it.condition in self.transforms:
                self.cond_of.setdefault(it.model_input, []).append(it.condition)

    def requests(self, role: str) -> list[dict[str, Any]]:
        return self._requests[role]

    def run_config(
        self, backends: Mapping[str, BackendLike], generation: GenerationConfig
    ) -> dict[str, Any]:
        return run_config(backends, generation)

    def prepare(self, backend: Backend, role: str) -> tuple[Backend, Finish]:
        memo = _InverseMemo(backend, self.transforms, self.cond_of)
        return memo, partial(_finish, memo=memo)

    def summarise(self, state: RunState) -> IclVsIfResults:
        conditions = list(dict.fromkeys(it.condition for it in self.items))
        per_role, rows_by_role = {}, {}
        for role in ROLES:
            rows = [
                state.cache.rows[k] for r in self._requests[role] if (k := r["id"]) in state.cache
            ]
            per_role[role] = summarise_rows(rows, conditions)
            rows_by_role[role] = rows
        joined = compare(per_role["base"], per_role["tuned"], conditions)
        put_intervals(joined["languages"], joined["overall"], rows_by_role)
        return {
            **self.paired_header(state, SCORING, self.selection),  # type: ignore[typeddict-item]
            "conditions": conditions,
            "transforms": {cond: tr.describe() for cond, tr in self.transforms.items()},
            "languages": joined["languages"],
            "overall": joined["overall"],
            "claim": joined["claim"],
            "provenance": provenance(state.config, selection=self.selection),
            "drop_interval": INTERVAL_METHOD,
        }

    def report(self, results: IclVsIfResults, out_dir: Path) -> None:
        from forgetlab.report.html import write_run_report
        from forgetlab.report.llm_report import write_report

        write_report(results, out_dir / REPORT_FILE, out_dir / CHART_FILE)
        write_run_report(out_dir)


def run_config(backends: Mapping[str, BackendLike], generation: GenerationConfig) -> dict[str, Any]:
    """What must match for a run directory to be resumed (see the module docstring)."""
    return {
        "benchmark": BENCHMARK,
        "version": BENCHMARK_VERSION,
        "models": {role: model_key(backends[role]) for role in ROLES},
        "generation": generation.as_dict(),
    }


def evaluate_icl_vs_if(
    backends: Mapping[str, BackendLike],
    *,
    out: str | Path,
    languages: Sequence[str] = PAPER_LANGUAGES,
    transforms: Sequence[str] = (),
    limit: int | None = None,
    generation: GenerationConfig = PAPER_GENERATION,
    batch_size: int = 16,
    overwrite: bool = False,
    report: bool = True,
    show_progress: bool = True,
) -> IclVsIfResults:
    """Run (or resume) the paired evaluation into ``out`` and return ``results.json``'s content.

    ``backends`` maps ``"base"`` and ``"tuned"`` to a :class:`Backend` or a
    :class:`LazyBackend`. Writes ``samples.jsonl`` (one row per model × sample),
    ``results.json``, ``report.md`` and ``icl_vs_if.png``. A backend failure keeps every
    finished sample, writes a partial ``results.json`` and raises :class:`GenerationFailed`.
    """
    check_roles(backends, ROLES)
    if batch_size < 1:
        raise ForgetlabError(f"--batch-size must be >= 1 (got {batch_size})")
    bench = IclVsIf(languages, transforms, limit, batch_size=batch_size)
    return run_benchmark(
        bench,
        backends,
        out=out,
        generation=generation,
        batch_size=batch_size,
        overwrite=overwrite,
        report=report,
        show_progress=show_progress,
    )


def _finish(item: Mapping[str, Any], output: str, memo: _InverseMemo) -> dict[str, Any]:
    """Score the raw output against the answers of its own space (prefix match, docs/icl-vs-if.md#metric)."""
    cond = item["condition"]
    mapped = memo.memo.get((cond, output)) if cond in memo.transforms else output
    icl_hit, if_hit = _bench().score_output(output, item["icl_answer"], item["if_answer"])
    return {
        **item,
        "output": output,
        "output_mapped": mapped,
        "icl_hit": bool(icl_hit),
        "if_hit": bool(if_hit),
    }


SCORING = (
    "prefix match (docs/icl-vs-if.md#metric): an output is an ICL hit if it starts with icl_answer, with or "
    "without its leading space, an IF hit likewise for if_answer; transformed prompts are scored "
    "in the transform's space (answers transformed, raw output), output_mapped is the inverse "
    "for reading only; per-language accuracy is the mean over the 4 tasks; drop = base - tuned"
)


# --- command line --------------------------------------------------------------------------------


def run_from_flags(
    *,
    base: str,
    tuned: str,
    languages: str | Sequence[str],
    transforms: str | Sequence[str],
    limit: int | None,
    batch_size: int,
    dtype: str | None,
    device: str | None,
    max_new_tokens: int,
    add_bos: bool | None,
    overwrite: bool,
    quiet: bool,
    out: str,
) -> IclVsIfResults:
    """``forgetlab llm run icl-vs-if``: check the flags, then :func:`evaluate_icl_vs_if` with
    lazily loaded backends (the command prints the table). ``languages`` and ``transforms``
    may be comma-separated."""
    langs, trs = split_csv(languages), split_csv(transforms)
    if not langs and not trs:
        raise ForgetlabError("nothing to evaluate: give --languages and/or --transforms")
    if max_new_tokens < 1:
        raise ForgetlabError(f"--max-new-tokens must be >= 1 (got {max_new_tokens})")
    bench = _bench()
    for lang in langs:
        bench.check_language(lang)

    def lazy(spec: str) -> LazyBackend:
        return lazy_backend(
            spec, dtype=dtype, device=device, batch_size=batch_size, add_bos=add_bos
        )

    return evaluate_icl_vs_if(
        {"base": lazy(base), "tuned": lazy(tuned)},
        out=out,
        languages=langs,
        transforms=trs,
        limit=limit,
        generation=GenerationConfig(max_new_tokens=max_new_tokens, temperature=0.0),
        batch_size=batch_size,
        overwrite=overwrite,
        show_progress=not quiet,
    )


def describe_run(results: IclVsIfResults, flags: Mapping[str, Any]) -> list[str]:
    """What the command prints: the drop table, notes on the pair and on chat models, the
    files written."""
    from forgetlab.report.llm_report import render_table

    lines = [render_table(results)]
    pair = results["pair"]
    if pair.get("matched") is not True:
        lines.append(f"note: {pair['note']}")
    for role in ROLES:
        if results["models"].get(role, {}).get("backend") == "openai":
            lines.append(
                f"note: the {role} model is a chat model: each prompt was sent as one user "
                "message, so its scores are not those of raw-text continuation"
            )
    out = flags["out"]
    lines.append(
        f"wrote {out}/{RESULTS_FILE}, {REPORT_FILE}, {CHART_FILE}; samples in {SAMPLES_FILE}"
    )
    return lines


COMMAND = BenchmarkCommand(
    help="ICL vs instruction following, base vs fine-tuned (the paper's Table 1), resumable.",
    flags=(
        BASE,
        TUNED,
        languages_flag(
            "Comma-separated pretranslated languages ('' for none).", "en,fr,es,nl,hu,ls,pl"
        ),
        transforms_flag(
            "Comma-separated registry transforms applied to the English prompts, "
            "NAME[@payload|@full] (e.g. rot13,leetspeak,apertium:eng-spa)."
        ),
        Flag(
            "--limit",
            "First N prompts per (task, language); default all 100.",
            kind="int",
            default=None,
        ),
        BATCH_SIZE,
        DTYPE,
        DEVICE,
        Flag("--max-new-tokens", kind="int", default=10, show_default=True),
        BOS,
        OVERWRITE,
        QUIET,
        OUT,
    ),
    run=run_from_flags,
    describe=describe_run,
    report=RunReport(
        results=("icl-vs-if", BENCHMARK),  # "icl_vs_if": how some older files spell it
        title="ICL vs instruction following",
        section="forgetlab.report.html.paired:section",
    ),
    exports=(
        PromptExport(
            "icl-vs-if",
            "forgetlab.llm.benchmarks.icl_vs_if.prompts:export_icl_vs_if",
            frozenset({"tasks", "limit", "transforms"}),
        ),
    ),
)
