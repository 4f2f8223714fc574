"""Helpers shared by transform factories."""

from __future__ import annotations

from forgetlab.errors import ForgetlabError


def no_arg(name: str, arg: str) -> None:
    """Reject ``name:arg`` for transforms that take no argument."""
    if arg:
        raise ForgetlabError(f"transform {name!r} takes no argument (got {name}:{arg})")
