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
from pathlib import Path
from typing import Any, Literal

from forgetlab.errors import ForgetlabError
from forgetlab.finetune.data.io import read_sft_jsonl, write_jsonl
from forgetlab.finetune.data.safety import WORDS

CONTROL_TOKENS = ("<concise>", "<detailed>")
Format = Literal["messages", "prompt-completion"]


def templated_triples(n: int, seed: int) -> list[tuple[str, str, str]]:
    """``n`` (instruction, concise answer, detailed answer) triples, exact by construction."""
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
        if q not in seen:
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


def build_control(
    out: str | Path,
    *,
    n: int = 200,
    source: str | Path | None = None,
    fmt: Format = "messages",
    seed: int = 0,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write the control-token JSONL (2 rows per instruction) and its provenance sidecar."""
    if n < 1:
        raise ForgetlabError("--n must be >= 1")
    triples = triples_from_file(source)[:n] if source else templated_triples(n, seed)
    concise, detailed = CONTROL_TOKENS
    rows: list[dict[str, Any]] = []
    for q, short, long in triples:
        for tok, ans in ((concise, short), (detailed, long)):
            prompt = f"{tok} {q}"
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
                rows.append({"prompt": f"{prompt}\nAnswer:", "completion": f" {ans}"})
    random.Random(seed).shuffle(rows)
    settings = {
        "n": n,
        "source": str(source) if source else "templates",
        "format": fmt,
        "seed": seed,
    }
    write_jsonl(
        out,
        rows,
        builder="control",
        settings=settings,
        control_tokens=list(CONTROL_TOKENS),
        overwrite=overwrite,
    )
    return {"out": str(out), "rows": len(rows), "control_tokens": list(CONTROL_TOKENS)}
