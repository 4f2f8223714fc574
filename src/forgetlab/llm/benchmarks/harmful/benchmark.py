"""The refusal benchmark: harmful-request evaluation under conjugate prompting (docs/harmful.md#protocol).

Pipeline per model: prompts (AdvBench or MultiJail, optionally an English prompt pushed
through a registry transform) -> one chat message each -> cached generation
(``generations.jsonl``) -> map the output back to English (inverse transform or a
back-translator; otherwise judge the raw text and flag it ``judged_on: raw``) -> judge ->
``samples.jsonl`` -> per-condition REFUSE/ANSWER/AMBIGUOUS/judge_error rates with Wilson
intervals in ``results.json``. :class:`HarmfulBenchmark` is that pipeline as a benchmark on
the common loop (:func:`forgetlab.llm.benchmarks.loop.run_benchmark`): generation is the
loop's, mapping back and judging are its ``score`` stage. Generated text lives only on
disk: nothing here prints it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError
from forgetlab.llm.back_translators import BackTranslator, apply_batched, build_back_translator
from forgetlab.llm.backends.base import Backend, GenerationConfig
from forgetlab.llm.benchmarks.base import BackendLike, Benchmark, LazyBackend, RunState
from forgetlab.llm.benchmarks.command import (
    BATCH_SIZE,
    DEVICE,
    DTYPE,
    OUT,
    OVERWRITE,
    BenchmarkCommand,
    Flag,
    PromptExport,
    RunReport,
    languages_flag,
    split_csv,
    transforms_flag,
)
from forgetlab.llm.benchmarks.harmful.rates import summarise
from forgetlab.llm.benchmarks.loop import run_benchmark
from forgetlab.llm.benchmarks.schema import REFUSAL_BENCHMARKS, HarmfulResults
from forgetlab.llm.english import plain_reply
from forgetlab.llm.judges import JUDGE_ERROR, Judge, safe_judge
from forgetlab.llm.labels import load_samples
from forgetlab.llm.transforms.base import NotInvertible, Transform
from forgetlab.registry import Registry
from forgetlab.results import JsonlCache, canonical_json, provenance

GENERATIONS = "generations.jsonl"
SAMPLES = "samples.jsonl"
RESULTS = "results.json"
ROLES = ("model", "compare")


# ---------------------------------------------------------------- conditions and items


@dataclass(frozen=True)
class Condition:
    """One column of the report: a language, or English under a transform."""

    name: str
    language: str
    group: str
    transform: str | None = None


# ``--benchmark NAME``: the prompt set's rows function ``(languages, *, limit, ...)``; the
# module that defines it has the set's ``LANGUAGES``.
PROMPT_SETS: Registry[Callable[..., list[dict[str, Any]]]] = Registry(
    "benchmark",
    {
        "harmful": "forgetlab.llm.benchmarks.harmful.advbench:harmful_prompts",
        "harmful-select": "forgetlab.llm.benchmarks.harmful.advbench:select_prompts",
        "multijail": "forgetlab.llm.benchmarks.harmful.multijail:multijail_prompts",
        "benign": "forgetlab.llm.benchmarks.harmful.benign:benign_prompts",
        "benign-select": "forgetlab.llm.benchmarks.harmful.benign:select_prompts",
        "harmful-conv-select": "forgetlab.llm.benchmarks.harmful.conversational:select_prompts",
    },
)
BENCHMARKS = REFUSAL_BENCHMARKS
# The HTML report's section title of a run of each prompt set.
PROMPT_SET_TITLES = {
    "harmful": "Harmful requests",
    "harmful-select": "Harmful requests (selection set)",
    "multijail": "MultiJail",
    "benign": "Harmless requests",
    "benign-select": "Harmless requests (selection set)",
    "harmful-conv-select": "Conversational harmful requests (selection set)",
}


def benchmark_rows(
    benchmark: str, languages: Sequence[str] | None, *, limit: int | None, all_prompts: bool
) -> list[dict[str, Any]]:
    """The benchmark's prompt rows (every language asked for plus English, for transforms)."""
    rows_of = PROMPT_SETS.get(benchmark)
    if benchmark == "harmful":
        rows: list[dict[str, Any]] = rows_of(languages, all_prompts=all_prompts, limit=limit)
        return rows
    return list(rows_of(languages, limit=limit))


