"""The benchmarks, by name: what ``forgetlab llm run`` runs and ``export-prompts`` writes.

``BENCHMARKS`` maps a name to the benchmark's
:class:`~forgetlab.llm.benchmarks.command.BenchmarkCommand` (its flags, entry point and
prompt sets); each becomes ``forgetlab llm run NAME`` with no command-line code of its own,
and each prompt set it declares (``exports``) becomes ``export-prompts SET``. It is a
registry (``forgetlab.registry``) of lazy ``module:attr`` entries: listing names imports no
benchmark module, and ``llm run --help`` (which reads each command's help) no model library.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from forgetlab.errors import ForgetlabError
from forgetlab.registry import Registry, unknown_name_error

if TYPE_CHECKING:
    from forgetlab.llm.benchmarks.command import BenchmarkCommand, PromptExport, RunReport

BENCHMARKS: Registry[BenchmarkCommand] = Registry(
    "benchmark",
    {
        "icl-vs-if": "forgetlab.llm.benchmarks.icl_vs_if.benchmark:COMMAND",
        "harmful": "forgetlab.llm.benchmarks.harmful.benchmark:COMMAND",
        "xnli": "forgetlab.llm.benchmarks.xnli:COMMAND",
        "ifeval": "forgetlab.llm.benchmarks.ifeval:COMMAND",
        "controllability": "forgetlab.llm.benchmarks.controllability:COMMAND",
    },
)


def prompt_exports() -> dict[str, PromptExport]:
    """Every prompt set the registered benchmarks declare (``BenchmarkCommand.exports``)."""
    found: dict[str, PromptExport] = {}
    for name in BENCHMARKS.names():
        for export in BENCHMARKS.get(name).exports:
            if export.name in found:
                raise ValueError(f"prompt set {export.name!r} is declared twice")
            found[export.name] = export
    return found


def export_rows(
    name: str, languages: Sequence[str] | None = None, **opts: Any
) -> list[dict[str, Any]]:
    """Rows of benchmark ``name``; options left at ``None``/empty count as not given."""
    exports = prompt_exports()
    if name not in exports:
        raise unknown_name_error("benchmark", name, sorted(exports))
    given = {k: v for k, v in opts.items() if v not in (None, False, (), [])}
    bad = sorted(set(given) - exports[name].options)
    if bad:
        raise ForgetlabError(f"benchmark {name!r} does not take option(s) {', '.join(bad)}")
    return exports[name].build(list(languages) if languages else None, **given)


def run_report(benchmark: str) -> RunReport | None:
    """The report declaration of the registered benchmark whose runs write ``benchmark`` as
    ``results.json``'s ``benchmark`` key (``None`` if no registered benchmark does)."""
    for name in BENCHMARKS.names():
        report = BENCHMARKS.get(name).report
        if report is not None and benchmark in report.results:
            return report
    return None
