"""Helpful how-to requests answered by a teacher model: the counterweight in safety data.

Refusal data teaches a model to refuse *requests shaped like* harmful ones ("Write a tutorial
on how to …", "Explain how to …"). If the only benign data are short exactly-checkable
templates, the model learns the shape, not the harm, and refuses harmless how-to requests
too (measured: docs/real-pairs.md). This module builds harmless requests in exactly those
shapes — everyday tasks under the phrasings AdvBench uses — and answers them with a teacher
model (by default the model being tuned: its own answers, so tuning keeps its helpfulness
instead of teaching new content). Teacher outputs are cached in ``FILE.teacher.jsonl``.

None of these requests is in forgetlab's harmless evaluation set (``llm harmful --benchmark
benign``), and the tasks avoid its topics (tested), so that set stays held out.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError

TASKS = (
    "plant tomatoes in a small garden", "bake a loaf of banana bread", "tie a bow tie",
    "change a flat bicycle tyre", "write a cover letter", "paint a bedroom wall",
    "organise a closet", "train a puppy to sit", "make a budget spreadsheet",
    "plan a birthday party", "clean a cast-iron pan", "fold a paper airplane",
    "set up a fish tank", "brew a good cup of tea", "start a vegetable compost heap",
    "learn to juggle three balls", "make homemade pizza dough", "care for a succulent",
    "write a short story", "prepare for a marathon", "build a birdhouse",
    "knit a simple scarf", "wash a wool sweater", "hang a picture frame straight",
    "make a paper lantern", "grow basil on a windowsill", "plan a road trip",
    "teach a child to ride a bike", "make a smoothie", "write a haiku",
    "sharpen a kitchen knife safely", "iron a dress shirt", "set up a home printer",
    "make a to-do list that works", "learn the guitar chords for a song", "make pancakes",
    "draw a cartoon cat", "keep a journal", "pack a suitcase efficiently",
    "make a family tree", "decorate a small apartment", "choose a good watermelon",
    "make lemonade", "study for a history exam", "give a short speech",
    "write a thank-you card", "repot a plant", "clean a computer keyboard",
    "make a scrapbook", "set up a chess board", "make cold brew coffee",
    "plan a picnic", "start learning to code", "improve my handwriting",
    "make a birthday card", "build a snowman", "take care of a hamster",
    "make a weekly meal plan", "cook rice on the stove", "unclog a kitchen sink",
    "make a kite", "start a book club", "write a poem for a friend",
    "choose running shoes", "make a terrarium", "arrange flowers in a vase",
    "learn to swim as an adult", "stretch after exercise", "set up a bird feeder",
    "make a simple website", "practise mindfulness", "volunteer at a food bank",
    "write a product review", "make a photo album", "plan a garden layout",
    "organise my email inbox", "make friends in a new city", "cook scrambled eggs",
)  # fmt: skip

PHRASINGS = (
    "How do I {t}?",
    "Explain how to {t}.",
    "Write a tutorial on how to {t}.",
    "Give step-by-step instructions for how to {t}.",
    "What is the best way to {t}?",
    "Create a guide on how to {t}.",
)


def helpful_requests(n: int, seed: int) -> list[str]:
    """``n`` distinct requests (task × phrasing), seeded order."""
    pool = [p.format(t=t) for t in TASKS for p in PHRASINGS]
    if n > len(pool):
        raise ForgetlabError(f"--n-helpful must be <= {len(pool)}")
    random.Random(seed).shuffle(pool)
    return pool[:n]


def answer_requests(
    requests: list[str],
    out: Path,
    *,
    teacher: str,
    teacher_backend: Any = None,
    max_new_tokens: int = 160,
    batch_size: int = 16,
    id_prefix: str = "helpful",
) -> tuple[list[tuple[str, str]], dict[str, Any] | None]:
    """``(request, teacher answer)`` pairs (empty answers dropped) and the teacher identity."""
    from forgetlab.llm.backends.base import GenerationConfig
    from forgetlab.llm.runner import generate_cached
    from forgetlab.results import JsonlCache

    if teacher_backend is None:
        from forgetlab.llm.backends import load_backend

        teacher_backend = load_backend(teacher, batch_size=batch_size)
    cache = JsonlCache(out.with_name(out.name + ".teacher.jsonl"))
    stale = [k for k, r in cache.rows.items() if r.get("teacher") != teacher]
    if stale:
        raise ForgetlabError(
            f"{cache.path} holds outputs of another teacher; delete it or choose another output"
        )
    if id_prefix == "helpful":  # positional ids: the shipped recipes' caches use them
        items = [{"id": f"helpful/{i}", "request": r} for i, r in enumerate(requests)]
    else:  # keyed by the text, so a cache survives a change in how many requests are asked
        items = [
            {"id": f"{id_prefix}/{hashlib.sha256(r.encode()).hexdigest()[:16]}", "request": r}
            for r in dict.fromkeys(requests)
        ]
    rows = generate_cached(
        teacher_backend,
        items,
        cache=cache,
        mode="chat",
        config=GenerationConfig(max_new_tokens=max_new_tokens, temperature=0.0),
        batch_size=batch_size,
        input_field="request",
        finish=lambda it, o: {**it, "response": o.strip(), "teacher": teacher},
        desc="teacher",
    )
    pairs = [(r["request"], r["response"]) for r in rows if r["response"]]
    return pairs, teacher_backend.identity.as_dict()
