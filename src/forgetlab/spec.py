"""The one spec grammar behind every ``--model``, ``--transforms``, ``--judge`` and suite string.

A spec is ``KIND[:ARG][@SCOPE]``:

- ``KIND`` is a registry name (``hf``, ``rot13``, ``llm``, ``icl-vs-if``);
- ``ARG`` is everything after the first ``:`` and is kept verbatim, so it may hold further
  colons and slashes (``hf:org/model``, ``hf:./dir``, ``llm:openai-completions:m``);
- ``@SCOPE`` exists only in grammars that declare scopes (transforms: ``rot13@payload``);
  elsewhere ``@`` is ordinary text of the argument.

A :class:`Grammar` says which kinds exist, which take an argument (none, optional,
required, a positive integer) and what a text whose prefix is no known kind means
(``fallback``: a model spec that is a bare path is an ``hf`` model; a kind that needs an
argument counts as a kind only when ``:`` follows it). Every parse error is one line.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Literal

from forgetlab.errors import ForgetlabError
from forgetlab.registry import unknown_name_error

ArgRule = Literal["none", "optional", "required", "int"]


@dataclass(frozen=True)
class Spec:
    """A parsed spec: ``kind``, the verbatim ``arg`` ("" if none) and the ``scope`` or None."""

    kind: str
    arg: str = ""
    scope: str | None = None

    @property
    def name(self) -> str:
        """``KIND[:ARG]``: the spec without its scope (what a registry factory is built from)."""
        return f"{self.kind}:{self.arg}" if self.arg else self.kind

    def __str__(self) -> str:
        return self.name + (f"@{self.scope}" if self.scope else "")


@dataclass(frozen=True)
class Grammar:
    """The rules of one kind of spec.

    ``names`` returns the known kinds at parse time (a registry's ``names``), so entries
    registered later are seen. ``args`` overrides ``default_arg`` per kind. ``fallback``
    (if set) is the kind of a text whose prefix is no known kind, with the whole text as
    its argument; otherwise such a text is an unknown-name error. ``hint`` ends the
    missing-argument error (``expected packaged:NAME, ...``).
    """

    what: str
    names: Callable[[], Collection[str]]
    scopes: tuple[str, ...] = ()
    default_arg: ArgRule = "optional"
    args: Mapping[str, ArgRule] = field(default_factory=dict)
    fallback: str | None = None
    arg_label: str = "argument"
    hint: str = ""


def parse_spec(text: str, grammar: Grammar) -> Spec:
    """Split ``text`` into a :class:`Spec` by ``grammar``; bad input is a one-line error."""
    raw = text.strip()
    body, scope = raw, None
    if grammar.scopes:
        body, at, tail = raw.partition("@")
        if at:
            if tail not in grammar.scopes:
                choices = " or ".join(grammar.scopes)
                raise ForgetlabError(f"{grammar.what} {raw!r}: scope after '@' must be {choices}")
            scope = tail
    kind, colon, arg = body.partition(":")
    known = grammar.names()
    rule = grammar.args.get(kind, grammar.default_arg)
    # With a fallback, a kind that needs an argument is only a kind when followed by ':'
    # (a directory named "hf" is a path).
    if kind not in known or (grammar.fallback is not None and rule == "required" and not colon):
        if grammar.fallback is not None:
            return Spec(grammar.fallback, raw)
        raise unknown_name_error(grammar.what, kind, known)
    if rule == "none" and arg:
        raise ForgetlabError(f"{grammar.what} {kind!r} takes no argument (got {body})")
    if rule == "required" and not arg:
        hint = f"; {grammar.hint}" if grammar.hint else ""
        raise ForgetlabError(f"{grammar.what} spec {raw!r} names no {grammar.arg_label}{hint}")
    if rule == "int" and arg and not (arg.isascii() and arg.isdigit() and int(arg) >= 1):
        raise ForgetlabError(f"{grammar.what} {raw!r}: N must be a positive integer")
    return Spec(kind, arg, scope)


def parse_spec_list(texts: Collection[str] | str, grammar: Grammar) -> list[Spec]:
    """Specs from repeated and/or comma-separated options (``["a:1,b", "c"]``); blanks skipped."""
    items = [texts] if isinstance(texts, str) else list(texts)
    return [
        parse_spec(part, grammar)
        for item in items
        for part in (p.strip() for p in item.split(","))
        if part
    ]
