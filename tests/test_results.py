"""Result files: atomic writes, resumable JSONL, run-directory guard, provenance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forgetlab.errors import ForgetlabError
from forgetlab.results import (
    JsonlCache,
    atomic_path,
    config_hash,
    provenance,
    read_text_file,
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


def test_jsonl_cache_compacts_torn_lines_and_duplicates_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text('{"id": "a", "v": 1}\n{"id": "b", "v": 2}\n{"id": "a", "v": 3}\n{"id": "c"')
    cache = JsonlCache(path)
    assert {k: r["v"] for k, r in cache.rows.items()} == {"a": 3, "b": 2}
    # every line of the file now parses (pandas.read_json(lines=True) would read it)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows == [{"id": "a", "v": 3}, {"id": "b", "v": 2}]
    cache.add({"id": "c", "v": 4})
    assert [json.loads(x)["id"] for x in path.read_text().splitlines()] == ["a", "b", "c"]


@pytest.mark.parametrize("line", ["[1, 2]", '{"v": 1}', "7"])
def test_jsonl_cache_refuses_a_line_that_is_not_a_sample(tmp_path: Path, line: str) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text('{"id": "a"}\n' + line + "\n")
    with pytest.raises(ForgetlabError, match=r"s\.jsonl line 2 is not a sample"):
        JsonlCache(path)


def test_atomic_and_appended_files_get_the_same_permissions(tmp_path: Path) -> None:
    write_json(tmp_path / "r.json", {"a": 1})
    JsonlCache(tmp_path / "s.jsonl").add({"id": "x"})
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert modes["r.json"] == modes["s.jsonl"] == modes["plain.txt"], modes


def test_read_text_file_names_a_non_utf8_file(tmp_path: Path) -> None:
    bad = tmp_path / "cfg.yaml"
    bad.write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(
        ForgetlabError, match=r"cfg\.yaml is not UTF-8 text \(byte 0xff at offset 3\)"
    ):
        read_text_file(bad, "config")


def test_provenance_records_config_and_versions() -> None:
    info = provenance({"seed": 3}, model={"name": "m"})
    assert info["config"] == {"seed": 3}
    assert info["config_hash"] == config_hash({"seed": 3})
    assert "torch" in info["packages"] and "forgetlab" in info["packages"]
    assert info["model"] == {"name": "m"}
