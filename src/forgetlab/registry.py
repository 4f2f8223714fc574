"""One registry mechanism for everything a user picks by name (backends, transforms, judges).

A :class:`Registry` maps names to objects (usually factories). An entry is either the
object itself, added with the :meth:`Registry.register` decorator, or a lazy
``"package.module:attr"`` reference that is imported the first time the name is used, so
that listing names, parsing a spec or asking for ``rot13`` never imports torch, an HTTP
client or another transform's word lists. An unknown name is a one-line
:class:`~forgetlab.errors.ForgetlabError` that lists the known names and suggests the
closest one.
"""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Generic, TypeVar

from forgetlab.errors import ForgetlabError

T = TypeVar("T")

_REFERENCE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


def unknown_name_error(what: str, name: str, known: Iterable[str]) -> ForgetlabError:
    """``unknown transform 'rot26' (known: a, b, ...); did you mean 'rot13'?`` as one error."""
    names = sorted(known)
    message = f"unknown {what} {name!r} (known: {', '.join(names)})"
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        message += f"; did you mean {close[0]!r}?"
    return ForgetlabError(message)


def resolve_reference(reference: str) -> object:
    """The object a lazy ``"module:attr"`` reference names (importing its module)."""
    if not _REFERENCE.fullmatch(reference):
        raise ValueError(f"lazy entry {reference!r} is not module:attr")
    module, _, attr = reference.partition(":")
    obj: object = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """Names -> objects of one kind, with lazy ``"module:attr"`` entries.

    ``what`` is the word used in error messages (``"transform"``, ``"judge"``). A string
    target is always read as a lazy reference, so a registry cannot hold plain strings.
    """

    def __init__(self, what: str, entries: Mapping[str, str | T] | None = None) -> None:
        self.what = what
        self._lazy: dict[str, str] = {}
        self._loaded: dict[str, T] = {}
        for name, target in (entries or {}).items():
            self.add(name, target)

    def add(self, name: str, target: str | T) -> None:
        """Register ``target`` (an object or a ``"module:attr"`` reference) under ``name``.

        Adding a different entry under a taken name is a programming error (ValueError);
        adding the same reference again, or re-running a module's decorator on reload, is not.
        """
        if isinstance(target, str):
            if not _REFERENCE.fullmatch(target):
                raise ValueError(f"{self.what} {name!r}: lazy entry {target!r} is not module:attr")
            if name in self._lazy and self._lazy[name] == target:
                return
            if name in self:
                raise ValueError(f"{self.what} {name!r} is registered twice")
            self._lazy[name] = target
            return
        if name in self._lazy and _qualname(target) == self._lazy[name]:
            del self._lazy[name]  # the lazy entry's module registers its own target
        elif name in self._lazy or (
            name in self._loaded and _qualname(self._loaded[name]) != _qualname(target)
        ):
            raise ValueError(f"{self.what} {name!r} is registered twice")
        self._loaded[name] = target

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@TRANSFORMS.register("rot13")`` above a factory."""

        def deco(target: T) -> T:
            self.add(name, target)
            return target

        return deco

    def get(self, name: str) -> T:
        """The object registered as ``name``, importing its module on first use."""
        if name in self._loaded:
            return self._loaded[name]
        if name not in self._lazy:
            raise unknown_name_error(self.what, name, self.names())
        obj = resolve_reference(self._lazy[name])
        self._lazy.pop(name, None)
        self._loaded[name] = obj  # type: ignore[assignment]
        return self._loaded[name]

    def is_loaded(self, name: str) -> bool:
        """Whether ``name`` has been resolved (its module imported)."""
        return name in self._loaded

    def reference(self, name: str) -> str | None:
        """The ``"module:attr"`` of a lazy entry not yet resolved, else None."""
        return self._lazy.get(name)

    def names(self) -> list[str]:
        return sorted({*self._lazy, *self._loaded})

    def __contains__(self, name: object) -> bool:
        return name in self._lazy or name in self._loaded

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._lazy) + len(self._loaded)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, {self.names()})"


def _qualname(obj: object) -> str:
    return f"{getattr(obj, '__module__', '')}:{getattr(obj, '__qualname__', '')}"
