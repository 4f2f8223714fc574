"""Reading a run directory into typed structures for the HTML report.

Every number the page shows comes from the run's own result files (``metrics.json``,
``results.json``, ``train_result.json``, ``forgetting_curve.json``); per-sample files only
feed the sample browser. The kind of run is recognised from which files are present, so the
report needs no flag to say what it is looking at.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from forgetlab.errors import ForgetlabError
from forgetlab.llm.benchmarks.schema import REFUSAL_BENCHMARKS as HARMFUL_BENCHMARKS
from forgetlab.llm.benchmarks.schema import HarmfulResults, IclVsIfResults, XnliResults
from forgetlab.results import read_json


@dataclass
class SyntheticRun:
    """``synthetic reproduce``/``analyze`` output: metrics, figures and the training logs."""

    path: Path
    metrics: dict[str, Any]
    figures: dict[str, Path]  # figure file name -> path (every fig_*.png of the run)
    training: dict[str, list[dict[str, Any]]]  # "pretrained"/"finetuned" -> metrics.jsonl rows
    kind: str = "synthetic"


@dataclass
class SeedsRun:
    """``synthetic reproduce --seeds N``: the aggregate ``metrics.json`` and each seed's run."""

    path: Path
    metrics: dict[str, Any]  # headline/aggregate: mean, lo, hi across seeds
    runs: list[SyntheticRun]
    kind: str = "synthetic"


@dataclass
class PairedRun:
    """A paired base-vs-tuned evaluation (ICL vs IF and benchmarks of the same shape)."""

    path: Path
    results: IclVsIfResults
    samples: list[dict[str, Any]]  # one row per (model, sample), as in samples.jsonl
    kind: str = "paired"


@dataclass
class XnliRun:
    """A paired XNLI evaluation (base vs tuned accuracy per language)."""

    path: Path
    results: XnliResults
    kind: str = "xnli"


@dataclass
class HarmfulRun:
    """A harmful-request evaluation (AdvBench or MultiJail), its samples and label sets."""

    path: Path
    results: HarmfulResults
    samples: list[dict[str, Any]]
    label_sets: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> id -> label
    kind: str = "harmful"


@dataclass
class FinetuneRun:
    """A ``finetune sft``/``safety``/``meet`` run: loss history and forgetting curve."""

    path: Path
    result: dict[str, Any] | None
    curve: dict[str, Any] | None
    kind: str = "finetune"


@dataclass
class BenchmarkRun:
    """A run of any other registered benchmark: its results, samples and label sets, shown by
    the section its command declares (``BenchmarkCommand.report``)."""

    path: Path
    results: dict[str, Any]
    samples: list[dict[str, Any]]
    label_sets: dict[str, dict[str, str]] = field(default_factory=dict)
    kind: str = "benchmark"


Run = SyntheticRun | SeedsRun | PairedRun | XnliRun | HarmfulRun | BenchmarkRun | FinetuneRun
LlmRun = PairedRun | XnliRun | HarmfulRun | BenchmarkRun


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file; a torn last line (killed writer) is skipped like the caches do."""
    if not path.is_file():
        return []
    rows: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                rows.append(row)
    return rows


def _dedupe(rows: list[dict[str, Any]], key: str = "id") -> list[dict[str, Any]]:
    """Last row per id wins (an append-only cache may hold a retried sample twice)."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        out[str(r.get(key))] = r
    return list(out.values())


def _label_sets(run_dir: Path) -> dict[str, dict[str, str]]:
    sets: dict[str, dict[str, str]] = {}
    labels_dir = run_dir / "labels"
    if labels_dir.is_dir():
        for p in sorted(labels_dir.glob("*.json")):
            data = read_json(p)
            if isinstance(data, dict) and isinstance(data.get("labels"), dict):
                sets[p.stem] = {str(k): str(v) for k, v in data["labels"].items()}
    return sets


def collect(run_dir: str | Path) -> Run:
    """Recognise and load the run in ``run_dir`` (one line of ForgetlabError if it is none)."""
    d = Path(run_dir)
    if not d.is_dir():
        raise ForgetlabError(f"{d} is not a directory")
    if (d / "metrics.json").is_file():
        metrics = read_json(d / "metrics.json")
        if isinstance(metrics, dict) and "seeds" in metrics and "headline" in metrics:
            runs = [
                collect(d / f"seed_{s}") for s in metrics["seeds"] if (d / f"seed_{s}").is_dir()
            ]
            return SeedsRun(d, metrics, [r for r in runs if isinstance(r, SyntheticRun)])
        if not isinstance(metrics, dict) or "pretrained" not in metrics:
            raise ForgetlabError(f"{d / 'metrics.json'} is not a synthetic-lab metrics file")
        return SyntheticRun(
            path=d,
            metrics=metrics,
            figures={p.name: p for p in sorted(d.glob("fig_*.png"))},
            training={
                name: read_jsonl(d / name / "metrics.jsonl")
                for name in ("pretrained", "finetuned")
                if (d / name / "metrics.jsonl").is_file()
            },
        )
    if (d / "results.json").is_file():
        results = read_json(d / "results.json")
        if not isinstance(results, dict):
            raise ForgetlabError(f"{d / 'results.json'} is not a results object")
        # The layouts are the typed ones of llm/benchmarks/schema.py; files written by older
        # versions may lack newer keys, so only the keys each section cannot do without are
        # checked here and the sections read the rest with defaults.
        if results.get("benchmark") == "xnli" and "languages" in results:
            return XnliRun(d, cast("XnliResults", results))
        samples = _dedupe(read_jsonl(d / "samples.jsonl"))
        if results.get("benchmark") in HARMFUL_BENCHMARKS and "runs" in results:
            return HarmfulRun(d, cast("HarmfulResults", results), samples, _label_sets(d))
        if "languages" in results and "overall" in results:
            return PairedRun(d, cast("IclVsIfResults", results), samples)
        from forgetlab.llm.benchmarks.registry import run_report

        if run_report(str(results.get("benchmark"))) is not None:
            return BenchmarkRun(d, results, samples, _label_sets(d))
        raise ForgetlabError(
            f"{d / 'results.json'}: unknown benchmark {results.get('benchmark')!r}"
        )
    result_file, curve_file = d / "train_result.json", d / "forgetting_curve.json"
    if result_file.is_file() or curve_file.is_file():
        return FinetuneRun(
            path=d,
            result=read_json(result_file) if result_file.is_file() else None,
            curve=read_json(curve_file) if curve_file.is_file() else None,
        )
    raise ForgetlabError(
        f"{d} holds no forgetlab results (metrics.json, results.json, train_result.json "
        "or forgetting_curve.json)"
    )
