"""The paper's ICL-vs-IF benchmark (docs/icl-vs-if.md), regenerated exactly, plus transformed variants.

Each prompt shows two demonstrations of an in-context task (``capslock`` or ``repeat``) and
then a query that *also* reads as an instruction (a math question, or a fill-in-the-blank).
A model that continues the pattern answers ``icl_answer``; one that follows the instruction
answers ``if_answer``. Fine-tuning for instruction following moves models from the first to
the second; the paper measures how much less that happens in other languages.

The generator reproduces the authors' ``create_datasets.py`` draw for draw: per (language,
task) ``random.seed(10)``, then per sample ``random.sample(pool, 3)`` followed (math only) by
three ``randint`` calls. The draws depend on the pool's *length* only, so every language (and
every transformed pool) gets the same sentence indices and numbers: prompts align
index-for-index across languages.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from forgetlab.data import data_path
from forgetlab.errors import ForgetlabError

if TYPE_CHECKING:
    from forgetlab.llm.transforms.base import Scope, Transform

LANGUAGES: tuple[str, ...] = ("en", "fr", "es", "nl", "hu", "ls", "pl")
TASKS: tuple[tuple[str, str], ...] = (
    ("capslock", "math"),
    ("repeat", "math"),
    ("capslock", "startblank"),
    ("repeat", "startblank"),
)
N_SHOT = 2
N_PROMPTS = 100
SEED = 10
REFERENCE_SHA256 = "5030ba3877ebc0275aa2f6794623617a20d8f1e23f542a4604993676ea568fb7"


@dataclass(frozen=True)
class Scaffold:
    """The non-payload text of a prompt in one language (docs/icl-vs-if.md#scaffolds-per-language).

    ``math_template`` has ``{a}``, ``{op}``, ``{b}`` placeholders; ``ops`` are the words for
    plus, minus, times; ``icl_ans`` is the template's first word (what pattern-following
    writes first for a math query).
    """

    instructions: dict[str, str]  # icl task -> instruction, without the trailing "\n\n"
    in_prefix: str
    out_prefix: str
    math_template: str
    ops: tuple[str, str, str]
    icl_ans: str

    def math_question(self, a: int, op: int, b: int) -> str:
        return self.math_template.format(a=a, op=self.ops[op], b=b)


SCAFFOLDS: dict[str, Scaffold] = {
    "en": Scaffold(
        {"repeat": "Repeat the input.", "capslock": "Capitalize every character."},
        "Input: ",
        "Output: ",
        "What is {a} {op} {b}?",
        ("plus", "minus", "times"),
        "What",
    ),
    "fr": Scaffold(
        {"repeat": "Répétez la saisie.", "capslock": "Mettez chaque caractère en majuscule."},
        "Saisir: ",
        "Sortir: ",
        "Combien font {a} {op} {b}?",
        ("plus", "moins", "fois"),
        "Combien",
    ),
    "es": Scaffold(
        {"repeat": "Repita la entrada.", "capslock": "Capitalizar cada carácter."},
        "Entrada: ",
        "Salida: ",
        "¿Cuánto es {a} {op} {b}?",
        ("más", "menos", "veces"),
        "¿Cuánto",
    ),
    "nl": Scaffold(
        {"repeat": "Herhaal de invoer.", "capslock": "Geef elk teken een hoofdletter."},
        "Invoer: ",
        "Uitgang: ",
        "Wat is {a} {op} {b}?",
        ("plus", "min", "keer"),
        "Wat",
    ),
    "hu": Scaffold(
        {"repeat": "Ismételje meg a bevitelt.", "capslock": "Minden karaktert nagybetűvel írj."},
        "Bemenet: ",
        "Kimenet: ",
        "Mi az a {a} {op} {b}?",
        ("plusz", "mínusz", "alkalommal"),
        "Mi",
    ),
    "ls": Scaffold(
        {"repeat": "R3p347 7h3 1npu7.", "capslock": "C4p174l1z3 3v3rY Ch4r4c73R."},
        "1npu7: ",
        "0u7pu7: ",
        "Wh47 15 {a} {op} {b}?",
        ("Plu5", "M1nu5", "71m35"),
        "Wh47",
    ),
    "pl": Scaffold(
        {"repeat": "Epeatray ethay inputyay.", "capslock": "Apitalizecay everyay aracterchay."},
        "Inputyay: ",
        "Outputyay: ",
        "Atwhay {a} {op} {b}?",
        ("usplay", "inusmay", "imestay"),
        "Atwhay",
    ),
}

ICL_TASKS: dict[str, Callable[[str], str]] = {"capslock": str.upper, "repeat": lambda s: s}
IF_TASKS = ("math", "startblank")
_MATH = (lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b)


@dataclass(frozen=True)
class IclPrompt:
    """One benchmark prompt; answers carry the paper's leading space."""

    language: str
    icl_task: str
    if_task: str
    index: int
    prompt: str
    icl_answer: str
    if_answer: str

    @property
    def id(self) -> str:
        return f"{self.language}/{self.icl_task}-{self.if_task}/{self.index}"

    @property
    def task(self) -> str:
        return f"{self.icl_task}-{self.if_task}"

    def to_row(self) -> dict[str, object]:
        return {
            "language": self.language,
            "icl_task": self.icl_task,
            "if_task": self.if_task,
            "index": self.index,
            "prompt": self.prompt,
            "icl_answer": self.icl_answer,
            "if_answer": self.if_answer,
        }


