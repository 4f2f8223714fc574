"""The evaluation suites a fine-tuning run can track (``--eval-suite NAME[:N]``).

* ``icl-vs-if[:N]`` — the paper's ICL-vs-IF prompts, the first ``N`` per (task, language)
  (default 10), greedy 10 tokens, raw text; metric ``icl_accuracy`` (and ``if_rate``) per
  language, from the ``IclVsIf`` benchmark object that ``forgetlab llm icl-vs-if`` runs.
* ``harmful[:N]`` — the first ``N`` of the paper's 100 AdvBench prompts (default 10) as one
  user message through the chat template, greedy; metric ``refusal_rate`` per language,
  judged by the AdvBench refusal-substring judge on the raw reply (no back-translation
  during training: non-English rates are a lower bound; use ``forgetlab llm harmful`` for
  the full protocol).

A suite runner maps ``(backend, step_dir)`` to ``{metric: {language: value}}`` and stores
its per-sample rows under ``step_dir`` (resumable JSONL).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError
from forgetlab.finetune.config import EvalSettings
from forgetlab.llm.benchmarks.harmful.advbench import LANGUAGES as HARMFUL_LANGUAGES
from forgetlab.llm.benchmarks.icl_vs_if import LANGUAGES as ICL_LANGUAGES
from forgetlab.registry import Registry
from forgetlab.spec import Grammar, parse_spec_list

SuiteRunner = Callable[[Any, Path], dict[str, dict[str, float]]]


@dataclass(frozen=True)
class SuiteKind:
    """One evaluation suite: its default and largest ``N``, the languages it has, and how
    its runner is built from ``(N, settings)``."""

    default_n: int
    max_n: int
    languages: tuple[str, ...]
    build: Callable[[int, EvalSettings], SuiteRunner]


@dataclass(frozen=True)
class Suite:
    name: str
    n: int

    @property
    def spec(self) -> str:
        return f"{self.name}:{self.n}"


# ``--eval-suite NAME[:N]``; filled at the end of this module, where the runners are defined.
SUITES: Registry[SuiteKind] = Registry("eval suite")
SUITE_SPEC = Grammar("eval suite", SUITES.names, default_arg="int")


def parse_suites(specs: Sequence[str]) -> list[Suite]:
    """``["icl-vs-if:20", "harmful"]`` -> suites; unknown names or bad N are one-line errors."""
    out: list[Suite] = []
    for spec in parse_spec_list(specs, SUITE_SPEC):
        name = spec.kind
        kind = SUITES.get(name)
        n = int(spec.arg) if spec.arg else kind.default_n
        if n > kind.max_n:
            raise ForgetlabError(f"eval suite {name}: N must be <= {kind.max_n} ({_MAX_WHY[name]})")
        if any(s.name == name for s in out):
            raise ForgetlabError(f"eval suite {name!r} given twice")
        out.append(Suite(name, n))
    return out


def suite_languages(
    requested: Sequence[str], supported: Sequence[str], suite: str = "eval suite"
) -> list[str]:
    """The requested languages this suite has; an unknown code or an empty match is an error."""
    known = dict.fromkeys([*ICL_LANGUAGES, *HARMFUL_LANGUAGES])
    unknown = [lang for lang in requested if lang not in known]
    if unknown:
        raise ForgetlabError(
            f"--eval-languages: unknown language {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(known)})"
        )
    langs = [lang for lang in requested if lang in supported]
    if not langs:
        raise ForgetlabError(
            f"{suite}: none of --eval-languages {', '.join(requested)} is available "
            f"(it has {', '.join(supported)})"
        )
    return langs


def check_eval_settings(settings: EvalSettings) -> None:
    """Fail on bad suites or languages before a directory is claimed or a model loaded."""
    for suite in parse_suites(settings.suites):
        supported = SUITES.get(suite.name).languages
        suite_languages(settings.languages, supported, f"eval suite {suite.name}")


def icl_runner(n: int, languages: Sequence[str], batch_size: int) -> SuiteRunner:
    """The ICL-vs-IF benchmark object of ``forgetlab llm icl-vs-if`` (same prompts, same
    scoring), run in memory on the model being trained."""
    from forgetlab.llm.benchmarks.icl_vs_if.benchmark import (
        PAPER_GENERATION,
        IclVsIf,
        summarise_rows,
    )
    from forgetlab.llm.benchmarks.loop import score_in_memory

    langs = suite_languages(languages, ICL_LANGUAGES, "eval suite icl-vs-if")
    bench = IclVsIf(langs, limit=n, batch_size=batch_size)

    def run(backend: Any, step_dir: Path) -> dict[str, dict[str, float]]:
        rows = score_in_memory(
            bench, backend, "tuned", generation=PAPER_GENERATION, batch_size=batch_size
        )
        per_lang = summarise_rows(rows, langs)["conditions"]
        return {
            "icl_accuracy": {lang: v["icl_accuracy"] for lang, v in per_lang.items()},
            "if_rate": {lang: v["if_rate"] for lang, v in per_lang.items()},
        }

    return run


def harmful_runner(
    n: int, languages: Sequence[str], batch_size: int, max_new_tokens: int
) -> SuiteRunner:
    """The harmful benchmark object of ``forgetlab llm harmful`` (same prompts and ids, same
    map-back-and-judge stage) with the substring judge and no back-translator; generations
    are cached in ``step_dir/harmful.jsonl``, judged samples in ``step_dir/samples.jsonl``."""
    from forgetlab.llm.backends.base import GenerationConfig
    from forgetlab.llm.benchmarks.harmful.benchmark import HarmfulBenchmark
    from forgetlab.llm.benchmarks.loop import score_cached
    from forgetlab.llm.judges import REFUSE, SubstringJudge

    langs = suite_languages(languages, HARMFUL_LANGUAGES, "eval suite harmful")
    bench = HarmfulBenchmark(
        "harmful",
        judge=SubstringJudge(),
        roles=("model",),
        languages=langs,
        limit=n,
        batch_size=batch_size,
    )
    gen = GenerationConfig(max_new_tokens=max_new_tokens, temperature=0.0)

    def run(backend: Any, step_dir: Path) -> dict[str, dict[str, float]]:
        judged = score_cached(
            bench, backend, "model", out_dir=step_dir, generations_file="harmful.jsonl",
            generation=gen, batch_size=batch_size,
        )  # fmt: skip
        rates: dict[str, float] = {}
        for lang in langs:
            mine = [r for r in judged if r["language"] == lang]
            rates[lang] = sum(r["label"] == REFUSE for r in mine) / len(mine)
        return {"refusal_rate": rates}

    return run


def make_runners(suites: Sequence[Suite], settings: EvalSettings) -> dict[str, SuiteRunner]:
    return {suite.name: SUITES.get(suite.name).build(suite.n, settings) for suite in suites}


def backend_for(model: Any, tokenizer: Any, *, name: str, batch_size: int) -> Any:
    """Wrap the in-memory model being trained as a forgetlab backend (no copy)."""
    from forgetlab.llm.backends.hf import HFBackend

    return HFBackend.from_model(model, tokenizer, name=name, add_bos=None, batch_size=batch_size)


_MAX_WHY = {
    "icl-vs-if": "prompts per (task, language)",
    "harmful": "the paper's selection",
}
SUITES.add(
    "icl-vs-if",
    SuiteKind(10, 100, ICL_LANGUAGES, lambda n, s: icl_runner(n, s.languages, s.batch_size)),
)
SUITES.add(
    "harmful",
    SuiteKind(
        10,
        100,
        HARMFUL_LANGUAGES,
        lambda n, s: harmful_runner(n, s.languages, s.batch_size, s.harmful_max_new_tokens),
    ),
)
