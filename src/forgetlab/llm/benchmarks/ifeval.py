"""Instruction following: does a fine-tune follow verifiable instructions? (docs/ifeval.md)

158 everyday English requests written for forgetlab, each with one to three instructions a
program can check (IFEval's style: case, counts, keywords, JSON, lists, start/end phrases,
English only; the verifiers are :mod:`~forgetlab.llm.benchmarks.ifeval_verifiers`). Each
prompt goes to the model as one user message; a model without a chat template gets the
prompt as raw text through ``--raw-template``. Scores are IFEval's: prompt-level (every
instruction followed) and instruction-level accuracy, strict and loose, per instruction
type, with Wilson intervals; for a base/tuned pair, the paired change of each with a
bootstrap interval over prompts (instructions) and McNemar's test.

This module is the whole benchmark: prompts, scoring, the :class:`IfEval` benchmark on the
generic loop (:mod:`forgetlab.llm.benchmarks.loop`), its command and its prompt export.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from forgetlab.errors import ForgetlabError, one_line
from forgetlab.llm.backends.base import Backend, GenerationConfig, Message, ModelIdentity
from forgetlab.llm.benchmarks import ifeval_verifiers as verifiers
from forgetlab.llm.benchmarks.base import (
    BackendLike,
    Benchmark,
    Finish,
    LazyBackend,
    RunState,
    model_key,
    pair_note,
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
)
from forgetlab.llm.benchmarks.harmful.rates import wilson_interval
from forgetlab.llm.benchmarks.loop import run_benchmark
from forgetlab.llm.paired_rates import METHOD as PAIRED_METHOD
from forgetlab.llm.paired_rates import paired_change
from forgetlab.results import provenance

NAME = "ifeval"
VERSION = 1  # bump when prompts, verifiers or scoring change, so old run dirs are refused
DATA = ("ifeval", "prompts.jsonl")
MAX_NEW_TOKENS = 256
RAW_TEMPLATE = "{prompt}\n"
PAIRED_ROLES: tuple[str, str] = ("base", "tuned")
SINGLE_ROLES: tuple[str] = ("model",)
LEVELS: tuple[str, ...] = (
    "prompt_strict",
    "prompt_loose",
    "instruction_strict",
    "instruction_loose",
)

SAMPLES_FILE = "samples.jsonl"
RESULTS_FILE = "results.json"
MODELS_FILE = "models.json"
REPORT_FILE = "report.md"

SCORING = (
    "IFEval's (docs/ifeval.md#scoring): strict = the response as generated follows the "
    "instruction; loose = any of 8 variants does (first line, last line or both removed, "
    "each with and without every '*'); prompt level = all of a prompt's instructions followed"
)
INTERVALS = (
    "rates: Wilson 95 % score intervals (instruction level treats instructions as independent); "
    f"changes (tuned - base): {PAIRED_METHOD} (instruction level: resampled over instructions)"
)


@dataclass(frozen=True)
class IfPrompt:
    """One prompt and its instructions (IFEval's layout)."""

    key: int
    prompt: str
    instruction_ids: tuple[str, ...]
    kwargs: tuple[dict[str, Any], ...]

    def as_row(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "prompt": self.prompt,
            "instruction_id_list": list(self.instruction_ids),
            "kwargs": [dict(k) for k in self.kwargs],
        }


def default_data() -> Path:
    from forgetlab.data import data_path

    return data_path(*DATA)


def load_prompts(
    data: str | Path | None = None, limit: int | None = None
) -> tuple[list[IfPrompt], dict[str, Any]]:
    """The first ``limit`` prompts of ``data`` (default: the packaged set) and their source.

    Every line must be a JSON object with ``key``, ``prompt``, ``instruction_id_list`` and
    ``kwargs`` naming instructions the verifiers know; anything else is a one-line error.
    """
    if limit is not None and limit < 1:
        raise ForgetlabError(f"--limit must be >= 1 (got {limit})")
    path = Path(data) if data is not None else default_data()
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ForgetlabError(f"--data {path}: no such file") from None
    except IsADirectoryError:
        raise ForgetlabError(f"--data {path} is a directory; give a .jsonl file") from None
    except UnicodeDecodeError:
        raise ForgetlabError(f"--data {path} is not UTF-8 text") from None
    except OSError as exc:
        raise ForgetlabError(f"--data {path}: {one_line(exc)}") from None
    prompts: list[IfPrompt] = []
    seen: set[int] = set()
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            key = int(row["key"])
            ids = tuple(str(i) for i in row["instruction_id_list"])
            kwargs = tuple(dict(k or {}) for k in row["kwargs"])
            prompt = str(row["prompt"])
            if len(ids) != len(kwargs) or not ids:
                raise ValueError("instruction_id_list and kwargs must be non-empty and match")
            for i, k in zip(ids, kwargs, strict=True):
                verifiers.validate(i, k)
        except json.JSONDecodeError as exc:
            raise ForgetlabError(f"{path}:{n}: not JSON ({exc.msg})") from None
        except KeyError as exc:
            raise ForgetlabError(f"{path}:{n}: missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise ForgetlabError(f"{path}:{n}: {one_line(exc)}") from None
        if key in seen:
            raise ForgetlabError(f"{path}:{n}: duplicate key {key}")
        seen.add(key)
        prompts.append(IfPrompt(key, prompt, ids, kwargs))
    if not prompts:
        raise ForgetlabError(f"--data {path} holds no prompts")
    source = {
        "kind": "packaged" if data is None else "file",
        "path": "forgetlab/data/" + "/".join(DATA) if data is None else str(path),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "prompts": len(prompts),
    }
    return prompts[:limit], source


# --- how a prompt reaches the model -------------------------------------------------------------


class RawChat(Backend):
    """A model without a chat template, asked in chat mode: each user message becomes the raw
    text ``template.format(prompt=message)``, continued with ``complete``."""

    def __init__(self, inner: Backend, template: str) -> None:
        self.inner = inner
        self.template = template

    @property
    def identity(self) -> ModelIdentity:
        return self.inner.identity

    def complete(self, prompts: Sequence[str], config: GenerationConfig) -> list[str]:
        return self.inner.complete(prompts, config)

    def chat(
        self, conversations: Sequence[Sequence[Message]], config: GenerationConfig
    ) -> list[str]:
        texts = [self.template.format(prompt=c[-1]["content"]) for c in conversations]
        return self.inner.complete(texts, config)


def check_raw_template(template: str) -> None:
    try:
        template.format(prompt="x")
    except (KeyError, IndexError, ValueError) as exc:
        raise ForgetlabError(
            f"--raw-template {template!r}: use {{prompt}} once and no other field ({one_line(exc)})"
        ) from None
    if "{prompt}" not in template:
        raise ForgetlabError(f"--raw-template {template!r} must contain {{prompt}}")


def score_output(item: Mapping[str, Any], output: str) -> dict[str, Any]:
    """A generated row: the output and its strict and loose verdicts per instruction."""
    verdicts = verifiers.follows(item["instruction_id_list"], item["kwargs"], output)
    return {
        **item,
        "output": output,
        "strict": verdicts["strict"],
        "loose": verdicts["loose"],
        "prompt_strict": all(verdicts["strict"]),
        "prompt_loose": all(verdicts["loose"]),
    }


# --- summary ---------------------------------------------------------------------------------


def _rate(k: int, n: int) -> dict[str, Any]:
    lo, hi = wilson_interval(k, n) if n else (None, None)
    return {"k": k, "n": n, "rate": k / n if n else None, "ci95": [lo, hi] if n else None}


def _outcomes(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, bool]]:
    """level -> {id -> followed}; instruction ids are ``sample#index``; per type too."""
    out: dict[str, dict[str, bool]] = {level: {} for level in LEVELS}
    for r in rows:
        sid = str(r["sample"])
        out["prompt_strict"][sid] = bool(r["prompt_strict"])
        out["prompt_loose"][sid] = bool(r["prompt_loose"])
        for i, (iid, s, lo) in enumerate(
            zip(r["instruction_id_list"], r["strict"], r["loose"], strict=True)
        ):
            out["instruction_strict"][f"{sid}#{i}"] = bool(s)
            out["instruction_loose"][f"{sid}#{i}"] = bool(lo)
            out.setdefault(f"type_strict:{iid}", {})[f"{sid}#{i}"] = bool(s)
            out.setdefault(f"type_loose:{iid}", {})[f"{sid}#{i}"] = bool(lo)
    return out


def role_summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Prompt- and instruction-level strict/loose rates and each instruction type's."""
    o = _outcomes(rows)
    summary: dict[str, Any] = {
        level: _rate(sum(o[level].values()), len(o[level])) for level in LEVELS
    }
    types = sorted({k.split(":", 1)[1] for k in o if k.startswith("type_strict:")})
    summary["per_type"] = {
        t: {
            "strict": _rate(sum(o[f"type_strict:{t}"].values()), len(o[f"type_strict:{t}"])),
            "loose": _rate(sum(o[f"type_loose:{t}"].values()), len(o[f"type_loose:{t}"])),
        }
        for t in types
    }
    return summary


def paired_summary(
    base: Sequence[Mapping[str, Any]], tuned: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Change tuned − base of every level and type over the prompts both models answered."""
    ob, ot = _outcomes(base), _outcomes(tuned)
    out: dict[str, Any] = {
        level: paired_change(ob[level], ot[level], key=level) for level in LEVELS
    }
    types = sorted({k.split(":", 1)[1] for k in ob if k.startswith("type_strict:")})
    out["per_type"] = {
        t: {
            side: paired_change(
                ob[f"type_{side}:{t}"], ot.get(f"type_{side}:{t}", {}), key=f"{side}:{t}"
            )
            for side in ("strict", "loose")
        }
        for t in types
    }
    return out


class IfEvalResults(TypedDict):
    """``results.json`` of ``forgetlab llm run ifeval`` (docs/ifeval.md#results)."""

    benchmark: str
    complete: bool
    samples_done: int
    samples_expected: int
    roles: list[str]
    models: dict[str, Any]
    pair: dict[str, Any] | None
    generation: dict[str, Any]
    prompt_format: dict[str, Any]
    scoring: str
    intervals: str
    selection: dict[str, Any]
    per_role: dict[str, dict[str, Any]]
    paired: dict[str, Any] | None
    provenance: dict[str, Any]
    error: NotRequired[str]


class IfEval(Benchmark[IfEvalResults]):
    """The instruction-following benchmark on the generic loop: one chat request per model
    and prompt, verified as it is generated."""

    name = NAME
    mode = "chat"
    generations_file = SAMPLES_FILE
    results_file = RESULTS_FILE
    models_file = MODELS_FILE
    checked_fields = ("model_input", "instruction_id_list", "kwargs")

    def __init__(
        self,
        prompts: Sequence[IfPrompt],
        source: Mapping[str, Any],
        *,
        roles: Sequence[str] = PAIRED_ROLES,
        raw_template: str = RAW_TEMPLATE,
        limit: int | None = None,
    ) -> None:
        self.roles = tuple(roles)
        self.prompts = list(prompts)
        self.raw_template = raw_template
        self.selection: dict[str, Any] = {"limit": limit, "data": dict(source)}
        self._requests = {
            role: [
                paired_row(
                    role,
                    str(p.key),
                    {
                        "key": p.key,
                        "instruction_id_list": list(p.instruction_ids),
                        "kwargs": [dict(k) for k in p.kwargs],
                        "model_input": p.prompt,
                    },
                )
                for p in self.prompts
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
            "models": {role: model_key(backends[role]) for role in self.roles},
            "generation": generation.as_dict(),
            "raw_template": self.raw_template,
        }

    def prepare(self, backend: Backend, role: str) -> tuple[Backend, Finish]:
        if backend.identity.chat_template is None:
            return RawChat(backend, self.raw_template), score_output
        return backend, score_output

    def _rows(self, state: RunState, role: str) -> list[dict[str, Any]]:
        return [state.cache.rows[r["id"]] for r in self._requests[role] if r["id"] in state.cache]

    def summarise(self, state: RunState) -> IfEvalResults:
        rows = {role: self._rows(state, role) for role in self.roles}
        paired = set(self.roles) == set(PAIRED_ROLES)
        done, expected = self.done(state.cache), self.expected()
        formats = {
            role: ("chat template" if ident.get("chat_template") else "raw text")
            for role, ident in state.identities.items()
        }
        return {
            "benchmark": NAME,
            "complete": done == expected,
            "samples_done": done,
            "samples_expected": expected,
            "roles": list(self.roles),
            "models": dict(state.identities),
            "pair": pair_note(state.identities.get("base"), state.identities.get("tuned"))
            if paired
            else None,
            "generation": dict(state.config["generation"]),
            "prompt_format": {"per_role": formats, "raw_template": self.raw_template},
            "scoring": SCORING,
            "intervals": INTERVALS,
            "selection": dict(self.selection),
            "per_role": {role: role_summary(rows[role]) for role in self.roles},
            "paired": paired_summary(rows["base"], rows["tuned"]) if paired else None,
            "provenance": provenance(state.config, selection=self.selection),
        }

    def report(self, results: IfEvalResults, out_dir: Path) -> None:
        from forgetlab.report.ifeval_report import write_report

        write_report(results, out_dir / REPORT_FILE)


def evaluate_ifeval(
    backends: Mapping[str, BackendLike],
    *,
    out: str | Path,
    data: str | Path | None = None,
    limit: int | None = None,
    raw_template: str = RAW_TEMPLATE,
    generation: GenerationConfig | None = None,
    batch_size: int = 16,
    overwrite: bool = False,
    report: bool = True,
    show_progress: bool = True,
) -> IfEvalResults:
    """Run (or resume) the benchmark for ``model``, or ``base`` and ``tuned``, into ``out``.

    Bad input (file, limit, template, roles) fails before any model loads or ``out`` is claimed.
    """
    roles = PAIRED_ROLES if set(backends) == set(PAIRED_ROLES) else tuple(backends)
    if roles not in (PAIRED_ROLES, SINGLE_ROLES):
        raise ForgetlabError("give either one model (--model) or a pair (--base and --tuned)")
    if batch_size < 1:
        raise ForgetlabError(f"--batch-size must be >= 1 (got {batch_size})")
    check_raw_template(raw_template)
    gen = generation or GenerationConfig(max_new_tokens=MAX_NEW_TOKENS, temperature=0.0)
    if gen.max_new_tokens < 1:
        raise ForgetlabError(f"--max-new-tokens must be >= 1 (got {gen.max_new_tokens})")
    prompts, source = load_prompts(data, limit)
    bench = IfEval(prompts, source, roles=roles, raw_template=raw_template, limit=limit)
    return run_benchmark(
        bench,
        backends,
        out=out,
        generation=gen,
        batch_size=batch_size,
        overwrite=overwrite,
        report=report,
        show_progress=show_progress,
    )


def chat_backend(
    spec: str, *, dtype: str | None, device: str | None, batch_size: int, add_bos: bool | None
) -> LazyBackend:
    """A model loaded on first use with its chat template (raw text when it has none)."""

    def load() -> Backend:
        from forgetlab.llm.backends import load_backend

        return load_backend(
            spec,
            dtype=dtype,
            device=device,
            batch_size=batch_size,
            add_bos=add_bos,
            chat_template=True,
        )

    return LazyBackend(key={"spec": spec, "dtype": dtype, "add_bos": add_bos}, load=load)


def run_from_flags(
    *,
    model: str | None,
    base: str | None,
    tuned: str | None,
    data: str | None,
    limit: int | None,
    max_new_tokens: int,
    raw_template: str,
    batch_size: int,
    dtype: str | None,
    device: str | None,
    add_bos: bool | None,
    overwrite: bool,
    quiet: bool,
    out: str,
) -> IfEvalResults:
    """``forgetlab llm run ifeval``: ``--model M`` alone, or ``--base A --tuned B``."""
    if model and (base or tuned):
        raise ForgetlabError("give --model alone, or --base and --tuned, not both")
    if not model and not (base and tuned):
        raise ForgetlabError("give --model M, or both --base A and --tuned B")
    specs = {"model": model} if model else {"base": base, "tuned": tuned}
    backends: dict[str, BackendLike] = {
        role: chat_backend(
            str(spec), dtype=dtype, device=device, batch_size=batch_size, add_bos=add_bos
        )
        for role, spec in specs.items()
    }
    return evaluate_ifeval(
        backends,
        out=out,
        data=data,
        limit=limit,
        raw_template=raw_template.replace("\\n", "\n"),
        generation=GenerationConfig(max_new_tokens=max_new_tokens, temperature=0.0),
        batch_size=batch_size,
        overwrite=overwrite,
        show_progress=not quiet,
    )


def describe_run(results: IfEvalResults, flags: Mapping[str, Any]) -> list[str]:
    """What the command prints: the accuracy table, a pair warning, the files written."""
    from forgetlab.report.ifeval_report import render_table

    lines = [render_table(results)]
    pair = results.get("pair")
    if pair and pair.get("matched") is not True:
        lines.append(f"note: {pair['note']}")
    lines.append(f"wrote {flags['out']}/{RESULTS_FILE}, {REPORT_FILE}; samples in {SAMPLES_FILE}")
    return lines


def export_ifeval(
    languages: Sequence[str] | None = None,
    *,
    data: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """``export-prompts ifeval`` rows in IFEval's layout (``key``, ``prompt``,
    ``instruction_id_list``, ``kwargs``) plus ``benchmark`` and ``language``."""
    if languages and list(languages) != ["en"]:
        raise ForgetlabError(f"ifeval has English prompts only (got {', '.join(languages)})")
    prompts, _ = load_prompts(data, limit)
    return [{"benchmark": NAME, "language": "en", **p.as_row()} for p in prompts]


COMMAND = BenchmarkCommand(
    help="Instruction following (IFEval-style verifiable instructions), one model or base vs "
    "tuned, strict and loose (docs/ifeval.md).",
    flags=(
        Flag("--model", "One model spec (instead of --base/--tuned).", default=None),
        Flag("--base", "Base model spec (with --tuned).", default=None),
        Flag("--tuned", "Tuned model spec (with --base).", default=None),
        Flag(
            "--data",
            "JSONL in IFEval's layout instead of the packaged 158 prompts (docs/ifeval.md#data).",
            kind="file",
            default=None,
        ),
        Flag("--limit", "First N prompts; default all.", kind="int", default=None),
        Flag(
            "--max-new-tokens",
            "Tokens generated per prompt.",
            kind="int",
            default=MAX_NEW_TOKENS,
            show_default=True,
        ),
        Flag(
            "--raw-template",
            "How a prompt is sent to a model without a chat template ({prompt}; \\n allowed).",
            default="{prompt}\\n",
            show_default=True,
        ),
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
    exports=(
        PromptExport(
            "ifeval", "forgetlab.llm.benchmarks.ifeval:export_ifeval", frozenset({"limit", "data"})
        ),
    ),
)
