"""Small inline-SVG charts (lines and grouped bars with interval whiskers).

Drawn as text so the report stays one offline file that prints sharply; no plotting
library is involved, and every plotted value is the one passed in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = (
    "#4C72B0",
    "#DD8452",
    "#55A868",
    "#C44E52",
    "#8172B3",
    "#937860",
    "#DA8BC3",
    "#8C8C8C",
    "#CCB974",
    "#64B5CD",
)

W, H = 560, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 28, 58


@dataclass(frozen=True)
class Series:
    """One line: its label, points and dash pattern ("" for solid)."""

    label: str
    xs: Sequence[float]
    ys: Sequence[float | None]
    dash: str = ""
    color: str | None = None
    lo: Sequence[float | None] | None = None  # optional interval whiskers per point
    hi: Sequence[float | None] | None = None


@dataclass(frozen=True)
class BarGroup:
    """One bar per category for one series; ``intervals`` draws whiskers (lo, hi)."""

    label: str
    values: Sequence[float | None]
    intervals: Sequence[tuple[float, float] | None] | None = None


def _finite(v: float | None) -> bool:
    return v is not None and math.isfinite(v)


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    out, v = [], start
    while v <= hi + 1e-12:
        out.append(round(v, 10))
        v += step
    return out


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def _frame(title: str, xlabel: str, ylabel: str, body: list[str], legend: list[str]) -> str:
    parts = [
        f'<svg class="chart" viewBox="0 0 {W} {H + 18 * ((len(legend) + 2) // 3)}" '
        f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="{W / 2}" y="16" text-anchor="middle" class="ct">{escape(title)}</text>',
        f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 22}" text-anchor="middle" class="al">{escape(xlabel)}</text>',
        f'<text transform="translate(14 {(TOP + H - BOTTOM) / 2}) rotate(-90)" text-anchor="middle" class="al">{escape(ylabel)}</text>',
        *body,
    ]
    for i, item in enumerate(legend):
        x = LEFT + (i % 3) * 170
        y = H - 4 + 18 * (i // 3)
        parts.append(f'<g transform="translate({x} {y})">{item}</g>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    log_y: bool = False,
    y_range: tuple[float, float] | None = None,
) -> str:
    """Lines with markers on shared axes; non-finite points are gaps."""

    def usable(y: float | None) -> bool:
        return y is not None and math.isfinite(y) and (not log_y or y > 0)

    def tr(y: float) -> float:
        return math.log10(y) if log_y else y

    pts = [
        (float(x), tr(float(y)))
        for s in series
        for x, y in zip(s.xs, s.ys, strict=False)
        if y is not None and usable(y)
    ]
    if not pts:
        return f'<p class="muted">{escape(title)}: no data</p>'
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    if not log_y:  # whiskers stay inside the plot
        ys += [
            float(v)
            for s in series
            for v in (*(s.lo or ()), *(s.hi or ()))
            if v is not None and math.isfinite(v)
        ]
    x0, x1 = min(xs), max(xs)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    y0, y1 = y_range if y_range is not None else (min(ys), max(ys))
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    pad = 0.05 * (y1 - y0) if y_range is None else 0.0
    y0, y1 = y0 - pad, y1 + pad

    def px(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * (W - LEFT - RIGHT)

    def py(y: float) -> float:
        return H - BOTTOM - (y - y0) / (y1 - y0) * (H - BOTTOM - TOP)

    body = [
        f'<rect x="{LEFT}" y="{TOP}" width="{W - LEFT - RIGHT}" height="{H - BOTTOM - TOP}" class="pl"/>'
    ]
    for t in _ticks(y0, y1):
        label = _fmt(10**t) if log_y else _fmt(t)
        body.append(
            f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{py(t):.1f}" y2="{py(t):.1f}" class="gr"/>'
            f'<text x="{LEFT - 4}" y="{py(t) + 4:.1f}" text-anchor="end" class="tk">{label}</text>'
        )
    for t in _ticks(x0, x1, 6):
        body.append(
            f'<text x="{px(t):.1f}" y="{H - BOTTOM + 14}" text-anchor="middle" class="tk">{_fmt(t)}</text>'
        )
    legend = []
    for i, s in enumerate(series):
        color = s.color or PALETTE[i % len(PALETTE)]
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        seg: list[str] = []
        paths: list[str] = []
        for x, y in zip(s.xs, s.ys, strict=False):
            if y is not None and usable(y):
                seg.append(f"{px(float(x)):.1f},{py(tr(float(y))):.1f}")
            elif seg:
                paths.append(" ".join(seg))
                seg = []
        if seg:
            paths.append(" ".join(seg))
        if s.lo is not None and s.hi is not None and not log_y:
            for x, lo, hi in zip(s.xs, s.lo, s.hi, strict=False):
                if lo is not None and hi is not None and math.isfinite(lo) and math.isfinite(hi):
                    body.append(
                        f'<path d="M{px(float(x)):.1f},{py(lo):.1f}V{py(hi):.1f}" '
                        f'stroke="{color}" stroke-width="1" fill="none"/>'
                    )
        for p in paths:
            body.append(
                f'<polyline points="{p}" fill="none" stroke="{color}" stroke-width="1.8"{dash}/>'
            )
            if len(s.xs) <= 60:
                for xy in p.split():
                    cx, cy = xy.split(",")
                    body.append(f'<circle cx="{cx}" cy="{cy}" r="2.2" fill="{color}"/>')
        legend.append(
            f'<line x1="0" x2="18" y1="-4" y2="-4" stroke="{color}" stroke-width="2"{dash}/>'
            f'<text x="22" y="0" class="lg">{escape(s.label)}</text>'
        )
    return _frame(title, xlabel, ylabel, body, legend)


def bar_chart(
    categories: Sequence[str],
    groups: Sequence[BarGroup],
    *,
    title: str,
    ylabel: str,
    y_max: float = 1.0,
    scale: float = 100.0,
) -> str:
    """Grouped bars (values in [0, y_max], shown ×``scale``) with optional whiskers."""
    n_cat, n_grp = max(len(categories), 1), max(len(groups), 1)
    slot = (W - LEFT - RIGHT) / n_cat
    bw = 0.8 * slot / n_grp

    def py(y: float) -> float:
        return H - BOTTOM - (y / y_max) * (H - BOTTOM - TOP)

    body = [
        f'<rect x="{LEFT}" y="{TOP}" width="{W - LEFT - RIGHT}" height="{H - BOTTOM - TOP}" class="pl"/>'
    ]
    for t in _ticks(0, y_max):
        body.append(
            f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{py(t):.1f}" y2="{py(t):.1f}" class="gr"/>'
            f'<text x="{LEFT - 4}" y="{py(t) + 4:.1f}" text-anchor="end" class="tk">{_fmt(t * scale)}</text>'
        )
    tilt = max((len(c) for c in categories), default=0) * 5.5 > slot
    for c, name in enumerate(categories):
        cx = LEFT + (c + 0.5) * slot
        if tilt:  # long labels: slanted so neighbours do not overlap
            body.append(
                f'<text transform="translate({cx:.1f} {H - BOTTOM + 10}) rotate(-20)" '
                f'text-anchor="end" class="tk">{escape(name)}</text>'
            )
        else:
            body.append(
                f'<text x="{cx:.1f}" y="{H - BOTTOM + 14}" text-anchor="middle" class="tk">{escape(name)}</text>'
            )
    legend = []
    for g, grp in enumerate(groups):
        color = PALETTE[g % len(PALETTE)]
        for c, v in enumerate(grp.values):
            x = LEFT + c * slot + 0.1 * slot + g * bw
            if _finite(v):
                vv = max(0.0, min(float(v), y_max))  # type: ignore[arg-type]
                body.append(
                    f'<rect x="{x:.1f}" y="{py(vv):.1f}" width="{bw * 0.92:.1f}" '
                    f'height="{py(0) - py(vv):.1f}" fill="{color}"><title>{escape(grp.label)} '
                    f"{escape(categories[c])}: {v * scale:.1f}</title></rect>"  # type: ignore[operator]
                )
            iv = grp.intervals[c] if grp.intervals is not None else None
            if iv is not None and _finite(iv[0]) and _finite(iv[1]):
                mx = x + bw * 0.46
                lo, hi = py(max(iv[0], 0.0)), py(min(iv[1], y_max))
                body.append(
                    f'<path d="M{mx:.1f},{lo:.1f}V{hi:.1f}M{mx - 3:.1f},{lo:.1f}h6M{mx - 3:.1f},{hi:.1f}h6" class="wh"/>'
                )
        legend.append(
            f'<rect x="0" y="-10" width="14" height="10" fill="{color}"/>'
            f'<text x="20" y="0" class="lg">{escape(grp.label)}</text>'
        )
    return _frame(title, "", ylabel, body, legend)