@dataclass(frozen=True)
class Draw:
    """The random choices behind one prompt: pool line indices and (math) the operands."""

    indices: tuple[int, ...]
    math: tuple[int, int, int] | None  # (a, op, b)

    @property
    def math_result(self) -> int:
        assert self.math is not None
        a, op, b = self.math
        return _MATH[op](a, b)


# Sentence pools the generator can draw from, with the languages each one has. "paper" is
# the authors' 500 sentences; the fresh pools (forgetlab/data/fresh-pools/PROVENANCE.md) were
# written for forgetlab: 50 sentences for recipe choice, 100 kept for reporting only.
POOLS: dict[str, tuple[str, ...]] = {
    "paper": LANGUAGES,
    "fresh-select": ("en", "fr", "es"),
    "fresh-report": ("en", "fr", "es"),
}


def check_pool(pool: str, language: str | None = None) -> None:
    """Refuse an unknown pool, or a language the pool was not written in."""
    if pool not in POOLS:
        raise ForgetlabError(f"unknown icl-vs-if pool {pool!r} (known: {', '.join(POOLS)})")
    if language is not None and language not in POOLS[pool]:
        check_language(language)
        raise ForgetlabError(
            f"icl-vs-if pool {pool!r} has no language {language!r} "
            f"(it has: {', '.join(POOLS[pool])})"
        )


@cache
def load_pool(language: str, pool: str = "paper") -> tuple[str, ...]:
    """The line-aligned sentences of a language in a pool (read as the authors did).

    ``pool="paper"`` is the authors' 500 sentences; the fresh pools have 50
    (``fresh-select``) or 100 (``fresh-report``) sentences in en/fr/es.
    """
    check_language(language)
    check_pool(pool, language)
    if pool == "paper":
        parts = ("understanding-forgetting", "icl_vs_if", "sentences")
        path = data_path(*parts, f"random_sentences_{language}.txt")
    else:
        path = data_path("fresh-pools", f"{pool.removeprefix('fresh-')}_{language}.txt")
    with open(path, encoding="utf-8") as fh:
        return tuple(line.strip("\n") for line in fh)


def check_language(language: str) -> None:
    if language not in SCAFFOLDS:
        raise ForgetlabError(
            f"unknown icl-vs-if language {language!r} (known: {', '.join(LANGUAGES)})"
        )


