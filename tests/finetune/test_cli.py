"""`forgetlab finetune ...` end to end: one-line errors, sft + data builders through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forgetlab.cli import main
from forgetlab.errors import ForgetlabError
from forgetlab.finetune.evalsuite import Suite, parse_suites, suite_languages


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    got = capsys.readouterr()
    return code, got.out, got.err


def test_malformed_jsonl_is_one_line_with_its_line_number(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_model_dir: Path
) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text('{"prompt": "a", "completion": " b"}\n{"prompt": "a"\n', encoding="utf-8")
    code, _, err = _run(
        capsys,
        "finetune",
        "sft",
        "--model",
        str(tiny_model_dir),
        "--data",
        str(data),
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 2
    assert err.strip().count("\n") == 0
    assert "bad.jsonl line 2: not valid JSON" in err


def test_bad_suite_and_unknown_preset_are_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_model_dir: Path, pc_data: Path
) -> None:
    base = [
        "finetune",
        "sft",
        "--model",
        str(tiny_model_dir),
        "--data",
        str(pc_data),
        "--out",
        str(tmp_path / "o"),
    ]
    code, _, err = _run(capsys, *base, "--eval-suite", "mmlu:5")
    assert code == 2 and "unknown eval suite 'mmlu'" in err
    code, _, err = _run(capsys, *base, "--preset", "huge")
    assert code == 2 and "unknown preset 'huge'" in err
    code, _, err = _run(capsys, *base, "--set", "train.max_steps=0")
    assert code == 2 and "train.max_steps" in err


def test_missing_model_dir_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pc_data: Path
) -> None:
    code, _, err = _run(
        capsys,
        "finetune",
        "sft",
        "--model",
        str(tmp_path / "nope"),
        "--data",
        str(pc_data),
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 2 and "not found" in err


@pytest.mark.slow
def test_sft_full_via_cli_then_refuses_a_different_config(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_model_dir: Path
) -> None:
    data = tmp_path / "text.jsonl"
    data.write_text(
        "".join(json.dumps({"text": f"Input: word{i}\nOutput: WORD{i}"}) + "\n" for i in range(8))
    )
    out = tmp_path / "run"
    args = [
        "finetune",
        "sft",
        "--model",
        str(tiny_model_dir),
        "--data",
        str(data),
        "--full",
        "--max-steps",
        "2",
        "--out",
        str(out),
    ]
    code, stdout, err = _run(capsys, *args)
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["global_step"] == 2 and summary["load_with"] == f"hf:{out / 'model'}"
    assert "adapter" not in summary["outputs"]
    code, _, err = _run(capsys, *args[:-3], "3", "--out", str(out))
    assert code == 2 and "different configuration" in err and "train.max_steps" in err


def test_data_builders_via_cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, stdout, err = _run(
        capsys,
        "finetune",
        "data",
        "safety",
        "--out",
        str(tmp_path / "s.jsonl"),
        "--n-harmful",
        "5",
        "--n-benign",
        "5",
        "--keep-near-duplicates",
    )
    assert code == 0, err
    assert json.loads(stdout)["rows"] == 10
    code, stdout, err = _run(
        capsys, "finetune", "data", "control", "--out", str(tmp_path / "c.jsonl"), "--n", "3"
    )
    assert code == 0 and json.loads(stdout)["rows"] == 6
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(" ".join(f"w{i}" for i in range(40)) + "\n", encoding="utf-8")
    code, stdout, err = _run(
        capsys,
        "finetune",
        "data",
        "nonins",
        "--out",
        str(tmp_path / "n.jsonl"),
        "--corpus",
        str(corpus),
        "--teacher",
        "none",
        "--n",
        "1",
    )
    assert code == 0 and json.loads(stdout)["rows"] == 1
    # harmful text is never printed
    assert "bomb" not in stdout.lower()


def test_parse_suites() -> None:
    assert parse_suites(["icl-vs-if:20,harmful"]) == [Suite("icl-vs-if", 20), Suite("harmful", 10)]
    for bad, needle in [
        ("harmful:0", "positive"),
        ("harmful:101", "<= 100"),
        ("x", "unknown"),
        ("harmful,harmful", "twice"),
    ]:
        with pytest.raises(ForgetlabError, match=needle):
            parse_suites([bad])
    assert suite_languages(["fr", "sw"], ("en", "sw")) == ["sw"]
    with pytest.raises(ForgetlabError, match="none of --eval-languages fr is available"):
        suite_languages(["fr"], ("en", "sw"), "eval suite harmful")
    with pytest.raises(ForgetlabError, match="unknown language 'xx'"):
        suite_languages(["en", "xx"], ("en", "sw"))


def test_unknown_eval_language_fails_before_any_claim(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pc_data: Path, tiny_model_dir: Path
) -> None:
    out = tmp_path / "o"
    code, _, err = _run(
        capsys, "finetune", "sft", "--model", str(tiny_model_dir), "--data", str(pc_data),
        "--out", str(out), "--eval-suite", "icl-vs-if:2", "--eval-languages", "xx",
    )  # fmt: skip
    assert code == 2 and "unknown language 'xx'" in err and not out.exists()


def test_bad_input_claims_no_out_dir(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pc_data: Path
) -> None:
    out = tmp_path / "o"
    code, _, _ = _run(
        capsys,
        "finetune",
        "sft",
        "--model",
        str(tmp_path / "nope"),
        "--data",
        str(pc_data),
        "--out",
        str(out),
    )
    assert code == 2 and not out.exists()
