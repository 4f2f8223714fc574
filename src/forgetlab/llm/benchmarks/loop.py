"""The one evaluation loop every benchmark runs on (docs/architecture.md#one-command-end-to-end).

1. claim ``out`` with :class:`~forgetlab.rundir.RunDir` (configuration recorded, lock held,
   a different configuration refused unless ``--overwrite``, which moves the benchmark's
   stale files to ``replaced-<time>/``);
2. per model role: skip it if every request is cached, else load the backend (lazily),
   record its identity, and generate the missing requests in batches that are appended to
   the per-sample JSONL as they finish (:func:`forgetlab.llm.runner.generate_cached`); then
   the benchmark's batch scoring stage, if any;
3. summarise into ``results.json`` with provenance, and write the report.

A failure keeps every finished sample and writes a partial ``results.json``
(``complete: false`` where the benchmark records it); rerunning the command resumes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError
from forgetlab.llm.backends.base import Backend, GenerationConfig
from forgetlab.llm.benchmarks.base import (
    BackendLike,
    Benchmark,
    GenerationFailed,
    LazyBackend,
    R,
    Row,
    RunState,
    check_roles,
)
from forgetlab.llm.runner import generate_cached
from forgetlab.results import JsonlCache, read_json, write_json
from forgetlab.rundir import RunDir


def run_benchmark(
    bench: Benchmark[R],
    backends: Mapping[str, BackendLike],
    *,
    out: str | Path,
    generation: GenerationConfig,
    batch_size: int,
    overwrite: bool = False,
    report: bool = True,
    show_progress: bool = True,
) -> R:
    """Run (or resume) ``bench`` into ``out``; return the ``results.json`` content."""
    check_roles(backends, bench.roles)
    if batch_size < 1:
        raise ForgetlabError(f"--batch-size must be >= 1 (got {batch_size})")
    config = bench.run_config(backends, generation)
    with RunDir(out, config, overwrite=overwrite, stale=bench.stale) as claim:
        out_dir = claim.path
        cache = JsonlCache(out_dir / bench.generations_file)
        bench.check_cache(cache)
        state = RunState(out_dir=out_dir, cache=cache, config=config)
        models_path = out_dir / bench.models_file if bench.models_file else None
        if models_path is not None and models_path.exists():
            state.identities = dict(read_json(models_path))
        bench.open(state)
        try:
            for role in bench.roles:
                _run_role(
                    bench, role, backends[role], state, models_path,
                    generation=generation, batch_size=batch_size, show_progress=show_progress,
                )  # fmt: skip
        except ForgetlabError:
            if len(cache):  # with nothing generated (e.g. unknown model) the claim is withdrawn
                _write(bench, state, report=False)
            raise
        except Exception as exc:
            state.error = f"{type(exc).__name__}: {exc}"
            _write(bench, state, report=False)
            raise GenerationFailed(
                f"generation failed after {bench.done(cache)}/{bench.expected()} samples "
                f"({type(exc).__name__}: {exc}); finished samples are saved in "
                f"{out_dir / bench.generations_file}; rerun the same command to resume"
            ) from exc
        except BaseException:  # KeyboardInterrupt: keep a partial summary too
            state.error = "interrupted"
            _write(bench, state, report=False)
            raise
        return _write(bench, state, report=report)


def _run_role(
    bench: Benchmark[Any],
    role: str,
    spec: BackendLike,
    state: RunState,
    models_path: Path | None,
    *,
    generation: GenerationConfig,
    batch_size: int,
    show_progress: bool,
) -> None:
    requests = bench.requests(role)
    cache = state.cache
    if not isinstance(spec, LazyBackend):
        state.identities[role] = bench.identity(spec)
    if all(str(r["id"]) in cache for r in requests):
        generated = [cache.rows[str(r["id"])] for r in requests]
    else:
        backend = spec.load() if isinstance(spec, LazyBackend) else spec
        try:
            state.identities[role] = bench.identity(backend)
            if models_path is not None:
                write_json(models_path, state.identities)
            wrapped, finish = bench.prepare(backend, role)
            name = state.identities[role].get("name", role)
            generated = generate_cached(
                wrapped,
                requests,
                cache=cache,
                mode=bench.mode,
                config=generation,
                batch_size=batch_size,
                input_field=bench.input_field,
                finish=finish,
                desc=f"{role} ({name})",
                show_progress=show_progress,
            )
        finally:
            if isinstance(spec, LazyBackend):
                backend.close()
    state.rows[role] = bench.score(role, generated, state)


def _write(bench: Benchmark[R], state: RunState, *, report: bool) -> R:
    results = bench.summarise(state)
    stored = {**results, "error": state.error} if state.error is not None else results
    write_json(state.out_dir / bench.results_file, stored)
    if report and results.get("complete", True):
        bench.report(results, state.out_dir)
    return results


def score_in_memory(
    bench: Benchmark[Any],
    backend: Backend,
    role: str,
    *,
    generation: GenerationConfig,
    batch_size: int,
) -> list[Row]:
    """One role's requests generated and scored in memory, with the benchmark's own
    ``prepare``/``finish``: no run directory and no cache (a trainer callback that tracks
    forgetting as training goes). Batch stages (``score``) need a run and are not applied."""
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    wrapped, finish = bench.prepare(backend, role)
    requests = bench.requests(role)
    rows: list[Row] = []
    for start in range(0, len(requests), batch_size):
        chunk = requests[start : start + batch_size]
        inputs = [r[bench.input_field] for r in chunk]
        if bench.mode == "complete":
            outputs = wrapped.complete(inputs, generation)
        else:
            outputs = wrapped.chat([[{"role": "user", "content": x}] for x in inputs], generation)
        rows += [
            finish(r, out) if finish else {**r, "output": out}
            for r, out in zip(chunk, outputs, strict=True)
        ]
    return rows


def score_cached(
    bench: Benchmark[Any],
    backend: Backend,
    role: str,
    *,
    out_dir: str | Path,
    generations_file: str | None = None,
    generation: GenerationConfig,
    batch_size: int,
    show_progress: bool = False,
) -> list[Row]:
    """One role's requests generated into a resumable cache in ``out_dir`` and scored with
    the benchmark's batch stage (``open`` then ``score``), without claiming ``out_dir`` as a
    run directory or writing results: a trainer callback that evaluates at every checkpoint
    into that checkpoint's folder. ``generations_file`` overrides the benchmark's file name."""
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    folder = Path(out_dir)
    cache = JsonlCache(folder / (generations_file or bench.generations_file))
    state = RunState(out_dir=folder, cache=cache, config={})
    bench.open(state)
    wrapped, finish = bench.prepare(backend, role)
    generated = generate_cached(
        wrapped,
        bench.requests(role),
        cache=cache,
        mode=bench.mode,
        config=generation,
        batch_size=batch_size,
        input_field=bench.input_field,
        finish=finish,
        desc=role,
        show_progress=show_progress,
    )
    return bench.score(role, generated, state)
