"""Regenerate every generated table in the markdown docs from committed result files.

    python -m experiments.regenerate_docs            # rewrite the tables in place
    python -m experiments.regenerate_docs --check    # exit 1, naming every table that differs

A generated table sits between two markers in a markdown file::

    <!-- generated:NAME -->
    | … the table … |
    <!-- /generated:NAME -->

``TABLES`` maps each NAME to a function ``(repo_root: Path) -> str`` that reads only committed
files and returns the markdown between the markers. Adding a table is one function and one
line in ``TABLES``. A marker whose NAME is not registered, a registered NAME no doc uses, and
unbalanced markers are errors (exit 2), so a published number cannot silently stop being
checked.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from experiments import speed_tables, synthetic_tables

TableFn = Callable[[Path], str]
"""A table: reads committed files under the repository root, returns markdown."""

TABLES: dict[str, TableFn] = {
    "synthetic-claims": synthetic_tables.claims_table,
    "synthetic-conjugates": synthetic_tables.conjugates_table,
    "synthetic-lambda-vs-g": synthetic_tables.lambda_vs_g_table,
    "synthetic-lambda-shift": synthetic_tables.lambda_shift_table,
    "synthetic-forgetting-by-g": synthetic_tables.forgetting_by_g_table,
    "synthetic-g-bin-counts": synthetic_tables.g_bin_counts_table,
    "synthetic-yscale-per-k": synthetic_tables.yscale_per_k_table,
    "synthetic-recipe-sweep": synthetic_tables.recipe_sweep_table,
    "speed-lm-eval": speed_tables.lm_eval_table,
    "speed-lm-eval-contended": speed_tables.lm_eval_contended_table,
    "speed-lm-eval-summary": speed_tables.lm_eval_summary,
    "speed-synthetic-sweep": speed_tables.synthetic_sweep_speed_table,
}

DOC_GLOBS: tuple[str, ...] = ("*.md", "docs/**/*.md")
"""Markdown files searched for markers, relative to the repository root."""

_MARKER = re.compile(r"<!-- (/?)generated:([A-Za-z0-9_.-]+) -->")


class MarkerError(ValueError):
    """Markers that cannot be paired, or a NAME that no function generates."""


@dataclass(frozen=True)
class Difference:
    """One generated block whose committed text differs from what its files give."""

    path: Path
    name: str
    diff: str


def _blocks(text: str) -> list[tuple[str, int, int]]:
    """``(name, start, end)`` of each block's content (between its two markers)."""
    out: list[tuple[str, int, int]] = []
    open_: tuple[str, int] | None = None
    for m in _MARKER.finditer(text):
        closing, name = m.group(1) == "/", m.group(2)
        line = text.count("\n", 0, m.start()) + 1
        if not closing:
            if open_ is not None:
                raise MarkerError(f"line {line}: generated:{name} opens inside {open_[0]}")
            open_ = (name, m.end())
        else:
            if open_ is None or open_[0] != name:
                raise MarkerError(f"line {line}: /generated:{name} closes nothing")
            out.append((name, open_[1], m.start()))
            open_ = None
    if open_ is not None:
        raise MarkerError(f"generated:{open_[0]} is never closed")
    return out


def replace_generated(text: str, render: Callable[[str], str]) -> tuple[str, list[str]]:
    """Replace every block's content with ``render(name)``; return the text and changed names.

    The content is written as one newline, the rendered markdown, one newline, so a table
    sits on its own lines between the markers.
    """
    pieces: list[str] = []
    changed: list[str] = []
    pos = 0
    for name, start, end in _blocks(text):
        new = "\n" + render(name).strip("\n") + "\n"
        if text[start:end] != new:
            changed.append(name)
        pieces += [text[pos:start], new]
        pos = end
    pieces.append(text[pos:])
    return "".join(pieces), changed


def doc_files(root: Path) -> list[Path]:
    """The markdown files that may hold generated blocks."""
    seen: dict[Path, None] = {}
    for pattern in DOC_GLOBS:
        for p in sorted(root.glob(pattern)):
            if p.is_file():
                seen[p] = None
    return list(seen)


def regenerate(
    root: Path, tables: Mapping[str, TableFn] | None = None, *, write: bool
) -> list[Difference]:
    """Every block that differs from its table; rewrites the files when ``write``.

    ``tables`` defaults to ``TABLES``. Each table is computed once, however many blocks show
    it.
    """
    if tables is None:
        tables = TABLES
    cache: dict[str, str] = {}

    def render(name: str) -> str:
        if name not in tables:
            raise MarkerError(f"generated:{name} has no function in TABLES")
        if name not in cache:
            cache[name] = tables[name](root)
        return cache[name]

    diffs: list[Difference] = []
    used: set[str] = set()
    for path in doc_files(root):
        text = path.read_text(encoding="utf-8")
        try:
            new, changed = replace_generated(text, render)
            used.update(name for name, _, _ in _blocks(text))
        except MarkerError as e:
            raise MarkerError(f"{path.relative_to(root)}: {e}") from None
        for name in changed:
            old_block = _block_text(text, name)
            new_block = _block_text(new, name)
            diff = "".join(
                difflib.unified_diff(
                    old_block.splitlines(keepends=True),
                    new_block.splitlines(keepends=True),
                    "committed",
                    "regenerated",
                    n=0,
                )
            )
            diffs.append(Difference(path.relative_to(root), name, diff))
        if write and changed:
            path.write_text(new, encoding="utf-8")
    unused = sorted(set(tables) - used)
    if unused:
        raise MarkerError(f"registered but in no doc: {', '.join(unused)}")
    return diffs


def _block_text(text: str, name: str) -> str:
    return "".join(text[s:e] for n, s, e in _blocks(text) if n == name)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if any table differs"
    )
    ap.add_argument(
        "--root", type=Path, default=Path(__file__).resolve().parents[1], help="repository root"
    )
    args = ap.parse_args(argv)
    try:
        diffs = regenerate(args.root, write=not args.check)
    except (MarkerError, OSError, KeyError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for d in diffs:
        verb = "differs" if args.check else "rewritten"
        print(f"{d.path}: generated:{d.name} {verb}")
        if args.check:
            print(d.diff)
    if args.check and diffs:
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