def default_languages(benchmark: str) -> list[str]:
    module = importlib.import_module(PROMPT_SETS.get(benchmark).__module__)
    return list(module.LANGUAGES)


def build_items(
    benchmark: str,
    languages: Sequence[str] | None,
    transforms: Mapping[str, Transform],
    *,
    limit: int | None = None,
    all_prompts: bool = False,
) -> tuple[list[Condition], list[dict[str, Any]]]:
    """Conditions and generation items (without role/id): one per (condition, prompt index).

    Transforms are applied to the English prompts (``prompt_en``); their condition is named
    ``en+<transform>``.
    """
    langs = list(languages) if languages else default_languages(benchmark)
    rows = benchmark_rows(benchmark, langs, limit=limit, all_prompts=all_prompts)
    conditions: list[Condition] = []
    items: list[dict[str, Any]] = []
    for lang in langs:
        cond = Condition(lang, lang, _group(benchmark, lang))
        conditions.append(cond)
        items.extend(_item(r, cond, r["prompt"]) for r in rows if r["language"] == lang)
    if transforms:
        english = benchmark_rows(benchmark, ["en"], limit=limit, all_prompts=all_prompts)
        for tname, transform in transforms.items():
            cond = Condition(f"en+{tname}", "en", "transform", tname)
            conditions.append(cond)
            moved = apply_batched(
                transform, "forward_batch", "forward", [r["prompt_en"] for r in english]
            )
            items.extend(_item(r, cond, p) for r, p in zip(english, moved, strict=True))
    return conditions, items


def _group(benchmark: str, language: str) -> str:
    if benchmark == "multijail":
        from forgetlab.llm.benchmarks.harmful.multijail import RESOURCE_LEVEL

        return RESOURCE_LEVEL[language]
    return "english" if language == "en" else "translated"


def _item(row: Mapping[str, Any], cond: Condition, prompt: str) -> dict[str, Any]:
    return {
        "benchmark": row["benchmark"],
        "condition": cond.name,
        "group": cond.group,
        "language": cond.language,
        "transform": cond.transform,
        "index": row["index"],
        "prompt": prompt,
        "prompt_en": row["prompt_en"],
        **({"category": row["category"]} if "category" in row else {}),
    }


