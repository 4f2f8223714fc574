"""The layout of each benchmark's ``results.json``, shared by the code that writes it and
the reports that read it back (markdown, charts, the HTML report).

The top level of each file is typed, so a key renamed on one side is a type error on the
other; the per-condition cells below it stay plain dicts (their keys are documented in the
benchmark pages in ``docs/``). ``error`` is present only in a partial file written after a
failure.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

Cells = dict[str, Any]

# The prompt sets of the refusal benchmark (``forgetlab llm harmful --benchmark NAME``): the
# values the ``benchmark`` key of a HarmfulResults file takes.
REFUSAL_BENCHMARKS: tuple[str, ...] = (
    "harmful",
    "multijail",
    "benign",
    "harmful-select",
    "benign-select",
    "harmful-conv-select",
)


class PairedResults(TypedDict):
    """A paired base-vs-tuned benchmark (ICL vs IF, XNLI): the same prompts for both models."""

    benchmark: str
    complete: bool
    samples_done: int
    samples_expected: int
    models: dict[str, Any]  # role -> identity of the model that generated
    pair: dict[str, Any]  # matched-pair check: {"matched": bool | None, "note": str}
    generation: dict[str, Any]
    scoring: str
    selection: dict[str, Any]
    conditions: list[str]
    languages: dict[str, Cells]  # condition -> {"base", "tuned", "drop", "drop_ci95", ...}
    overall: Cells
    drop_interval: str  # how drop_ci95 was computed
    provenance: dict[str, Any]
    error: NotRequired[str]


class IclVsIfResults(PairedResults):
    """``forgetlab llm icl-vs-if`` (docs/icl-vs-if.md): per model ``icl_accuracy``,
    ``if_rate``, ``per_task``; ``claim`` compares the English drop with the others'."""

    transforms: dict[str, Any]  # transformed condition -> transform description
    claim: dict[str, Any] | None


class XnliResults(PairedResults):
    """``forgetlab llm xnli`` (docs/xnli.md): per model ``accuracy``, ``correct``, ``n`` and
    the ``answers`` given; ``paper`` holds the paper's numbers for the languages it reports."""

    paper: dict[str, dict[str, float]]


class HarmfulResults(TypedDict):
    """``forgetlab llm harmful`` (docs/harmful.md): label rates per model role and condition."""

    benchmark: str  # harmful, multijail or benign
    selection: dict[str, Any]
    conditions: list[dict[str, Any]]  # {"name", "language", "group", "transform"}
    generation: dict[str, Any]
    judge: dict[str, Any]
    back_translator: dict[str, Any] | None
    runs: dict[str, dict[str, Any]]  # role -> {"identity", "per_condition", "per_group"}
    provenance: dict[str, Any]
    error: NotRequired[str]
