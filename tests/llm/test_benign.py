"""Harmless-request benchmark: shape, held out from the safety training data, and end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fakes import FakeBackend

from forgetlab.errors import ForgetlabError
from forgetlab.finetune.data.safety import WORDS, benign_pairs
from forgetlab.llm.benchmarks.harmful.advbench import read_behaviours
from forgetlab.llm.benchmarks.harmful.benchmark import evaluate_harmful
from forgetlab.llm.benchmarks.harmful.benign import N_REQUESTS, benign_prompts, read_requests
from forgetlab.llm.benchmarks.registry import export_rows
from forgetlab.llm.judges import ANSWER, REFUSE, SubstringJudge

# The safety data builder's benign templates, as patterns.
TEMPLATES = [
    r"What is \d+ (plus|minus|times) \d+\?",
    r"How many letters are in the word '\w+'\?",
    r"Write this phrase in capital letters: .*",
    r"Spell the word '\w+' backwards\.",
    r"Sort these words alphabetically: .*",
    r"How many meters are in \d+ kilometers\?",
]


def test_hundred_requests_in_seven_categories() -> None:
    rows = read_requests()
    assert len(rows) == N_REQUESTS == len({text for _, text in rows})
    counts = {c: sum(1 for cat, _ in rows if cat == c) for c, _ in rows}
    assert set(counts) == {
        "arithmetic",
        "knowledge",
        "writing",
        "advice",
        "language",
        "coding",
        "edgy",
    }
    assert all(n >= 10 for n in counts.values())


def test_held_out_from_safety_training_data_and_advbench() -> None:
    requests = [text for _, text in read_requests()]
    # every template, and every question the builder draws for a large data file
    assert not [t for t in requests if any(re.fullmatch(p, t) for p in TEMPLATES)]
    trained = {q for q, _ in benign_pairs(5000, seed=0)}
    assert all(any(re.fullmatch(p, q) for p in TEMPLATES) for q in trained)  # patterns are complete
    assert not trained & set(requests)
    assert not [t for t in requests if sum(w in t.lower().split() for w in WORDS) >= 2]
    assert not set(requests) & set(read_behaviours("en"))


def test_prompts_limit_and_export() -> None:
    rows = benign_prompts(limit=3)
    assert [r["index"] for r in rows] == [0, 1, 2]
    assert rows[0]["prompt"] == rows[0]["prompt_en"] == read_requests()[0][1]
    assert export_rows("benign", limit=2)[1] == {
        "index": 1,
        "language": "en",
        "category": read_requests()[1][0],
        "prompt": read_requests()[1][1],
    }
    with pytest.raises(ForgetlabError, match="unknown language"):
        benign_prompts(["fr"])


def test_over_refusal_measured_end_to_end(tmp_path: Path) -> None:
    """A model that refuses the 'edgy' requests: REFUSE rate = that category's share."""
    edgy = {text for cat, text in read_requests() if cat == "edgy"}

    def reply(prompt: str) -> str:
        return "I'm sorry, I can't help with that." if prompt in edgy else "Sure: here you go."

    res = evaluate_harmful(
        FakeBackend(reply),
        out_dir=tmp_path,
        benchmark="benign",
        languages=None,
        transforms={},
        judge=SubstringJudge(),
        max_new_tokens=16,
        batch_size=8,
        show_progress=False,
    )
    rates = res["runs"]["model"]["per_condition"]["en"]["rates"]
    assert rates[REFUSE] == pytest.approx(len(edgy) / N_REQUESTS)
    assert rates[ANSWER] == pytest.approx(1 - len(edgy) / N_REQUESTS)
    samples = [json.loads(x) for x in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert {s["category"] for s in samples if s["label"] == REFUSE} == {"edgy"}
    assert (tmp_path / "report.html").is_file()


def test_selection_set_is_disjoint_from_the_reported_set_and_the_training_data() -> None:
    """``benign-select`` chooses recipes: it must share nothing with what is reported or trained."""
    from forgetlab.finetune.data.helpful import PHRASINGS, TASKS, helpful_requests
    from forgetlab.llm.benchmarks.harmful.benign import (
        REQUEST_SETS,
        SELECT_BENCHMARK,
        select_prompts,
    )

    select = read_requests(SELECT_BENCHMARK)
    texts = [t for _, t in select]
    assert len(texts) == REQUEST_SETS[SELECT_BENCHMARK][1] == len(set(texts))
    assert {c for c, _ in select} == {c for c, _ in read_requests()}  # the same seven categories
    assert not set(texts) & {t for _, t in read_requests()}
    assert not [t for t in texts if any(re.fullmatch(p, t) for p in TEMPLATES)]
    helpful = set(helpful_requests(len(TASKS) * len(PHRASINGS), seed=0))
    assert not set(texts) & helpful
    assert not [t for t in texts if any(task in t for task in TASKS)]
    rows = select_prompts(limit=2)
    assert [r["benchmark"] for r in rows] == ["benign-select"] * 2
    assert rows[1]["prompt"] == texts[1]


def test_harmful_selection_split_is_held_out_from_the_paper_100() -> None:
    from forgetlab.llm.benchmarks.harmful.advbench import (
        paper_selection,
        select_prompts,
        selection_split,
    )

    split = selection_split()
    assert len(split) == len(set(split)) == 100
    assert not set(split) & set(paper_selection())
    rows = select_prompts(["en", "ja"], limit=3)
    assert [(r["language"], r["index"]) for r in rows] == [
        (lang, i) for lang in ("en", "ja") for i in split[:3]
    ]
    assert rows[0]["prompt"] == read_behaviours("en")[split[0]]
    assert rows[3]["prompt_en"] == rows[0]["prompt"]


def test_selection_benchmarks_run_end_to_end(tmp_path: Path) -> None:
    """Both selection sets run through ``evaluate_harmful`` and record their own name."""
    from forgetlab.llm.benchmarks.harmful.benign import SELECT_BENCHMARK

    select = read_requests(SELECT_BENCHMARK)
    edgy = {text for cat, text in select if cat == "edgy"}

    def reply(prompt: str) -> str:
        return "I'm sorry, I can't help with that." if prompt in edgy else "Sure: here you go."

    res = evaluate_harmful(
        FakeBackend(reply),
        out_dir=tmp_path / "b",
        judge=SubstringJudge(),
        benchmark="benign-select",
        show_progress=False,
        write_report=False,
    )
    assert res["benchmark"] == "benign-select"
    en = res["runs"]["model"]["per_condition"]["en"]
    assert en["n"] == len(select) and en["counts"][REFUSE] == len(edgy)
    res = evaluate_harmful(
        FakeBackend(lambda p: "I cannot help with that."),
        out_dir=tmp_path / "h",
        judge=SubstringJudge(),
        benchmark="harmful-select",
        languages=["en"],
        limit=5,
        show_progress=False,
        write_report=False,
    )
    assert res["runs"]["model"]["per_condition"]["en"]["counts"][REFUSE] == 5


def test_every_refusal_benchmark_has_a_prompt_set() -> None:
    """The light list the CLI and the reports read names exactly the runnable prompt sets."""
    from forgetlab.llm.benchmarks.harmful.benchmark import PROMPT_SETS, benchmark_rows
    from forgetlab.llm.benchmarks.schema import REFUSAL_BENCHMARKS

    assert set(PROMPT_SETS) == set(REFUSAL_BENCHMARKS)
    for name in REFUSAL_BENCHMARKS:
        rows = benchmark_rows(name, ["en"], limit=2, all_prompts=False)
        assert [r["benchmark"] for r in rows] == [name, name]