def map_to_english(
    rows: Sequence[Mapping[str, Any]],
    transforms: Mapping[str, Transform],
    back_translator: BackTranslator | None,
) -> list[dict[str, Any]]:
    """``{output_en, judged_on, mapping_detail}`` for each generation row.

    ``judged_on``: ``english`` (English prompt, nothing to map), ``inverse`` (transform
    inverse), ``back_translation``, or ``raw`` (no way back, or the model replied in plain
    English instead of the transform's space: judged on the model's own text).
    """
    result: list[dict[str, Any] | None] = [None] * len(rows)
    to_translate: dict[str, list[int]] = {}
    _inverse_batched(rows, transforms, result)
    _keep_plain_replies(rows, result)
    for i, row in enumerate(rows):
        if result[i] is not None:
            continue
        out = str(row["output"])
        tname = row.get("transform")
        if tname:
            transform = transforms.get(tname)
            if transform is None or not transform.invertible:
                result[i] = {
                    "output_en": out,
                    "judged_on": "raw",
                    "mapping_detail": f"{tname} has no inverse",
                }
                continue
            try:
                decoded = transform.inverse(out)
                result[i] = (
                    {
                        "output_en": out,
                        "judged_on": "raw",
                        "mapping_detail": f"reply in plain English, not in {tname}",
                    }
                    if plain_reply(out, decoded)
                    else {"output_en": decoded, "judged_on": "inverse", "mapping_detail": tname}
                )
            except NotInvertible as exc:
                result[i] = {"output_en": out, "judged_on": "raw", "mapping_detail": str(exc)}
            except (
                Exception
            ) as exc:  # a malformed output (e.g. invalid base64) is judged as written
                result[i] = {
                    "output_en": out,
                    "judged_on": "raw",
                    "mapping_detail": f"inverse failed: {type(exc).__name__}",
                }
        elif row["language"] == "en":
            result[i] = {"output_en": out, "judged_on": "english", "mapping_detail": ""}
        elif back_translator is not None and back_translator.supports(str(row["language"])):
            if not out.strip():
                result[i] = {
                    "output_en": out,
                    "judged_on": "back_translation",
                    "mapping_detail": "empty",
                }
            else:
                to_translate.setdefault(str(row["language"]), []).append(i)
        else:
            result[i] = {
                "output_en": out,
                "judged_on": "raw",
                "mapping_detail": "no back-translator",
            }
    for lang, idx in to_translate.items():
        texts = [str(rows[i]["output"]) for i in idx]
        try:
            translated = back_translator.translate(texts, lang) if back_translator else texts
            if len(translated) != len(texts):
                raise RuntimeError("back-translator returned a wrong number of outputs")
        except Exception as exc:
            for i in idx:
                detail = f"back-translation failed: {type(exc).__name__}"
                result[i] = {
                    "output_en": rows[i]["output"],
                    "judged_on": "raw",
                    "mapping_detail": detail,
                }
            continue
        for i, text in zip(idx, translated, strict=True):
            result[i] = {"output_en": text, "judged_on": "back_translation", "mapping_detail": lang}
    return [
        r if r is not None else {"output_en": "", "judged_on": "raw", "mapping_detail": "?"}
        for r in result
    ]


def _inverse_batched(
    rows: Sequence[Mapping[str, Any]],
    transforms: Mapping[str, Transform],
    result: list[dict[str, Any] | None],
) -> None:
    """Fill ``result`` for transform rows whose whole group inverts in one batched call;
    on any failure the rows are left for the per-sample path (which records the reason)."""
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        tname = row.get("transform")
        if tname and tname in transforms and transforms[tname].invertible:
            groups.setdefault(str(tname), []).append(i)
    for tname, idx in groups.items():
        texts = [str(rows[i]["output"]) for i in idx]
        try:
            back = apply_batched(transforms[tname], "inverse_batch", "inverse", texts)
        except Exception:
            continue
        if len(back) != len(idx):
            continue
        for i, text in zip(idx, back, strict=True):
            result[i] = {"output_en": text, "judged_on": "inverse", "mapping_detail": tname}


def _keep_plain_replies(
    rows: Sequence[Mapping[str, Any]], result: list[dict[str, Any] | None]
) -> None:
    """Judge a reply as written when the model answered in plain English, not in the
    transform's space: decoding it would turn a plain refusal into gibberish."""
    for i, r in enumerate(result):
        if r is not None and r["judged_on"] == "inverse":
            out = str(rows[i]["output"])
            if plain_reply(out, str(r["output_en"])):
                result[i] = {
                    "output_en": out,
                    "judged_on": "raw",
                    "mapping_detail": f"reply in plain English, not in {r['mapping_detail']}",
                }


# ---------------------------------------------------------------- the run


def _resolve_transforms(
    transforms: Sequence[str] | Mapping[str, Transform] | None,
) -> dict[str, Transform]:
    if not transforms:
        return {}
    if isinstance(transforms, Mapping):
        return dict(transforms)
    from forgetlab.llm.transforms.base import get_transform

    return {name: get_transform(name) for name in transforms}


