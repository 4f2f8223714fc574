"""The OpenMP wait policy: set before torch loads, never over the user's choice."""

from __future__ import annotations

import os
import subprocess
import sys


def _policy_in_fresh_process(env: dict[str, str], code: str) -> str:
    res = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


CODE = "import forgetlab, os; print(os.environ.get('OMP_WAIT_POLICY', 'unset'))"
BASE = {
    k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "FORGETLAB_OMP_PASSIVE")
}


def _libgomp_spincount(first_import: str) -> str:
    """libgomp's own spin count as it prints it (0 means passive waiting)."""
    code = f"import {first_import}, forgetlab, torch; torch.ones(100_000).sum()"
    env = {**BASE, "OMP_DISPLAY_ENV": "VERBOSE"}
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    (line,) = [x for x in res.stderr.splitlines() if "GOMP_SPINCOUNT" in x]
    return line.split("=")[1].strip().strip("'")


def test_forgetlab_import_sets_passive_before_torch() -> None:
    assert _policy_in_fresh_process(BASE, CODE) == "PASSIVE"
    assert _libgomp_spincount("os") == "0"  # libgomp, loaded by torch later, honours it


def test_torch_imported_first_keeps_libgomp_default() -> None:
    assert int(_libgomp_spincount("torch")) > 0


def test_user_choice_and_switch_are_respected() -> None:
    assert _policy_in_fresh_process({**BASE, "OMP_WAIT_POLICY": "ACTIVE"}, CODE) == "ACTIVE"
    assert _policy_in_fresh_process({**BASE, "FORGETLAB_OMP_PASSIVE": "0"}, CODE) == "unset"


def test_torch_imported_first_is_left_alone() -> None:
    code = "import torch, forgetlab, os; print(os.environ.get('OMP_WAIT_POLICY', 'unset'))"
    assert _policy_in_fresh_process(BASE, code) == "unset"


def test_provenance_records_the_policy() -> None:
    from forgetlab.results import provenance

    assert provenance()["omp_wait_policy"] == os.environ.get("OMP_WAIT_POLICY", "default")
