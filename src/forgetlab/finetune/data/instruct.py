"""Instruction-tuning data for a base model, held out from ICL-vs-IF (docs/finetuning.md#data-instruct).

Two kinds of rows, shuffled together, all English and all raw text (no chat template):

* ``template`` — an instruction from one of :data:`TEMPLATES` with its exact, direct
  answer (``Add 37 and 58.`` -> ``95``): the signal that teaches a base model to answer
  an instruction instead of continuing whatever pattern precedes it;
* ``passage`` — non-instructional data as in ``data nonins``: the first half of a prose
  paragraph and its continuation (a teacher's, or the paragraph's own second half).

Format. The ICL-vs-IF benchmark gives a base model raw text ending in a label and a
colon (``...\\nInput: What is 19 plus 4?\\nOutput:``) and scores the first characters of
what follows (`` 23`` or ``23``). A template row is therefore ``prompt =
"<instruction>\\n<Label>:"`` and ``completion = " <answer>"``, with the label drawn from
:data:`LABELS` (never the benchmark's ``Input``/``Output``), so the model learns "after a
label, answer what was asked", with the answer first, in the position the benchmark reads.
Passage rows keep the ``data nonins`` form (bare first half -> `` continuation``): a label
is only ever followed by an answer, never by more of the text before it.

No overlap with the evaluation (:mod:`forgetlab.finetune.data.overlap`): the templates
avoid the benchmark's math questions (no ``What is A plus B?``; arithmetic is asked as
``Add``/``Subtract``/``Multiply``), its fill-in-the-blank task, capitalisation and
repetition; passages that touch the benchmark are skipped, and the finished rows are
checked again before anything is written.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError
from forgetlab.finetune.data.calendar_words import DAYS, MONTHS
from forgetlab.finetune.data.io import write_jsonl
from forgetlab.finetune.data.nonins import TeacherMode, continuation_rows
from forgetlab.finetune.data.overlap import find_overlap, overlaps
from forgetlab.finetune.data.prose import prose_paragraph

DEFAULT_CORPUS = "/usr/share/doc/python3.11/html/_sources"
CORPUS_PACKAGE = "python3.11-doc"
LABELS = ("Answer", "Response", "Reply", "Result")

WORDS = (
    "anchor", "basket", "beacon", "blossom", "bottle", "bridge", "cabin", "camera", "canyon",
    "carpet", "cellar", "chimney", "circle", "cloud", "copper", "cotton", "crystal", "desert",
    "dragon", "engine", "falcon", "feather", "flower", "fountain", "galaxy", "glacier",
    "hammer", "helmet", "honey", "jacket", "jungle", "kettle", "ladder", "lemon", "magnet",
    "mirror", "monkey", "needle", "notebook", "ocean", "paddle", "parrot", "pillow", "puzzle",
    "rabbit", "saddle", "salmon", "shadow", "silver", "spider", "sponge", "stone", "summer",
    "tunnel", "valley", "velvet", "wagon", "whistle", "winter", "wizard", "yellow", "zebra",
)  # fmt: skip
OPPOSITES = (
    ("hot", "cold"), ("big", "small"), ("fast", "slow"), ("early", "late"), ("light", "dark"),
    ("happy", "sad"), ("open", "closed"), ("full", "empty"), ("high", "low"), ("strong", "weak"),
    ("rich", "poor"), ("wet", "dry"), ("loud", "quiet"), ("young", "old"), ("hard", "soft"),
    ("thick", "thin"), ("wide", "narrow"), ("near", "far"), ("clean", "dirty"), ("true", "false"),
    ("win", "lose"), ("push", "pull"), ("buy", "sell"), ("above", "below"), ("first", "last"),
)  # fmt: skip
PLURALS = (
    ("child", "children"), ("mouse", "mice"), ("goose", "geese"), ("tooth", "teeth"),
    ("foot", "feet"), ("woman", "women"), ("man", "men"), ("leaf", "leaves"), ("knife", "knives"),
    ("wolf", "wolves"), ("city", "cities"), ("baby", "babies"), ("box", "boxes"),
    ("bus", "buses"), ("church", "churches"), ("potato", "potatoes"), ("hero", "heroes"),
    ("sheep", "sheep"), ("fish", "fish"), ("person", "people"), ("cactus", "cacti"),
    ("ox", "oxen"), ("party", "parties"), ("wish", "wishes"), ("loaf", "loaves"),
)  # fmt: skip
CAPITALS = (
    ("France", "Paris"), ("Japan", "Tokyo"), ("Italy", "Rome"), ("Spain", "Madrid"),
    ("Germany", "Berlin"), ("Egypt", "Cairo"), ("Kenya", "Nairobi"), ("Peru", "Lima"),
    ("Canada", "Ottawa"), ("Norway", "Oslo"), ("Greece", "Athens"), ("Ireland", "Dublin"),
    ("Portugal", "Lisbon"), ("Austria", "Vienna"), ("Poland", "Warsaw"), ("Sweden", "Stockholm"),
    ("Finland", "Helsinki"), ("Chile", "Santiago"), ("Cuba", "Havana"), ("Thailand", "Bangkok"),
    ("Russia", "Moscow"), ("China", "Beijing"), ("India", "New Delhi"), ("Mexico", "Mexico City"),
    ("Argentina", "Buenos Aires"), ("Turkey", "Ankara"), ("Australia", "Canberra"),
)  # fmt: skip
COLOURS = (
    ("a ripe banana", "Yellow"), ("fresh grass", "Green"), ("a clear daytime sky", "Blue"),
    ("snow", "White"), ("coal", "Black"), ("a ripe tomato", "Red"), ("an orange", "Orange"),
    ("milk", "White"), ("a lemon", "Yellow"), ("a strawberry", "Red"),
)  # fmt: skip
SOUNDS = (
    ("a dog", "Woof"), ("a cat", "Meow"), ("a cow", "Moo"), ("a duck", "Quack"),
    ("a sheep", "Baa"), ("a snake", "Hiss"), ("an owl", "Hoot"), ("a lion", "Roar"),
)  # fmt: skip

Template = Callable[[random.Random], tuple[str, str]]


def _add(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(2, 99), rng.randint(2, 99)
    form = rng.choice(("Add {a} and {b}.", "Calculate {a} + {b}.", "Find the sum of {a} and {b}."))
    return form.format(a=a, b=b), str(a + b)


def _subtract(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(2, 99), rng.randint(2, 99)
    form = rng.choice(("Subtract {b} from {a}.", "Calculate {a} - {b}."))
    return form.format(a=a, b=b), str(a - b)


def _multiply(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(2, 30), rng.randint(2, 12)
    form = rng.choice(("Multiply {a} by {b}.", "Find the product of {a} and {b}."))
    return form.format(a=a, b=b), str(a * b)


def _larger(rng: random.Random) -> tuple[str, str]:
    a, b = rng.sample(range(1, 1000), 2)
    return f"Which number is larger, {a} or {b}?", str(max(a, b))


def _parity(rng: random.Random) -> tuple[str, str]:
    n = rng.randint(1, 999)
    return f"Is {n} even or odd?", "Even" if n % 2 == 0 else "Odd"


def _count_letters(rng: random.Random) -> tuple[str, str]:
    w = rng.choice(WORDS)
    return f"How many letters does the word '{w}' have?", str(len(w))


def _backwards(rng: random.Random) -> tuple[str, str]:
    w = rng.choice(WORDS)
    return f"Spell the word '{w}' backwards.", w[::-1]


def _first_letter(rng: random.Random) -> tuple[str, str]:
    w = rng.choice(WORDS)
    return f"Which letter does the word '{w}' begin with?", w[0]


def _sort_words(rng: random.Random) -> tuple[str, str]:
    ws = rng.sample(WORDS, rng.randint(3, 5))
    return f"Sort these words alphabetically: {', '.join(ws)}.", ", ".join(sorted(ws))


def _count_words(rng: random.Random) -> tuple[str, str]:
    ws = rng.sample(WORDS, rng.randint(2, 7))
    return f"How many words are in this list: {' '.join(ws)}?", str(len(ws))


def _next_in(seq: tuple[str, ...], what: str) -> Template:
    def make(rng: random.Random) -> tuple[str, str]:
        i = rng.randrange(len(seq))
        if rng.random() < 0.5:
            return f"Which {what} comes after {seq[i]}?", seq[(i + 1) % len(seq)]
        return f"Which {what} comes before {seq[i]}?", seq[i - 1]

    return make


def _lookup(pairs: tuple[tuple[str, str], ...], forms: tuple[str, ...]) -> Template:
    def make(rng: random.Random) -> tuple[str, str]:
        key, value = rng.choice(pairs)
        return rng.choice(forms).format(key), value

    return make


def _units(rng: random.Random) -> tuple[str, str]:
    n = rng.randint(2, 40)
    return rng.choice(
        (
            (f"How many minutes are in {n} hours?", str(60 * n)),
            (f"How many days are in {n} weeks?", str(7 * n)),
            (f"Convert {n} kilometres to metres.", str(1000 * n)),
            (f"How many months are in {n} years?", str(12 * n)),
        )
    )


TEMPLATES: dict[str, Template] = {
    "add": _add,
    "subtract": _subtract,
    "multiply": _multiply,
    "larger": _larger,
    "parity": _parity,
    "count_letters": _count_letters,
    "backwards": _backwards,
    "first_letter": _first_letter,
    "sort_words": _sort_words,
    "count_words": _count_words,
    "day": _next_in(DAYS, "day"),
    "month": _next_in(MONTHS, "month"),
    "opposite": _lookup(OPPOSITES, ("Give the opposite of '{}'.", "Name the antonym of '{}'.")),
    "plural": _lookup(PLURALS, ("Write the plural of '{}'.", "Give the plural form of '{}'.")),
    "capital": _lookup(CAPITALS, ("Name the capital of {}.", "Which city is the capital of {}?")),
    "colour": _lookup(COLOURS, ("Name the colour of {}.", "Which colour is {}?")),
    "sound": _lookup(SOUNDS, ("Which sound does {} make?", "Name the sound {} makes.")),
    "units": _units,
}


FAMILIES = ("classic", "broad")


def family_templates(families: str = "classic") -> dict[str, Template]:
    """The template families of a ``--families`` choice: ``classic`` (the 18 drills) or
    ``broad`` (those plus :data:`~forgetlab.finetune.data.instruct_broad.BROAD_TEMPLATES`)."""
    if families == "classic":
        return TEMPLATES
    if families == "broad":
        from forgetlab.finetune.data.instruct_broad import BROAD_TEMPLATES

        return {**TEMPLATES, **BROAD_TEMPLATES}
    raise ForgetlabError(f"unknown --families {families!r} (known: {', '.join(FAMILIES)})")


def template_pairs(n: int, seed: int, families: str = "classic") -> list[tuple[str, str, str]]:
    """``n`` distinct (template, instruction, answer) triples, the templates taken in turn."""
    rng = random.Random(seed)
    templates = family_templates(families)
    names = list(templates)
    seen: set[str] = set()
    out: list[tuple[str, str, str]] = []
    tries = 0
    while len(out) < n and tries < 100 * n + 100:
        name = names[tries % len(names)]
        tries += 1
        q, a = templates[name](rng)
        if q not in seen:
            seen.add(q)
            out.append((name, q, a))
    if len(out) < n:
        raise ForgetlabError(f"the templates give only {len(out)} distinct instructions (< {n})")
    return out


def format_row(instruction: str, answer: str, label: str) -> dict[str, str]:
    """A raw-text prompt/completion row: ``instruction\\nLabel:`` -> `` answer``."""
    return {"prompt": f"{instruction}\n{label}:", "completion": f" {answer}"}


def _no_overlap(text: str) -> bool:
    return find_overlap(text) is None


def build_instruct(
    out: str | Path,
    *,
    n_instructions: int = 800,
    n_passages: int = 200,
    corpus: str | Path = DEFAULT_CORPUS,
    teacher: str | None = "none",
    teacher_backend: Any = None,
    mode: TeacherMode = "chat",
    max_new_tokens: int = 64,
    min_words: int = 24,
    max_words: int = 40,
    seed: int = 0,
    batch_size: int = 8,
    teacher_prompt: str = "Continue the following text.\n\n{text}",
    overwrite: bool = False,
    families: str = "classic",
) -> dict[str, Any]:
    """Write templated instructions + prose continuations (shuffled) and the provenance.

    ``families="broad"`` adds the task types of :mod:`forgetlab.finetune.data.instruct_broad`
    to the classic drills; the default keeps the data of earlier builds byte for byte.
    """
    family_templates(families)
    if n_instructions < 0 or n_passages < 0 or n_instructions + n_passages == 0:
        raise ForgetlabError("--n-instructions and --n-passages must be >= 0 and not both 0")
    if n_passages and not Path(corpus).exists():
        hint = f" (Debian package {CORPUS_PACKAGE})" if str(corpus) == DEFAULT_CORPUS else ""
        raise ForgetlabError(f"corpus {corpus} not found{hint}; pass --corpus FILE_OR_DIR")
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for name, q, a in template_pairs(n_instructions, seed, families):
        rows.append({"kind": "template", "template": name, **format_row(q, a, rng.choice(LABELS))})
    identity = None
    teacher_name = "none"
    sources: list[str] = []
    if n_passages:
        out_path = Path(out)
        passages, teacher_name, identity, _ = continuation_rows(
            out_path=out_path,
            corpus=corpus,
            n=n_passages,
            teacher=teacher,
            teacher_backend=teacher_backend,
            mode=mode,
            max_new_tokens=max_new_tokens,
            min_words=min_words,
            max_words=max_words,
            seed=seed,
            batch_size=batch_size,
            teacher_prompt=teacher_prompt,
            keep=_no_overlap,
            clean=prose_paragraph,
        )
        for p in passages:
            if p["response"]:
                row = {"prompt": p["instruction"], "completion": " " + p["response"]}
                rows.append({"kind": "passage", "template": None, "source": p["source"], **row})
        sources = sorted({p["source"] for p in passages})
    hits = overlaps(r["prompt"] + r["completion"] for r in rows)
    template_hits = [(i, h) for i, h in hits if rows[i]["kind"] == "template"]
    if template_hits:
        i, hit = template_hits[0]
        raise ForgetlabError(f"template row {rows[i]['prompt']!r} overlaps the evaluation ({hit})")
    dropped = {i for i, _ in hits}  # teacher continuations that touch the benchmark
    rows = [r for i, r in enumerate(rows) if i not in dropped]
    rng.shuffle(rows)
    settings = {
        "n_instructions": n_instructions,
        "n_passages": n_passages,
        "corpus": str(corpus),
        "teacher": teacher_name,
        "mode": mode,
        "max_new_tokens": max_new_tokens,
        "min_words": min_words,
        "max_words": max_words,
        "seed": seed,
        "teacher_prompt": teacher_prompt if teacher_name != "none" else None,
        "labels": list(LABELS),
    }
    if families != "classic":  # absent for classic, so the classic file and sidecar are unchanged
        settings["families"] = families
    write_jsonl(
        out,
        [{"prompt": r["prompt"], "completion": r["completion"]} for r in rows],
        builder="instruct",
        settings=settings,
        row_kinds=[r["kind"] if r["kind"] == "passage" else r["template"] for r in rows],
        sources=sources,
        teacher_identity=identity,
        overlap_check="forgetlab.finetune.data.overlap: ICL-vs-IF pool sentences (7 languages), "
        "math questions, scaffolds, capitalise/repeat demonstrations; fresh pools (en/fr/es)",
        dropped_overlapping_continuations=len(dropped),
        overwrite=overwrite,
    )
    kinds = [r["kind"] for r in rows]
    return {
        "out": str(out),
        "rows": len(rows),
        "templates": kinds.count("template"),
        "passages": kinds.count("passage"),
        "dropped_overlapping_continuations": len(dropped),
        "teacher": teacher_name,
    }
