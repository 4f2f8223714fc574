"""Which task did the model infer? ICL, instruction attempt, or other, per ICL-vs-IF sample.

The paper's instruction-following metric counts only *correct* answers (a sum computed
right, the missing word guessed right). A small model that switches to the instruction but
gets the sum wrong (" 20" for 19 plus 4) is then indistinguishable from one that produced
noise, and the task switch — the very thing implicit inference is about — is hidden. This
module classifies every output into one of three kinds, applied in this order:

``icl``
    the output continues the in-context pattern: it is a hit of the paper's ICL metric
    (starts with ``icl_answer``, with or without its leading space; ``"\\_"`` read as ``"_"``).
``if``
    the output answers the instruction, right or wrong: for a ``math`` query its first
    non-blank text is an integer (an optional sign, then digits: ``"23"``, ``" -4"``,
    ``"19 + 4 = 23"``); for a ``startblank`` query its first non-blank token is a word — it
    contains a letter or digit and no underscore (``"The"``, ``"7h3"``; ``"____"`` is not).
``other``
    anything else: empty output, punctuation, a question repeated in another shape, text
    that starts with underscores without matching the pattern.

Correctness of an attempt stays the paper's IF metric (``if_hit``). Leading whitespace,
including newlines, is skipped for ``if`` (the paper's prefix match skips none).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

Kind = Literal["icl", "if", "other"]
KINDS: tuple[Kind, ...] = ("icl", "if", "other")
RULE = (
    "icl = the paper's ICL prefix hit; else if = an attempt at the instruction (math: the "
    "output's first non-blank text is an integer; startblank: its first token contains a "
    "letter or digit and no underscore); else other"
)

_INTEGER = re.compile(r"[+\-\u2212]?\d")
_TOKEN = re.compile(r"\S+")


def _prefix_hit(output: str, answer: str) -> bool:
    out = output.replace("\\_", "_")
    return out.startswith(answer) or out.startswith(
        answer[1:] if answer.startswith(" ") else answer
    )


def classify(output: str, icl_answer: str, if_task: str) -> Kind:
    """The inferred task of one output (module docstring)."""
    if _prefix_hit(output, icl_answer):
        return "icl"
    text = output.replace("\\_", "_").lstrip()
    if if_task == "math":
        return "if" if _INTEGER.match(text) else "other"
    if if_task == "startblank":
        m = _TOKEN.match(text)
        if m and "_" not in m.group(0) and any(ch.isalnum() for ch in m.group(0)):
            return "if"
        return "other"
    raise ValueError(f"unknown IF task {if_task!r}")


def shares(kinds: Iterable[str]) -> dict[str, Any]:
    """Counts and shares of each kind, with Wilson 95 % intervals."""
    from forgetlab.llm.benchmarks.harmful.rates import wilson_interval

    counts = Counter(kinds)
    n = sum(counts.values())
    out: dict[str, Any] = {"n": n}
    for k in KINDS:
        c = counts.get(k, 0)
        out[k] = {
            "count": c,
            "share": c / n if n else None,
            "wilson95": list(wilson_interval(c, n)) if n else None,
        }
    return out


def paired_shift(
    base: Mapping[str, str], tuned: Mapping[str, str], *, key: str = ""
) -> dict[str, Any]:
    """Tuned − base change in the share of each kind over the prompts both have (paired
    bootstrap interval and exact McNemar test per kind)."""
    from forgetlab.llm.paired_rates import paired_change

    return {
        k: paired_change(
            {i: v == k for i, v in base.items()},
            {i: v == k for i, v in tuned.items()},
            key=f"{key}/{k}",
        )
        for k in KINDS
    }


def summarise_roles(
    rows: Sequence[Mapping[str, Any]], *, roles: Sequence[str] = ("base", "tuned")
) -> dict[str, Any]:
    """Per condition: shares per role and the paired shift from the first role to the second.

    ``rows`` carry ``role``, ``condition``, ``task_key`` (a prompt's identity within its
    condition) and ``inferred``.
    """
    by: dict[str, dict[str, dict[str, str]]] = {}
    for r in rows:
        by.setdefault(str(r["condition"]), {}).setdefault(str(r["role"]), {})[
            str(r["task_key"])
        ] = str(r["inferred"])
    out: dict[str, Any] = {}
    for cond, per_role in by.items():
        entry: dict[str, Any] = {
            role: shares(per_role[role].values()) for role in roles if role in per_role
        }
        if all(role in per_role for role in roles[:2]) and len(roles) >= 2:
            entry["shift"] = paired_shift(per_role[roles[0]], per_role[roles[1]], key=cond)
        out[cond] = entry
    return out
