"""The Benchmark interface and its one loop, on a toy benchmark defined here.

The toy asks each model to upper-case six words; a row is correct when the output is the
word in capitals. Its ``score`` stage counts how often it runs, and its configuration has
a part (``judge``) that ``--overwrite`` may change while the generations are kept, like
the harmful benchmark's judge.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeBackend

from forgetlab.errors import ForgetlabError, RunDirMismatch
from forgetlab.llm.backends.base import Backend, GenerationConfig
from forgetlab.llm.benchmarks.base import (
    BackendLike,
    Benchmark,
    Finish,
    GenerationFailed,
    LazyBackend,
    RunState,
    model_key,
    paired_row,
)
from forgetlab.llm.benchmarks.loop import run_benchmark, score_in_memory

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
GEN = GenerationConfig(max_new_tokens=4, temperature=0.0)


class Upper(Benchmark[dict[str, Any]]):
    name = "upper"
    generations_file = "gen.jsonl"

    def __init__(self, judge: str = "exact", words: list[str] = WORDS) -> None:
        self.judge = judge
        self.words = words
        self.scored: list[str] = []

    def requests(self, role: str) -> list[dict[str, Any]]:
        return [paired_row(role, w, {"word": w, "model_input": w}) for w in self.words]

    def run_config(
        self, backends: Mapping[str, BackendLike], generation: GenerationConfig
    ) -> dict[str, Any]:
        self.config = {
            "models": {r: model_key(backends[r]) for r in self.roles},
            "generation": generation.as_dict(),
            "judge": self.judge,
        }
        return self.config

    def stale(self, old_config: Mapping[str, Any]) -> list[str] | None:
        """A new judge keeps the generations (JSON round trip: the stored config is JSON)."""
        new = json.loads(json.dumps(self.config))
        same = {k: v for k, v in old_config.items() if k != "judge"} == {
            k: v for k, v in new.items() if k != "judge"
        }
        return ["results.json"] if same else None

    def prepare(self, backend: Backend, role: str) -> tuple[Backend, Finish]:
        return backend, lambda item, out: {**item, "output": out, "ok": out == item["word"].upper()}

    def score(self, role: str, rows: list[dict[str, Any]], state: RunState) -> list[dict[str, Any]]:
        self.scored.append(role)
        return rows

    def summarise(self, state: RunState) -> dict[str, Any]:
        rows = [state.cache.rows[r["id"]] for role in self.roles for r in self.requests(role)
                if r["id"] in state.cache]  # fmt: skip
        return {
            "benchmark": self.name,
            "complete": self.done(state.cache) == self.expected(),
            "correct": {
                role: sum(r["ok"] for r in rows if r["model"] == role) for role in self.roles
            },
            "models": dict(state.identities),
        }


def upper(prompt: str) -> str:
    return prompt.upper()


def backends(**kw: Any) -> dict[str, FakeBackend]:
    return {"base": FakeBackend(upper, name="a", **kw), "tuned": FakeBackend(str, name="b")}


def run(out: Path, bench: Upper | None = None, models: Mapping[str, BackendLike] | None = None,
        **kw: Any) -> dict[str, Any]:  # fmt: skip
    return run_benchmark(
        bench or Upper(), models or backends(), out=out, generation=GEN, batch_size=4,
        show_progress=False, **kw,
    )  # fmt: skip


def test_loop_generates_scores_and_resumes_without_new_calls(tmp_path: Path) -> None:
    bench = Upper()
    res = run(tmp_path, bench)
    assert res["complete"] and res["correct"] == {"base": 6, "tuned": 0}
    assert bench.scored == ["base", "tuned"]
    assert json.loads((tmp_path / "results.json").read_text()) == res
    assert json.loads((tmp_path / "models.json").read_text())["base"]["name"] == "a"
    again = backends()
    assert run(tmp_path, models=again) == res
    assert again["base"].calls == [] and again["tuned"].calls == []


def test_failure_keeps_samples_writes_partial_results_and_resumes(tmp_path: Path) -> None:
    with pytest.raises(GenerationFailed, match="after 4/12 samples") as err:
        run(tmp_path, models=backends(fail_after=5))
    assert isinstance(err.value.__cause__, RuntimeError)
    partial = json.loads((tmp_path / "results.json").read_text())
    assert partial["complete"] is False and partial["error"].startswith("FakeBackendError")
    resumed = backends()
    res = run(tmp_path, models=resumed)
    assert len(resumed["base"].calls) == 2 and len(resumed["tuned"].calls) == 6
    assert res["complete"] and "error" not in res


def test_interrupt_writes_partial_results_and_reraises(tmp_path: Path) -> None:
    class Interrupting(FakeBackend):
        def complete(self, prompts: Any, config: GenerationConfig) -> list[str]:
            raise KeyboardInterrupt

    models = {"base": FakeBackend(upper), "tuned": Interrupting(str)}
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, models=models)
    partial = json.loads((tmp_path / "results.json").read_text())
    assert partial["error"] == "interrupted" and partial["correct"]["base"] == 6


def test_lazy_backends_load_only_when_needed_and_close(tmp_path: Path) -> None:
    loads: list[FakeBackend] = []

    def lazy(name: str) -> LazyBackend:
        def load() -> FakeBackend:
            loads.append(FakeBackend(upper, name=name))
            return loads[-1]

        return LazyBackend(key={"spec": name}, load=load)

    run(tmp_path, models={"base": lazy("a"), "tuned": lazy("b")})
    assert len(loads) == 2 and all(b.closed for b in loads)
    res = run(tmp_path, models={"base": lazy("a"), "tuned": lazy("b")})
    assert len(loads) == 2  # a finished run loads nothing ...
    assert res["models"]["tuned"]["name"] == "b"  # ... and keeps the identities it recorded

    def broken() -> Backend:
        raise ForgetlabError("unknown model 'x'")

    with pytest.raises(ForgetlabError, match="unknown model"):
        run(
            tmp_path / "new",
            models={"base": LazyBackend({"spec": "x"}, broken), "tuned": lazy("b")},
        )
    assert not (tmp_path / "new").exists()  # nothing generated: no claim left behind


def test_overwrite_moves_only_what_the_benchmark_calls_stale(tmp_path: Path) -> None:
    run(tmp_path)
    with pytest.raises(RunDirMismatch, match="judge"):
        run(tmp_path, Upper(judge="lenient"))
    kept = backends()
    run(tmp_path, Upper(judge="lenient"), models=kept, overwrite=True)
    assert kept["base"].calls == []  # generations kept: only the judge changed
    assert [p.name for p in tmp_path.glob("replaced-*/*")] == ["results.json"]
    fresh = backends()
    run(tmp_path, Upper(judge="lenient", words=WORDS[:2]), models=fresh)  # selection: resumes
    assert fresh["base"].calls == []
    other = {"base": FakeBackend(upper, name="c"), "tuned": FakeBackend(str, name="b")}
    run(tmp_path, Upper(judge="lenient"), models=other, overwrite=True)
    assert len(other["base"].calls) == 6  # another model: everything moved aside and redone
    assert len(list(tmp_path.glob("replaced-*/gen.jsonl"))) == 1


def test_cached_sample_from_another_prompt_is_refused(tmp_path: Path) -> None:
    run(tmp_path)
    path = tmp_path / "gen.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    rows[0]["model_input"] = "edited"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ForgetlabError, match="different prompt"):
        run(tmp_path)


def test_in_memory_scoring_matches_the_loop(tmp_path: Path) -> None:
    run(tmp_path)
    stored = [json.loads(x) for x in (tmp_path / "gen.jsonl").read_text().splitlines()]
    mem = score_in_memory(Upper(), FakeBackend(upper), "base", generation=GEN, batch_size=5)
    assert mem == [r for r in stored if r["model"] == "base"]
