"""Conjugate transforms for text: the interface, the registry and the spec grammar.

A conjugate transform ``s`` changes how a prompt *looks* while keeping the capability it
asks for; the model's answer is mapped back with ``s^{-1}``. ``scope`` says what the
transform is applied to: only the payload (sentences, queries) or the whole prompt
including its scaffold (instructions, ``Input:``/``Output:`` prefixes).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Literal

from forgetlab.errors import ForgetlabError
from forgetlab.registry import Registry
from forgetlab.spec import Grammar, Spec, parse_spec

Scope = Literal["payload", "full"]


class NotInvertible(ForgetlabError):
    """The transform has no inverse (e.g. a translation without a back-translator)."""


class Transform(ABC):
    """An (ideally invertible) text transform."""

    name: str = "transform"
    bijective: bool = False
    scope: Scope = "full"
    # Set by transforms that replay the paper's own translation into this language: a
    # benchmark then uses that language's own pool and scaffold instead of forward().
    paper_language: str | None = None

    @abstractmethod
    def forward(self, text: str) -> str:
        """Map English (or source) text into the transformed space."""

    def inverse(self, text: str) -> str:
        """Map model output back; raises :class:`NotInvertible` if there is no inverse."""
        raise NotInvertible(f"transform {self.name!r} has no inverse")

    def forward_batch(self, texts: Sequence[str]) -> list[str]:
        """``forward`` over many texts; transforms with a per-call cost (a subprocess) override."""
        return [self.forward(t) for t in texts]

    def inverse_batch(self, texts: Sequence[str]) -> list[str]:
        """``inverse`` over many texts (raises :class:`NotInvertible` like ``inverse``)."""
        return [self.inverse(t) for t in texts]

    @property
    def invertible(self) -> bool:
        return type(self).inverse is not Transform.inverse

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "bijective": self.bijective,
            "scope": self.scope,
            "invertible": self.invertible,
        }


TransformFactory = Callable[[str], Transform]

# One line per transform: its registry name and the factory that builds it from the
# argument after ``:`` ("" if none). Modules are imported only when their name is used.
TRANSFORMS: Registry[TransformFactory] = Registry(
    "transform",
    {
        "identity": "forgetlab.llm.transforms.identity:make_identity",
        "rot13": "forgetlab.llm.transforms.ciphers:make_rot13",
        "base64": "forgetlab.llm.transforms.ciphers:make_base64",
        "word-reversal": "forgetlab.llm.transforms.ciphers:make_word_reversal",
        "leetspeak": "forgetlab.llm.transforms.leetspeak:make_leetspeak",
        "leetspeak-lower6": "forgetlab.llm.transforms.leetspeak:make_leetspeak_lower6",
        "piglatin": "forgetlab.llm.transforms.piglatin:make_piglatin",
        "piglatin-classic": "forgetlab.llm.transforms.piglatin:make_piglatin_classic",
        "piglatin-lm": "forgetlab.llm.transforms.piglatin_lm:make_piglatin_lm",
        "pretranslated": "forgetlab.llm.transforms.pretranslated:make_pretranslated",
        "apertium": "forgetlab.llm.transforms.apertium:make_apertium",
    },
)

SCOPES: tuple[Scope, ...] = ("payload", "full")
# ``NAME[:ARG]``: what ``get_transform`` builds.
TRANSFORM_NAME = Grammar("transform", TRANSFORMS.names)
# ``NAME[:ARG][@payload|@full]``: what ``--transforms`` takes.
TRANSFORM_SPEC = Grammar("transform", TRANSFORMS.names, scopes=SCOPES)


def register(prefix: str) -> Callable[[TransformFactory], TransformFactory]:
    """Register a factory for names ``prefix`` or ``prefix:arg`` (the factory gets ``arg``)."""
    return TRANSFORMS.register(prefix)


def parse_transform(spec: str) -> Spec:
    """``"rot13@payload"`` -> ``Spec("rot13", "", "payload")``; ``spec.name`` is what to build."""
    return parse_spec(spec, TRANSFORM_SPEC)


def get_transform(name: str) -> Transform:
    """Build a transform from its registry name, e.g. ``"rot13"``, ``"apertium:eng-spa"``."""
    spec = parse_spec(name, TRANSFORM_NAME)
    return TRANSFORMS.get(spec.kind)(spec.arg)


def available_transforms() -> list[str]:
    return TRANSFORMS.names()
