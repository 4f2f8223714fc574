"""One run owns one directory.

Every lab claims its ``--out`` through :class:`RunDir`, so the rules are the same
everywhere (docs/run-directories.md):

* **claim** — the directory records the run's configuration; the same configuration
  resumes, a different one is refused with one line unless ``--overwrite``;
* **lock** — an exclusive ``flock`` on ``.forgetlab.lock`` for the whole run: a second
  run on the same directory stops at once naming the holder's PID. The kernel drops the
  lock when its process dies, so a lock left by a killed run is simply taken over;
* **overwrite** — the previous contents move to ``replaced-<UTC time>/`` inside the
  directory (nothing a user ran is lost) and the run starts afresh;
* **nothing left behind** — a run that fails before writing anything but its claim
  removes the claim (and the directory, if it created it), so the corrected command is
  never blocked by a failed one.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError, RunDirBusy, RunDirMismatch
from forgetlab.results import canonical_json, config_hash, read_json, write_json

LOCK_NAME = ".forgetlab.lock"
REPLACED_PREFIX = "replaced-"


def _os_reason(exc: OSError) -> str:
    return exc.strerror or errno.errorcode.get(exc.errno or 0, "") or str(exc)


def ensure_writable_dir(path: str | Path, what: str = "--out") -> Path:
    """Create ``path`` (and parents) or fail with one line naming the reason."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise ForgetlabError(f"{what} {target} exists and is not a directory")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ForgetlabError(f"cannot create {what} {target}: {_os_reason(exc)}") from None
    if not os.access(target, os.W_OK | os.X_OK):
        raise ForgetlabError(f"cannot write to {what} {target}: permission denied")
    return target


class RunDir:
    """Claim, lock and (on exit) release one run directory; use as a context manager.

    ``primary=False`` (the other ranks of a multi-process run) only makes sure the
    directory exists: one process, rank 0, claims and locks it.

    ``stale`` decides what ``--overwrite`` moves aside: given the old configuration it
    returns the names to move, or ``None`` for everything (the default). A lab whose
    expensive part does not depend on every setting (e.g. re-judging cached generations)
    keeps that part this way.
    """

    def __init__(
        self,
        path: str | Path,
        config: Mapping[str, Any],
        *,
        overwrite: bool = False,
        name: str = "run_config.json",
        stale: Callable[[Mapping[str, Any]], Iterable[str] | None] | None = None,
        what: str = "--out",
        primary: bool = True,
    ) -> None:
        self.path = Path(path)
        self.primary = primary
        self.config: dict[str, Any] = json.loads(canonical_json(config))
        self.overwrite = overwrite
        self.name = name
        self.stale = stale
        self.what = what
        self.resumed = False
        self._lock_fd: int | None = None
        self._created_dir = False
        self._created_lock = False
        self._wrote_claim = False

    # -- context manager -----------------------------------------------------------------
    def __enter__(self) -> RunDir:
        self.claim()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close(failed=exc_type is not None)

    def close(self, *, failed: bool = False) -> None:
        """Release the lock; a failed run that wrote nothing also withdraws its claim."""
        if failed and self._wrote_claim and not self._has_progress():
            self._withdraw_claim()
        self.release()

    # -- claim ---------------------------------------------------------------------------
    def claim(self) -> Path:
        """Lock the directory and record (or check) the configuration; return the path."""
        self._created_dir = not self.path.exists()
        ensure_writable_dir(self.path, self.what)
        if not self.primary:
            return self.path
        self._lock()
        try:
            self._check_or_write_config()
        except BaseException:
            if self._created_lock:
                with contextlib.suppress(OSError):
                    (self.path / LOCK_NAME).unlink()
            self.release()
            if self._created_dir:
                shutil.rmtree(self.path, ignore_errors=True)
            raise
        return self.path

    def _check_or_write_config(self) -> None:
        cfg_file = self.path / self.name
        if cfg_file.exists():
            existing = read_json(cfg_file)
            old = existing.get("config") if isinstance(existing, dict) else None
            if old == self.config:
                self.resumed = True
                return
            if self.overwrite:
                self._move_aside(old if isinstance(old, dict) else {})
            elif self._has_progress():
                diff = first_difference(old if old is not None else {}, self.config)
                raise RunDirMismatch(
                    f"{self.what} {self.path} holds a run with a different configuration "
                    f"({diff}); choose another {self.what} or pass --overwrite"
                )
        elif self._has_progress():
            if not self.overwrite:
                raise ForgetlabError(
                    f"{self.what} {self.path} is not empty and holds no run of this kind; "
                    f"choose a new or empty {self.what}, or pass --overwrite to move its "
                    "contents aside"
                )
            self._move_aside({})
        write_json(cfg_file, {"config": self.config, "config_hash": config_hash(self.config)})
        self._wrote_claim = True

    def _move_aside(self, old_config: Mapping[str, Any]) -> None:
        names = self.stale(old_config) if self.stale is not None else None
        entries = (
            [self.path / n for n in names]
            if names is not None
            else [p for p in self.path.iterdir() if not _is_bookkeeping(p.name)]
        )
        entries = [p for p in entries if p.exists() or p.is_symlink()]
        if not entries:
            return
        stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        dest = self.path / f"{REPLACED_PREFIX}{stamp}"
        dest.mkdir()
        for p in entries:
            os.replace(p, dest / p.name)

    def _has_progress(self) -> bool:
        """True when the directory holds anything besides its claim and lock."""
        try:
            return any(
                not _is_bookkeeping(p.name) and p.name != self.name for p in self.path.iterdir()
            )
        except OSError:
            return False

    def _withdraw_claim(self) -> None:
        """Undo a fresh claim whose run wrote nothing: no stray files, nothing blocked."""
        with contextlib.suppress(OSError):
            (self.path / self.name).unlink(missing_ok=True)
            (self.path / LOCK_NAME).unlink(missing_ok=True)  # still held: no one can race
        self.release()
        if self._created_dir:
            with contextlib.suppress(OSError):
                self.path.rmdir()

    # -- lock ----------------------------------------------------------------------------
    def _lock(self) -> None:
        lock_path = self.path / LOCK_NAME
        self._created_lock = not lock_path.exists()
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ForgetlabError(
                f"cannot create the lock file in {self.what} {self.path}: {_os_reason(exc)}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_holder(fd)
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise RunDirBusy(
                    f"{self.what} {self.path} is in use by another run ({holder}); "
                    f"wait for it to finish or choose another {self.what}"
                ) from None
            raise ForgetlabError(
                f"cannot lock {self.what} {self.path}: {_os_reason(exc)}"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def release(self) -> None:
        """Drop the lock (idempotent). The lock file stays: removing it would race."""
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    @property
    def locked(self) -> bool:
        return self._lock_fd is not None


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 128, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text.replace("pid", "PID") if text.startswith("pid ") else "PID unknown"


def _is_bookkeeping(name: str) -> bool:
    return name == LOCK_NAME or name.startswith(REPLACED_PREFIX)


@contextlib.contextmanager
def claimed(
    path: str | Path,
    config: Mapping[str, Any],
    **kwargs: Any,
) -> Iterator[RunDir]:
    """``with claimed(out, config, overwrite=...) as run:`` — the usual way to hold a run."""
    run = RunDir(path, config, **kwargs)
    with run:
        yield run


def first_difference(a: Any, b: Any, path: str = "") -> str:
    """The first differing key between two configurations, for the refusal message."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return first_difference(a.get(key), b.get(key), f"{path}.{key}" if path else key)
    return f"{path or 'config'}: {a!r} != {b!r}"
