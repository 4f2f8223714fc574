"""`forgetlab finetune ...` commands."""

from __future__ import annotations

import click


@click.group(name="finetune")
def finetune() -> None:
    """finetune lab commands."""
