"""Progress of long loops: a live bar on a terminal, a few plain lines in a log.

tqdm redraws its bar up to ten times a second; when stderr is a file (``cmd > log 2>&1``)
every redraw stays in it, carriage returns and all (~550 kB for one default ``synthetic
reproduce``). So :class:`Progress` draws a tqdm bar only when its stream is a terminal (or a
notebook), and otherwise writes one line when ``INTERVAL_S`` seconds have passed *or* the count
has moved ``STEP_FRACTION`` of the total since its last line, plus a final line when it closes::

    pretrain: 2000/10000 steps (20%), 25.3 step/s, loss=2.8559, lr=2.90e-03, elapsed 1m19s, ETA 5m16s

Every progress display of forgetlab (synthetic training, the LLM generation loop, fine-tuning)
goes through this module.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

INTERVAL_S = 30.0  # a log line at least this long after the previous one...
STEP_FRACTION = 0.05  # ...or once the count has advanced this share of the total


def is_live(stream: TextIO) -> bool:
    """Whether ``stream`` redraws in place: a terminal, or a notebook's output."""
    if "ipykernel" in sys.modules:
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def duration(seconds: float) -> str:
    """``45s``, ``5m16s``, ``2h03m``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def _rate(per_s: float, unit: str) -> str:
    """``25.3 step/s``, ``1250 step/s``; below one per second ``4.2 s/prompt``."""
    if per_s < 1:
        return f"{_number(1 / per_s)} s/{unit}"
    return f"{_number(per_s)} {unit}/s"


def _number(x: float) -> str:
    return f"{x:.0f}" if x >= 100 else f"{x:.3g}"


class Progress:
    """A count towards ``total`` (``None``: unknown), shown as a bar or as plain lines.

    ``live=None`` decides from ``stream`` (default stderr); ``enabled=False`` shows nothing.
    ``clock`` is injectable so the line rule can be tested without waiting. ``leave`` applies
    to the bar only (a log always gets its final line).
    """

    def __init__(
        self,
        total: int | None,
        *,
        desc: str,
        unit: str = "step",
        initial: int = 0,
        enabled: bool = True,
        stream: TextIO | None = None,
        live: bool | None = None,
        leave: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.n = initial
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.postfix: dict[str, Any] = {}
        self._clock = clock
        self._start = self._last_at = clock()
        self._initial = self._last_n = initial
        self._lines = 0
        self._closed = False
        self._bar: Any = None
        if enabled and (is_live(self.stream) if live is None else live):
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=total, initial=initial, desc=desc, unit=unit, leave=leave,
                dynamic_ncols=True, file=self.stream,
            )  # fmt: skip

    # -- what callers do ------------------------------------------------------------------
    def update(self, n: int = 1) -> None:
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.enabled and self._due(self._clock()):
            self._write(final=False)

    def set_postfix(self, **values: Any) -> None:
        """Values shown after the rate (``loss=...``), as tqdm's ``set_postfix``."""
        self.postfix = dict(values)
        if self._bar is not None:
            self._bar.set_postfix(values)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        elif self.enabled and (self._lines == 0 or self.n != self._last_n):
            self._write(final=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the log lines --------------------------------------------------------------------
    def _due(self, now: float) -> bool:
        if self.n == self._last_n:
            return False
        if now - self._last_at >= INTERVAL_S:
            return True
        return bool(self.total) and self.n - self._last_n >= STEP_FRACTION * (self.total or 0)

    def line(self, *, final: bool = False) -> str:
        """The line describing the count now (``final``: no ETA; an unfinished count is
        marked ``stopped``)."""
        now = self._clock()
        elapsed = now - self._start
        parts = [
            f"{self.n}/{self.total} {self.unit}s ({100 * self.n / self.total:.0f}%)"
            if self.total
            else f"{self.n} {self.unit}s"
        ]
        done = self.n - self._initial
        rate = done / elapsed if elapsed > 0 and done > 0 else None
        if rate is not None:
            parts.append(_rate(rate, self.unit))
        parts += [f"{k}={v}" for k, v in self.postfix.items()]
        parts.append(f"elapsed {duration(elapsed)}")
        if self.total and self.n < self.total:
            if final:
                parts.append("stopped")
            elif rate is not None:
                parts.append(f"ETA {duration((self.total - self.n) / rate)}")
        return f"{self.desc}: " + ", ".join(parts)

    def _write(self, *, final: bool) -> None:
        self.stream.write(self.line(final=final) + "\n")
        self.stream.flush()
        self._lines += 1
        self._last_n, self._last_at = self.n, self._clock()
