"""File facts every comparison records (path, size, sha256) and one-line read errors."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError


def file_record(path: Path) -> dict[str, Any]:
    """``{"path", "bytes", "sha256"}`` of an input file (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise ForgetlabError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def require_exists(path: Path, what: str) -> None:
    if not path.exists():
        raise ForgetlabError(f"{what} not found: {path}")