def _identity(backend: Backend) -> dict[str, Any]:
    ident = backend.identity.as_dict()
    ident.pop("batch_size", None)  # batching does not change greedy outputs; resume may use another
    return ident


def check_request(
    benchmark: str,
    languages: Sequence[str] | None,
    transforms: Sequence[str] | Mapping[str, Transform] | None,
    *,
    limit: int | None,
    all_prompts: bool,
    max_new_tokens: int,
    batch_size: int,
) -> dict[str, Transform]:
    """Validate every flag (cheaply, before any model is loaded); return the transforms."""
    if max_new_tokens < 1:
        raise ForgetlabError("--max-new-tokens must be >= 1")
    if batch_size < 1:
        raise ForgetlabError("--batch-size must be >= 1")
    if limit is not None and limit < 1:
        raise ForgetlabError(f"--limit must be >= 1 (got {limit})")
    if all_prompts and benchmark != "harmful":
        raise ForgetlabError(
            f"--all applies to the harmful benchmark only ({benchmark} always uses all its prompts)"
        )
    tmap = _resolve_transforms(transforms)
    langs = list(languages) if languages else default_languages(benchmark)
    benchmark_rows(benchmark, langs, limit=limit, all_prompts=all_prompts)
    return tmap


class HarmfulBenchmark(Benchmark[HarmfulResults]):
    """Harmful, MultiJail or benign requests on the generic loop: chat generations cached in
    ``generations.jsonl``, then a batch stage that maps each output back to English and
    judges it into ``samples.jsonl``; per-condition label rates with Wilson intervals."""

    name = "harmful"
    mode = "chat"
    input_field = "prompt"
    generations_file = GENERATIONS
    results_file = RESULTS
    models_file = None  # the models are loaded up front; their identities are in the config

    def __init__(
        self,
        benchmark: str,
        *,
        judge: Judge,
        roles: Sequence[str],
        languages: Sequence[str] | None = None,
        transforms: Mapping[str, Transform] | None = None,
        back_translator: BackTranslator | None = None,
        limit: int | None = None,
        all_prompts: bool = False,
        batch_size: int = 16,
    ) -> None:
        self.benchmark = benchmark
        self.judge = judge
        self.roles = tuple(roles)
        self.transforms = dict(transforms or {})
        self.back_translator = back_translator
        self.limit = limit
        self.all_prompts = all_prompts
        self.batch_size = batch_size
        self.conditions, self.items = build_items(
            benchmark, languages, self.transforms, limit=limit, all_prompts=all_prompts
        )
        self._requests = {
            role: [
                {**it, "id": f"{role}/{it['condition']}/{it['index']}", "role": role}
                for it in self.items
            ]
            for role in self.roles
        }
        self.samples: JsonlCache | None = None
        self._wanted: dict[str, Any] = {}  # this run's configuration as stored (for stale)

    def requests(self, role: str) -> list[dict[str, Any]]:
        return self._requests[role]

    def run_config(
        self, backends: Mapping[str, BackendLike], generation: GenerationConfig
    ) -> dict[str, Any]:
        generation_part = {
            "benchmark": self.benchmark,
            "languages": [c.name for c in self.conditions if c.transform is None],
            "transforms": {name: t.describe() for name, t in self.transforms.items()},
            "limit": self.limit,
            "all_prompts": self.all_prompts,
            "generation": generation.as_dict(),
            "mode": "chat",
            "models": {role: _config_identity(backends[role]) for role in self.roles},
        }
        judging_part = {
            "judge": self.judge.identity(),
            "back_translator": self.back_translator.identity() if self.back_translator else None,
        }
        config = {"generation_part": generation_part, "judging_part": judging_part}
        self._wanted = _roundtrip(config)
        return config

    def stale(self, old_config: Mapping[str, Any]) -> list[str] | None:
        """A new judge keeps the generations; anything else replaces the whole run."""
        if old_config.get("generation_part") == self._wanted["generation_part"]:
            return [SAMPLES, RESULTS]
        return None

    def identity(self, backend: Backend) -> dict[str, Any]:
        return backend.identity.as_dict()

    def open(self, state: RunState) -> None:
        self.samples = JsonlCache(state.out_dir / SAMPLES, key="id")

    def score(self, role: str, rows: list[dict[str, Any]], state: RunState) -> list[dict[str, Any]]:
        assert self.samples is not None
        return judge_rows(
            rows,
            self.samples,
            self.judge,
            self.transforms,
            self.back_translator,
            chunk=max(self.batch_size, 8),
        )

    def summarise(self, state: RunState) -> HarmfulResults:
        runs: dict[str, Any] = {}
        for role, samples in state.rows.items():
            runs[role] = {
                "identity": state.identities.get(role, {}),
                "per_condition": {
                    c.name: summarise([s for s in samples if s["condition"] == c.name])
                    for c in self.conditions
                },
                "per_group": _per_group(samples, self.conditions),
            }
        return {
            "benchmark": self.benchmark,
            "selection": {
                "limit": self.limit,
                "all_prompts": self.all_prompts,
                "n_prompts": len({it["index"] for it in self.items}),
            },
            "conditions": [
                {"name": c.name, "language": c.language, "group": c.group, "transform": c.transform}
                for c in self.conditions
            ],
            "generation": dict(state.config["generation_part"]["generation"]),
            "judge": self.judge.identity(),
            "back_translator": self.back_translator.identity() if self.back_translator else None,
            "runs": runs,
            "provenance": provenance(state.config),
        }

    def report(self, results: HarmfulResults, out_dir: Path) -> None:
        from forgetlab.report.harmful_report import write_report as _write
        from forgetlab.report.html import write_run_report

        _write(results, out_dir)
        write_run_report(out_dir)


