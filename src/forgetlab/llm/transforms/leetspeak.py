"""Leetspeak with a fixed 6-letter map: a->4 e->3 i->1 o->0 s->5 t->7 (lower case only).

Only lower-case letters are mapped so that the inverse can restore case exactly; the inverse
maps the six digits back to letters, so a text that already contained 0, 1, 3, 4, 5 or 7
does not round-trip (5 of the 500 English pool sentences: 99.0%). The paper's ``ls`` files
came from an online converter with a different, partly random map; use
``pretranslated:ls`` for those.
"""

from __future__ import annotations

from forgetlab.llm.transforms._util import no_arg
from forgetlab.llm.transforms.base import Transform, register

LEET_MAP = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}
_FWD = str.maketrans(LEET_MAP)
_INV = str.maketrans({v: k for k, v in LEET_MAP.items()})


class Leetspeak(Transform):
    name = "leetspeak"
    bijective = False
    scope = "full"

    def forward(self, text: str) -> str:
        return text.translate(_FWD)

    def inverse(self, text: str) -> str:
        return text.translate(_INV)


@register("leetspeak")
def _leetspeak(arg: str) -> Transform:
    no_arg("leetspeak", arg)
    return Leetspeak()
