"""Rule-based machine translation with Apertium (``apertium:eng-spa``), offline and deterministic.

Calls the Debian ``apertium`` binary as a subprocess (``apertium -u <pair>``: unknown words
are passed through unmarked); its language data is GPL and is not vendored. A batch goes in
one call: every text is split into lines, the distinct non-blank lines are joined with
blank lines and the output is split back on blank lines. A blank line, unlike a single
newline, is a hard boundary: with single newlines the transfer rules read ``Input`` /
``Output`` on consecutive lines as one phrase (``Salida`` / ``de entrada``: misaligned).
Blank lines stay blank; a multi-line text is translated line by line. If the count of
translated units ever differs, the batch falls back to one call per line (aligned, ~0.6 s
each). One call costs ~0.6 s of start-up, so batching is what makes the 500-sentence pool
cheap (~1.5 s). Caveat: Apertium's tagger sees neighbouring lines, so a sentence inside a
batch occasionally gets a slightly different translation than alone (3 of 120 pool
sentences, a verb form); for a fixed batch the output is deterministic. The inverse runs the reverse pair (``spa-eng`` for ``eng-spa``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from functools import cache, lru_cache

from forgetlab.errors import ForgetlabError
from forgetlab.llm.transforms.base import NotInvertible, Transform

DEFAULT_PAIR = "eng-spa"
_PAIR = re.compile(r"[a-z]{2,3}(_[A-Za-z]+)?-[a-z]{2,3}(_[A-Za-z]+)?")
TIMEOUT_S = 600


def apertium_binary() -> str:
    exe = shutil.which("apertium")
    if exe is None:
        raise ForgetlabError(
            "apertium is not installed (Debian/Ubuntu: apt-get install apertium apertium-eng-spa)"
        )
    return exe


@cache
def installed_pairs() -> tuple[str, ...]:
    """Modes ``apertium -l`` lists (e.g. ``eng-spa``, ``spa-eng``)."""
    res = subprocess.run([apertium_binary(), "-l"], capture_output=True, text=True, check=False)
    return tuple(line.strip() for line in res.stdout.splitlines() if line.strip())


def _run(pair: str, text: str) -> str:
    res = subprocess.run(
        [apertium_binary(), "-u", pair],
        input=text,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT_S,
        check=False,
    )
    if res.returncode != 0:
        err = (res.stderr.strip().splitlines() or ["no message"])[-1]
        raise ForgetlabError(f"apertium {pair} failed: {err}")
    return res.stdout


SEPARATOR = "\n\n"
_SPACES = re.compile(r" {2,}")


def translate_batch(pair: str, texts: Sequence[str]) -> list[str]:
    """Translate many texts with one subprocess call (see module doc)."""
    if pair not in installed_pairs():
        installed = ", ".join(installed_pairs()) or "none"
        raise ForgetlabError(f"apertium pair {pair!r} is not installed (installed: {installed})")
    lines = [t.split("\n") for t in texts]
    units = list(dict.fromkeys(line for ls in lines for line in ls if line.strip()))
    done = dict(zip(units, _translate_cached(pair, tuple(units)), strict=True))
    return ["\n".join(done.get(line, line) for line in ls) for ls in lines]


def _tidy(src: str, dst: str) -> str:
    """Apertium leaves a leading or doubled blank where it drops a word (``" Fue en..."``,
    ``"pero  echaron"``): collapse runs of spaces, keep the source's outer whitespace."""
    core = _SPACES.sub(" ", dst).strip()
    lead = src[: len(src) - len(src.lstrip())]
    trail = src[len(src.rstrip()) :]
    return lead + core + trail


@lru_cache(maxsize=64)
def _translate_cached(pair: str, units: tuple[str, ...]) -> tuple[str, ...]:
    """Deterministic, so identical batches (the sentence pool) are translated once."""
    return tuple(_translate_units(pair, list(units)))


def _translate_units(pair: str, units: list[str]) -> list[str]:
    """Translate newline-free, non-blank units; blank lines between them end a sentence."""
    if not units:
        return []
    out = _run(pair, SEPARATOR.join(units)).removesuffix("\n").split(SEPARATOR)
    if len(out) == len(units):
        return [_tidy(src, dst) for src, dst in zip(units, out, strict=True)]
    if len(units) == 1:  # cannot happen with Apertium's txt format; keep the text whole
        return ["\n".join(out)]
    return [_translate_units(pair, [u])[0] for u in units]  # slow but aligned


class Apertium(Transform):
    bijective = False
    scope = "full"

    def __init__(self, pair: str) -> None:
        self.pair = pair
        src, _, dst = pair.partition("-")
        self.reverse_pair = f"{dst}-{src}"
        self.name = f"apertium:{pair}"

    def forward(self, text: str) -> str:
        return translate_batch(self.pair, [text])[0]

    def inverse(self, text: str) -> str:
        return self.inverse_batch([text])[0]

    def forward_batch(self, texts: Sequence[str]) -> list[str]:
        return translate_batch(self.pair, list(texts))

    def inverse_batch(self, texts: Sequence[str]) -> list[str]:
        if self.reverse_pair not in installed_pairs():
            raise NotInvertible(f"{self.name}: reverse pair {self.reverse_pair} is not installed")
        return translate_batch(self.reverse_pair, list(texts))


def make_apertium(arg: str) -> Transform:
    pair = arg or DEFAULT_PAIR
    if not _PAIR.fullmatch(pair):
        raise ForgetlabError(f"bad apertium pair {pair!r} (expected e.g. apertium:eng-spa)")
    return Apertium(pair)
