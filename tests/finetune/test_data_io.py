"""SFT JSONL validation: formats, line-numbered one-line errors, TRL conversion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forgetlab.errors import ForgetlabError
from forgetlab.finetune.data.io import (
    file_sha256,
    provenance_path,
    read_sft_jsonl,
    to_trl_rows,
    write_jsonl,
)


def _write(tmp_path: Path, lines: list[str]) -> Path:
    p = tmp_path / "d.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_formats_are_detected(tmp_path: Path) -> None:
    msgs = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    for row, fmt in [
        (msgs, "messages"),
        ({"prompt": "a", "completion": " b"}, "prompt_completion"),
        ({"text": "abc"}, "text"),
    ]:
        rows, got = read_sft_jsonl(_write(tmp_path, [json.dumps(row), "", json.dumps(row)]))
        assert got == fmt and len(rows) == 2


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ("{not json", "line 3: not valid JSON"),
        ('{"foo": 1}', "line 3: row needs"),
        ('{"prompt": "a", "completion": ""}', "line 3: 'completion' is empty"),
        (
            '{"messages": [{"role": "user", "content": "x"}]}',
            "line 3: the last message must be the assistant",
        ),
        ('{"messages": [{"role": "bot", "content": "x"}]}', "line 3: messages[0] needs a role"),
        ('{"text": "fine"}', "line 3: row is text but earlier rows are prompt_completion"),
        ("[1, 2]", "line 3: a row must be a JSON object"),
    ],
)
def test_bad_rows_name_their_line(tmp_path: Path, bad: str, needle: str) -> None:
    good = json.dumps({"prompt": "a", "completion": " b"})
    p = _write(tmp_path, [good, good, bad])
    with pytest.raises(ForgetlabError) as exc:
        read_sft_jsonl(p)
    assert needle in str(exc.value)
    assert "\n" not in str(exc.value)


def test_messages_become_conversational_prompt_completion() -> None:
    msgs = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u"},
        {"role": "assistant", "content": "a"},
    ]
    assert to_trl_rows([{"messages": msgs}], "messages") == [
        {"prompt": msgs[:2], "completion": msgs[2:]}
    ]


def test_write_jsonl_sidecar_records_hash_and_settings(tmp_path: Path) -> None:
    p = write_jsonl(
        tmp_path / "x.jsonl",
        [{"text": "a"}, {"text": "b"}],
        builder="t",
        settings={"k": 1},
        extra=5,
    )
    side = json.loads(provenance_path(p).read_text())
    assert side["rows"] == 2 and side["builder"] == "t" and side["extra"] == 5
    assert side["config"] == {"k": 1}
    assert side["sha256"] == file_sha256(p)
    assert read_sft_jsonl(p)[1] == "text"
