"""Cheap exact ciphers: ROT13, base64 and per-word letter reversal (all bijective).

They change how a prompt looks while keeping its content recoverable exactly, which makes
them the cleanest conjugates: any change in behaviour is due to the surface form alone.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re

from forgetlab.llm.transforms._util import no_arg
from forgetlab.llm.transforms.base import NotInvertible, Transform


class Rot13(Transform):
    """Rotate ASCII letters by 13 (an involution; digits, accents and punctuation unchanged)."""

    name = "rot13"
    bijective = True
    scope = "full"

    def forward(self, text: str) -> str:
        return codecs.encode(text, "rot13")

    def inverse(self, text: str) -> str:
        return codecs.encode(text, "rot13")


class Base64(Transform):
    """Standard base64 of the UTF-8 bytes (no line breaks).

    The inverse ignores surrounding whitespace and restores missing ``=`` padding (models
    often drop it); anything else that is not base64 of UTF-8 raises :class:`NotInvertible`.
    """

    name = "base64"
    bijective = True
    scope = "full"

    def forward(self, text: str) -> str:
        return base64.b64encode(text.encode("utf-8")).decode("ascii")

    def inverse(self, text: str) -> str:
        s = text.strip()
        s += "=" * (-len(s) % 4)
        try:
            return base64.b64decode(s, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise NotInvertible(f"not base64 of UTF-8 text: {text[:40]!r}") from None


_WORD = re.compile(r"\S+")


class WordReversal(Transform):
    """Reverse the characters of every whitespace-separated word, keeping word order.

    ``"What is 19 plus 4?"`` -> ``"tahW si 91 sulp ?4"``. Chosen over reversing the word
    order because it keeps each word's position (so startblank still blanks the first word
    and the math question still starts with its question word) while making every word
    unfamiliar; whitespace is kept byte for byte, so it is an exact involution.
    """

    name = "word-reversal"
    bijective = True
    scope = "full"

    def forward(self, text: str) -> str:
        return _WORD.sub(lambda m: m.group()[::-1], text)

    def inverse(self, text: str) -> str:
        return self.forward(text)


def make_rot13(arg: str) -> Transform:
    no_arg("rot13", arg)
    return Rot13()


def make_base64(arg: str) -> Transform:
    no_arg("base64", arg)
    return Base64()


def make_word_reversal(arg: str) -> Transform:
    no_arg("word-reversal", arg)
    return WordReversal()
