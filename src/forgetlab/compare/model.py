"""What a harness log becomes once read: per task, one record per sample, keyed by the
harness's own sample id, with the hash of the prompt the model saw and its per-sample scores.

Readers (``lm_eval_reader``, ``inspect_reader``) produce a :class:`Log`; ``align`` pairs two
of them and ``analysis`` computes the statistics. Nothing here knows a harness.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Text kept per sample for the browser (prompts and outputs longer than this are cut).
TEXT_LIMIT = 2000


@dataclass(slots=True)
class Sample:
    """One scored sample: ``scores`` maps metric name to a number.

    The texts are only needed for the samples the HTML browser shows, so a reader may leave
    them empty and record ``offset``, where the sample is in its task's source file (for
    lm-eval logs its line number), to read them later (:attr:`Task.texts`).
    """

    id: str
    prompt_hash: str
    scores: dict[str, float]
    prompt: str = ""
    output: str = ""
    target: str = ""
    offset: int | None = None


@dataclass
class Task:
    """One task of one log: its samples in log order, keyed by id."""

    name: str
    samples: dict[str, Sample] = field(default_factory=dict)
    source: str = ""  # the file it was read from
    version: str | None = None
    # Fills in the prompt, output and target of samples read without them (by their offsets).
    texts: Callable[[list[Sample]], None] | None = None

    def fill_texts(self, samples: list[Sample]) -> None:
        """Give ``samples`` their prompt, output and target (read back from the file)."""
        missing = [s for s in samples if s.offset is not None]
        if missing and self.texts is not None:
            self.texts(missing)


@dataclass
class Log:
    """Everything read from one side (BASE or TUNED) of a comparison."""

    path: Path
    harness: str  # "lm-evaluation-harness" or "inspect"
    model: str
    tasks: dict[str, Task] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)  # {"path", "sha256", "bytes"}
    meta: dict[str, Any] = field(default_factory=dict)


def clip(text: Any) -> str:
    """A value as browser text, cut at ``TEXT_LIMIT`` characters."""
    s = text if isinstance(text, str) else "" if text is None else str(text)
    return s if len(s) <= TEXT_LIMIT else s[:TEXT_LIMIT] + " …"
