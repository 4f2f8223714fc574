"""The instruction-following benchmark: its data, exact scores with fake models, resume, the
command line, the prompt export, and a tiny random model end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeBackend

from forgetlab.cli import main
from forgetlab.errors import ForgetlabError
from forgetlab.llm.backends.base import ModelIdentity
from forgetlab.llm.benchmarks.ifeval import evaluate_ifeval, load_prompts
from forgetlab.llm.benchmarks.ifeval_verifiers import INSTRUCTIONS
from forgetlab.llm.benchmarks.registry import BENCHMARKS, export_rows

ROOT = Path(__file__).resolve().parents[2]

SMALL = [
    {"key": 1, "prompt": "Describe tea. Write in lowercase. Do not use commas.",
     "instruction_id_list": ["change_case:english_lowercase", "punctuation:no_comma"],
     "kwargs": [{}, {}]},
    {"key": 2, "prompt": "List two fruits as JSON.",
     "instruction_id_list": ["detectable_format:json_format"], "kwargs": [{}]},
    {"key": 3, "prompt": "Say goodbye. End with 'That is all.'",
     "instruction_id_list": ["startend:end_checker"], "kwargs": [{"end_phrase": "That is all."}]},
]  # fmt: skip
GOOD = {
    "Describe tea": "the tea is ready and it is hot",
    "List two fruits": 'Here you go:\n{"fruits": ["apple", "pear"]}',  # loose only
    "Say goodbye": "Goodbye. That is all.",
}


def good(prompt: str) -> str:
    return next(v for k, v in GOOD.items() if k in prompt)


def bad(prompt: str) -> str:
    return "Sure, HERE it is."


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in SMALL), encoding="utf-8")
    return path


# --- the packaged prompts --------------------------------------------------------------------


def test_packaged_prompts_are_many_varied_and_valid() -> None:
    prompts, source = load_prompts()
    assert len(prompts) >= 150 and source["prompts"] == len(prompts)
    assert len({p.prompt for p in prompts}) == len(prompts)
    counts = Counter(i for p in prompts for i in p.instruction_ids)
    assert set(counts) == set(INSTRUCTIONS)  # every verifier is used
    assert min(counts.values()) >= 15
    assert all(1 <= len(p.instruction_ids) <= 3 for p in prompts)
    assert all(len(set(p.instruction_ids)) == len(p.instruction_ids) for p in prompts)


def test_packaged_prompts_are_what_the_script_writes() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "make_if_prompts.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"key": 1, "prompt": "x"}', "missing field 'instruction_id_list'"),
        ('{"key": 1, "prompt": "x", "instruction_id_list": ["nope:x"], "kwargs": [{}]}',
         "unknown instruction"),
        ('{"key": 1, "prompt": "x", "instruction_id_list": [], "kwargs": []}', "non-empty"),
        ("not json", "not JSON"),
        ("", "holds no prompts"),
    ],
)  # fmt: skip
def test_bad_data_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(ForgetlabError, match=message):
        load_prompts(path)


# --- exact scores with fake models -------------------------------------------------------------


def test_exact_strict_loose_and_paired_changes(tmp_path: Path, small: Path) -> None:
    base, tuned = FakeBackend(bad, name="bad"), FakeBackend(good, name="good")
    res = evaluate_ifeval(
        {"base": base, "tuned": tuned}, out=tmp_path / "r", data=small, show_progress=False
    )
    assert res["complete"] and res["samples_done"] == 6
    t, b = res["per_role"]["tuned"], res["per_role"]["base"]
    assert (t["prompt_strict"]["k"], t["prompt_strict"]["n"]) == (2, 3)
    assert (t["prompt_loose"]["k"], t["instruction_strict"]["k"]) == (3, 3)
    assert (t["instruction_loose"]["k"], t["instruction_loose"]["n"]) == (4, 4)
    assert all(b[level]["k"] == 0 for level in ("prompt_strict", "prompt_loose"))
    lo, hi = t["prompt_strict"]["ci95"]
    assert 0.2 < lo < 2 / 3 < hi < 0.95  # Wilson, 2 of 3
    assert t["per_type"]["detectable_format:json_format"]["strict"]["k"] == 0
    assert t["per_type"]["detectable_format:json_format"]["loose"]["k"] == 1
    ch = res["paired"]["prompt_strict"]
    assert ch["change"] == pytest.approx(2 / 3) and (ch["only_a"], ch["only_b"]) == (0, 2)
    assert res["paired"]["instruction_loose"]["change"] == 1.0
    assert res["paired"]["per_type"]["startend:end_checker"]["strict"]["change"] == 1.0
    # no chat template: each prompt went in as raw text through --raw-template's default
    assert tuned.calls == [r["prompt"] + "\n" for r in SMALL]
    report = (tmp_path / "r" / "report.md").read_text()
    assert "| prompt-level strict | 0.0 [" in report and "`punctuation:no_comma`" in report
    rows = [json.loads(x) for x in (tmp_path / "r" / "samples.jsonl").read_text().splitlines()]
    row = next(r for r in rows if r["id"] == "tuned|2")
    assert (
        row["strict"] == [False]
        and row["loose"] == [True]
        and row["output"] == GOOD["List two fruits"]
    )


def test_single_model_resume_and_changed_data(tmp_path: Path, small: Path) -> None:
    model = FakeBackend(good, name="good")
    out = tmp_path / "one"
    res = evaluate_ifeval({"model": model}, out=out, data=small, show_progress=False)
    assert res["roles"] == ["model"] and res["paired"] is None and res["pair"] is None
    again = FakeBackend(good, name="good")
    evaluate_ifeval({"model": again}, out=out, data=small, show_progress=False)
    assert again.calls == []  # everything cached
    edited = [dict(SMALL[0], kwargs=[{}, {}], instruction_id_list=[
        "change_case:english_capital", "punctuation:no_comma"]), *SMALL[1:]]  # fmt: skip
    small.write_text("".join(json.dumps(r) + "\n" for r in edited), encoding="utf-8")
    with pytest.raises(ForgetlabError, match="different instruction_id_list"):
        evaluate_ifeval({"model": again}, out=out, data=small, show_progress=False)


class TemplatedFake(FakeBackend):
    """A fake whose identity declares a chat template, as a chat model's does."""

    @property
    def identity(self) -> ModelIdentity:
        return replace(super().identity, chat_template="abc123")


