"""Reading and writing SFT data files (JSONL), with validation and provenance.

Three row shapes are accepted, one per file (the TRL dataset formats):

* ``{"messages": [{"role": ..., "content": ...}, ...]}`` — chat; the last message must be
  the assistant's and is the training target (completion-only loss);
* ``{"prompt": str, "completion": str}`` — raw text, loss on the completion only;
* ``{"text": str}`` — plain language modelling, loss on every token.

Every data file written by a builder gets a sidecar ``FILE.provenance.json`` (what built
it, from what, with which settings) rather than a header line, so the JSONL stays a plain
dataset any tool can read.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from forgetlab.errors import ForgetlabError
from forgetlab.results import (
    atomic_path,
    config_hash,
    provenance,
    read_json,
    read_text_file,
    write_json,
)

RowFormat = Literal["messages", "prompt_completion", "text"]
ROLES = ("system", "user", "assistant")


def provenance_path(path: str | Path) -> Path:
    """Sidecar provenance file of a data file: ``data.jsonl`` -> ``data.jsonl.provenance.json``."""
    p = Path(path)
    return p.with_name(p.name + ".provenance.json")


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def row_format(row: Mapping[str, Any]) -> RowFormat | None:
    if "messages" in row:
        return "messages"
    if "prompt" in row and "completion" in row:
        return "prompt_completion"
    if "text" in row:
        return "text"
    return None


def _check_row(row: Any, where: str) -> RowFormat:
    if not isinstance(row, dict):
        raise ForgetlabError(f"{where}: a row must be a JSON object, got {type(row).__name__}")
    fmt = row_format(row)
    if fmt is None:
        raise ForgetlabError(
            f"{where}: row needs 'messages', 'prompt'+'completion' or 'text' (has {sorted(row)})"
        )
    if fmt == "messages":
        msgs = row["messages"]
        if not isinstance(msgs, list) or not msgs:
            raise ForgetlabError(f"{where}: 'messages' must be a non-empty list")
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or m.get("role") not in ROLES:
                raise ForgetlabError(f"{where}: messages[{i}] needs a role in {ROLES}")
            if not isinstance(m.get("content"), str):
                raise ForgetlabError(f"{where}: messages[{i}].content must be a string")
        if msgs[-1]["role"] != "assistant":
            raise ForgetlabError(f"{where}: the last message must be the assistant's (the target)")
        if len(msgs) < 2:
            raise ForgetlabError(f"{where}: 'messages' needs a prompt before the assistant reply")
    elif fmt == "prompt_completion":
        if not isinstance(row["prompt"], str) or not isinstance(row["completion"], str):
            raise ForgetlabError(f"{where}: 'prompt' and 'completion' must be strings")
        if not row["completion"]:
            raise ForgetlabError(f"{where}: 'completion' is empty")
    elif not isinstance(row["text"], str) or not row["text"]:
        raise ForgetlabError(f"{where}: 'text' must be a non-empty string")
    return fmt


def read_sft_jsonl(path: str | Path) -> tuple[list[dict[str, Any]], RowFormat]:
    """Read and validate an SFT JSONL file; any bad row is a one-line error with its line number."""
    p = Path(path)
    if not p.is_file():
        raise ForgetlabError(f"data file {p} not found")
    rows: list[dict[str, Any]] = []
    fmt: RowFormat | None = None
    for lineno, line in enumerate(read_text_file(p, "data file").split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{p.name} line {lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ForgetlabError(f"{where}: not valid JSON ({exc.msg})") from None
        this = _check_row(row, where)
        if fmt is None:
            fmt = this
        elif this != fmt:
            raise ForgetlabError(
                f"{where}: row is {this} but earlier rows are {fmt}; use one format"
            )
        rows.append(row)
    if fmt is None:
        raise ForgetlabError(f"data file {p} holds no rows")
    return rows, fmt


def to_trl_rows(rows: Sequence[Mapping[str, Any]], fmt: RowFormat) -> list[dict[str, Any]]:
    """Rows in the TRL form that gives completion-only loss wherever a target exists.

    ``messages`` become *conversational prompt/completion* (all but the last message /
    the final assistant message): TRL then renders the prompt with the generation prompt
    and masks it, which needs no ``{% generation %}`` markers in the chat template.
    """
    if fmt == "messages":
        return [
            {"prompt": list(r["messages"][:-1]), "completion": [r["messages"][-1]]} for r in rows
        ]
    if fmt == "prompt_completion":
        return [{"prompt": r["prompt"], "completion": r["completion"]} for r in rows]
    return [{"text": r["text"]} for r in rows]


def guard_data_file(path: Path, settings: Mapping[str, Any], *, overwrite: bool) -> None:
    """Refuse (or, with ``overwrite``, move aside) an existing data file built differently."""
    if not path.exists():
        return
    sidecar = provenance_path(path)
    old = read_json(sidecar).get("config_hash") if sidecar.is_file() else None
    if old == config_hash(dict(settings)):
        return
    if not overwrite:
        raise ForgetlabError(
            f"--out {path} exists and was built with other settings (or by hand); "
            "choose another --out or pass --overwrite (the old file is kept as "
            f"{path.name}.replaced-<time>)"
        )
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    for old_file in (path, sidecar):
        if old_file.exists():
            os.replace(old_file, old_file.with_name(f"{old_file.name}.replaced-{stamp}"))


def write_jsonl(
    path: str | Path,
    rows: Iterable[Mapping[str, Any]],
    *,
    builder: str,
    settings: Mapping[str, Any],
    overwrite: bool = False,
    **extra: Any,
) -> Path:
    """Write rows atomically and the provenance sidecar; returns the data path.

    A data file made with other settings is not replaced silently (an SFT run may be using
    it): that is refused unless ``overwrite``, which moves the old file and its sidecar to
    ``NAME.replaced-<UTC time>`` first. The same settings simply rebuild the same file.
    """
    p = Path(path)
    guard_data_file(p, settings, overwrite=overwrite)
    n = 0
    with atomic_path(p) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    write_json(
        provenance_path(p),
        provenance(dict(settings), builder=builder, rows=n, sha256=file_sha256(p), **extra),
    )
    return p
