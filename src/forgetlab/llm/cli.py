"""`forgetlab llm ...` commands."""

from __future__ import annotations

import click


@click.group(name="llm")
def llm() -> None:
    """llm lab commands."""