def parse_tasks(tasks: Iterable[tuple[str, str] | str] | None) -> list[tuple[str, str]]:
    """Accept ``("capslock", "math")`` pairs or ``"capslock-math"`` strings; validate."""
    if tasks is None:
        return list(TASKS)
    out: list[tuple[str, str]] = []
    for task in tasks:
        pair = tuple(task.split("-", 1)) if isinstance(task, str) else tuple(task)
        if pair not in TASKS:
            known = ", ".join(f"{a}-{b}" for a, b in TASKS)
            raise ForgetlabError(f"unknown icl-vs-if task {task!r} (known: {known})")
        out.append((pair[0], pair[1]))
    return out


def draws(pool_size: int, if_task: str, n: int = N_PROMPTS, seed: int = SEED) -> list[Draw]:
    """The authors' random draws for one (language, task): they depend on the pool size only."""
    if n < 0:
        raise ForgetlabError(f"n must be >= 0, got {n}")
    rng = random.Random(seed)  # same sequence as random.seed(seed) on the global generator
    population = range(pool_size)
    out = []
    for _ in range(n):
        indices = tuple(rng.sample(population, N_SHOT + 1))
        math = None
        if if_task == "math":
            a = rng.randint(4, 20)
            b = rng.randint(4, 20)
            op = rng.randint(0, 2)
            math = (a, op, b)
        out.append(Draw(indices, math))
    return out


def startblank(sentence: str) -> tuple[str, str, str]:
    """Blank the first space-separated word: (query, icl_ans = underscores, if_ans = word)."""
    words = sentence.split(" ")
    first = words[0]
    words[0] = "_" * len(first)
    return " ".join(words), words[0], first


def assemble(
    *,
    language: str,
    icl_task: str,
    if_task: str,
    index: int,
    demos: Sequence[str],
    query: str,
    icl_ans: str,
    if_ans: str,
    instruction: str,
    in_prefix: str,
    out_prefix: str,
) -> IclPrompt:
    """Build the prompt text exactly as the paper's ``concat_examples``."""
    icl = ICL_TASKS[icl_task]
    parts = [f"{in_prefix}{s}\n{out_prefix}{icl(s)}" for s in demos]
    parts.append(f"{in_prefix}{query}\n{out_prefix[:-1]}")
    prompt = instruction + "\n\n" + "\n\n".join(parts)
    return IclPrompt(
        language, icl_task, if_task, index, prompt, " " + icl(icl_ans), " " + icl(if_ans)
    )


def _build(
    language: str,
    pool: Sequence[str],
    scaffold: Scaffold,
    icl_task: str,
    if_task: str,
    n: int,
    math_questions: Callable[[list[Draw]], list[str]],
    math_answers: Callable[[list[Draw]], list[str]],
) -> list[IclPrompt]:
    ds = draws(len(pool), if_task, n)
    if if_task == "math":
        questions, answers = math_questions(ds), math_answers(ds)
    out = []
    for i, d in enumerate(ds):
        *demo_idx, last = d.indices
        if if_task == "math":
            query = questions[i]
            icl_ans, if_ans = query.split(" ")[0], answers[i]
        else:
            query, icl_ans, if_ans = startblank(pool[last])
        out.append(
            assemble(
                language=language,
                icl_task=icl_task,
                if_task=if_task,
                index=i,
                demos=[pool[j] for j in demo_idx],
                query=query,
                icl_ans=icl_ans,
                if_ans=if_ans,
                instruction=scaffold.instructions[icl_task],
                in_prefix=scaffold.in_prefix,
                out_prefix=scaffold.out_prefix,
            )
        )
    return out