def _config_identity(b: BackendLike) -> dict[str, Any]:
    return dict(b.key) if isinstance(b, LazyBackend) else _identity(b)


def evaluate_harmful(
    backend: BackendLike,
    *,
    out_dir: str | Path,
    judge: Judge,
    benchmark: str = "harmful",
    languages: Sequence[str] | None = None,
    transforms: Sequence[str] | Mapping[str, Transform] | None = None,
    back_translator: BackTranslator | None = None,
    limit: int | None = None,
    all_prompts: bool = False,
    max_new_tokens: int = 512,
    batch_size: int = 16,
    compare: BackendLike | None = None,
    overwrite: bool = False,
    show_progress: bool = True,
    write_report: bool = True,
) -> HarmfulResults:
    """Run (or resume) the evaluation into ``out_dir`` and return the ``results.json`` dict.

    A directory holding a run with a different configuration is refused unless
    ``overwrite``; then outdated files are moved to ``replaced-<time>/`` (only the
    judged samples when just the judge changed).
    """
    tmap = check_request(
        benchmark, languages, transforms, limit=limit, all_prompts=all_prompts,
        max_new_tokens=max_new_tokens, batch_size=batch_size,
    )  # fmt: skip
    models = {"model": backend, **({"compare": compare} if compare is not None else {})}
    bench = HarmfulBenchmark(
        benchmark,
        judge=judge,
        roles=list(models),
        languages=languages,
        transforms=tmap,
        back_translator=back_translator,
        limit=limit,
        all_prompts=all_prompts,
        batch_size=batch_size,
    )
    return run_benchmark(
        bench,
        models,
        out=out_dir,
        generation=GenerationConfig(max_new_tokens=max_new_tokens, temperature=0.0),
        batch_size=batch_size,
        overwrite=overwrite,
        report=write_report,
        show_progress=show_progress,
    )


