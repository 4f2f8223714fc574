"""Conjugate transforms for text: the interface and the registry.

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

Scope = Literal["payload", "full"]


class NotInvertible(ForgetlabError):
    """The transform has no inverse (e.g. a translation without a back-translator)."""


class Transform(ABC):
    """An (ideally invertible) text transform."""

    name: str = "transform"
    bijective: bool = False
    scope: Scope = "full"

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


_REGISTRY: dict[str, Callable[[str], Transform]] = {}


def register(prefix: str) -> Callable[[Callable[[str], Transform]], Callable[[str], Transform]]:
    """Register a factory for names ``prefix`` or ``prefix:arg`` (the factory gets ``arg``)."""

    def deco(factory: Callable[[str], Transform]) -> Callable[[str], Transform]:
        _REGISTRY[prefix] = factory
        return factory

    return deco


def get_transform(name: str) -> Transform:
    """Build a transform from its registry name, e.g. ``"rot13"``, ``"apertium:eng-spa"``."""
    prefix, _, arg = name.partition(":")
    if prefix not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise ForgetlabError(f"unknown transform {name!r} (known: {known})")
    return _REGISTRY[prefix](arg)


def available_transforms() -> list[str]:
    return sorted(_REGISTRY)
