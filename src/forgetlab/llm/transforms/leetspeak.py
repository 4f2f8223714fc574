"""Leetspeak: the paper's rules (default) and a case-preserving 6-letter variant.

``leetspeak`` follows the paper's ``ls`` files: a b e i o s t become 4 8 3 1 0 5 7 in
either case, and every other letter gets a random case. The case draw is seeded from the
seed *and the text*, so a text always gets the same spelling (prompts are reproducible and
cacheable, whatever order they are built in). The inverse maps the seven digits back and
restores sentence case (lower case, capital after ``. ! ?`` and at the start, ``I``), since
the original case is not recoverable; texts that already contained 0 1 3 4 5 7 8, and
proper nouns, do not round-trip.

``leetspeak-lower6`` is the earlier variant: lower-case a e i o s t only (a->4 e->3 i->1
o->0 s->5 t->7), everything else untouched, so the inverse restores case exactly and fails
only on texts that already had those digits.
"""

from __future__ import annotations

import hashlib
import random
import re

from forgetlab.errors import ForgetlabError
from forgetlab.llm.transforms._util import no_arg
from forgetlab.llm.transforms.base import Transform

PAPER_MAP = {"a": "4", "b": "8", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}
LOWER6_MAP = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}
_PAPER_FWD = str.maketrans({**PAPER_MAP, **{k.upper(): v for k, v in PAPER_MAP.items()}})
_PAPER_INV = str.maketrans({v: k for k, v in PAPER_MAP.items()})
_LOWER6_FWD = str.maketrans(LOWER6_MAP)
_LOWER6_INV = str.maketrans({v: k for k, v in LOWER6_MAP.items()})
_SENTENCE_START = re.compile(r"(^|[.!?]\s+|\n\s*)([^\W\d_])")
_LONE_I = re.compile(r"\bi\b")


class Leetspeak(Transform):
    """The paper's leetspeak: seven letters to digits, random case for the rest."""

    name = "leetspeak"
    bijective = False
    scope = "full"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def _rng(self, text: str) -> random.Random:
        digest = hashlib.sha256(f"{self.seed}\0{text}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def forward(self, text: str) -> str:
        rng = self._rng(text)
        mapped = text.translate(_PAPER_FWD)
        return "".join(
            (c.upper() if rng.random() < 0.5 else c.lower()) if c.isalpha() else c for c in mapped
        )

    def inverse(self, text: str) -> str:
        lower = text.translate(_PAPER_INV).lower()
        lower = _SENTENCE_START.sub(lambda m: m.group(1) + m.group(2).upper(), lower)
        return _LONE_I.sub("I", lower)

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "rules": "paper", "seed": self.seed}


class LeetspeakLower6(Transform):
    """Lower-case a e i o s t to digits; case preserved, so the inverse is exact."""

    name = "leetspeak-lower6"
    bijective = False
    scope = "full"

    def forward(self, text: str) -> str:
        return text.translate(_LOWER6_FWD)

    def inverse(self, text: str) -> str:
        return text.translate(_LOWER6_INV)


def make_leetspeak(arg: str) -> Transform:
    """``leetspeak`` (seed 0) or ``leetspeak:SEED`` for another case draw."""
    if not arg:
        return Leetspeak()
    if not arg.isdigit():
        raise ForgetlabError(f"leetspeak takes a non-negative integer seed (got leetspeak:{arg})")
    return Leetspeak(int(arg))


def make_leetspeak_lower6(arg: str) -> Transform:
    no_arg("leetspeak-lower6", arg)
    return LeetspeakLower6()
