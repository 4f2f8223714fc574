"""XNLI: does code fine-tuning suppress reasoning, and less so outside English? (docs/xnli.md)

The paper's third experiment compares a base model with its code fine-tune (Llama-2-7B vs
CodeLlama-7B) on natural-language inference in four languages. Each XNLI pair becomes one
raw-text prompt in its own language that ends in a question with three answer words; the
model generates greedily and is right when its output starts with the gold word (one
leading character, such as a space, allowed). Both models see the same prompts, so each
language's drop (base − tuned accuracy) gets the same paired bootstrap interval as
ICL-vs-IF's.

This module is the whole benchmark: prompts, data readers, scoring and the
:class:`Xnli` benchmark the generic loop (:mod:`forgetlab.llm.benchmarks.loop`) runs.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError, one_line
from forgetlab.llm.backends.base import Backend, GenerationConfig
from forgetlab.llm.benchmarks.base import (
    BackendLike,
    Benchmark,
    Finish,
    RunState,
    check_languages,
    check_roles,
    lazy_backend,
    model_key,
    paired_row,
)
from forgetlab.llm.benchmarks.command import (
    BATCH_SIZE,
    BOS,
    DEVICE,
    DTYPE,
    OUT,
    OVERWRITE,
    QUIET,
    BenchmarkCommand,
    Flag,
    PromptExport,
    RunReport,
    languages_flag,
    split_csv,
)
from forgetlab.llm.benchmarks.loop import run_benchmark
from forgetlab.llm.benchmarks.schema import XnliResults
from forgetlab.llm.paired_interval import SEED, B, put_intervals
from forgetlab.results import provenance

NAME = "xnli"
VERSION = 1  # bump when prompts or scoring change, so old run dirs are refused
LANGUAGES: tuple[str, ...] = ("en", "fr", "es", "de")
LABELS: tuple[str, ...] = ("entailment", "neutral", "contradiction")  # XNLI's label ints 0, 1, 2
HUB_ID = "xnli"
HUB_SPLIT = "validation"
HUB_ROWS = 2490  # validation rows per language
GENERATION = GenerationConfig(max_new_tokens=10, temperature=0.0)
ROLES: tuple[str, str] = ("base", "tuned")

SAMPLES_FILE = "samples.jsonl"
RESULTS_FILE = "results.json"
MODELS_FILE = "models.json"
REPORT_FILE = "report.md"


@dataclass(frozen=True)
class PromptFormat:
    """One language's prompt: ``template`` has ``{premise}`` and ``{hypothesis}``;
    ``words`` are the answers for entailment, neutral and contradiction, in that order."""

    template: str
    words: tuple[str, str, str]


FORMATS: dict[str, PromptFormat] = {
    "en": PromptFormat(
        "{premise}\nQuestion: {hypothesis} True, False or Neither?\nAnswer:",
        ("True", "Neither", "False"),
    ),
    "fr": PromptFormat(
        "{premise}\nQuestion: {hypothesis} Vrai, Faux ou Ni?\nRéponse:", ("Vrai", "Ni", "Faux")
    ),
    "es": PromptFormat(
        "{premise}\nPregunta: {hypothesis} Verdadero, Falso o Ni?\nRespuesta:",
        ("Verdadero", "Ni", "Falso"),
    ),
    "de": PromptFormat(
        "{premise}\nFrage: {hypothesis} Wahr, Falsch oder Weder?\nAntwort:",
        ("Wahr", "Weder", "Falsch"),
    ),
}

# Accuracy (fraction) of Llama-2-7B (base) and CodeLlama-7B (tuned) as reported for the paper;
# a secondary source, approximate: for comparison only, never used in a computation.
PAPER: dict[str, dict[str, float]] = {
    "en": {"base": 0.4426, "tuned": 0.3590, "drop": 0.0836},
    "es": {"base": 0.3811, "tuned": 0.3888, "drop": -0.0077},
}

SCORING = (
    "prefix match (docs/xnli.md#scoring): correct if the output starts with the gold label word, "
    "either at its first character or after exactly one leading character (a space, newline or "
    "quote); case-sensitive; per-language accuracy over the language's pairs; drop = base - tuned"
)
INTERVAL = (
    f"paired percentile bootstrap over XNLI pairs ({B} resamples, seed {SEED} per language), "
    "resampled within each language; the overall drop is the mean over languages"
)


@dataclass(frozen=True)
class Example:
    """One XNLI pair in one language."""

    language: str
    index: int  # position among the language's rows in its source
    premise: str
    hypothesis: str
    label: int  # 0 entailment, 1 neutral, 2 contradiction

    @property
    def prompt(self) -> str:
        return build_prompt(self.language, self.premise, self.hypothesis)

    @property
    def answer(self) -> str:
        return FORMATS[self.language].words[self.label]


def build_prompt(language: str, premise: str, hypothesis: str) -> str:
    """The raw text a model continues (no chat template, no special tokens)."""
    return FORMATS[language].template.format(premise=premise, hypothesis=hypothesis)


def is_correct(output: str, answer: str) -> bool:
    """``output`` starts with ``answer``, directly or after exactly one character."""
    return output.startswith(answer) or output[1:].startswith(answer)


def predicted_word(output: str, language: str) -> str | None:
    """The answer word the output gives under the scoring rule, ``None`` if none."""
    for word in FORMATS[language].words:
        if is_correct(output, word):
            return word
    return None


# --- data ------------------------------------------------------------------------------------

_PREMISE = ("premise", "sentence1")
_HYPOTHESIS = ("hypothesis", "sentence2")
_LABEL = ("label", "gold_label")


def parse_label(value: Any) -> int:
    """0/1/2 (as int or text) or entailment/neutral/contradiction → the label int."""
    if isinstance(value, bool):
        raise ValueError(f"bad label {value!r}")
    if isinstance(value, int) and 0 <= value <= 2:
        return value
    text = str(value).strip().lower()
    if text in ("0", "1", "2"):
        return int(text)
    if text in LABELS:
        return LABELS.index(text)
    raise ValueError(f"bad label {value!r} (use 0/1/2 or {'/'.join(LABELS)})")


def _field(row: Mapping[str, Any], names: Sequence[str]) -> Any:
    for name in names:
        if name in row and row[name] is not None:
            return row[name]
    raise KeyError(names[0])


def _file_rows(path: Path) -> Iterable[tuple[int, Mapping[str, Any]]]:
    """(line number, row) of a JSONL or TSV file (by suffix; TSV needs a header line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ForgetlabError(f"--data {path}: no such file") from None
    except IsADirectoryError:
        raise ForgetlabError(f"--data {path} is a directory; give a .jsonl or .tsv file") from None
    except UnicodeDecodeError:
        raise ForgetlabError(f"--data {path} is not UTF-8 text") from None
    except OSError as exc:
        raise ForgetlabError(f"--data {path}: {one_line(exc)}") from None
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ForgetlabError(f"{path}:{n}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise ForgetlabError(f"{path}:{n}: each line must be a JSON object")
            yield n, row
    elif suffix == ".tsv":
        reader = csv.DictReader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)
        for n, row in enumerate(reader, start=2):
            yield n, row
    else:
        raise ForgetlabError(f"--data {path}: use a .jsonl or .tsv file (docs/xnli.md#data)")


def read_file(path: str | Path, languages: Sequence[str]) -> dict[str, list[Example]]:
    """Examples per requested language from a local file (format: docs/xnli.md#data).

    A row's ``language`` column selects its language; a file without that column holds one
    language and can only be used with exactly one requested language. Rows of languages not
    requested are skipped; ``index`` counts a language's rows in file order.
    """
    p = Path(path)
    out: dict[str, list[Example]] = {lang: [] for lang in languages}
    for n, row in _file_rows(p):
        lang = row.get("language")
        if lang in (None, ""):
            if len(languages) != 1:
                raise ForgetlabError(
                    f"{p}:{n}: no 'language' column; a file without it holds one language, "
                    "so pass exactly one --languages"
                )
            lang = languages[0]
        if lang not in out:
            continue
        try:
            premise = str(_field(row, _PREMISE))
            hypothesis = str(_field(row, _HYPOTHESIS))
            label = parse_label(_field(row, _LABEL))
        except KeyError as exc:
            raise ForgetlabError(f"{p}:{n}: missing column {exc.args[0]!r}") from None
        except ValueError as exc:
            raise ForgetlabError(f"{p}:{n}: {exc}") from None
        examples = out[str(lang)]
        examples.append(Example(str(lang), len(examples), premise, hypothesis, label))
    return out


def read_hub(languages: Sequence[str]) -> tuple[dict[str, list[Example]], dict[str, Any]]:
    """The validation rows of ``xnli`` from the Hugging Face hub (needs ``datasets`` and a
    connection, or its local cache)."""
    hint = "pass --data PATH with a local JSONL/TSV file instead (docs/xnli.md#data)"
    try:
        import datasets
    except ImportError:
        raise ForgetlabError(
            f"XNLI from the hub needs the `datasets` package (pip install datasets); {hint}"
        ) from None
    out: dict[str, list[Example]] = {}
    fingerprints: dict[str, str] = {}
    for lang in languages:
        try:
            ds = datasets.load_dataset(HUB_ID, lang, split=HUB_SPLIT)
        except Exception as exc:
            raise ForgetlabError(
                f"cannot load {HUB_ID}/{lang} ({HUB_SPLIT}) from the hub: {one_line(exc, 200)}; "
                f"{hint}"
            ) from None
        out[lang] = [
            Example(lang, i, str(r["premise"]), str(r["hypothesis"]), parse_label(r["label"]))
            for i, r in enumerate(ds)
        ]
        fingerprints[lang] = str(getattr(ds, "_fingerprint", ""))
    source = {
        "kind": "hub",
        "id": HUB_ID,
        "split": HUB_SPLIT,
        "datasets": getattr(datasets, "__version__", None),
        "fingerprints": fingerprints,
    }
    return out, source


def load_examples(
    languages: Sequence[str], data: str | Path | None = None, limit: int | None = None
) -> tuple[list[Example], dict[str, Any]]:
    """The first ``limit`` examples of each language (all by default) and their source."""
    if limit is not None and limit < 1:
        raise ForgetlabError(f"--limit must be >= 1 (got {limit})")
    langs = check_languages(dict.fromkeys(languages), LANGUAGES, NAME)
    if not langs:
        raise ForgetlabError(f"no language given (known: {', '.join(LANGUAGES)})")
    if data is not None:
        per_lang = read_file(data, langs)
        raw = Path(data).read_bytes()
        source: dict[str, Any] = {
            "kind": "file",
            "path": str(data),
            "sha256": hashlib.sha256(raw).hexdigest(),
        }
    else:
        per_lang, source = read_hub(langs)
    empty = [lang for lang in langs if not per_lang.get(lang)]
    if empty:
        where = f"--data {data}" if data is not None else f"{HUB_ID} ({HUB_SPLIT})"
        raise ForgetlabError(f"{where} has no rows for language(s) {', '.join(empty)}")
    examples = [ex for lang in langs for ex in per_lang[lang][:limit]]
    return examples, source


# --- the benchmark -----------------------------------------------------------------------------


def _finish(item: Mapping[str, Any], output: str) -> dict[str, Any]:
    return {
        **item,
        "output": output,
        "predicted": predicted_word(output, str(item["language"])),
        "correct": is_correct(output, str(item["answer"])),
    }


def _language_task(row: Mapping[str, Any]) -> str:
    return NAME  # one cell per language: every pair is drawn from the same pool


def _stats(rows: Sequence[Mapping[str, Any]], language: str) -> dict[str, Any]:
    n = len(rows)
    correct = sum(bool(r["correct"]) for r in rows)
    given = Counter(r.get("predicted") or "other" for r in rows)
    words = [*FORMATS[language].words, "other"]
    return {
        "n": n,
        "correct": correct,
        "accuracy": correct / n if n else None,
        "answers": {w: given.get(w, 0) for w in words},
    }


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


class Xnli(Benchmark[XnliResults]):
    """XNLI base vs tuned on the generic loop: one prompt per pair, prefix-match scoring,
    per-language accuracy and paired drop intervals."""

    name = NAME
    roles = ROLES
    generations_file = SAMPLES_FILE
    results_file = RESULTS_FILE
    models_file = MODELS_FILE
    checked_fields = ("model_input", "answer")  # a relabelled pair must not keep its old score

    def __init__(
        self,
        examples: Sequence[Example],
        source: Mapping[str, Any],
        *,
        limit: int | None = None,
        batch_size: int = 16,
    ) -> None:
        self.examples = list(examples)
        self.languages = list(dict.fromkeys(ex.language for ex in self.examples))
        self.selection: dict[str, Any] = {
            "languages": self.languages,
            "limit": limit,
            "batch_size": batch_size,
            "data": dict(source),
        }
        self._requests = {
            role: [
                paired_row(
                    role,
                    f"{ex.language}/{ex.index}",
                    {
                        "condition": ex.language,
                        "language": ex.language,
                        "index": ex.index,
                        "premise": ex.premise,
                        "hypothesis": ex.hypothesis,
                        "label": LABELS[ex.label],
                        "answer": ex.answer,
                        "model_input": ex.prompt,
                    },
                )
                for ex in self.examples
            ]
            for role in ROLES
        }

    def requests(self, role: str) -> list[dict[str, Any]]:
        return self._requests[role]

    def run_config(
        self, backends: Mapping[str, BackendLike], generation: GenerationConfig
    ) -> dict[str, Any]:
        return {
            "benchmark": NAME,
            "version": VERSION,
            "models": {role: model_key(backends[role]) for role in ROLES},
            "generation": generation.as_dict(),
        }

    def prepare(self, backend: Backend, role: str) -> tuple[Backend, Finish]:
        return backend, _finish

    def summarise(self, state: RunState) -> XnliResults:
        rows_by_role = {
            role: [
                state.cache.rows[r["id"]] for r in self._requests[role] if r["id"] in state.cache
            ]
            for role in ROLES
        }
        languages: dict[str, Any] = {}
        for lang in self.languages:
            per = {
                role: _stats([r for r in rows_by_role[role] if r["language"] == lang], lang)
                for role in ROLES
            }
            if not per["base"]["n"] or not per["tuned"]["n"]:
                continue
            languages[lang] = {
                **per,
                "drop": _diff(per["base"]["accuracy"], per["tuned"]["accuracy"]),
            }
        overall = {
            role: {
                "n": sum(v[role]["n"] for v in languages.values()),
                "correct": sum(v[role]["correct"] for v in languages.values()),
                "accuracy": _mean(v[role]["accuracy"] for v in languages.values()),
            }
            for role in ROLES
        }
        ov = {**overall, "drop": _diff(overall["base"]["accuracy"], overall["tuned"]["accuracy"])}
        put_intervals(languages, ov, rows_by_role, hit="correct", task=_language_task)
        return {
            **self.paired_header(state, SCORING, self.selection),  # type: ignore[typeddict-item]
            "conditions": list(self.languages),
            "languages": languages,
            "overall": ov,
            "paper": {lang: PAPER[lang] for lang in self.languages if lang in PAPER},
            "provenance": provenance(state.config, selection=self.selection),
            "drop_interval": INTERVAL,
        }

    def report(self, results: XnliResults, out_dir: Path) -> None:
        from forgetlab.report.html import write_run_report
        from forgetlab.report.xnli_report import write_report

        write_report(results, out_dir / REPORT_FILE)
        write_run_report(out_dir)


def evaluate_xnli(
    backends: Mapping[str, BackendLike],
    *,
    out: str | Path,
    languages: Sequence[str] = LANGUAGES,
    data: str | Path | None = None,
    limit: int | None = None,
    generation: GenerationConfig = GENERATION,
    batch_size: int = 16,
    overwrite: bool = False,
    report: bool = True,
    show_progress: bool = True,
) -> XnliResults:
    """Run (or resume) XNLI for ``base`` and ``tuned`` into ``out``; return ``results.json``.

    Writes ``samples.jsonl`` (one row per model × pair), ``models.json``, ``results.json``
    and ``report.md``. Bad input fails before any model loads or ``out`` is claimed.
    """
    check_roles(backends, ROLES)
    if batch_size < 1:
        raise ForgetlabError(f"--batch-size must be >= 1 (got {batch_size})")
    examples, source = load_examples(languages, data, limit)
    bench = Xnli(examples, source, limit=limit, batch_size=batch_size)
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


def run_from_flags(
    *,
    base: str,
    tuned: str,
    languages: str | Sequence[str] | None,
    data: str | None,
    limit: int | None,
    batch_size: int,
    dtype: str | None,
    device: str | None,
    add_bos: bool | None,
    overwrite: bool,
    quiet: bool,
    out: str,
) -> XnliResults:
    """``forgetlab llm run xnli``: the base and tuned models, loaded lazily, through
    :func:`evaluate_xnli`. ``languages`` may be comma-separated (or several such strings);
    none given means all the benchmark has (an empty string is an error, not "all")."""

    def lazy(spec: str) -> BackendLike:
        return lazy_backend(
            spec, dtype=dtype, device=device, batch_size=batch_size, add_bos=add_bos
        )

    return evaluate_xnli(
        {"base": lazy(base), "tuned": lazy(tuned)},
        out=out,
        languages=LANGUAGES if not languages else split_csv(languages),
        data=data,
        limit=limit,
        batch_size=batch_size,
        overwrite=overwrite,
        show_progress=not quiet,
    )


def describe_run(results: XnliResults, flags: Mapping[str, Any]) -> list[str]:
    """What the command prints: the accuracy table, a pair warning, the files written."""
    from forgetlab.report.xnli_report import render_table

    lines = [render_table(results)]
    pair = results["pair"]
    if pair.get("matched") is not True:
        lines.append(f"note: {pair['note']}")
    lines.append(f"wrote {flags['out']}/{RESULTS_FILE}, report.md; samples in samples.jsonl")
    return lines


COMMAND = BenchmarkCommand(
    help="XNLI accuracy, base vs tuned, with paired drops (docs/xnli.md).",
    flags=(
        Flag(
            "--base",
            "Base model spec, e.g. hf:meta-llama/Llama-2-7b-hf.",
            required=True,
            aliases=("--model",),
        ),
        Flag(
            "--tuned",
            "Tuned model spec, e.g. hf:codellama/CodeLlama-7b-hf.",
            required=True,
            aliases=("--compare",),
        ),
        languages_flag("Comma-separated languages (default: all the benchmark has)."),
        Flag(
            "--data",
            "Local JSONL or TSV file (premise, hypothesis, label[, language]) instead of the "
            "Hugging Face hub id xnli (docs/xnli.md#data).",
            kind="file",
            default=None,
        ),
        Flag("--limit", "First N pairs per language; default all.", kind="int", default=None),
        BATCH_SIZE,
        DTYPE,
        DEVICE,
        BOS,
        OVERWRITE,
        QUIET,
        OUT,
    ),
    run=run_from_flags,
    describe=describe_run,
    report=RunReport(results=(NAME,), title="XNLI", section="forgetlab.report.html.xnli:section"),
    exports=(
        PromptExport(
            "xnli", "forgetlab.llm.benchmarks.xnli:export_xnli", frozenset({"limit", "data"})
        ),
    ),
)


def export_xnli(
    languages: Sequence[str] | None = None,
    *,
    data: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Rows ``language, index, premise, hypothesis, label, answer, prompt`` for export-prompts."""
    examples, _ = load_examples(languages or LANGUAGES, data, limit)
    return [
        {
            "benchmark": NAME,
            "language": ex.language,
            "index": ex.index,
            "premise": ex.premise,
            "hypothesis": ex.hypothesis,
            "label": LABELS[ex.label],
            "answer": ex.answer,
            "prompt": ex.prompt,
        }
        for ex in examples
    ]
