"""``mock:`` models: exact outputs of each form, one-line errors, identity, and whole CLI runs
(icl-vs-if, harmful, xnli) on them without torch or transformers ever being imported."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from forgetlab.cli import main
from forgetlab.errors import ForgetlabError
from forgetlab.llm.backends import GenerationConfig, is_local, load_backend
from forgetlab.llm.scoring import load_scorer

XNLI_FIXTURE = Path(__file__).parent / "data" / "xnli_fixture.jsonl"
GREEDY = GenerationConfig()


def cli(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# --- the three forms ---------------------------------------------------------------------------


def test_echo_returns_the_prompt_and_the_last_user_message() -> None:
    echo = load_backend("mock:echo")
    assert echo.complete(["Input: a\nOutput:", ""], GREEDY) == ["Input: a\nOutput:", ""]
    conv = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "second"},
    ]
    assert echo.chat([conv, [{"role": "user", "content": "x"}]], GREEDY) == ["second", "x"]


def test_outputs_are_cut_at_the_first_stop_string_and_ignore_the_token_budget() -> None:
    echo = load_backend("mock:echo")
    config = GenerationConfig(max_new_tokens=1, stop=("\n\n", "Input"))
    assert echo.complete(["abc def\nghi\n\nInput: z", "no stop here"], config) == [
        "abc def\nghi",
        "no stop here",
    ]
    const = load_backend("mock:const= A\nB")
    assert const.complete(["p"], GenerationConfig(stop=("\n",))) == [" A"]


def test_const_answers_every_request_with_its_text() -> None:
    const = load_backend("mock:const=I'm sorry: no=way")  # ':' and '=' stay in TEXT
    assert const.complete(["a", "b"], GREEDY) == ["I'm sorry: no=way"] * 2
    assert const.chat([[{"role": "user", "content": "q"}]], GREEDY) == ["I'm sorry: no=way"]
    assert load_backend("mock:const=").complete(["a"], GREEDY) == [""]


def test_file_looks_outputs_up_by_prompt(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "out.jsonl",
        [
            {"prompt": "2+2=", "output": "4", "note": "other keys are ignored"},
            {"prompt": "capital of France?", "output": "Paris\nand more"},
            {"prompt": "2+2=", "output": "4"},  # a repeat with the same output is fine
        ],
    )
    model = load_backend(f"mock:file={path}")
    assert model.complete(["capital of France?", "2+2="], GREEDY) == ["Paris\nand more", "4"]
    assert model.chat([[{"role": "user", "content": "2+2="}]], GREEDY) == ["4"]
    assert model.complete(["capital of France?"], GenerationConfig(stop=("\n",))) == ["Paris"]
    with pytest.raises(ForgetlabError) as err:
        model.complete(["2+3="], GREEDY)
    assert str(err.value) == f"mock:file={path} has no output for prompt '2+3='"
    long = "x\n" * 200
    with pytest.raises(ForgetlabError) as err:
        model.complete([long], GREEDY)
    assert "\n" not in str(err.value) and str(err.value).endswith("… (400 characters)")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        ("", "no prompts in the file"),
        ('{"prompt": "a", "output": "b"}\nnot json\n', "line 2: not valid JSON"),
        ('{"prompt": "a"}\n', 'line 1: expected {"prompt": "...", "output": "..."}'),
        ('{"prompt": "a", "output": 3}\n', "line 1: expected"),
        ('["a", "b"]\n', "line 1: expected"),
        (
            '{"prompt": "a", "output": "b"}\n\n{"prompt": "a", "output": "c"}\n',
            "line 3: a second, different output for prompt 'a'",
        ),
        (b"\xff\xfe", "cannot read it (UnicodeDecodeError)"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_file(
    tmp_path: Path, content: str | bytes | None, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "outputs.jsonl"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ForgetlabError) as err:
        load_backend(f"mock:file={path}")
    assert str(err.value).startswith(f"mock:file={path}") and message in str(err.value)
    args = ["llm", "icl-vs-if", "--base", f"mock:file={path}", "--tuned", "mock:echo"]
    assert cli([*args, "--languages", "en", "--limit", "1", "--out", str(tmp_path / "r")]) == 2
    err_text = capsys.readouterr().err
    assert err_text.count("\n") == 1 and message in err_text
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("spec", ["mock:echo=1", "mock:const", "mock:file", "mock:file=", "mock:x"])
def test_unknown_forms_are_refused(spec: str) -> None:
    with pytest.raises(ForgetlabError, match="expected mock:echo, mock:const=TEXT or mock:file"):
        load_backend(spec)


def test_identity_records_the_form_and_the_file_hash(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "o.jsonl", [{"prompt": "p", "output": "o"}])
    ident = load_backend(f"mock:file={path}", batch_size=4).identity.as_dict()
    assert ident == {
        "backend": "mock",
        "name": "mock:file=o.jsonl",
        "source": str(path.resolve()),
        "revision": "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest(),
        "dtype": "none",
        "add_bos": None,
        "chat_template": None,
        "batch_size": 4,
        "extra": {"prompts": 1},
    }
    const = load_backend("mock:const=hi").identity
    assert (const.name, const.source, const.extra) == (
        "mock:const",
        "mock:const=hi",
        {"output": "hi"},
    )
    assert load_backend("mock:echo").identity.name == "mock:echo"
    # settings that do not apply to a fixed-output model are accepted and ignored
    loaded = load_backend("mock:echo", dtype="bfloat16", device="cuda", add_bos=True)
    assert loaded.identity.dtype == "none" and loaded.identity.add_bos is None


def test_a_mock_model_cannot_score_texts() -> None:
    assert not is_local("mock:echo")
    with pytest.raises(ForgetlabError, match="cannot score texts"):
        load_scorer("mock:echo")


# --- whole runs from the command line ----------------------------------------------------------


NO_TORCH = """
import sys
from forgetlab.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    assert not exc.code, exc.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"torch", "transformers"})
print("HEAVY:", ",".join(heavy) or "none")
"""


def test_icl_vs_if_on_mock_echo_never_imports_torch(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["llm", "icl-vs-if", "--base", "mock:echo", "--tuned", "mock:echo"]
    res = subprocess.run(
        [sys.executable, "-c", NO_TORCH, *args, "--languages", "en", "--limit", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert "HEAVY: none" in res.stdout, res.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["complete"] and results["samples_done"] == 16  # 2 × 4 tasks × 2 models
    models = json.loads((out / "models.json").read_text())
    assert models["base"]["backend"] == models["tuned"]["backend"] == "mock"
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert all(r["output"] == r["model_input"] for r in rows)  # echo: the prompt itself


def _export(tmp_path: Path, *args: str) -> list[dict[str, str]]:
    path = tmp_path / "prompts.jsonl"
    assert cli(["llm", "export-prompts", *args, "--out", str(path)]) == 0
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_icl_vs_if_on_files_of_exported_prompts_scores_exactly(tmp_path: Path) -> None:
    """The base answers every exported prompt with its ICL answer and the tuned model with its
    IF answer: ICL accuracy 100 → 0 and IF rate 0 → 100 in every condition."""
    rows = _export(
        tmp_path, "icl-vs-if", "--languages", "en,fr", "--transforms", "rot13", "--limit", "2"
    )
    base = write_jsonl(
        tmp_path / "base.jsonl", [{"prompt": r["prompt"], "output": r["icl_answer"]} for r in rows]
    )
    tuned = write_jsonl(
        tmp_path / "tuned.jsonl", [{"prompt": r["prompt"], "output": r["if_answer"]} for r in rows]
    )
    out = tmp_path / "run"
    args = ["llm", "icl-vs-if", "--base", f"mock:file={base}", "--tuned", f"mock:file={tuned}"]
    assert (
        cli(
            [
                *args,
                "--languages",
                "en,fr",
                "--transforms",
                "rot13",
                "--limit",
                "2",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    results = json.loads((out / "results.json").read_text())
    assert results["samples_done"] == 2 * len(rows) == 48
    overall = json.dumps(results["overall"])
    assert results["overall"]["base"]["icl_accuracy"] == 1.0, overall
    assert results["overall"]["tuned"]["icl_accuracy"] == 0.0, overall
    assert results["overall"]["tuned"]["if_rate"] == 1.0, overall
    assert (
        results["models"]["base"]["revision"]
        == "sha256:" + hashlib.sha256(base.read_bytes()).hexdigest()
    )


def test_harmful_on_mock_models_end_to_end(tmp_path: Path) -> None:
    """``mock:const`` refuses every request; a file refuses exactly the prompts chosen here."""
    rows = _export(tmp_path, "harmful", "--languages", "en,hu", "--limit", "3")
    refused = {r["prompt"] for i, r in enumerate(rows) if i % 3 == 0}  # 1 of 3 per language
    answers = write_jsonl(
        tmp_path / "answers.jsonl",
        [
            {
                "prompt": r["prompt"],
                "output": "I'm sorry, I cannot help with that."
                if r["prompt"] in refused
                else "Sure, here is how.",
            }
            for r in rows
        ],
    )
    out = tmp_path / "run"
    code = cli(
        ["llm", "harmful", "--model", "mock:const=I'm sorry, I cannot help with that.",
         "--compare", f"mock:file={answers}", "--languages", "en,hu", "--limit", "3", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    labels: dict[tuple[str, str], list[str]] = {}
    for line in (out / "samples.jsonl").read_text().splitlines():
        row = json.loads(line)
        labels.setdefault((row["role"], row["condition"]), []).append(row["label"])
    assert labels[("model", "en")] == labels[("model", "hu")] == ["REFUSE"] * 3
    for lang in ("en", "hu"):
        assert sorted(labels[("compare", lang)]) == ["ANSWER", "ANSWER", "REFUSE"]


def test_xnli_on_a_local_file_with_mock_models(tmp_path: Path) -> None:
    rows = _export(
        tmp_path, "xnli", "--data", str(XNLI_FIXTURE), "--languages", "en", "--limit", "4"
    )
    right = write_jsonl(
        tmp_path / "right.jsonl",
        [{"prompt": r["prompt"], "output": " " + r["answer"]} for r in rows],
    )
    out = tmp_path / "run"
    args = ["llm", "xnli", "--model", f"mock:file={right}", "--compare", "mock:const= Maybe"]
    assert (
        cli(
            [
                *args,
                "--data",
                str(XNLI_FIXTURE),
                "--languages",
                "en",
                "--limit",
                "4",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    hits = {(s["model"], s["sample"]): s["correct"] for s in samples}
    assert len(hits) == 8
    assert all(v for (role, _), v in hits.items() if role == "base")
    assert not any(v for (role, _), v in hits.items() if role == "tuned")
