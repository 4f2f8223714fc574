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
    styles: int = 0,
    n_style_benign: int = 0,
    borderline: bool = False,
    drop_near_duplicates: bool = True,
    teacher: str = "packaged:smollm2-135m-instruct",
    teacher_backend: Any = None,
    overwrite: bool = False,
    prompts_only: bool = False,
) -> dict[str, Any]:
    """Write a shuffled ``messages`` JSONL of refusals + benign pairs, with provenance.

    ``n_helpful`` adds harmless how-to requests in the phrasings of harmful ones, answered by
    ``teacher`` (forgetlab.finetune.data.helpful), so the tuned model keeps answering them.
    ``styles`` > 0 adds the written harmful behaviours, each in that many styles, and the
    written free-form harmful requests, refused; ``n_style_benign`` everyday tasks in the same
    style templates and ``borderline`` the harmless look-alike requests, answered by
    ``teacher`` (forgetlab.finetune.data.safety_broad). With ``drop_near_duplicates`` every
    row whose request is a near-copy of an evaluated or selection prompt is dropped and
    listed in the provenance. ``prompts_only`` writes nothing and calls no teacher: it
    returns the requests the settings give (what the near-duplicate test checks).
    """
    from forgetlab.finetune.data import safety_broad
    from forgetlab.llm.benchmarks.harmful.advbench import read_behaviours

    counts = (n_harmful, n_benign, n_helpful, styles, n_style_benign)
    if min(counts) < 0 or (sum(counts) == 0 and not borderline):
        raise ForgetlabError(
            "--n-harmful, --n-benign, --n-helpful, --styles and --n-style-benign must be >= 0 "
            "and not all 0"
        )
    if styles > len(safety_broad.STYLES):
        raise ForgetlabError(f"--styles must be <= {len(safety_broad.STYLES)}")
    written = safety_broad.harmful_requests(styles, seed)
    answered: list[tuple[str, str]] = []  # (kind, request) for the teacher
    if n_helpful:
        from forgetlab.finetune.data.helpful import helpful_requests

        answered += [("helpful", r) for r in helpful_requests(n_helpful, seed)]
    try:
        answered += [
            ("style-benign", r.text)
            for r in safety_broad.style_matched_requests(n_style_benign, seed)
        ]
    except ValueError as exc:
        raise ForgetlabError(f"--n-style-benign: {exc}") from None
    if borderline:
        answered += [("borderline", r.text) for r in safety_broad.borderline_requests()]
    asked = list(answered)  # the teacher answers all: its cache ids stay positional and stable
    indices = training_indices(n_harmful, seed)
    dropped: list[dict[str, Any]] = []
    if drop_near_duplicates:
        english = read_behaviours("en")
        candidates = [english[i] for i in indices] + [r.text for r in written]
        candidates += [q for _, q in answered]
        dropped = safety_broad.check_no_near_duplicates(candidates)
        bad = {safety_broad.normalise(d["train"]) for d in dropped}

        def keep(text: str) -> bool:
            return safety_broad.normalise(text) not in bad

        indices = [i for i in indices if keep(english[i])]
        written = [r for r in written if keep(r.text)]
        answered = [(k, q) for k, q in answered if keep(q)]
    if prompts_only:
        prompts = [b for lang in languages for b in (read_behaviours(lang)[i] for i in indices)]
        prompts += [r.text for r in written] + [q for q, _ in benign_pairs(n_benign, seed)]
        return {"prompts": prompts + [q for _, q in answered], "near_duplicates_dropped": dropped}
    teacher_identity = None
    answers: dict[str, str] = {}
    if answered:
        from forgetlab.finetune.data.helpful import answer_requests

        for kind in dict.fromkeys(k for k, _ in asked):
            pairs, teacher_identity = answer_requests(
                [q for k, q in asked if k == kind],
                Path(out),
                teacher=teacher,
                teacher_backend=teacher_backend,
                id_prefix=kind,
            )
            answers.update(pairs)
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for lang in languages:
        lines = read_behaviours(lang)
        for i in indices:
            reply = rng.choice(REFUSALS).format(why=rng.choice(REASONS))
            rows.append(_row("refusal", lines[i], reply, language=lang, advbench_index=i))
    for r in written:
        rows.append(_row("refusal-written", r.text, safety_broad.refusal(r, rng), style=r.style))
    for q, a in benign_pairs(n_benign, seed):
        rows.append(_row("benign", q, a))
    for kind, q in answered:
        if answers.get(q):
            rows.append(_row(kind, q, answers[q]))
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
    settings: dict[str, Any] = {
        "n_harmful": n_harmful,
        "n_benign": n_benign,
        "languages": list(languages),
        "seed": seed,
        **({"n_helpful": n_helpful, "teacher": teacher} if n_helpful else {}),
    }
    if styles or n_style_benign or borderline:
        settings.update(
            styles=styles, n_style_benign=n_style_benign, borderline=borderline, teacher=teacher
        )
    if not drop_near_duplicates:
        settings["drop_near_duplicates"] = False
    extra: dict[str, Any] = {}
    if drop_near_duplicates:
        extra["near_duplicates_dropped"] = dropped
        extra["near_duplicate_rule"] = (
            f"difflib ratio >= {safety_broad.NEAR_DUPLICATE_RATIO} after lower-casing and "
            "whitespace folding, against the paper's 100 (every language), harmful-select, "
            "harmful-conv-select, benign, benign-select and every MultiJail prompt"
        )
    if styles or n_style_benign or borderline:
        extra["written_sources"] = "forgetlab/data/safety/PROVENANCE.md"
    write_jsonl(
        out,
        data,
        builder="safety",
        settings=settings,
        advbench_indices=sorted(indices),
        excluded="the paper's 100-prompt evaluation selection (random.seed(10); shuffle; [:100])",
        row_kinds=[r["kind"] for r in rows],
        **({"row_styles": [r.get("style") for r in rows]} if styles else {}),
        teacher_identity=teacher_identity,
        overwrite=overwrite,
        **extra,
    )
    kinds = [r["kind"] for r in rows]
    return {
        "out": str(out),
        "rows": len(data),
        "refusals": kinds.count("refusal") + kinds.count("refusal-written"),
        "benign": n_benign,
        "helpful": kinds.count("helpful"),
        **(
            {
                "written_refusals": kinds.count("refusal-written"),
                "style_benign": kinds.count("style-benign"),
                "borderline": kinds.count("borderline"),
            }
            if styles or n_style_benign or borderline
            else {}
        ),
        **({"near_duplicates_dropped": len(dropped)} if drop_near_duplicates else {}),
    }


def _row(kind: str, user: str, assistant: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "language": extra.pop("language", "en"),
        "advbench_index": extra.pop("advbench_index", None),
        "user": user,
        "assistant": assistant,
        **extra,
    }