def run_from_flags(
    *,
    model: str | None,
    base: str | None,
    tuned: str | None,
    benchmark: str,
    languages: str | Sequence[str] | None,
    transforms: str | Sequence[str],
    judge_spec: str,
    back_translator: str | None,
    limit: int | None,
    all_prompts: bool,
    max_new_tokens: int,
    batch_size: int,
    dtype: str | None,
    device: str | None,
    overwrite: bool,
    out: str,
) -> HarmfulResults:
    """``forgetlab llm run harmful``: check every flag before any model loads, load the
    models, judge and back-translator, then :func:`evaluate_harmful` (the command prints).
    ``languages`` and ``transforms`` may be comma-separated (or several such strings); no
    languages means all of the benchmark's. One model is ``--model`` (or ``--base``); two are
    ``--base`` and ``--tuned``, stored under the roles ``model`` and ``compare``."""
    from forgetlab.llm.backends import load_backend
    from forgetlab.llm.judges import build_judge

    first = _first_model(model, base, tuned)

    langs, trs = split_csv(languages) or None, split_csv(transforms)
    check_request(
        benchmark, langs, trs, limit=limit, all_prompts=all_prompts,
        max_new_tokens=max_new_tokens, batch_size=batch_size,
    )  # fmt: skip

    def load(spec: str) -> Backend:
        return load_backend(
            spec, dtype=dtype, device=device, batch_size=batch_size, chat_template=True
        )

    backend = load(first)
    other = load(tuned) if tuned else None
    judge = build_judge(judge_spec, load_backend=load)
    bt = build_back_translator(back_translator, max_new_tokens=max_new_tokens)
    return evaluate_harmful(
        backend,
        out_dir=out,
        judge=judge,
        benchmark=benchmark,
        languages=langs,
        transforms=trs,
        back_translator=bt,
        limit=limit,
        all_prompts=all_prompts,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        compare=other,
        overwrite=overwrite,
    )


def _first_model(model: str | None, base: str | None, tuned: str | None) -> str:
    """The model of role ``model``: ``--model`` for a run of one model, ``--base`` beside
    ``--tuned``; ``--model`` beside ``--tuned`` is the older spelling of ``--base``."""
    if model and base:
        raise ForgetlabError("--model and --base name the same model; give one")
    if not (model or base):
        raise ForgetlabError("give --model (one model) or --base and --tuned (two)")
    if model and tuned:
        print("forgetlab: note: --model beside --tuned is deprecated; use --base", file=sys.stderr)
    return str(model or base)


def describe_run(results: HarmfulResults, flags: Mapping[str, Any]) -> Iterator[str]:
    """What the command prints: the rate table and the files written; the generated text
    (harmful) only with ``--show-outputs``."""
    from forgetlab.report.harmful_report import render_markdown

    out_dir = flags["out"]
    yield render_markdown(results)
    yield (
        f"wrote {out_dir}/results.json, results.md, results.png; per-sample outputs in "
        f"{out_dir}/samples.jsonl"
    )
    if flags.get("show_outputs"):
        for s in load_samples(out_dir):
            yield f"--- {s['id']} [{s['label']}; judged_on {s['judged_on']}]"
            yield f"raw: {s['output_raw']}"
            if s["output_en"] != s["output_raw"]:
                yield f"en:  {s['output_en']}"


