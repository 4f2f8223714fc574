"""LLM benchmarks: ICL vs instruction following, harmful requests (AdvBench), MultiJail."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from forgetlab.errors import ForgetlabError

# The benchmarks of the refusal pipeline (``forgetlab llm harmful --benchmark NAME``), listed
# here, where nothing heavy is imported, so that reports can recognise their results.
REFUSAL_BENCHMARKS: tuple[str, ...] = (
    "harmful",
    "multijail",
    "benign",
    "harmful-select",
    "benign-select",
    "harmful-conv-select",
)


def check_languages(languages: Iterable[str], known: Sequence[str], benchmark: str) -> list[str]:
    """The requested languages as a list; any unknown one is a one-line error."""
    langs = list(languages)
    bad = [lang for lang in langs if lang not in known]
    if bad:
        raise ForgetlabError(
            f"unknown language(s) {', '.join(bad)} for benchmark {benchmark} (known: {', '.join(known)})"
        )
    return langs
