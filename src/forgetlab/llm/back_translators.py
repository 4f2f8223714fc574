"""Back-translation: mapping model outputs from a benchmark language into English.

``--back-translator`` is ``none``, ``apertium`` or any model spec: ``apertium`` maps Spanish
outputs back with the inverse of ``apertium:eng-spa``; any other text is a backend spec
(``hf:...``, ``openai:...``, a model directory) whose chat model is prompted to translate
into English. The refusal benchmark (``benchmarks/harmful``) uses these to judge non-English
replies in English.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from forgetlab.llm.backends.base import Backend, GenerationConfig
from forgetlab.llm.transforms.base import Transform
from forgetlab.spec import Grammar, Spec, parse_spec

BACK_TRANSLATOR_SPEC = Grammar(
    "back-translator", lambda: ("none", "apertium"), default_arg="none", fallback="model"
)


def parse_back_translator(spec: str | None) -> Spec | None:
    """``None`` for no back-translation, ``Spec("apertium")``, or ``Spec("model", MODEL_SPEC)``."""
    if spec is None or not spec.strip():
        return None
    parsed = parse_spec(spec, BACK_TRANSLATOR_SPEC)
    return None if parsed.kind == "none" else parsed


def apply_batched(
    transform: Transform, batch_name: str, one_name: str, texts: list[str]
) -> list[str]:
    """Use the transform's batched method when it has one (apertium: one subprocess, not N)."""
    batched = getattr(transform, batch_name, None)
    if batched is not None:
        out: list[str] = batched(texts)
        return out
    one = getattr(transform, one_name)
    return [one(t) for t in texts]


class BackTranslator(ABC):
    """Translates model outputs from a benchmark language into English."""

    @abstractmethod
    def supports(self, language: str) -> bool: ...

    @abstractmethod
    def translate(self, texts: Sequence[str], language: str) -> list[str]: ...

    @abstractmethod
    def identity(self) -> dict[str, Any]: ...


class LLMBackTranslator(BackTranslator):
    """Any chat backend prompted to translate into English (greedy)."""

    PROMPT = (
        "Translate the following {name} text into English. Reply with the English translation "
        "only, without comments.\n\n{text}"
    )

    def __init__(
        self, backend: Backend, *, spec: str = "", max_new_tokens: int = 512, batch_size: int = 8
    ) -> None:
        self.backend = backend
        self.spec = spec
        self.config = GenerationConfig(max_new_tokens=max_new_tokens, temperature=0.0)
        self.batch_size = batch_size

    def supports(self, language: str) -> bool:
        return language != "en"

    def translate(self, texts: Sequence[str], language: str) -> list[str]:
        name = _language_name(language)
        out: list[str] = []
        for start in range(0, len(texts), self.batch_size):
            chunk = texts[start : start + self.batch_size]
            convs = [
                [{"role": "user", "content": self.PROMPT.format(name=name, text=t)}] for t in chunk
            ]
            got = self.backend.chat(convs, self.config)
            if len(got) != len(chunk):
                raise RuntimeError(
                    f"back-translator returned {len(got)} outputs for {len(chunk)} inputs"
                )
            out.extend(got)
        return out

    def identity(self) -> dict[str, Any]:
        return {
            "name": f"llm:{self.spec}" if self.spec else "llm",
            "model": self.backend.identity.as_dict(),
            "generation": self.config.as_dict(),
            "prompt": self.PROMPT,
        }


class TransformBackTranslator(BackTranslator):
    """A registry transform's inverse used as a back-translator for the languages it covers
    (``apertium``: the inverse of ``apertium:eng-spa`` translates Spanish to English)."""

    def __init__(self, transform: Transform, languages: Sequence[str], name: str) -> None:
        self.transform = transform
        self.languages = set(languages)
        self.name = name

    def supports(self, language: str) -> bool:
        return language in self.languages

    def translate(self, texts: Sequence[str], language: str) -> list[str]:
        return apply_batched(self.transform, "inverse_batch", "inverse", list(texts))

    def identity(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "transform": self.transform.describe(),
            "languages": sorted(self.languages),
        }


def build_back_translator(spec: str | None, **opts: Any) -> BackTranslator | None:
    """``None``/``none``, ``apertium`` (es only, needs apertium-eng-spa) or any backend spec."""
    parsed = parse_back_translator(spec)
    if parsed is None:
        return None
    if parsed.kind == "apertium":
        from forgetlab.llm.transforms.base import get_transform

        return TransformBackTranslator(
            get_transform("apertium:eng-spa"), ["es"], "apertium:spa-eng"
        )
    spec = parsed.arg
    from forgetlab.llm.backends import load_backend

    return LLMBackTranslator(load_backend(spec), spec=spec, **opts)


def _language_name(code: str) -> str:
    from forgetlab.llm.benchmarks.harmful.advbench import LANGUAGE_NAMES as H
    from forgetlab.llm.benchmarks.harmful.multijail import LANGUAGE_NAMES as M

    return {**M, **H, "es": "Spanish"}.get(code, code)
