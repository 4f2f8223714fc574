"""Non-instructional fine-tuning data (docs/finetuning.md#data-nonins--non-instructional-data): a text's first half is the "instruction",
a teacher model's continuation of it is the response.

Corpus: text files or directories of text files (one or several), split into paragraphs
(blank-line separated, whitespace collapsed); ``prose`` keeps only running prose of
documentation sources (:mod:`forgetlab.finetune.data.prose`), as ``data instruct`` does with
the Python documentation. The licence of each known corpus goes into the sidecar
(``CORPUS_LICENCES``). The offline default is Debian's
``/usr/share/common-licenses`` (package ``base-files``, installed on every Debian system):
~18 licence texts, plain English prose unrelated to either evaluation benchmark. (The
packaged ICL-vs-IF sentence pool is deliberately *not* used: training on the evaluation
sentences would contaminate the ICL-vs-IF measurement.)

Teacher: any backend spec (e.g. ``packaged:smollm2-135m-instruct``), asked either through
its chat template (``chat``: the user message is ``teacher_prompt`` with the first half in
place of ``{text}`` — a bare passage makes a small chat model answer "How can I help?"
instead of continuing) or as raw continuation (``complete``); or the *true second half*
control (``true_half``, or teacher ``none``): the text's own second half, no model. The
training "instruction" is always the bare first half. Teacher outputs are cached in
``FILE.teacher.jsonl`` so an interrupted build resumes. Finished rows must pass the
contamination check against the evaluation prompts (``contamination.py``) before the file
is written; a failure writes nothing.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from forgetlab.errors import ForgetlabError, one_line
from forgetlab.finetune.data.contamination import (
    NGRAM,
    NgramIndex,
    check_texts,
    describe,
    evaluation_index,
)
from forgetlab.finetune.data.io import write_jsonl
from forgetlab.finetune.data.prose import prose_paragraph

DEFAULT_CORPUS = "/usr/share/common-licenses"
DEFAULT_TEACHER_PROMPT = "Continue the following text.\n\n{text}"
# The one packaged model tuned to answer users (docs/finetuning.md#data-nonins--non-instructional-data).
DEFAULT_TEACHER = "packaged:smollm2-135m-instruct"
TeacherMode = Literal["chat", "complete"]


Corpus = str | Path | Sequence[str | Path]

# Offline corpora forgetlab knows, with the terms their text is under (recorded in the sidecar).
CORPUS_LICENCES: dict[str, str] = {
    "/usr/share/common-licenses": (
        "the licence texts themselves (Debian package base-files); each permits verbatim "
        "copying and distribution of its text (e.g. the GPL: 'Everyone is permitted to copy "
        "and distribute verbatim copies of this license document')"
    ),
    "/usr/share/doc/python3.11/html/_sources": (
        "PSF License Agreement (Debian package python3.11-doc; "
        "/usr/share/doc/python3.11-doc/copyright): redistribution of derived works allowed "
        "with the notice kept"
    ),
}


def corpus_paths(corpus: Corpus) -> list[str]:
    return [str(corpus)] if isinstance(corpus, str | Path) else [str(c) for c in corpus]


def corpus_licences(corpus: Corpus) -> dict[str, str]:
    """Each corpus path's licence as forgetlab knows it (or a note to check it)."""
    return {
        c: CORPUS_LICENCES.get(c.rstrip("/"), "not known to forgetlab: check the source's terms")
        for c in corpus_paths(corpus)
    }


def read_corpus(path: Corpus) -> list[tuple[str, str]]:
    """(source file name, paragraph) pairs from text files, or every file in directories."""
    if not isinstance(path, str | Path):
        return [pair for one in path for pair in read_corpus(one)]
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and not f.is_symlink())
    elif p.is_file():
        files = [p]
    else:
        hint = " (pass --corpus FILE_OR_DIR)" if str(p) == DEFAULT_CORPUS else ""
        raise ForgetlabError(f"corpus {p} not found{hint}")
    out: list[tuple[str, str]] = []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary or unreadable files in a directory are skipped
        for para in re.split(r"\n\s*\n", text):
            clean = " ".join(para.split())
            if clean:
                out.append((f.name, clean))
    if not out:
        raise ForgetlabError(f"corpus {p} holds no readable text")
    return out