def generate_prompts(
    languages: Iterable[str] | None = None,
    tasks: Iterable[tuple[str, str] | str] | None = None,
    n: int = N_PROMPTS,
    pool: str = "paper",
) -> list[IclPrompt]:
    """The paper's prompts: for each language, each task, ``n`` prompts (default 7 x 4 x 100).

    ``pool`` picks the sentences (:data:`POOLS`); scaffolds, draw procedure and answers are the
    paper's whatever the pool. The draws depend on the pool's size only, so a 50- or
    100-sentence pool still gives ``n`` prompts per task, its sentences recurring across
    prompts (each prompt's three sentences are distinct). Languages default to the pool's.
    """
    check_pool(pool)
    langs = list(POOLS[pool] if languages is None else languages)
    for lang in langs:
        check_language(lang)
        check_pool(pool, lang)
    task_list = parse_tasks(tasks)
    out: list[IclPrompt] = []
    for lang in langs:
        sc = SCAFFOLDS[lang]

        def questions(ds: list[Draw], sc: Scaffold = sc) -> list[str]:
            return [sc.math_question(*d.math) for d in ds if d.math]

        for icl_task, if_task in task_list:
            out += _build(
                lang, load_pool(lang, pool), sc, icl_task, if_task, n, questions, _int_answers
            )
    return out


def _int_answers(ds: list[Draw]) -> list[str]:
    return [str(d.math_result) for d in ds]


def transformed_scaffold(transform: Transform, base: Scaffold | None = None) -> Scaffold:
    """Apply ``transform`` to the English scaffold: instructions, prefix labels, op words.

    Prefix labels are transformed without their ``": "`` (kept as is, as in the paper's
    leetspeak and Pig Latin scaffolds); the math template keeps its placeholders, but
    :func:`generate_transformed_prompts` transforms each *rendered* question instead.
    """
    en = base or SCAFFOLDS["en"]
    keys = list(en.instructions)
    labels = [en.in_prefix.removesuffix(": "), en.out_prefix.removesuffix(": ")]
    texts = [en.instructions[k] for k in keys] + labels + list(en.ops) + [en.icl_ans]
    t = transform.forward_batch(texts)
    k = len(keys)
    return Scaffold(
        dict(zip(keys, t[:k], strict=True)),
        t[k] + ": ",
        t[k + 1] + ": ",
        en.math_template,
        (t[k + 2], t[k + 3], t[k + 4]),
        t[k + 5],
    )


def transformed_label(transform: Transform, scope: Scope | None = None) -> str:
    """The ``language`` field of transformed prompts: the transform name, ``@payload`` if so."""
    scope = scope or transform.scope
    return transform.name if scope == "full" else f"{transform.name}@payload"


