"""The benchmarks, by name: what ``forgetlab llm run`` runs and ``export-prompts`` writes.

``BENCHMARKS`` maps a name to the benchmark's
:class:`~forgetlab.llm.benchmarks.command.BenchmarkCommand` (its flags and entry point);
each becomes ``forgetlab llm run NAME`` with no command-line code of its own.
``BENCHMARK_EXPORTERS`` maps a name to ``callable(languages, **opts) -> list[dict]`` for
``export-prompts``, and ``EXPORTER_OPTIONS`` says which options each takes, so that an
option it would silently ignore is refused instead. Both are registries
(``forgetlab.registry``) of lazy ``module:attr`` entries: listing names imports no
benchmark module, and ``llm run --help`` (which reads each command's help) no model library.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from forgetlab.errors import ForgetlabError
from forgetlab.registry import Registry

if TYPE_CHECKING:
    from forgetlab.llm.benchmarks.command import BenchmarkCommand
    from forgetlab.llm.transforms.base import Scope

Exporter = Callable[..., list[dict[str, Any]]]

BENCHMARKS: Registry[BenchmarkCommand] = Registry(
    "benchmark",
    {
        "icl-vs-if": "forgetlab.llm.evaluate:COMMAND",
        "harmful": "forgetlab.llm.harmful_eval:COMMAND",
        "xnli": "forgetlab.llm.benchmarks.xnli:COMMAND",
    },
)


def _icl_vs_if(languages: Sequence[str] | None = None, **opts: Any) -> list[dict[str, Any]]:
    """Rows ``language, icl_task, if_task, index, prompt, icl_answer, if_answer``.

    Options: ``tasks`` (e.g. ``["capslock-math"]``), ``limit`` (prompts per task and
    language, default 100), ``transforms`` (registry names, ``NAME@payload`` for the
    payload-only scope): English prompts moved into each transform's space, ``language`` =
    the transform name. With transforms and no ``languages``, only the transformed rows.
    """
    from forgetlab.llm.benchmarks import icl_vs_if as b

    n = b.N_PROMPTS if opts.get("limit") is None else int(opts["limit"])
    transforms = list(opts.get("transforms") or [])
    prompts = []
    if languages or not transforms:
        prompts = b.generate_prompts(languages or None, opts.get("tasks"), n)
    from forgetlab.llm.transforms.base import parse_transform

    for spec in transforms:
        parsed = parse_transform(spec)
        prompts += b.generate_transformed_prompts(
            parsed.name, opts.get("tasks"), n, scope=cast("Scope | None", parsed.scope)
        )
    return [p.to_row() for p in prompts]


BENCHMARK_EXPORTERS: Registry[Exporter] = Registry(
    "benchmark",
    {
        "icl-vs-if": _icl_vs_if,
        "harmful": "forgetlab.llm.benchmarks.harmful:export_harmful",
        "multijail": "forgetlab.llm.benchmarks.multijail:export_multijail",
        "benign": "forgetlab.llm.benchmarks.benign:export_benign",
        "xnli": "forgetlab.llm.benchmarks.xnli:export_xnli",
    },
)
EXPORTER_OPTIONS: dict[str, frozenset[str]] = {
    "icl-vs-if": frozenset({"tasks", "limit", "transforms"}),
    "harmful": frozenset({"limit", "all_prompts"}),
    "multijail": frozenset({"limit"}),
    "benign": frozenset({"limit"}),
    "xnli": frozenset({"limit", "data"}),
}


def export_rows(
    name: str, languages: Sequence[str] | None = None, **opts: Any
) -> list[dict[str, Any]]:
    """Rows of benchmark ``name``; options left at ``None``/empty count as not given."""
    exporter = BENCHMARK_EXPORTERS.get(name)  # an unknown name is a one-line error
    given = {k: v for k, v in opts.items() if v not in (None, False, (), [])}
    bad = sorted(set(given) - EXPORTER_OPTIONS.get(name, frozenset()))
    if bad:
        raise ForgetlabError(f"benchmark {name!r} does not take option(s) {', '.join(bad)}")
    return exporter(list(languages) if languages else None, **given)