def load_teacher(spec: str) -> Any:
    """The teacher backend; any failure to load it is one line naming the spec."""
    from forgetlab.llm.backends import load_backend

    try:
        return load_backend(spec)
    except ForgetlabError:
        raise
    except Exception as exc:
        raise ForgetlabError(f"teacher {spec!r} did not load: {one_line(exc)}") from None


def split_half(text: str) -> tuple[str, str]:
    """First half of the words (the instruction) and the rest."""
    words = text.split(" ")
    mid = len(words) // 2
    return " ".join(words[:mid]), " ".join(words[mid:])


def select_passages(
    paragraphs: Sequence[tuple[str, str]],
    n: int,
    *,
    min_words: int,
    max_words: int,
    seed: int,
    keep: Callable[[str], bool] | None = None,
) -> list[tuple[str, str]]:
    """``n`` paragraphs with ``min_words..max_words`` words (longer ones are cut), seeded.

    ``keep`` (applied to the whole paragraph, in the seeded order, until ``n`` are kept)
    drops passages a caller must not train on.
    """
    pool = []
    for src, para in paragraphs:
        words = para.split(" ")
        if len(words) < min_words:
            continue
        pool.append((src, " ".join(words[:max_words]), para))
    if not pool:
        raise ForgetlabError(f"no paragraph in the corpus has >= {min_words} words")
    rng = random.Random(seed)
    rng.shuffle(pool)
    out: list[tuple[str, str]] = []
    for src, text, para in pool:
        if len(out) == n:
            break
        if keep is None or keep(para):
            out.append((src, text))
    return out


def continuation_rows(
    *,
    out_path: Path,
    corpus: Corpus,
    n: int,
    teacher: str | None,
    teacher_backend: Any,
    mode: TeacherMode,
    max_new_tokens: int,
    min_words: int,
    max_words: int,
    seed: int,
    batch_size: int,
    teacher_prompt: str,
    keep: Callable[[str], bool] | None = None,
    clean: Callable[[str], str | None] | None = None,
    min_rows: int = 1,
) -> tuple[list[dict[str, Any]], str, dict[str, Any] | None, str]:
    """Passages split in half with their continuation: (rows, teacher name, identity, wrap).

    Each row has ``instruction`` (the first half), ``response`` (the teacher's continuation,
    or the passage's own second half without a teacher) and ``source``. ``clean`` rewrites
    (or, returning None, drops) each paragraph before selection; ``keep`` drops selected
    passages (see :func:`select_passages`). Teacher outputs are cached beside ``out_path`` so an interrupted build resumes.
    """
    from forgetlab.llm.backends.base import GenerationConfig
    from forgetlab.llm.runner import generate_cached
    from forgetlab.results import JsonlCache

    if n < 1:
        raise ForgetlabError("--n must be >= 1")
    if mode == "chat" and "{text}" not in teacher_prompt:
        raise ForgetlabError("--teacher-prompt must contain {text}")
    wrap = teacher_prompt if mode == "chat" else "{text}"
    paragraphs = read_corpus(corpus)
    if clean is not None:
        cleaned = [(src, clean(para)) for src, para in paragraphs]
        paragraphs = [(src, para) for src, para in cleaned if para]
    passages = select_passages(
        paragraphs, n, min_words=min_words, max_words=max_words, seed=seed, keep=keep
    )
    if len(passages) < min_rows:
        raise ForgetlabError(
            f"the corpus gives only {len(passages)} passages of >= {min_words} words "
            f"(--n {min_rows} asked); pass a larger --corpus or a smaller --n"
        )
    items = []
    for i, (src, text) in enumerate(passages):
        first, second = split_half(text)
        items.append(
            {
                "id": str(i),
                "source": src,
                "instruction": first,
                "original_rest": second,
                "teacher_input": wrap.replace("{text}", first),
            }
        )
    teacher_name = "none"
    if teacher_backend is not None or (teacher and teacher != "none"):
        if teacher_backend is None:
            teacher_backend = load_teacher(str(teacher))
        teacher_name = str(teacher or teacher_backend.identity.name)
        cache = JsonlCache(out_path.with_name(out_path.name + ".teacher.jsonl"))
        wanted = {it["id"]: it["teacher_input"] for it in items}
        stale = [
            k
            for k, r in cache.rows.items()
            if r.get("teacher") != teacher_name
            or r.get("mode") != mode
            or (k in wanted and r.get("teacher_input") != wanted[k])
        ]
        if stale:
            raise ForgetlabError(
                f"{cache.path} holds outputs of another teacher/mode; delete it or choose another output"
            )
        rows = generate_cached(
            teacher_backend,
            items,
            cache=cache,
            mode=mode,
            config=GenerationConfig(max_new_tokens=max_new_tokens, temperature=0.0),
            batch_size=batch_size,
            input_field="teacher_input",
            finish=lambda it, o: {
                **it,
                "response": o.strip(),
                "teacher": teacher_name,
                "mode": mode,
            },
            desc="teacher",
        )
    else:
        rows = [{**it, "response": it["original_rest"]} for it in items]
    identity = teacher_backend.identity.as_dict() if teacher_backend is not None else None
    return rows, teacher_name, identity, wrap


