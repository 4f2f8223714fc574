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

from forgetlab.errors import ForgetlabError, RunDirMismatch

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


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
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


def read_json(path: str | Path) -> Any:
    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ForgetlabError(f"missing file {p}") from None
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
            with open(self.path, encoding="utf-8") as fh:
                for line in fh:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # torn final write
                    self.rows[str(row[key])] = row

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


def prepare_run_dir(
    out: str | Path,
    config: Mapping[str, Any],
    *,
    overwrite: bool = False,
    name: str = "run_config.json",
) -> Path:
    """Claim ``out`` for a run with ``config``.

    A fresh or matching directory is accepted (matching = resume); a directory holding a
    different config is refused with a one-line error unless ``overwrite`` is set, in which
    case its previous contents are left in place but the config is replaced.
    """
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise ForgetlabError(f"--out {out_dir} exists and is not a directory")
    cfg_file = out_dir / name
    wanted = json.loads(canonical_json(config))
    if cfg_file.exists() and not overwrite:
        existing = read_json(cfg_file)
        if existing.get("config") != wanted:
            diff = _first_difference(existing.get("config", {}), wanted)
            raise RunDirMismatch(
                f"--out {out_dir} holds a run with a different configuration ({diff}); "
                "choose another --out or pass --overwrite"
            )
        return out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(cfg_file, {"config": wanted, "config_hash": config_hash(wanted)})
    return out_dir


def _first_difference(a: Any, b: Any, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{path}.{key}" if path else key)
    return f"{path or 'config'}: {a!r} != {b!r}"
