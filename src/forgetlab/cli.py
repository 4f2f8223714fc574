"""The ``forgetlab`` command line.

Each lab owns its command group in its own ``cli`` module; they are imported lazily so
``forgetlab --help`` stays fast and an LLM command never pays for the synthetic lab's
imports (or vice versa). User errors end as one line on stderr and exit code 2.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from forgetlab import __version__
from forgetlab.errors import ForgetlabError, is_out_of_memory, one_line

LAB_GROUPS = {
    "synthetic": (
        "forgetlab.synthetic.cli",
        "synthetic",
        "Synthetic lab: in-context regression, Bayes references, forgetting, conjugates.",
    ),
    "llm": (
        "forgetlab.llm.cli",
        "llm",
        "LLM lab: paired evaluation of base vs fine-tuned models under conjugate transforms.",
    ),
    "finetune": (
        "forgetlab.finetune.cli",
        "finetune",
        "Fine-tuning lab: build data, fine-tune, and watch forgetting happen.",
    ),
}


# Top-level commands that live in their own package (imported only when used).
LAZY_COMMANDS = {
    "compare": (
        "forgetlab.compare.cli",
        "compare",
        "What did fine-tuning break? Paired comparison of two lm-eval or Inspect runs.",
    ),
}


class LazyGroup(click.Group):
    """A group whose subgroups are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAB_GROUPS, *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAB_GROUPS or cmd_name in LAZY_COMMANDS:
            module_name, attr, _ = LAB_GROUPS.get(cmd_name) or LAZY_COMMANDS[cmd_name]
            module = importlib.import_module(module_name)
            command: click.Command = getattr(module, attr)
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, _, help_text) in sorted(LAB_GROUPS.items())]
        with formatter.section("Labs"):
            formatter.write_dl(rows)
        own = [
            (name, cmd.get_short_help_str(limit=formatter.width - 16))
            for name, cmd in sorted(self.commands.items())
        ]
        own = sorted([*own, *((name, text) for name, (_, _, text) in LAZY_COMMANDS.items())])
        if own:
            with formatter.section("Commands"):
                formatter.write_dl(own)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="forgetlab")
def cli() -> None:
    """forgetlab: measure what fine-tuning suppressed, explain it, and get it back.

    Kotha, Springer & Raghunathan, "Understanding Catastrophic Forgetting in Language
    Models via Implicit Inference" (ICLR 2024), as a toolkit.
    """


@cli.command("report")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="HTML file to write")
@click.option(
    "--redact", is_flag=True, help="leave generated text of harmful-request runs out of the file"
)
def report_cmd(run_dirs: tuple[str, ...], out: str, redact: bool) -> None:
    """One self-contained HTML page (no network) for one or more run directories.

    Synthetic runs are shown side by side; ICL-vs-IF and harmful runs get a per-sample
    browser; fine-tuning runs their loss and forgetting curves.
    """
    from pathlib import Path

    from forgetlab.report.html import write_report

    target = Path(out)
    if target.suffix.lower() not in (".html", ".htm"):
        raise ForgetlabError(f"--out {out}: the report is an HTML file (name it *.html)")
    if not target.parent.is_dir():
        raise ForgetlabError(f"--out {out}: directory {target.parent} does not exist")
    try:
        path = write_report(list(run_dirs), target, redact=redact)
    except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:
        raise ForgetlabError(
            f"cannot draw a report from {', '.join(run_dirs)}: a result file has an unexpected "
            f"shape ({type(exc).__name__}: {exc})"
        ) from None
    click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")


def main(argv: list[str] | None = None) -> Any:
    """Entry point: run the CLI, turning user errors into one line and exit code 2."""
    try:
        return cli.main(args=argv, prog_name="forgetlab", standalone_mode=False)
    except ForgetlabError as exc:
        click.echo(f"forgetlab: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("forgetlab: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"forgetlab: error: {exc.format_message()}", err=True)
        sys.exit(2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo(
            "forgetlab: interrupted (finished work is saved; rerun the same command to resume)",
            err=True,
        )
        sys.exit(130)
    except Exception as exc:
        message, code = describe_unexpected(exc)
        if os.environ.get("FORGETLAB_DEBUG"):
            raise
        click.echo(f"forgetlab: error: {message}", err=True)
        sys.exit(code)


def describe_unexpected(exc: BaseException) -> tuple[str, int]:
    """One line for an exception no command turned into a :class:`ForgetlabError`.

    Out-of-memory, file-system and encoding failures are the user's situation (exit 2, with
    what to change); anything else is a bug in forgetlab (exit 1, the traceback on request).
    """
    text = one_line(exc)
    if is_out_of_memory(exc):
        return (
            "out of memory: the run does not fit in this machine's memory; reduce the batch "
            "size, the model or the prompt size",
            2,
        )
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}", 2
    if isinstance(exc, UnicodeDecodeError):
        return "an input file is not UTF-8 text", 2
    return (
        f"internal error ({type(exc).__name__}: {text}); this is a bug in forgetlab: "
        "rerun with FORGETLAB_DEBUG=1 for the traceback and report it",
        1,
    )


if __name__ == "__main__":  # pragma: no cover
    main()