def build_nonins(
    out: str | Path,
    *,
    corpus: Corpus = DEFAULT_CORPUS,
    n: int = 200,
    teacher: str | None = DEFAULT_TEACHER,
    teacher_backend: Any = None,
    true_half: bool = False,
    mode: TeacherMode = "chat",
    max_new_tokens: int = 128,
    min_words: int = 24,
    max_words: int = 160,
    seed: int = 0,
    as_messages: bool = False,
    batch_size: int = 8,
    teacher_prompt: str = DEFAULT_TEACHER_PROMPT,
    prose: bool = False,
    contamination_ngram: int = NGRAM,
    contamination_index: NgramIndex | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write ``out`` (JSONL, prompt/completion or messages) and its provenance sidecar.

    ``true_half`` (or ``teacher="none"``) is the control: each passage's own second half is
    the response, so the teacher's contribution can be told apart from the passages'. Every
    row is checked against the evaluation prompts before anything is written
    (:mod:`forgetlab.finetune.data.contamination`); fewer than ``n`` usable passages is an
    error, not a smaller file.
    """
    out_path = Path(out)
    if true_half:
        teacher, teacher_backend = "none", None
    index = contamination_index or evaluation_index(contamination_ngram)
    rows, teacher_name, identity, wrap = continuation_rows(
        out_path=out_path,
        corpus=corpus,
        n=n,
        teacher=teacher,
        teacher_backend=teacher_backend,
        mode=mode,
        max_new_tokens=max_new_tokens,
        min_words=min_words,
        max_words=max_words,
        seed=seed,
        batch_size=batch_size,
        teacher_prompt=teacher_prompt,
        clean=prose_paragraph if prose else None,
        min_rows=n,
    )
    kept = [r for r in rows if r["response"]]
    if not kept:
        raise ForgetlabError(
            f"the teacher {teacher_name} returned an empty continuation for all {len(rows)} "
            "passages; nothing written (try --mode complete or another --teacher)"
        )
    checked = check_texts([r["instruction"] + "\n" + r["response"] for r in kept], index)
    data = [
        {
            "messages": [
                {"role": "user", "content": r["instruction"]},
                {"role": "assistant", "content": r["response"]},
            ]
        }
        if as_messages
        else {"prompt": r["instruction"], "completion": " " + r["response"]}
        for r in kept
    ]
    variant = "true-half" if teacher_name == "none" else "teacher"
    settings = {
        "corpus": corpus_paths(corpus),
        "n": n,
        "variant": variant,
        "teacher": teacher_name,
        "mode": mode,
        "max_new_tokens": max_new_tokens,
        "min_words": min_words,
        "max_words": max_words,
        "seed": seed,
        "as_messages": as_messages,
        "prose_filter": prose,
        "teacher_prompt": wrap if variant == "teacher" else None,
        "contamination_ngram": index.n,
    }
    write_jsonl(
        out_path,
        data,
        builder="nonins",
        settings=settings,
        dropped_empty=len(rows) - len(kept),
        sources=sorted({r["source"] for r in kept}),
        corpus_licences=corpus_licences(corpus),
        teacher_identity=identity,
        contamination_check={"method": describe(index), **checked},
        overwrite=overwrite,
    )
    return {
        "out": str(out_path),
        "rows": len(data),
        "dropped_empty": len(rows) - len(kept),
        "variant": variant,
        "teacher": teacher_name,
    }
