"""Top-level CLI behaviour: labs listed, user errors are one line with exit code 2."""

from __future__ import annotations

import subprocess
import sys


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "forgetlab", *args], capture_output=True, text=True, timeout=120
    )


def test_help_lists_labs() -> None:
    res = run_cli("--help")
    assert res.returncode == 0
    for lab in ("synthetic", "llm", "finetune"):
        assert lab in res.stdout


def test_unknown_command_is_one_line_exit_2() -> None:
    res = run_cli("nonsense")
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "Traceback" not in res.stderr
    assert res.stderr.startswith("forgetlab: error:")