def test_chat_template_models_get_chat_messages(tmp_path: Path, small: Path) -> None:
    chatty = TemplatedFake(bad, chat_fn=good, name="chatty")
    res = evaluate_ifeval({"model": chatty}, out=tmp_path / "c", data=small, show_progress=False)
    assert res["per_role"]["model"]["prompt_loose"]["k"] == 3  # chat_fn answered
    assert res["prompt_format"]["per_role"]["model"] == "chat template"


def test_bad_requests_fail_before_claiming(tmp_path: Path, small: Path) -> None:
    fake = FakeBackend(good)
    for kw, msg in [
        ({"limit": 0}, "--limit"),
        ({"raw_template": "no field"}, "must contain"),
        ({"raw_template": "{prompt} {other}"}, "--raw-template"),
        ({"batch_size": 0}, "--batch-size"),
    ]:
        with pytest.raises(ForgetlabError, match=msg):
            evaluate_ifeval({"model": fake}, out=tmp_path / "x", data=small, **kw)
    with pytest.raises(ForgetlabError, match="either one model"):
        evaluate_ifeval({"base": fake}, out=tmp_path / "x", data=small)
    assert not (tmp_path / "x").exists()


# --- command line and export -------------------------------------------------------------------


@pytest.fixture
def fake_loader(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    import forgetlab.llm.backends as backends_pkg

    loaded: list[dict[str, Any]] = []

    def load_backend(spec: str, **kw: Any) -> FakeBackend:
        loaded.append({"spec": spec, **kw})
        fns = {"fake:good": good, "fake:bad": bad}
        if spec not in fns:
            raise ForgetlabError(f"unknown model {spec!r}")
        return FakeBackend(fns[spec], name=spec)

    monkeypatch.setattr(backends_pkg, "load_backend", load_backend, raising=False)
    return loaded


def cli(args: list[str]) -> int:
    try:
        main(["llm", "run", "ifeval", *args])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_cli_pair_single_and_errors(
    tmp_path: Path,
    small: Path,
    fake_loader: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert "ifeval" in BENCHMARKS.names()
    args = ["--data", str(small), "--quiet"]
    out = tmp_path / "pair"
    assert cli(["--base", "fake:bad", "--tuned", "fake:good", *args, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| prompt-level strict | 0.0 [" in text and "+66.7 [" in text
    assert fake_loader[0]["chat_template"] is True  # the model's template when it has one
    assert cli(["--model", "fake:good", *args, "--raw-template", "Q: {prompt}\\nA:",
                "--out", str(tmp_path / "one")]) == 0  # fmt: skip
    res = json.loads((tmp_path / "one" / "results.json").read_text())
    assert res["prompt_format"]["raw_template"] == "Q: {prompt}\nA:"
    capsys.readouterr()
    for extra in (
        ["--model", "fake:good", "--base", "fake:bad"],
        ["--base", "fake:bad"],
        [],
        ["--model", "fake:good", "--limit", "0"],
        ["--model", "fake:nope"],
    ):
        assert cli([*extra, *args, "--out", str(tmp_path / "bad")]) == 2, extra
        err = capsys.readouterr().err.strip()
        assert err and "\n" not in err, extra
    assert not (tmp_path / "bad").exists()


def test_export_prompts(tmp_path: Path) -> None:
    rows = export_rows("ifeval", limit=2)
    assert [r["key"] for r in rows] == [1, 2] and rows[0]["language"] == "en"
    assert set(rows[0]) >= {"prompt", "instruction_id_list", "kwargs"}
    with pytest.raises(ForgetlabError, match="English"):
        export_rows("ifeval", ["fr"])
    out = tmp_path / "p.jsonl"
    main_args = ["llm", "export-prompts", "ifeval", "--out", str(out)]
    try:
        main(main_args)
    except SystemExit as exc:
        assert not exc.code
    assert len(out.read_text().splitlines()) == len(load_prompts()[0])


@pytest.mark.slow
def test_tiny_hf_model_end_to_end(tmp_path: Path, tiny_model_dir: Path) -> None:
    """A tiny random model through the real HF backend and its chat template: the run
    completes, every output is verified by the rule, and two identical models change by 0."""
    spec = f"hf:{tiny_model_dir}"
    code = cli(["--base", spec, "--tuned", spec, "--limit", "4", "--max-new-tokens", "8",
                "--device", "cpu", "--quiet", "--out", str(tmp_path / "r")])  # fmt: skip
    assert code == 0
    res = json.loads((tmp_path / "r" / "results.json").read_text())
    assert res["complete"] and res["prompt_format"]["per_role"]["base"] == "chat template"
    assert res["paired"]["instruction_loose"]["change"] == 0.0
    rows = [json.loads(x) for x in (tmp_path / "r" / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and all(len(r["strict"]) == len(r["instruction_id_list"]) for r in rows)
