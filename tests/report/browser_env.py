"""Whether the browser tests can run here: Playwright for Python and a system Chromium."""

from __future__ import annotations

import importlib.util
import os
import shutil

CHROMIUM_ARGS = [
    "--no-sandbox",  # CI containers run as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

# CI sets this: there a missing browser is a failure, not a skip.
REQUIRED = bool(os.environ.get("FORGETLAB_REQUIRE_BROWSER"))


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def missing() -> str | None:
    """Why the browser tests cannot run (``None`` when they can)."""
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install -e '.[dev]')"
    if chromium_path() is None:
        return "no chromium on PATH (Debian: apt-get install chromium)"
    return None
