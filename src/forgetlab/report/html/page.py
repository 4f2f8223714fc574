"""HTML building blocks shared by the report sections: cells tied to their source value,
embedded data, the sample-browser frame and the document shell."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping, Sequence
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

from forgetlab import __version__


def fmt_number(value: Any, fmt: str) -> str:
    """How a source value is printed: ``pct`` (×100, 1 decimal), ``spct`` (signed), ``f3``/``f4``, ``int``."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if fmt == "pct":
        return f"{100 * float(value):.1f}"
    if fmt == "spct":
        return f"{100 * float(value):+.1f}"
    if fmt == "int":
        return str(int(value))
    if fmt.startswith("f") and fmt[1:].isdigit():
        return f"{float(value):.{int(fmt[1:])}f}"
    return str(value)


def lookup(data: Any, path: Sequence[str | int]) -> Any:
    """``data[path[0]][path[1]]...`` (``None`` where the path does not exist)."""
    node = data
    for key in path:
        if isinstance(node, dict):
            if key not in node:
                return None
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and -len(node) <= key < len(node):
            node = node[key]
        else:
            return None
    return node


def num(
    data: Any, path: Sequence[str | int], fmt: str = "f4", *, src: str = "", tag: str = "td"
) -> str:
    """A cell showing ``data`` at ``path``, carrying the path and source file as attributes so
    a reader (or a test) can trace every printed number back to the result file."""
    value = lookup(data, path)
    attrs = (
        f' class="num" data-src="{escape(src)}" data-key=\'{escape(json.dumps(list(path)))}\''
        f' data-fmt="{fmt}"'
    )
    return f"<{tag}{attrs}>{fmt_number(value, fmt)}</{tag}>"


def interval_text(iv: Any, fmt: str) -> str:
    """``[lo, hi]`` from a two-element list or a mapping with lo/hi (or low/high) keys."""
    lo = hi = None
    if isinstance(iv, list | tuple) and len(iv) == 2:
        lo, hi = iv
    elif isinstance(iv, dict):
        lo = iv.get("lo", iv.get("low", iv.get("lower")))
        hi = iv.get("hi", iv.get("high", iv.get("upper")))
    if lo is None or hi is None:
        return ""
    return f' <span class="ci">[{fmt_number(lo, fmt)}, {fmt_number(hi, fmt)}]</span>'


def json_script(element_id: str, data: Any) -> str:
    """Data for the page's script; ``<`` escaped so no text can close the element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    return f'<script type="application/json" id="{escape(element_id)}">{text}</script>'


def png_figure(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{escape(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def select(field: str, label: str, options: Sequence[str], *, all_label: str = "all") -> str:
    opts = "".join(f'<option value="{escape(o)}">{escape(o)}</option>' for o in options)
    return (
        f'<label>{escape(label)} <select data-field="{escape(field)}">'
        f'<option value="">{escape(all_label)}</option>{opts}</select></label>'
    )


def browser(
    kind: str,
    src_id: str,
    filters: Sequence[str],
    head: Sequence[tuple[str, str]],
    *,
    extra: str = "",
    widths: Sequence[str] = (),
) -> str:
    """The frame of a per-sample browser; rows are drawn by report.js from ``src_id``."""
    cols = "".join(f'<col style="width:{w}">' for w in widths)
    ths = "".join(f'<th class="{escape(cls)}">{escape(text)}</th>' for text, cls in head)
    return (
        f'<div class="browser" data-kind="{kind}" data-src="{escape(src_id)}">'
        f'<div class="filters">{"".join(filters)}{extra}</div>'
        '<div class="pager"><span class="count"></span><button type="button" class="prev">◀ prev</button>'
        '<span class="page"></span><button type="button" class="next">next ▶</button></div>'
        f'<table class="samples"><colgroup>{cols}</colgroup><thead><tr>{ths}</tr></thead>'
        "<tbody></tbody></table></div>"
    )


def column_browser(
    src_id: str,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[tuple[str, str]],
    *,
    filters: Sequence[tuple[str, str]] = (),
) -> str:
    """A per-sample browser declared by its columns: ``(heading, field)`` pairs shown as text,
    and ``(field, label)`` drop-down filters over the values the rows hold. The rows travel
    with the page (``json_script``); what a benchmark needs beyond text has its own renderer."""
    data = [
        {
            "id": str(r.get("id", i)),
            **{f: str(r.get(f)) for f, _ in filters},
            "cells": ["" if r.get(f) is None else str(r.get(f)) for _, f in columns],
        }
        for i, r in enumerate(rows)
    ]
    selects = [
        select(f, label, list(dict.fromkeys(str(r.get(f)) for r in rows))) for f, label in filters
    ]
    head = [(heading, "") for heading, _ in columns]
    return browser("columns", src_id, selects, head) + json_script(src_id, {"rows": data})


def _asset(name: str) -> str:
    return resources.files("forgetlab.report.html").joinpath("assets", name).read_text("utf-8")


def document(title: str, sections: Sequence[tuple[str, str, str]], *, note: str = "") -> str:
    """The whole page: ``sections`` are (anchor, heading, html body)."""
    toc = "".join(f'<a href="#{escape(a)}">{escape(h)}</a>' for a, h, _ in sections)
    body = "".join(
        f'<section id="{escape(a)}"><h2>{escape(h)}</h2>{html}</section>' for a, h, html in sections
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_asset('report.css')}</style></head><body>"
        f'<h1>{escape(title)}</h1><p class="muted small">forgetlab {escape(__version__)} — '
        "self-contained report: no network access, numbers as written in each run's result files."
        f"{note}</p>"
        f'<nav class="toc">{toc}</nav>{body}<script>{_asset("report.js")}</script></body></html>'
    )
