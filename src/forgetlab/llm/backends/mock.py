"""Stand-in models for testing a pipeline end to end without a model: ``mock:`` specs.

- ``mock:echo``: the output is the request's own text (``complete``: the whole prompt;
  ``chat``: the content of the conversation's last user message);
- ``mock:const=TEXT``: every output is ``TEXT`` (may be empty);
- ``mock:file=PATH``: outputs looked up in a JSONL file of ``{"prompt": ..., "output": ...}``
  lines, by the same request text as ``echo`` returns; a request the file lacks is a
  one-line error naming it.

Every form cuts its output before the first stop string of the generation config, as the
real backends do, and ignores ``max_new_tokens`` (there are no tokens) and the temperature
(outputs are fixed). Nothing here imports torch or transformers, so a run on a mock model
starts in a fraction of a second (docs/backends.md#mock-models-for-testing-a-pipeline).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError
from forgetlab.llm.backends.base import (
    Backend,
    BackendKind,
    GenerationConfig,
    Message,
    ModelIdentity,
    cut_at_stop,
)

FORMS = "mock:echo, mock:const=TEXT or mock:file=PATH"
SHOWN_CHARS = 160  # of a missing prompt, in its error line


def request_text(conversation: Sequence[Message]) -> str:
    """What a chat request is answered from: the last user message (else the last message)."""
    users = [m for m in conversation if m.get("role") == "user"]
    last = users[-1] if users else (conversation[-1] if conversation else {})
    return str(last.get("content", ""))


class MockBackend(Backend):
    """Outputs are ``reply(text)``, where text is the prompt or the last user message."""

    def __init__(
        self,
        reply: Callable[[str], str],
        *,
        name: str,
        source: str,
        revision: str = "",
        batch_size: int = 1,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self._reply = reply
        self._identity = ModelIdentity(
            backend="mock",
            name=name,
            source=source,
            revision=revision,
            dtype="none",
            add_bos=None,
            chat_template=None,
            batch_size=batch_size,
            extra=dict(extra or {}),
        )

    @property
    def identity(self) -> ModelIdentity:
        return self._identity

    def complete(self, prompts: Sequence[str], config: GenerationConfig) -> list[str]:
        stops = tuple(s for s in config.stop if s)
        return [cut_at_stop(self._reply(p), stops) for p in prompts]

    def chat(
        self, conversations: Sequence[Sequence[Message]], config: GenerationConfig
    ) -> list[str]:
        return self.complete([request_text(c) for c in conversations], config)


def read_outputs(path: Path) -> dict[str, str]:
    """The ``prompt -> output`` table of a ``mock:file=`` JSONL; a bad file is one line."""
    where = f"mock:file={path}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ForgetlabError(f"{where}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ForgetlabError(f"{where}: cannot read it ({type(exc).__name__})") from None
    table: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise ForgetlabError(f"{where}, line {number}: not valid JSON") from None
        if not (
            isinstance(row, dict)
            and isinstance(row.get("prompt"), str)
            and isinstance(row.get("output"), str)
        ):
            raise ForgetlabError(
                f'{where}, line {number}: expected {{"prompt": "...", "output": "..."}} '
                "with string values"
            )
        prompt, output = row["prompt"], row["output"]
        if table.get(prompt, output) != output:
            raise ForgetlabError(
                f"{where}, line {number}: a second, different output for {_show(prompt)}"
            )
        table[prompt] = output
    if not table:
        raise ForgetlabError(f"{where}: no prompts in the file")
    return table


def _show(prompt: str) -> str:
    if len(prompt) <= SHOWN_CHARS:
        return f"prompt {prompt!r}"
    return f"prompt {prompt[:SHOWN_CHARS]!r}… ({len(prompt)} characters)"


def _file_backend(target: str, spec: str, batch_size: int) -> MockBackend:
    path = Path(target).expanduser()
    table = read_outputs(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()

    def reply(text: str) -> str:
        try:
            return table[text]
        except KeyError:
            raise ForgetlabError(f"{spec} has no output for {_show(text)}") from None

    return MockBackend(
        reply,
        name=f"mock:file={path.name}",
        source=str(path.resolve()),
        revision=f"sha256:{digest}",
        batch_size=batch_size,
        extra={"prompts": len(table)},
    )


def load(
    target: str,
    *,
    dtype: str | None,
    device: str | None,
    batch_size: int,
    add_bos: bool | None,
    chat_template: bool,
) -> Backend:
    """Open ``mock:TARGET``; dtype, device, BOS and chat template do not apply and are ignored."""
    form, eq, arg = target.partition("=")
    spec = f"mock:{target}"
    if form == "echo" and not eq:
        return MockBackend(lambda text: text, name="mock:echo", source=spec, batch_size=batch_size)
    if form == "const" and eq:
        return MockBackend(
            lambda _text: arg, name="mock:const", source=spec, batch_size=batch_size,
            extra={"output": arg},
        )  # fmt: skip
    if form == "file" and eq and arg:
        return _file_backend(arg, spec, batch_size)
    raise ForgetlabError(f"unknown mock model {spec!r}: expected {FORMS}")


# Not ``local``: like a server it has no dtype, device, BOS or chat template of its own, and
# it cannot score texts (``load_scorer`` refuses it with one line).
KIND = BackendKind(load, local=False)
