"""The one interface every generation backend implements.

Benchmarks talk to a :class:`Backend` only: ``complete`` for raw-text prompts (the
ICL-vs-IF benchmark, no chat template) and ``chat`` for user messages (harmful-request
evaluation, chat template applied). ``identity`` is recorded in every result file.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

Message = dict[str, str]  # {"role": "user", "content": "..."}


@dataclass(frozen=True)
class GenerationConfig:
    """Decoding settings. ``temperature == 0`` means greedy (the paper's setting)."""

    max_new_tokens: int = 10
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ModelIdentity:
    """What a result file must record about the model that produced it."""

    backend: str
    name: str
    source: str = ""
    revision: str = ""
    dtype: str = ""
    add_bos: bool | None = None
    chat_template: str | None = None  # hash or name of the template used by chat(); None = none
    batch_size: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Backend(ABC):
    """A text generator. Implementations must be deterministic for greedy decoding."""

    @property
    @abstractmethod
    def identity(self) -> ModelIdentity:
        """Model identity for provenance (never contains secrets)."""

    @abstractmethod
    def complete(self, prompts: Sequence[str], config: GenerationConfig) -> list[str]:
        """Continue each raw prompt; returns only the newly generated text."""

    @abstractmethod
    def chat(
        self, conversations: Sequence[Sequence[Message]], config: GenerationConfig
    ) -> list[str]:
        """Reply to each conversation with the model's chat template applied."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (GPU memory, HTTP sessions)."""


@dataclass(frozen=True)
class BackendKind:
    """How one ``kind:`` of model spec is opened; each backend module defines one.

    ``load(target, *, dtype, device, batch_size, add_bos, chat_template, **options)`` returns
    the backend; ``options`` are the extra keyword options it accepts (anything else is
    refused before loading); ``local`` is False for a server that owns dtype, device, BOS
    and chat template.
    """

    load: Callable[..., Backend]
    options: frozenset[str] = frozenset()
    local: bool = True


def cut_at_stop(text: str, stops: Sequence[str]) -> str:
    """Text before the earliest occurrence of any stop string (unchanged when none occurs)."""
    cut = len(text)
    for stop in stops:
        at = text.find(stop)
        if stop and at != -1:
            cut = min(cut, at)
    return text[:cut]
