"""The paper's own translations (``pretranslated:fr|es|nl|hu|ls|pl``) as a lookup transform.

The paper translated a closed set of text once (Google Translate, an online leetspeak and a
Pig Latin converter); this transform replays exactly that. ``forward`` knows the 500 pool
sentences (line-aligned files), the scaffold strings (docs/icl-vs-if.md#scaffolds-per-language:
instructions, ``Input`` /
``Output`` labels, operator words, the question word), rendered math questions
(``"What is 19 plus 4?"`` -> ``"Combien font 19 plus 4?"``) and bare integers; any other
text raises a one-line error (use ``apertium:eng-spa`` for open text). ``inverse`` is the
reverse lookup over the same table, :class:`NotInvertible` outside it. Multi-line text is
looked up line by line.
"""

from __future__ import annotations

import re
from functools import cache

from forgetlab.errors import ForgetlabError
from forgetlab.llm.transforms.base import NotInvertible, Transform

PRETRANSLATED = ("fr", "es", "nl", "hu", "ls", "pl")
_INT = re.compile(r"-?\d+")


def _math_regex(template: str, ops: tuple[str, str, str]) -> re.Pattern[str]:
    pattern = re.escape(template)
    for key, group in (("a", r"(?P<a>\d+)"), ("b", r"(?P<b>\d+)")):
        pattern = pattern.replace(re.escape("{" + key + "}"), group)
    op_alt = "|".join(re.escape(o) for o in ops)
    pattern = pattern.replace(re.escape("{op}"), f"(?P<op>{op_alt})")
    return re.compile(pattern)


@cache
def _tables(language: str) -> tuple[dict[str, str], dict[str, str]]:
    from forgetlab.llm.benchmarks.icl_vs_if import SCAFFOLDS, load_pool

    en, tr = SCAFFOLDS["en"], SCAFFOLDS[language]
    pairs = list(zip(load_pool("en"), load_pool(language), strict=True))
    pairs += [(en.instructions[k], tr.instructions[k]) for k in en.instructions]
    pairs += [(en.in_prefix.removesuffix(": "), tr.in_prefix.removesuffix(": "))]
    pairs += [(en.out_prefix.removesuffix(": "), tr.out_prefix.removesuffix(": "))]
    pairs += [*zip(en.ops, tr.ops, strict=True), (en.icl_ans, tr.icl_ans)]
    fwd: dict[str, str] = {}
    inv: dict[str, str] = {}
    for src, dst in pairs:
        fwd.setdefault(src, dst)
        inv.setdefault(dst, src)
    return fwd, inv


class PretranslatedTransform(Transform):
    bijective = False
    scope = "full"

    def __init__(self, language: str) -> None:
        self.language = language
        self.paper_language = language
        self.name = f"pretranslated:{language}"

    def _map(self, text: str, forward: bool) -> str | None:
        from forgetlab.llm.benchmarks.icl_vs_if import SCAFFOLDS

        fwd, inv = _tables(self.language)
        table = fwd if forward else inv
        if text in table:
            return table[text]
        if not text.strip() or _INT.fullmatch(text.strip()):
            return text
        src, dst = SCAFFOLDS["en"], SCAFFOLDS[self.language]
        if not forward:
            src, dst = dst, src
        m = _math_regex(src.math_template, src.ops).fullmatch(text)
        if m:
            return dst.math_question(int(m["a"]), src.ops.index(m["op"]), int(m["b"]))
        return None

    def _lines(self, text: str, forward: bool) -> str:
        whole = self._map(text, forward)
        if whole is not None:
            return whole
        out = []
        for line in text.split("\n") if "\n" in text else [text]:
            mapped = self._map(line, forward)
            if mapped is None:
                if forward:
                    raise ForgetlabError(
                        f"{self.name} only knows the paper's pool sentences, scaffold and math "
                        f"questions, not {line[:40]!r}; use apertium:eng-spa for open text"
                    )
                raise NotInvertible(f"{self.name}: {line[:40]!r} is not in the paper's table")
            out.append(mapped)
        return "\n".join(out)

    def forward(self, text: str) -> str:
        return self._lines(text, True)

    def inverse(self, text: str) -> str:
        return self._lines(text, False)


def make_pretranslated(arg: str) -> Transform:
    if arg not in PRETRANSLATED:
        raise ForgetlabError(
            f"unknown pretranslated language {arg!r} (known: {', '.join(PRETRANSLATED)}; "
            "e.g. pretranslated:fr)"
        )
    return PretranslatedTransform(arg)
