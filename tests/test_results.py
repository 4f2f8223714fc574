"""Result files: atomic writes, resumable JSONL, run-directory guard, provenance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forgetlab.errors import RunDirMismatch
from forgetlab.results import (
    JsonlCache,
    atomic_path,
    config_hash,
    prepare_run_dir,
    provenance,
    write_json,
)


def test_atomic_write_leaves_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_jsonl_cache_resumes_and_ignores_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    cache = JsonlCache(path)
    cache.add_many([{"id": "a", "v": 1}, {"id": "b", "v": 2}])
    with open(path, "a") as fh:
        fh.write('{"id": "c", "v"')  # crash mid-write
    again = JsonlCache(path)
    assert set(again.rows) == {"a", "b"} and "c" not in again
    again.add({"id": "c", "v": 3})
    assert JsonlCache(path).rows["c"]["v"] == 3


def test_run_dir_accepts_same_config_refuses_different(tmp_path: Path) -> None:
    out = tmp_path / "run"
    prepare_run_dir(out, {"a": 1, "b": {"c": 2}})
    prepare_run_dir(out, {"b": {"c": 2}, "a": 1})  # same config, other key order: resume
    with pytest.raises(RunDirMismatch, match=r"b\.c: 2 != 3"):
        prepare_run_dir(out, {"a": 1, "b": {"c": 3}})
    prepare_run_dir(out, {"a": 1, "b": {"c": 3}}, overwrite=True)
    assert json.loads((out / "run_config.json").read_text())["config"]["b"]["c"] == 3


def test_provenance_records_config_and_versions() -> None:
    info = provenance({"seed": 3}, model={"name": "m"})
    assert info["config"] == {"seed": 3}
    assert info["config_hash"] == config_hash({"seed": 3})
    assert "torch" in info["packages"] and "forgetlab" in info["packages"]
    assert info["model"] == {"name": "m"}
