"""Data shipped with the package (see each folder's PROVENANCE.md)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def data_path(*parts: str) -> Path:
    """Path of a packaged data file, e.g. ``data_path("understanding-forgetting", "icl_vs_if")``."""
    return Path(str(resources.files("forgetlab.data").joinpath(*parts)))
