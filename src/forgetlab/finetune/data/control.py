"""Control-token data for MEET-style controllable generation (docs/finetuning.md#data-control--control-tokens-for-meet).

Each instruction appears twice, prefixed by a control token: ``<concise>`` -> a short
answer, ``<detailed>`` -> a worked answer. Source: the exactly-checkable benign templates of
the safety builder (offline, default), or ``--source FILE.jsonl`` (messages or
prompt/completion rows), where the concise answer is the first sentence of the response and
the detailed answer the whole response (rows whose response is a single sentence are
skipped: they carry no contrast). The sidecar provenance records ``control_tokens``, which
``forgetlab finetune meet`` reads.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from forgetlab.errors import ForgetlabError
from forgetlab.finetune.data.io import read_sft_jsonl, write_jsonl
from forgetlab.finetune.data.safety import WORDS

CONTROL_TOKENS = ("<concise>", "<detailed>")
Format = Literal["messages", "prompt-completion"]


def templated_triples(
    n: int, seed: int, reject: Callable[[str], bool] | None = None
) -> list[tuple[str, str, str]]:
    """``n`` (instruction, concise answer, detailed answer) triples, exact by construction;
    a question ``reject`` flags (one an evaluation asks) is drawn again."""
    rng = random.Random(seed)
    out: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    tries = 0
    while len(out) < n and tries < 50 * n + 50:
        tries += 1
        kind = tries % 3
        if kind == 0:
            a, b = rng.randint(2, 99), rng.randint(2, 99)
            q = f"What is {a} plus {b}?"
            t = (q, str(a + b), f"We add {a} and {b}. {a} + {b} = {a + b}. The answer is {a + b}.")
        elif kind == 1:
            w = rng.choice(WORDS)
            q = f"How many letters are in '{w}'?"
            spelled = "-".join(w)
            t = (q, str(len(w)), f"Spell it out: {spelled}. Counting them gives {len(w)} letters.")
        else:
            km = rng.randint(1, 50)
            q = f"How many meters are in {km} kilometers?"
            t = (
                q,
                f"{km * 1000} meters.",
                f"One kilometer is 1000 meters, so {km} kilometers is {km} x 1000 = {km * 1000} meters.",
            )
        if q not in seen and not (reject and reject(q)):
            seen.add(q)
            out.append(t)
    return out


_SENTENCE = re.compile(r"(.+?[.!?])(\s|$)", re.S)


def triples_from_file(path: str | Path) -> list[tuple[str, str, str]]:
    rows, fmt = read_sft_jsonl(path)
    if fmt == "text":
        raise ForgetlabError(
            f"{path}: control data needs instructions (messages or prompt/completion rows)"
        )
    out = []
    for r in rows:
        if fmt == "messages":
            q, resp = r["messages"][-2]["content"], r["messages"][-1]["content"]
        else:
            q, resp = r["prompt"], r["completion"]
        resp = resp.strip()
        m = _SENTENCE.match(resp)
        if m and m.group(1).strip() != resp:
            out.append((q.strip(), m.group(1).strip(), resp))
    if not out:
        raise ForgetlabError(
            f"{path}: no row has a multi-sentence response to derive a concise answer from"
        )
    return out


def control_input(token: str, request: str, fmt: Format) -> str:
    """What the model reads for ``request`` under ``token``: the user message (messages) or
    the raw prompt (prompt-completion); training and the controllability evaluation share it."""
    return f"{token} {request}" if fmt == "messages" else f"{token} {request}\nAnswer:"


def control_rows(
    triples: Sequence[tuple[str, str, str]], fmt: Format, seed: int
) -> list[dict[str, Any]]:
    """Two rows per (request, concise, detailed) triple, one per control token, shuffled."""
    concise, detailed = CONTROL_TOKENS
    rows: list[dict[str, Any]] = []
    for q, short, long in triples:
        for tok, ans in ((concise, short), (detailed, long)):
            prompt = control_input(tok, q, fmt)
            if fmt == "messages":
                rows.append(
                    {
                        "messages": [
                            {"role": "user", "content": prompt},
                            {"role": "assistant", "content": ans},
                        ]
                    }
                )
            else:
                rows.append({"prompt": prompt, "completion": f" {ans}"})
    random.Random(seed).shuffle(rows)
    return rows


def build_control(
    out: str | Path,
    *,
    n: int = 200,
    source: str | Path | None = None,
    fmt: Format = "messages",
    seed: int = 0,
    teacher: str | None = None,
    teacher_backend: Any = None,
    max_new_tokens: int = 160,
    eval_tasks: int = 12,
    batch_size: int = 8,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write the control-token JSONL (2 rows per instruction) and its provenance sidecar.

    With ``teacher`` the pairs come from a teacher's answers to everyday requests
    (:mod:`forgetlab.finetune.data.controllable`), and a held-out evaluation file
    ``OUT.eval.jsonl`` is written beside the data. Every row passes the contamination check
    against the evaluation prompts before anything is written.
    """
    from forgetlab.finetune.data.contamination import check_texts, describe, evaluation_index

    if n < 1:
        raise ForgetlabError("--n must be >= 1")
    if source and teacher:
        raise ForgetlabError("give --source or --teacher, not both")
    index = evaluation_index()
    extra: dict[str, Any] = {}
    held_out: list[dict[str, Any]] = []
    if teacher:
        from forgetlab.finetune.data.controllable import teacher_triples

        built = teacher_triples(
            Path(out), n=n, seed=seed, teacher=teacher, teacher_backend=teacher_backend,
            max_new_tokens=max_new_tokens, eval_tasks=eval_tasks, batch_size=batch_size,
        )  # fmt: skip
        triples, held_out = built["train"], built["eval"]
        extra = {k: v for k, v in built.items() if k not in ("train", "eval")}
    elif source:
        triples = triples_from_file(source)[:n]
    else:
        triples = templated_triples(n, seed, reject=lambda q: index.find(q) is not None)
    rows = control_rows(triples, fmt, seed)
    checked = check_texts([" ".join(t) for t in triples], index)
    settings = {
        "n": n,
        "source": f"teacher:{teacher}" if teacher else (str(source) if source else "templates"),
        "format": fmt,
        "seed": seed,
        **({"max_new_tokens": max_new_tokens, "eval_tasks": eval_tasks} if teacher else {}),
    }
    if held_out:
        from forgetlab.finetune.data.controllable import eval_path

        extra["eval_file"] = str(eval_path(Path(out)))
    write_jsonl(
        out,
        rows,
        builder="control",
        settings=settings,
        control_tokens=list(CONTROL_TOKENS),
        contamination_check={"method": describe(index), **checked},
        overwrite=overwrite,
        **extra,
    )
    if held_out:
        from forgetlab.finetune.data.controllable import write_eval_file

        write_eval_file(Path(out), held_out, fmt)
    return {
        "out": str(out),
        "rows": len(rows),
        "control_tokens": list(CONTROL_TOKENS),
        **({"eval_file": extra["eval_file"], "eval_requests": len(held_out)} if held_out else {}),
    }
