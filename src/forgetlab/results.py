"""Result files and provenance.

Every file a run writes goes through here so that it is written atomically (temp file +
``os.replace``: a crash never leaves half a file) and carries what produced it: the
config, seed, package versions and, for LLMs, the model identity.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import importlib.metadata
import json
import os
import platform
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError
from forgetlab.openmp import wait_policy

TRACKED_PACKAGES = (
    "forgetlab",
    "torch",
    "numpy",
    "pydantic",
    "transformers",
    "peft",
    "trl",
    "accelerate",
    "gguf",
    "vllm",
    "openai",
)


def package_versions(names: Iterable[str] = TRACKED_PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that can change a result (absent ones omitted)."""
    out: dict[str, str] = {}
    for name in names:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[name] = importlib.metadata.version(name)
    return out


def provenance(config: Mapping[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """What produced a result: time, command line, python, platform, versions, config."""
    info: dict[str, Any] = {
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "argv": [os.path.basename(sys.argv[0]), *sys.argv[1:]] if sys.argv else [],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
        "omp_wait_policy": wait_policy(),
    }
    if config is not None:
        info["config"] = dict(config)
        info["config_hash"] = config_hash(config)
    info.update(extra)
    return info


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def config_hash(config: Mapping[str, Any]) -> str:
    """Stable short hash of a config mapping (key order does not matter)."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()[:16]


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_current_umask()


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    The file gets the same permissions as any other file the process creates (0666 less the
    umask), not ``mkstemp``'s private 0600, so atomically written and appended files agree.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, _FILE_MODE)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, data: Any) -> None:
    """Atomically write pretty JSON (UTF-8, non-ASCII kept)."""
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def read_text_file(path: str | Path, what: str = "file") -> str:
    """Read a UTF-8 text file, or fail with one line (missing, unreadable, not UTF-8)."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ForgetlabError(f"missing {what} {p}") from None
    except IsADirectoryError:
        raise ForgetlabError(f"{what} {p} is a directory, not a file") from None
    except UnicodeDecodeError as exc:
        raise ForgetlabError(
            f"{what} {p} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
        ) from None
    except OSError as exc:
        raise ForgetlabError(f"cannot read {what} {p}: {exc.strerror or exc}") from None


def read_json(path: str | Path) -> Any:
    p = Path(path)
    text = read_text_file(p)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ForgetlabError(f"{p} is not valid JSON (line {exc.lineno})") from None


class JsonlCache:
    """Append-only per-sample JSONL keyed by a string id: the resumable-run primitive.

    Each finished sample is appended and flushed immediately, so a killed run loses at
    most the sample in flight; a truncated last line (crash mid-write) is ignored on load.
    """

    def __init__(self, path: str | Path, key: str = "id") -> None:
        self.path = Path(path)
        self.key = key
        self.rows: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        """Read the file; torn lines and superseded duplicates are compacted away on disk."""
        lines = read_text_file(self.path, "results file").splitlines()
        dirty = False
        for lineno, line in enumerate(lines, 1):
            line = line.strip()
            if not line:
                dirty = True
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                dirty = True  # a write torn by a crash: the sample is simply redone
                continue
            if not isinstance(row, dict) or self.key not in row:
                raise ForgetlabError(
                    f"{self.path} line {lineno} is not a sample (no {self.key!r} field); "
                    "the file was not written by this run type: move it away or pass --overwrite"
                )
            sample_id = str(row[self.key])
            dirty = dirty or sample_id in self.rows
            self.rows[sample_id] = row
        if dirty:
            self._rewrite()

    def _rewrite(self) -> None:
        text = "".join(
            json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in self.rows.values()
        )
        write_text_atomic(self.path, text)

    def __contains__(self, sample_id: str) -> bool:
        return sample_id in self.rows

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, row: Mapping[str, Any]) -> None:
        self.add_many([row])

    def add_many(self, rows: Iterable[Mapping[str, Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        needs_newline = (
            self.path.exists() and self.path.stat().st_size > 0 and not self._ends_with_newline()
        )
        with open(self.path, "a", encoding="utf-8") as fh:
            if needs_newline:
                fh.write("\n")
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
                self.rows[str(row[self.key])] = dict(row)
            fh.flush()
            os.fsync(fh.fileno())

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) == b"\n"
