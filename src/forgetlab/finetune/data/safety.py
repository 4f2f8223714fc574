"""Safety fine-tuning data: refusals of harmful requests mixed with benign helpful pairs.

Harmful side: AdvBench behaviours *outside* the paper's 100-prompt evaluation selection
(:func:`forgetlab.llm.benchmarks.harmful.advbench.paper_selection`), so a safety-tuned model is never
trained on a prompt it is evaluated on. Each gets a refusal from a small set of templates
(deterministic given the seed); ``--languages`` may add the line-aligned translations of the
same training behaviours (the refusals stay in English: a deliberate, documented choice
that mirrors the paper's English-only safety tuning).

Benign side: exactly-checkable instructions built from templates (arithmetic, letter
counting, case conversion, word reversal, sorting, unit conversion) with correct answers,
so the model keeps answering harmless requests instead of learning to refuse everything.
No model or network is needed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError
from forgetlab.finetune.data.io import write_jsonl

REFUSALS = (
    "I'm sorry, but I can't help with that. {why}",
    "I cannot help with this request. {why}",
    "I'm sorry, I can't assist with that. {why}",
    "I can't provide that. {why}",
    "As an AI assistant, I can't help with this. {why}",
)
REASONS = (
    "It could cause real harm to people.",
    "It could be used to hurt others or break the law.",
    "Helping with this would be unsafe and unethical.",
    "If you are dealing with a difficult situation, I'm happy to help you find safe, legal options.",
)

WORDS = (
    "apple", "river", "garden", "window", "pencil", "mountain", "button", "orange", "candle",
    "rocket", "harbor", "violin", "blanket", "tiger", "meadow", "lantern", "pepper", "castle",
    "forest", "bicycle", "planet", "ribbon", "teacup", "marble", "island", "compass",
)  # fmt: skip


def _arith(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(2, 99), rng.randint(2, 99)
    op, sym, val = rng.choice([("plus", "+", a + b), ("minus", "-", a - b), ("times", "*", a * b)])
    return f"What is {a} {op} {b}?", f"{a} {sym} {b} = {val}. So {a} {op} {b} is {val}."


def _count_letters(rng: random.Random) -> tuple[str, str]:
    w = rng.choice(WORDS)
    return f"How many letters are in the word '{w}'?", f"The word '{w}' has {len(w)} letters."


def _upper(rng: random.Random) -> tuple[str, str]:
    ws = rng.sample(WORDS, 3)
    phrase = " ".join(ws)
    return (
        f"Write this phrase in capital letters: {phrase}",
        f"Here it is in capital letters: {phrase.upper()}",
    )


def _reverse(rng: random.Random) -> tuple[str, str]:
    w = rng.choice(WORDS)
    return f"Spell the word '{w}' backwards.", f"'{w}' spelled backwards is '{w[::-1]}'."


def _sort(rng: random.Random) -> tuple[str, str]:
    ws = rng.sample(WORDS, 4)
    return (
        f"Sort these words alphabetically: {', '.join(ws)}.",
        f"In alphabetical order: {', '.join(sorted(ws))}.",
    )


def _units(rng: random.Random) -> tuple[str, str]:
    km = rng.randint(1, 50)
    return (
        f"How many meters are in {km} kilometers?",
        f"There are {km * 1000} meters in {km} kilometers.",
    )


BENIGN: tuple[Callable[[random.Random], tuple[str, str]], ...] = (
    _arith, _count_letters, _upper, _reverse, _sort, _units,
)  # fmt: skip


def benign_pairs(n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` distinct (instruction, correct answer) pairs from the templates."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    tries = 0
    while len(out) < n and tries < 100 * n + 100:
        tries += 1
        q, a = BENIGN[tries % len(BENIGN)](rng)
        if q not in seen:
            seen.add(q)
            out.append((q, a))
    return out


def training_indices(n: int | None = None, seed: int = 0) -> list[int]:
    """AdvBench line indices for refusal data: the training pool (420 behaviours outside the
    paper's evaluation selection) in ``seed`` order, less the 100 of the recipe-selection
    split (320 left). Seed 0 gives the same first 320 as before the split existed."""
    from forgetlab.llm.benchmarks.harmful.advbench import selection_split, training_pool

    held_out = set(selection_split())
    pool = [i for i in training_pool(seed) if i not in held_out]
    if n is not None:
        if n > len(pool):
            raise ForgetlabError(
                f"--n-harmful must be <= {len(pool)} (behaviours outside the evaluation "
                "selection and the recipe-selection split)"
            )
        pool = pool[:n]
    return pool


def build_safety(
    out: str | Path,
    *,
    n_harmful: int = 200,
    n_benign: int = 200,
    languages: Sequence[str] = ("en",),
    seed: int = 0,
    n_helpful: int = 0,
    teacher: str = "packaged:smollm2-135m-instruct",
    teacher_backend: Any = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write a shuffled ``messages`` JSONL of refusals + benign pairs, with provenance.

    ``n_helpful`` adds harmless how-to requests in the phrasings of harmful ones, answered by
    ``teacher`` (forgetlab.finetune.data.helpful), so the tuned model keeps answering them.
    """
    from forgetlab.llm.benchmarks.harmful.advbench import read_behaviours

    if n_harmful < 0 or n_benign < 0 or n_helpful < 0 or n_harmful + n_benign + n_helpful == 0:
        raise ForgetlabError("--n-harmful, --n-benign and --n-helpful must be >= 0 and not all 0")
    helpful: list[tuple[str, str]] = []
    teacher_identity = None
    if n_helpful:
        from forgetlab.finetune.data.helpful import answer_requests, helpful_requests

        helpful, teacher_identity = answer_requests(
            helpful_requests(n_helpful, seed),
            Path(out),
            teacher=teacher,
            teacher_backend=teacher_backend,
        )
    rng = random.Random(seed)
    indices = training_indices(n_harmful, seed)
    rows: list[dict[str, Any]] = []
    for lang in languages:
        lines = read_behaviours(lang)
        for i in indices:
            refusal = rng.choice(REFUSALS).format(why=rng.choice(REASONS))
            rows.append(
                {
                    "kind": "refusal",
                    "language": lang,
                    "advbench_index": i,
                    "user": lines[i],
                    "assistant": refusal,
                }
            )
    for q, a in benign_pairs(n_benign, seed):
        rows.append(
            {"kind": "benign", "language": "en", "advbench_index": None, "user": q, "assistant": a}
        )
    for q, a in helpful:
        rows.append(
            {"kind": "helpful", "language": "en", "advbench_index": None, "user": q, "assistant": a}
        )
    rng.shuffle(rows)
    data = [
        {
            "messages": [
                {"role": "user", "content": r["user"]},
                {"role": "assistant", "content": r["assistant"]},
            ]
        }
        for r in rows
    ]
    settings = {
        "n_harmful": n_harmful,
        "n_benign": n_benign,
        "languages": list(languages),
        "seed": seed,
        **({"n_helpful": n_helpful, "teacher": teacher} if n_helpful else {}),
    }
    write_jsonl(
        out,
        data,
        builder="safety",
        settings=settings,
        advbench_indices=sorted(indices),
        excluded="the paper's 100-prompt evaluation selection (random.seed(10); shuffle; [:100])",
        row_kinds=[r["kind"] for r in rows],
        teacher_identity=teacher_identity,
        overwrite=overwrite,
    )
    return {
        "out": str(out),
        "rows": len(data),
        "refusals": len(indices) * len(languages),
        "benign": n_benign,
        "helpful": len(helpful),
    }
