"""What a benchmark declares so that ``forgetlab llm run NAME`` can run it.

A benchmark module states its command-line options once, as a tuple of :class:`Flag`, and
wraps them with its entry point in a :class:`BenchmarkCommand`; one lazy line in
``benchmarks/registry.py``'s ``BENCHMARKS`` makes it a subcommand of ``llm run``. The
command line (``llm/cli.py``) turns the flags into click options, passes their values to
``run`` by name and prints the lines ``describe`` returns, so a benchmark needs no
command-line code of its own. This module imports no click (and nothing heavy): listing
benchmarks and their options must stay cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

FlagKind = Literal["text", "int", "switch", "choice", "dir", "file"]


class _Missing:
    """The default of a flag that declares none (unlike an explicit ``default=None``)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Flag:
    """One command-line option, independent of the parser.

    ``decl`` is the option as typed (``"--limit"``, or ``"--bos/--no-bos"`` for an on/off
    pair); ``dest`` the keyword it is passed to ``run`` as (default: ``decl`` without dashes,
    ``-`` as ``_``). ``kind``: ``text`` and ``int`` values, a ``switch`` (present or not, or
    the on/off pair), a ``choice`` among ``choices``, or a ``dir``/``file`` path. A flag with
    ``output_only`` changes only what is printed, so it is given to ``describe`` but not to
    ``run``. ``aliases`` are older spellings of the option: hidden from ``--help``, still
    accepted, each with a one-line deprecation note on stderr.
    """

    decl: str
    help: str | None = None
    kind: FlagKind = "text"
    default: Any = MISSING
    dest: str | None = None
    required: bool = False
    multiple: bool = False
    show_default: bool = False
    choices: tuple[str, ...] = ()
    output_only: bool = False
    aliases: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The keyword this flag's value is passed as."""
        if self.dest:
            return self.dest
        return self.decl.split("/")[0].lstrip("-").replace("-", "_")


Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class PromptExport:
    """A prompt set that ``forgetlab llm export-prompts NAME`` writes, one JSON row a prompt.

    ``rows(languages, **options)`` builds the rows (``languages`` ``None``: all of the set's);
    it may be given as a lazy ``"module:attr"`` reference, so declaring it imports nothing.
    ``options`` names the keywords it takes: an option it would ignore is refused instead.
    """

    name: str
    rows: str | Callable[..., Rows]
    options: frozenset[str] = frozenset()

    def build(self, languages: list[str] | None, **options: Any) -> Rows:
        """The rows (``rows`` resolved on first use)."""
        from forgetlab.registry import resolve_reference

        rows = resolve_reference(self.rows) if isinstance(self.rows, str) else self.rows
        return cast("Callable[..., Rows]", rows)(languages, **options)


@dataclass(frozen=True)
class RunReport:
    """How a benchmark's run directory is shown in the HTML report (``forgetlab report``).

    ``results``: the values of ``results.json``'s ``benchmark`` key this benchmark writes
    (older spellings too), by which ``forgetlab report`` finds this declaration through the
    registry. ``title``: the section title, or a function of the results that gives it.
    ``section(run, index, redact=...)`` returns the section's HTML (tables, charts, the
    per-sample browser); ``run`` has ``path``, ``results``, ``samples`` (``samples.jsonl``)
    and ``label_sets``. It may be a lazy ``"module:attr"`` reference. The markdown report
    is written by the benchmark's own ``Benchmark.report``.
    """

    results: tuple[str, ...]
    title: str | Callable[[Mapping[str, Any]], str]
    section: str | Callable[..., str]

    def title_of(self, results: Mapping[str, Any]) -> str:
        return self.title if isinstance(self.title, str) else self.title(results)

    def render(self, run: Any, index: int, *, redact: bool = False) -> str:
        from forgetlab.registry import resolve_reference

        section = resolve_reference(self.section) if isinstance(self.section, str) else self.section
        return cast("Callable[..., str]", section)(run, index, redact=redact)


@dataclass(frozen=True)
class BenchmarkCommand:
    """A benchmark as a command: its help, its flags and what to call with their values.

    ``run(**values)`` gets every flag but the ``output_only`` ones by :attr:`Flag.name`, does
    the work (validating its input with one-line ``ForgetlabError``s) and returns the
    results; ``describe(results, values)`` returns the lines to print (all flag values).
    The first line of ``help`` is the one-line summary in ``forgetlab llm run --help``.
    ``exports`` are the prompt sets the benchmark offers to ``export-prompts`` (a benchmark
    may run several, e.g. harmful requests, MultiJail and the harmless set). ``report``
    declares its section of the HTML report (:class:`RunReport`).
    """

    help: str
    flags: tuple[Flag, ...]
    run: Callable[..., Any]
    describe: Callable[[Any, Mapping[str, Any]], Iterable[str]]
    exports: tuple[PromptExport, ...] = ()
    report: RunReport | None = None

    def __post_init__(self) -> None:
        names = [f.name for f in self.flags]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"flag(s) declared twice: {', '.join(dupes)}")
        for f in self.flags:
            if (f.kind == "choice") != bool(f.choices):
                raise ValueError(f"flag {f.decl}: choices go with kind='choice' only")

    def run_values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The keyword arguments of ``run`` among parsed flag ``values``."""
        return {f.name: values[f.name] for f in self.flags if not f.output_only}


def split_csv(values: str | Iterable[str] | None) -> list[str]:
    """``"en, ja"`` or ``("en,ja", "hu")`` -> ``["en", "ja", "hu"]``; blanks dropped."""
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    return [v.strip() for item in items for v in item.split(",") if v.strip()]


def languages_flag(help: str, default: str | None = None) -> Flag:
    """``--languages``: comma-separated, and repeatable (``--languages en,fr --languages hu``)."""
    return Flag(
        "--languages",
        help,
        default=(default,) if default is not None else (),
        multiple=True,
        show_default=default is not None,
    )


def transforms_flag(help: str) -> Flag:
    """``--transforms``: comma-separated transform specs, and repeatable."""
    return Flag("--transforms", help, default=(), multiple=True)


# The two models of a paired benchmark; ``--model``/``--compare`` were their names in xnli.
BASE = Flag("--base", "Base model spec, e.g. packaged:gemma-3-270m.", required=True)
TUNED = Flag("--tuned", "Fine-tuned model spec.", required=True)

# Flags that benchmarks share word for word.
BATCH_SIZE = Flag("--batch-size", kind="int", default=16, show_default=True)
DTYPE = Flag("--dtype", "Model dtype (backend default if unset).", default=None)
DEVICE = Flag("--device", "Device (backend default if unset).", default=None)
BOS = Flag(
    "--bos/--no-bos",
    "Prepend a BOS token. Default: the backend's (none, as in the paper, except models that "
    "need one, e.g. Gemma).",
    kind="switch",
    default=None,
    dest="add_bos",
)
OVERWRITE = Flag(
    "--overwrite", "Replace a run directory holding a different configuration.", kind="switch"
)
QUIET = Flag("--quiet", "No progress bars.", kind="switch")
OUT = Flag("--out", "Run directory.", kind="dir", required=True)