def generate_transformed_prompts(
    transform: Transform | str,
    tasks: Iterable[tuple[str, str] | str] | None = None,
    n: int = N_PROMPTS,
    scope: Scope | None = None,
) -> list[IclPrompt]:
    """The benchmark moved into a transform's space, index-aligned with English.

    - payload (always transformed): the 500 English sentences, line by line, and each
      rendered English math question (``"What is 19 plus 4?"``) as a whole;
    - scaffold (only for scope ``"full"``, the default of most transforms): instructions and
      the ``Input``/``Output`` labels; with scope ``"payload"`` the English scaffold stays.

    The draws are the English ones (same seed, same pool size), so prompt ``i`` shows the
    same sentences and numbers as English prompt ``i``. Expected answers are computed *in
    the transformed space*, exactly as the paper does for its translated languages:
    ``icl_answer = " " + icl(first word of the transformed query)`` for math and the blanked
    first word of the transformed sentence for startblank; ``if_answer = " " +
    icl(T(str(result)))`` for math (digits survive every transform except base64) and
    ``" " + icl(original first word)`` for startblank. Scoring then compares the raw model
    output with these answers (:func:`score_output`); ``transform.inverse`` is only for
    reading outputs back in English.

    ``pretranslated:<lang>`` transforms return the paper's own prompts for that language
    (scope ``"full"``), or the translated pool and questions under the English scaffold.
    """
    from forgetlab.llm.transforms import get_transform

    tr = get_transform(transform) if isinstance(transform, str) else transform
    scope = scope or tr.scope
    if scope not in ("payload", "full"):
        raise ForgetlabError(f"unknown scope {scope!r} (known: payload, full)")
    task_list = parse_tasks(tasks)
    label = transformed_label(tr, scope)
    en = SCAFFOLDS["en"]

    if tr.paper_language is not None:
        lang_sc = SCAFFOLDS[tr.paper_language]
        pool: Sequence[str] = load_pool(tr.paper_language)
        scaffold = lang_sc if scope == "full" else en

        def questions(ds: list[Draw]) -> list[str]:
            return [lang_sc.math_question(*d.math) for d in ds if d.math]

        def answers(ds: list[Draw]) -> list[str]:
            return [str(d.math_result) for d in ds]
    else:
        pool = tr.forward_batch(list(load_pool("en")))
        scaffold = transformed_scaffold(tr) if scope == "full" else en

        def questions(ds: list[Draw]) -> list[str]:
            return tr.forward_batch([en.math_question(*d.math) for d in ds if d.math])

        def answers(ds: list[Draw]) -> list[str]:
            return tr.forward_batch([str(d.math_result) for d in ds])

    out: list[IclPrompt] = []
    for icl_task, if_task in task_list:
        out += _build(label, pool, scaffold, icl_task, if_task, n, questions, answers)
    return out


def score_output(output: str, icl_answer: str, if_answer: str) -> tuple[bool, bool]:
    """The paper's metric: does ``output`` start with the answer, with or without its space?

    Exactly the authors' ``evaluate_accuracy.py``: first ``"\\_"`` is replaced by ``"_"``
    (markdown-escaped blanks), then a hit is ``output.startswith(ans) or
    output.startswith(ans[1:])`` where ``ans`` carries its leading space. Nothing else is
    stripped: ``"\\n WHAT"`` is a miss, ``"WHAT IS"`` and ``" WHAT"`` are hits.
    """
    out = output.replace("\\_", "_")

    def hit(ans: str) -> bool:
        return out.startswith(ans) or out.startswith(ans[1:] if ans.startswith(" ") else ans)

    return hit(icl_answer), hit(if_answer)


def rows_fingerprint(prompts: Iterable[IclPrompt]) -> str:
    """The benchmark fingerprint (docs/icl-vs-if.md#generator): sha256 of the sorted ``[language, icl_task, ...]`` rows."""
    import hashlib
    import json

    rows = sorted(
        [p.language, p.icl_task, p.if_task, p.index, p.prompt, p.icl_answer, p.if_answer]
        for p in prompts
    )
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()


def export_icl_vs_if(languages: Sequence[str] | None = None, **opts: Any) -> list[dict[str, Any]]:
    """``export-prompts icl-vs-if`` rows: ``language, icl_task, if_task, index, prompt,
    icl_answer, if_answer``.

    Options: ``tasks`` (e.g. ``["capslock-math"]``), ``limit`` (prompts per task and
    language, default 100), ``transforms`` (registry names, ``NAME@payload`` for the
    payload-only scope): English prompts moved into each transform's space, ``language`` =
    the transform name. With transforms and no ``languages``, only the transformed rows.
    """
    from forgetlab.llm.transforms.base import parse_transform

    n = N_PROMPTS if opts.get("limit") is None else int(opts["limit"])
    transforms = list(opts.get("transforms") or [])
    prompts = []
    if languages or not transforms:
        prompts = generate_prompts(languages or None, opts.get("tasks"), n)
    for spec in transforms:
        parsed = parse_transform(spec)
        prompts += generate_transformed_prompts(
            parsed.name, opts.get("tasks"), n, scope=cast("Scope | None", parsed.scope)
        )
    return [p.to_row() for p in prompts]