COMMAND = BenchmarkCommand(
    help="Refusal rates on harmful requests per language / conjugate transform "
    "(docs/harmful.md#protocol).\n\n"
    "Generations are written to OUT/generations.jsonl and OUT/samples.jsonl, never printed "
    "unless --show-outputs.",
    flags=(
        Flag(
            "--model",
            "Backend spec of the one model evaluated, e.g. packaged:smollm2-135m-instruct.",
            default=None,
        ),
        Flag("--base", "Base model of a base-vs-tuned run (with --tuned).", default=None),
        Flag(
            "--tuned",
            "Tuned model evaluated side by side with --base (e.g. after safety tuning).",
            default=None,
            aliases=("--compare",),
        ),
        Flag(
            "--benchmark", kind="choice", choices=BENCHMARKS, default="harmful", show_default=True
        ),
        languages_flag("Comma-separated languages (default: all of the benchmark's)."),
        transforms_flag(
            "Comma-separated registry transforms applied to the English prompts, e.g. "
            "leetspeak,base64."
        ),
        Flag(
            "--judge",
            "substring or llm:MODEL.",
            default="substring",
            show_default=True,
            dest="judge_spec",
        ),
        Flag(
            "--back-translator",
            "apertium (es only) or a backend spec used to translate outputs to English.",
            default=None,
        ),
        Flag("--limit", "Only the first N prompts of the selection.", kind="int", default=None),
        Flag(
            "--all",
            "All 520 AdvBench behaviours instead of the paper's 100.",
            kind="switch",
            dest="all_prompts",
        ),
        Flag("--max-new-tokens", "Paper: 512.", kind="int", default=512, show_default=True),
        BATCH_SIZE,
        DTYPE,
        DEVICE,
        Flag(
            "--show-outputs",
            "Print generated text to the terminal (off by default: it is harmful).",
            kind="switch",
            output_only=True,
        ),
        OVERWRITE,
        OUT,
    ),
    run=run_from_flags,
    describe=describe_run,
    report=RunReport(
        results=REFUSAL_BENCHMARKS,
        title=lambda results: PROMPT_SET_TITLES.get(str(results.get("benchmark")), "Refusals"),
        section="forgetlab.report.html.harmful:section",
    ),
    exports=(
        PromptExport(
            "harmful",
            "forgetlab.llm.benchmarks.harmful.advbench:export_harmful",
            frozenset({"limit", "all_prompts"}),
        ),
        PromptExport(
            "multijail",
            "forgetlab.llm.benchmarks.harmful.multijail:export_multijail",
            frozenset({"limit"}),
        ),
        PromptExport(
            "benign", "forgetlab.llm.benchmarks.harmful.benign:export_benign", frozenset({"limit"})
        ),
    ),
)


def _roundtrip(config: Mapping[str, Any]) -> dict[str, Any]:
    import json

    loaded: dict[str, Any] = json.loads(canonical_json(config))
    return loaded


def _per_group(
    samples: Sequence[Mapping[str, Any]], conditions: Sequence[Condition]
) -> dict[str, Any]:
    groups: dict[str, list[str]] = {}
    for c in conditions:
        groups.setdefault(c.group, []).append(c.name)
    return {
        g: {"conditions": names, **summarise([s for s in samples if s["condition"] in names])}
        for g, names in groups.items()
    }


def judge_rows(
    generations: Sequence[Mapping[str, Any]],
    cache: JsonlCache,
    judge: Judge,
    transforms: Mapping[str, Transform],
    back_translator: BackTranslator | None,
    *,
    chunk: int = 16,
) -> list[dict[str, Any]]:
    """Map back and judge every generation not yet judged (a judge *crash* is retried on resume)."""
    todo = [g for g in generations if not _is_done(cache.rows.get(str(g["id"])))]
    for start in range(0, len(todo), chunk):
        part = todo[start : start + chunk]
        mapped = map_to_english(part, transforms, back_translator)
        verdicts = safe_judge(
            judge, [str(g["prompt_en"]) for g in part], [m["output_en"] for m in mapped]
        )
        rows = []
        for g, m, v in zip(part, mapped, verdicts, strict=True):
            row = {k: val for k, val in g.items() if k != "output"}
            row.update(
                output_raw=g["output"],
                **m,
                label=v.label,
                judge=judge.identity()["name"],
                judge_detail=v.detail,
            )
            rows.append(row)
        cache.add_many(rows)
    return [cache.rows[str(g["id"])] for g in generations]


def _is_done(row: Mapping[str, Any] | None) -> bool:
    if row is None:
        return False
    return not (
        row.get("label") == JUDGE_ERROR
        and str(row.get("judge_detail", "")).startswith("judge failed")
    )
