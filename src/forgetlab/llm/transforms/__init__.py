"""Conjugate transforms, built by name from one lazy registry.

``get_transform("rot13")``, ``get_transform("apertium:eng-spa")``,
``get_transform("pretranslated:fr")``; ``parse_transform("rot13@payload")`` reads a
``--transforms`` spec. Each transform's module is imported the first time its name is
used (the table is ``TRANSFORMS`` in ``base.py``); see docs/transforms.md for round trips.
"""

from forgetlab.llm.transforms.base import (
    SCOPES,
    TRANSFORM_SPEC,
    TRANSFORMS,
    NotInvertible,
    Scope,
    Transform,
    available_transforms,
    get_transform,
    parse_transform,
    register,
)

__all__ = [
    "SCOPES",
    "TRANSFORMS",
    "TRANSFORM_SPEC",
    "NotInvertible",
    "Scope",
    "Transform",
    "available_transforms",
    "get_transform",
    "parse_transform",
    "register",
]
