"""Deterministic fake backends for tests (shared by every LLM test module).

A :class:`FakeBackend` applies a plain Python function to each prompt, so a test can compute
the exact expected outputs (and therefore exact accuracies) by hand. It records every prompt
it is asked about, so resume tests can assert nothing finished is regenerated, and it can be
told to fail after N prompts to simulate an API outage or a killed run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from forgetlab.llm.backends.base import Backend, GenerationConfig, Message, ModelIdentity


class FakeBackendError(RuntimeError):
    """Raised by a FakeBackend told to fail (stands in for an API outage or a crash)."""


class FakeBackend(Backend):
    """Backend whose output for each prompt is ``fn(prompt)``.

    ``chat`` applies ``chat_fn`` (default ``fn``) to the last message's content. ``fail_after``
    = the number of prompts served before every further batch raises
    :class:`FakeBackendError` (a batch that would cross the limit raises without output, like
    a request that dies mid-flight). ``calls`` lists every prompt served, in order, and
    ``configs`` the generation config of each batch.
    """

    def __init__(
        self,
        fn: Callable[[str], str],
        *,
        name: str = "fake",
        chat_fn: Callable[[str], str] | None = None,
        fail_after: int | None = None,
        batch_size: int = 1,
        add_bos: bool | None = False,
        dtype: str = "none",
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.fn = fn
        self.chat_fn = chat_fn or fn
        self.name = name
        self.fail_after = fail_after
        self.batch_size = batch_size
        self.add_bos = add_bos
        self.dtype = dtype
        self.extra = dict(extra or {})
        self.calls: list[str] = []
        self.configs: list[GenerationConfig] = []
        self.closed = False

    @property
    def identity(self) -> ModelIdentity:
        return ModelIdentity(
            backend="fake",
            name=self.name,
            source=f"tests.llm.fakes:{getattr(self.fn, '__name__', 'fn')}",
            dtype=self.dtype,
            add_bos=self.add_bos,
            chat_template=None,
            batch_size=self.batch_size,
            extra=dict(self.extra),
        )

    def _serve(
        self, texts: Sequence[str], fn: Callable[[str], str], config: GenerationConfig
    ) -> list[str]:
        if self.fail_after is not None and len(self.calls) + len(texts) > self.fail_after:
            raise FakeBackendError(f"fake outage after {len(self.calls)} prompts")
        self.configs.append(config)
        self.calls.extend(texts)
        return [fn(t) for t in texts]

    def complete(self, prompts: Sequence[str], config: GenerationConfig) -> list[str]:
        return self._serve(list(prompts), self.fn, config)

    def chat(
        self, conversations: Sequence[Sequence[Message]], config: GenerationConfig
    ) -> list[str]:
        return self._serve([conv[-1]["content"] for conv in conversations], self.chat_fn, config)

    def close(self) -> None:
        self.closed = True


# --- ready-made behaviours for the ICL-vs-IF benchmark ----------------------------------------
# Prompts end with "<in_prefix><query>\n<out_prefix>" (no trailing space), so the query is the
# second-to-last line with its "<prefix>: " removed.


def last_query(prompt: str) -> str:
    """The final query of an ICL-vs-IF prompt (the line before the trailing output prefix)."""
    lines = prompt.split("\n")
    line = lines[-2] if len(lines) >= 2 else lines[-1]
    _, sep, rest = line.partition(": ")
    return rest if sep else line


def upper_query(prompt: str) -> str:
    """A perfect capitaliser: ``" " + QUERY``."""
    return " " + last_query(prompt).upper()


def lower_query(prompt: str) -> str:
    """Lower-cases the query: matches no capslock/repeat answer that starts with a letter."""
    return " " + last_query(prompt).lower()


def repeat_query(prompt: str) -> str:
    """A perfect repeater: ``" " + query``."""
    return " " + last_query(prompt)


_EN_MATH = re.compile(r"^What is (\d+) (plus|minus|times) (\d+)\?$")
_OPS: dict[str, Callable[[int, int], int]] = {
    "plus": lambda a, b: a + b,
    "minus": lambda a, b: a - b,
    "times": lambda a, b: a * b,
}


def english_instruction_follower(prompt: str) -> str:
    """A caricature of an English-skewed fine-tune.

    On English prompts (those starting with an English instruction) it answers the math
    question and otherwise lower-cases the query; on any other language it capitalises the
    query like a pattern-following base model.
    """
    if not prompt.startswith(("Repeat the input.", "Capitalize every character.")):
        return upper_query(prompt)
    query = last_query(prompt)
    m = _EN_MATH.match(query)
    if m:
        return " " + str(_OPS[m.group(2)](int(m.group(1)), int(m.group(3))))
    return " " + query.lower()
