"""User-facing errors.

Anything a user can cause (bad config, missing file, refused output directory) raises
:class:`ForgetlabError`; the CLI prints its message as one line and exits with code 2,
never a traceback.
"""


class ForgetlabError(Exception):
    """An error caused by user input; printed as one line, exit code 2."""

    exit_code = 2


class RunDirMismatch(ForgetlabError):
    """An output directory holds a run with a different configuration."""


class RunDirBusy(ForgetlabError):
    """Another live run holds the output directory's lock."""


def one_line(exc: BaseException, limit: int = 400) -> str:
    """An exception's whole message on one line (libraries wrap sentences across lines).

    Whitespace runs become one space; a message longer than ``limit`` is cut at the last
    sentence end before it (or marked with an ellipsis), never mid-word.
    """
    text = " ".join(str(exc).split()) or type(exc).__name__
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = cut.rfind(". ")
    if end > limit // 2:
        return cut[: end + 1]
    return cut[: cut.rfind(" ")] + " …"


def is_out_of_memory(exc: BaseException) -> bool:
    """Python's MemoryError, torch's (CUDA) OutOfMemoryError or the CPU allocator's RuntimeError."""
    text = str(exc)
    return (
        isinstance(exc, MemoryError)
        or type(exc).__name__ == "OutOfMemoryError"
        or "can't allocate memory" in text
        or "out of memory" in text.lower()
    )
