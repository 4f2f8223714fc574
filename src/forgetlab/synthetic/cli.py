"""`forgetlab synthetic ...` commands."""

from __future__ import annotations

import click


@click.group(name="synthetic")
def synthetic() -> None:
    """synthetic lab commands."""
