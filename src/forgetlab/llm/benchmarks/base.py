"""The one shape every LLM benchmark has (docs/architecture.md#the-benchmark-interface).

A benchmark turns its items into **generation requests** (one per model role and item, each
with a unique id), says how one raw output is **scored**, optionally runs a batch stage over
a role's generations (a judge), and **summarises** the scored rows into ``results.json`` and
a **report**. Everything else — claiming the run directory, the resumable per-sample cache,
lazy model loading, batching, provenance, partial results after a failure, ``--overwrite``
— is the generic loop in :mod:`forgetlab.llm.benchmarks.loop`, the same for every benchmark.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, TypeVar

from forgetlab.errors import ForgetlabError
from forgetlab.llm.backends.base import Backend, GenerationConfig
from forgetlab.results import JsonlCache

Row = dict[str, Any]
Finish = Callable[[Mapping[str, Any], str], Row]
R = TypeVar("R", bound=Mapping[str, Any])  # the benchmark's results.json layout (schema.py)


class GenerationFailed(ForgetlabError):
    """A backend failed mid-run (outage, OOM...). Finished samples are kept; rerun resumes."""

    exit_code = 1


@dataclass(frozen=True)
class LazyBackend:
    """A backend loaded only if some sample still needs it (a finished resume loads nothing).

    ``key`` identifies the model in the run config (e.g. ``{"spec": ..., "dtype": ...}``).
    """

    key: Mapping[str, Any]
    load: Callable[[], Backend]


BackendLike = Backend | LazyBackend


def identity_dict(backend: Backend) -> dict[str, Any]:
    """``backend.identity`` plus, for Hugging Face models, the config facts the matched-pair
    check needs (model type, architectures, vocabulary size)."""
    ident = backend.identity.as_dict()
    cfg = getattr(getattr(backend, "model", None), "config", None)
    if cfg is not None:
        extra = ident.setdefault("extra", {})
        for key, value in (
            ("model_type", getattr(cfg, "model_type", None)),
            ("architecture", ",".join(getattr(cfg, "architectures", None) or []) or None),
            ("vocab_size", getattr(cfg, "vocab_size", None)),
        ):
            if value is not None and not isinstance(value, bool):
                extra.setdefault(key, value if isinstance(value, int) else str(value))
    return ident


def model_key(b: BackendLike) -> dict[str, Any]:
    """What identifies a model in a run configuration, without loading it."""
    if isinstance(b, LazyBackend):
        return dict(b.key)
    ident = b.identity
    return {
        "backend": ident.backend,
        "name": ident.name,
        "source": ident.source,
        "revision": ident.revision,
        "dtype": ident.dtype,
        "add_bos": ident.add_bos,
    }


def pair_note(base: Mapping[str, Any] | None, tuned: Mapping[str, Any] | None) -> dict[str, Any]:
    """Whether the two models are a matched (base, fine-tune of that base) pair.

    Matched when the tuned identity names the base as its ``base_model``; not matched when
    both identities record an architecture, model type or BOS token and they differ
    (vocabulary size is not used: fine-tunes often add tokens); otherwise unverified. A drop
    between unmatched models mixes forgetting with every other difference between them.
    """
    if not base or not tuned:
        return {"matched": None, "note": "model identities unavailable; pair not verified"}
    bx, tx = base.get("extra") or {}, tuned.get("extra") or {}
    base_names = {base.get("name"), base.get("source")} - {None, ""}
    declared = tx.get("base_model") or tx.get("base_model_name_or_path")
    if declared and declared in base_names:
        return {"matched": True, "note": f"tuned model declares {declared!r} as its base"}
    for key in ("architecture", "model_type", "bos_token"):
        if key in bx and key in tx and bx[key] != tx[key]:
            return {
                "matched": False,
                "note": (
                    f"NOT a matched pair: {key} differs ({bx[key]!r} vs {tx[key]!r}); the drop mixes "
                    "fine-tuning effects with differences between two unrelated models"
                ),
            }
    return {
        "matched": None,
        "note": (
            f"pair not verified: {tuned.get('name')!r} does not declare {base.get('name')!r} as its base; "
            "check that it is a fine-tune of the base model"
        ),
    }


def lazy_backend(
    spec: str,
    *,
    dtype: str | None,
    device: str | None,
    batch_size: int,
    add_bos: bool | None,
) -> LazyBackend:
    """A model from a backend spec, loaded on first use, for raw-text benchmarks.

    Local models get no chat template (raw prompts); an API server owns its template, and a
    chat model receives each raw prompt as one user message (docs/backends.md).
    """

    def load() -> Backend:
        from forgetlab.llm.backends import is_local, load_backend

        try:
            local = is_local(spec)
        except ForgetlabError:  # load_backend names the bad spec (or a stand-in loads it)
            local = True
        return load_backend(
            spec,
            dtype=dtype,
            device=device,
            batch_size=batch_size,
            add_bos=add_bos,
            chat_template=not local,
        )

    return LazyBackend(key={"spec": spec, "dtype": dtype, "add_bos": add_bos}, load=load)


@dataclass
class RunState:
    """What the loop knows about one run directory while it runs; handed to every hook."""

    out_dir: Path
    cache: JsonlCache  # the generation cache (``Benchmark.generations_file``)
    config: dict[str, Any]
    identities: dict[str, Any] = field(default_factory=dict)  # role -> identity dict
    rows: dict[str, list[Row]] = field(default_factory=dict)  # role -> scored rows (finished)
    error: str | None = None  # set when the run stopped early


class Benchmark(ABC, Generic[R]):
    """One benchmark on the generic loop: items → requests → scoring → summary → report.

    Subclasses are small: they know their prompts, their scoring rule and their results
    layout; the loop knows everything about files, caching and failures.
    """

    name: ClassVar[str]
    roles: tuple[str, ...] = ("base", "tuned")
    mode: Literal["complete", "chat"] = "complete"
    input_field: str = "model_input"
    generations_file: str = "samples.jsonl"
    results_file: str = "results.json"
    models_file: str | None = "models.json"  # identities of loaded models, kept across resumes
    checked_fields: tuple[str, ...] | None = None  # request fields a cached row must match

    # -- what to generate -----------------------------------------------------------------
    @abstractmethod
    def requests(self, role: str) -> list[Row]:
        """The generation requests of one model: rows with a unique ``id`` and the input."""

    @abstractmethod
    def run_config(
        self, backends: Mapping[str, BackendLike], generation: GenerationConfig
    ) -> dict[str, Any]:
        """What must match for a run directory to be resumed."""

    def stale(self, old_config: Mapping[str, Any]) -> list[str] | None:
        """Files ``--overwrite`` moves aside when the configuration changed (``None``: all)."""
        return None

    def check_cache(self, cache: JsonlCache) -> None:
        """Refuse cached rows built from other inputs: each field of ``checked_fields``
        (default: the model input) must equal the request's."""
        fields = self.checked_fields or (self.input_field,)
        for role in self.roles:
            for req in self.requests(role):
                row = cache.rows.get(str(req["id"]))
                if row is None:
                    continue
                for name in fields:
                    if row.get(name) != req.get(name):
                        what = "prompt" if name == self.input_field else name
                        raise ForgetlabError(
                            f"cached sample {req['id']} was generated from a different {what} "
                            "(data or transform changed); choose another --out or pass --overwrite"
                        )

    # -- scoring --------------------------------------------------------------------------
    def prepare(self, backend: Backend, role: str) -> tuple[Backend, Finish | None]:
        """The backend to generate with and how one output becomes a stored row
        (``None``: the request plus ``output``)."""
        return backend, None

    def score(self, role: str, rows: list[Row], state: RunState) -> list[Row]:
        """A batch stage over one role's generated rows (e.g. a judge); default: none."""
        return rows

    def identity(self, backend: Backend) -> dict[str, Any]:
        """How a loaded model is described in the results."""
        return identity_dict(backend)

    def open(self, state: RunState) -> None:
        """Called once the run directory is claimed (open extra caches here)."""

    # -- summary and report ---------------------------------------------------------------
    @abstractmethod
    def summarise(self, state: RunState) -> R:
        """The ``results.json`` content from the finished rows (partial runs included)."""

    def report(self, results: R, out_dir: Path) -> None:
        """Human-readable files beside ``results.json`` (only for complete runs)."""

    # -- helpers for subclasses -----------------------------------------------------------
    def expected(self) -> int:
        return sum(len(self.requests(role)) for role in self.roles)

    def done(self, cache: JsonlCache) -> int:
        return sum(str(r["id"]) in cache for role in self.roles for r in self.requests(role))

    def paired_header(
        self, state: RunState, scoring: str, selection: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The opening keys of a base-vs-tuned ``results.json``: progress, the two models
        and whether they form a matched pair, generation, scoring rule and selection."""
        done, expected = self.done(state.cache), self.expected()
        return {
            "benchmark": self.name,
            "complete": done == expected,
            "samples_done": done,
            "samples_expected": expected,
            "models": dict(state.identities),
            "pair": pair_note(state.identities.get("base"), state.identities.get("tuned")),
            "generation": dict(state.config["generation"]),
            "scoring": scoring,
            "selection": dict(selection),
        }


def paired_row(role: str, sample: str, fields: Mapping[str, Any]) -> Row:
    """The request row of a paired benchmark: ``role|sample`` id, the same sample for both."""
    return {"id": f"{role}|{sample}", "model": role, "sample": sample, **fields}


def check_roles(backends: Mapping[str, Any], roles: Sequence[str]) -> None:
    missing = [r for r in roles if r not in backends]
    if missing:
        raise ForgetlabError(f"missing model(s): {', '.join(missing)} (need {' and '.join(roles)})")


def check_languages(languages: Iterable[str], known: Sequence[str], benchmark: str) -> list[str]:
    """The requested languages as a list; any unknown one is a one-line error."""
    langs = list(languages)
    bad = [lang for lang in langs if lang not in known]
    if bad:
        raise ForgetlabError(
            f"unknown language(s) {', '.join(bad)} for benchmark {benchmark} (known: {', '.join(known)})"
        )
    return langs
