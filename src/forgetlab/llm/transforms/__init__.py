"""Conjugate transforms; importing this package registers all of them.

``get_transform("rot13")``, ``get_transform("apertium:eng-spa")``,
``get_transform("pretranslated:fr")``; see docs/transforms.md for round-trip rates.
"""

from forgetlab.llm.transforms import apertium, ciphers, identity, leetspeak, piglatin, pretranslated
from forgetlab.llm.transforms.base import (
    NotInvertible,
    Scope,
    Transform,
    available_transforms,
    get_transform,
    register,
)

__all__ = [
    "NotInvertible",
    "Scope",
    "Transform",
    "apertium",
    "available_transforms",
    "ciphers",
    "get_transform",
    "identity",
    "leetspeak",
    "piglatin",
    "pretranslated",
    "register",
]
