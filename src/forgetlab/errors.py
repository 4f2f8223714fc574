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
