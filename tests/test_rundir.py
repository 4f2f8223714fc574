"""Run directories: claim, resume, refuse, overwrite without loss, exclusive lock, no leftovers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from forgetlab.errors import ForgetlabError, RunDirBusy, RunDirMismatch
from forgetlab.rundir import LOCK_NAME, RunDir

HOLD = """
import sys, time
from forgetlab.rundir import RunDir
run = RunDir(sys.argv[1], {"a": 1})
run.claim()
print("held", flush=True)
time.sleep(60)
"""


def _claim(path: Path, config: dict, **kw) -> RunDir:
    run = RunDir(path, config, **kw)
    run.claim()
    return run


def test_same_config_resumes_other_refused_naming_the_key(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run = _claim(out, {"a": 1, "b": {"c": 2}})
    (out / "samples.jsonl").write_text("x\n")
    run.close()
    again = _claim(out, {"b": {"c": 2}, "a": 1})  # other key order: same config
    assert again.resumed
    again.close()
    with pytest.raises(RunDirMismatch, match=r"b\.c: 2 != 3.*--overwrite"):
        _claim(out, {"a": 1, "b": {"c": 3}})
    assert json.loads((out / "run_config.json").read_text())["config"]["b"]["c"] == 2


def test_overwrite_moves_the_old_run_aside(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run = _claim(out, {"a": 1})
    (out / "samples.jsonl").write_text("old\n")
    run.close()
    _claim(out, {"a": 2}, overwrite=True).close()
    (kept,) = out.glob("replaced-*")
    assert (kept / "samples.jsonl").read_text() == "old\n"
    assert json.loads((kept / "run_config.json").read_text())["config"] == {"a": 1}
    assert json.loads((out / "run_config.json").read_text())["config"] == {"a": 2}
    assert not (out / "samples.jsonl").exists()


def test_stale_hook_keeps_what_the_new_config_can_reuse(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run = _claim(out, {"gen": 1, "judge": "a"})
    for name in ("generations.jsonl", "samples.jsonl"):
        (out / name).write_text(name)
    run.close()
    _claim(
        out, {"gen": 1, "judge": "b"}, overwrite=True, stale=lambda old: ["samples.jsonl"]
    ).close()
    assert (out / "generations.jsonl").exists() and not (out / "samples.jsonl").exists()
    assert (next(out.glob("replaced-*")) / "samples.jsonl").exists()


def test_a_directory_without_progress_takes_a_new_config(tmp_path: Path) -> None:
    out = tmp_path / "run"
    _claim(out, {"a": 1}).close()  # e.g. killed right after the claim
    _claim(out, {"a": 2}).close()
    assert json.loads((out / "run_config.json").read_text())["config"] == {"a": 2}


def test_failed_fresh_run_leaves_nothing_behind(tmp_path: Path) -> None:
    out = tmp_path / "new"
    with pytest.raises(ForgetlabError, match="unknown model"), RunDir(out, {"a": 1}):
        raise ForgetlabError("unknown model")
    assert not out.exists()
    existing = tmp_path / "existing"
    existing.mkdir()
    with pytest.raises(ForgetlabError), RunDir(existing, {"a": 1}):
        raise ForgetlabError("unknown model")
    assert list(existing.iterdir()) == []
    with RunDir(existing, {"a": 2}):  # the corrected command is not blocked
        (existing / "out.txt").write_text("done")


def test_failed_resumed_run_keeps_its_claim(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with RunDir(out, {"a": 1}):
        (out / "samples.jsonl").write_text("x\n")
    with pytest.raises(RuntimeError), RunDir(out, {"a": 1}):
        raise RuntimeError("crash")
    assert (out / "run_config.json").exists() and (out / "samples.jsonl").exists()


def test_second_run_is_refused_naming_the_holder_then_takes_over_a_dead_lock(
    tmp_path: Path,
) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(RunDirBusy, match=rf"in use by another run \(PID {proc.pid}\)"):
            _claim(out, {"a": 1})
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert (out / LOCK_NAME).exists()  # left by the killed holder ...
    run = _claim(out, {"a": 1})  # ... and taken over
    assert f"pid {os.getpid()}" in (out / LOCK_NAME).read_text()
    run.close()


def test_unwritable_out_is_one_line(tmp_path: Path) -> None:
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(ForgetlabError, match="exists and is not a directory"):
        _claim(afile, {"a": 1})
    with pytest.raises(ForgetlabError, match=r"cannot create --out .*sub"):
        _claim(afile / "sub", {"a": 1})


@pytest.mark.slow
def test_two_cli_runs_on_one_out_do_not_both_write(tmp_path: Path) -> None:
    """A second ``pretrain`` on a busy --out exits 2 at once; the first finishes cleanly."""
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "forgetlab", "synthetic", "pretrain", "--preset", "smoke"]
    cmd += ["--quiet", "--device", "cpu", "--set", "train.steps=400", "--out", str(out)]
    first = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / "run_config.json").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    first_rc = first.wait(timeout=300)
    assert first_rc == 0
    assert second.returncode == 2, second.stderr
    assert second.stderr.count("\n") == 1 and f"PID {first.pid}" in second.stderr
    steps = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 400


def test_a_foreign_non_empty_directory_is_not_claimed(tmp_path: Path) -> None:
    out = tmp_path / "papers"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ForgetlabError, match="not empty and holds no run of this kind"):
        _claim(out, {"a": 1})
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]  # no lock file left either
    _claim(out, {"a": 1}, overwrite=True).close()
    assert (next(out.glob("replaced-*")) / "notes.txt").read_text() == "mine"
