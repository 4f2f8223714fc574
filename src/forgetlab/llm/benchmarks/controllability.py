"""Controllability: does a control token set the answer's length? (docs/finetuning.md#controllability)

Reads the held-out file ``data control --teacher`` writes (``OUT.eval.jsonl``: requests whose
tasks were never trained on, with the teacher's concise and detailed references) and asks
each model every request twice, once under ``<concise>`` and once under ``<detailed>``, in
the data's own format (chat for ``messages`` data, raw text for ``prompt-completion``).

Metrics: the share of outputs **in the requested length band** (concise: at most
``--concise-max-words`` words; detailed: at least ``--detailed-min-words``), with Wilson
intervals; the **length ratio** detailed/concise (mean words); and a stated **answer-quality
proxy**: unigram F1 between the output's content words and the teacher's reference for the
same request and control. For a base/tuned pair, paired changes of the in-band share.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError
from forgetlab.llm.backends.base import Backend, GenerationConfig
from forgetlab.llm.benchmarks.base import (
    BackendLike,
    Benchmark,
    Finish,
    LazyBackend,
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
)
from forgetlab.llm.benchmarks.ifeval import PAIRED_ROLES, SINGLE_ROLES, _rate
from forgetlab.llm.benchmarks.loop import run_benchmark
from forgetlab.llm.paired_rates import paired_change
from forgetlab.results import provenance

NAME = "controllability"
VERSION = 1
CONTROLS = {"concise": "<concise>", "detailed": "<detailed>"}
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "so",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "will",
        "with",
        "you",
        "your",
    ]
)
_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def overlap_f1(output: str, reference: str) -> float:
    """Unigram F1 of content words (lower case, stopwords out), as sets."""
    o = {w.lower() for w in words(output)} - STOPWORDS
    r = {w.lower() for w in words(reference)} - STOPWORDS
    common = len(o & r)
    if not common:
        return 0.0
    p, rc = common / len(o), common / len(r)
    return 2 * p * rc / (p + rc)


def read_eval_file(path: str | Path, limit: int | None = None) -> list[dict[str, Any]]:
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ForgetlabError(f"--data {p}: {exc.strerror or exc}") from None
    rows = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            rows.append({k: str(row[k]) for k in ("request", "concise", "detailed", "format")})
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ForgetlabError(f"{p}:{n}: not a controllability row ({exc})") from None
    if not rows:
        raise ForgetlabError(f"--data {p} holds no requests")
    if {r["format"] for r in rows} - {"messages", "prompt-completion"}:
        raise ForgetlabError(f"{p}: format must be messages or prompt-completion")
    return rows[:limit]


class Controllability(Benchmark[dict[str, Any]]):
    """Each held-out request under each control token; length bands, ratio, quality proxy."""

    name = NAME

    def __init__(
        self, rows: Sequence[Mapping[str, Any]], *, roles: Sequence[str], bands: Mapping[str, int]
    ) -> None:
        from forgetlab.finetune.data.control import control_input

        self.roles = tuple(roles)
        self.bands = dict(bands)
        fmt = str(rows[0]["format"])
        self.mode = "chat" if fmt == "messages" else "complete"
        self.fmt = fmt
        self._requests = {
            role: [
                paired_row(
                    role,
                    f"{i}/{control}",
                    {
                        "request": r["request"],
                        "control": control,
                        "reference": r[control],
                        "model_input": control_input(token, str(r["request"]), fmt),  # type: ignore[arg-type]
                    },
                )
                for i, r in enumerate(rows)
                for control, token in CONTROLS.items()
            ]
            for role in self.roles
        }

    def requests(self, role: str) -> list[dict[str, Any]]:
        return self._requests[role]

    def run_config(
        self, backends: Mapping[str, BackendLike], generation: GenerationConfig
    ) -> dict[str, Any]:
        return {
            "benchmark": NAME,
            "version": VERSION,
            "models": {r: model_key(backends[r]) for r in self.roles},
            "generation": generation.as_dict(),
            "bands": self.bands,
        }

    def prepare(self, backend: Backend, role: str) -> tuple[Backend, Finish]:
        def finish(item: Mapping[str, Any], output: str) -> dict[str, Any]:
            n = len(words(output))
            if item["control"] == "concise":
                in_band = 1 <= n <= self.bands["concise_max_words"]
            else:
                in_band = n >= self.bands["detailed_min_words"]
            quality = overlap_f1(output, str(item["reference"]))
            return {**item, "output": output, "words": n, "in_band": in_band, "quality": quality}

        return backend, finish

    def summarise(self, state: RunState) -> dict[str, Any]:
        rows = {
            role: [
                state.cache.rows[r["id"]] for r in self._requests[role] if r["id"] in state.cache
            ]
            for role in self.roles
        }
        per_role = {}
        for role, rs in rows.items():
            cell: dict[str, Any] = {}
            for control in CONTROLS:
                mine = [r for r in rs if r["control"] == control]
                cell[control] = {
                    "in_band": _rate(sum(r["in_band"] for r in mine), len(mine)),
                    "mean_words": statistics.fmean(r["words"] for r in mine) if mine else None,
                    "quality_f1": statistics.fmean(r["quality"] for r in mine) if mine else None,
                }
            both = cell["concise"]["in_band"]["rate"], cell["detailed"]["in_band"]["rate"]
            mc, md = cell["concise"]["mean_words"], cell["detailed"]["mean_words"]
            cell["controllability"] = None if None in both else (both[0] + both[1]) / 2
            cell["in_band_all"] = _rate(sum(r["in_band"] for r in rs), len(rs))
            cell["length_ratio"] = md / mc if mc and md is not None else None
            per_role[role] = cell
        paired = None
        if set(self.roles) == set(PAIRED_ROLES):
            hits = {
                role: {r["sample"]: bool(r["in_band"]) for r in rows[role]} for role in PAIRED_ROLES
            }
            paired = {"in_band": paired_change(hits["base"], hits["tuned"], key=NAME)}
        done = self.done(state.cache)
        return {
            "benchmark": NAME,
            "complete": done == self.expected(),
            "samples_done": done,
            "samples_expected": self.expected(),
            "roles": list(self.roles),
            "models": dict(state.identities),
            "format": self.fmt,
            "bands": self.bands,
            "quality_proxy": "unigram F1 of content words against the teacher's reference",
            "per_role": per_role,
            "paired": paired,
            "provenance": provenance(state.config),
        }


def run_from_flags(
    *,
    model: str | None,
    base: str | None,
    tuned: str | None,
    data: str,
    limit: int | None,
    max_new_tokens: int,
    concise_max_words: int,
    detailed_min_words: int,
    batch_size: int,
    overwrite: bool,
    quiet: bool,
    out: str,
) -> dict[str, Any]:
    """``forgetlab llm run controllability``: ``--model M`` or ``--base A --tuned B``."""
    if bool(model) == bool(base or tuned) or (not model and not (base and tuned)):
        raise ForgetlabError("give --model M alone, or both --base A and --tuned B")
    if limit is not None and limit < 1:
        raise ForgetlabError(f"--limit must be >= 1 (got {limit})")
    if concise_max_words < 1 or detailed_min_words <= concise_max_words:
        raise ForgetlabError("need 1 <= --concise-max-words < --detailed-min-words")
    rows = read_eval_file(data, limit)
    chat = rows[0]["format"] == "messages"
    specs = {"model": model} if model else {"base": base, "tuned": tuned}

    def lazy(spec: str) -> LazyBackend:
        def load() -> Backend:
            from forgetlab.llm.backends import load_backend

            return load_backend(spec, batch_size=batch_size, chat_template=chat)

        return LazyBackend(key={"spec": spec, "chat_template": chat}, load=load)

    bench = Controllability(
        rows,
        roles=SINGLE_ROLES if model else PAIRED_ROLES,
        bands={"concise_max_words": concise_max_words, "detailed_min_words": detailed_min_words},
    )
    return run_benchmark(
        bench,
        {role: lazy(str(s)) for role, s in specs.items()},
        out=out,
        generation=GenerationConfig(max_new_tokens=max_new_tokens, temperature=0.0),
        batch_size=batch_size,
        overwrite=overwrite,
        show_progress=not quiet,
    )


def describe_run(results: Mapping[str, Any], flags: Mapping[str, Any]) -> list[str]:
    lines = []
    for role, c in results["per_role"].items():
        lines.append(
            f"{role}: in band concise {c['concise']['in_band']['rate']}, detailed "
            f"{c['detailed']['in_band']['rate']}, length ratio {c['length_ratio']}, "
            f"quality F1 {c['concise']['quality_f1']} / {c['detailed']['quality_f1']}"
        )
    return [*lines, f"wrote {flags['out']}/results.json; samples in samples.jsonl"]


COMMAND = BenchmarkCommand(
    help="Controllability of answer length by <concise>/<detailed> tokens, on the held-out "
    "requests of 'finetune data control --teacher' (docs/finetuning.md#controllability).",
    flags=(
        Flag("--model", "One model spec.", default=None),
        Flag("--base", "Base model spec (with --tuned).", default=None),
        Flag("--tuned", "Tuned model spec (with --base).", default=None),
        Flag("--data", "The OUT.eval.jsonl of data control --teacher.", kind="file", required=True),
        Flag("--limit", "First N requests.", kind="int", default=None),
        Flag("--max-new-tokens", kind="int", default=160, show_default=True),
        Flag("--concise-max-words", kind="int", default=30, show_default=True),
        Flag("--detailed-min-words", kind="int", default=50, show_default=True),
        BATCH_SIZE,
        OVERWRITE,
        QUIET,
        OUT,
    ),
    run=run_from_flags,
    describe=describe_run,
)
