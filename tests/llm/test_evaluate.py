"""Paired ICL-vs-IF evaluation with deterministic fake backends.

Expected accuracies follow from the benchmark's definition, not from a previous run:

- ``upper_query`` (the "base") outputs ``" " + QUERY``. It hits capslock-math (the ICL answer
  is the capitalised first word of the question), misses repeat-math (``" WHAT"`` is not
  ``" What"``), and hits both startblank tasks (the ICL answer is the underscores, which
  upper-casing keeps). So ICL accuracy = 3/4 in every language, IF rate = 0.
- ``english_instruction_follower`` (the "tuned") behaves like the base outside English; on
  English it answers the math question (IF hit, ICL miss) and lower-cases startblank queries
  (still an ICL hit). English ICL = 2/4, IF = 2/4, drop = 1/4; elsewhere drop = 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes import FakeBackend, english_instruction_follower, repeat_query, upper_query

from forgetlab.cli import main
from forgetlab.errors import ForgetlabError, RunDirMismatch
from forgetlab.llm.backends.base import GenerationConfig
from forgetlab.llm.benchmarks.base import GenerationFailed, LazyBackend, pair_note
from forgetlab.llm.benchmarks.icl_vs_if import generate_prompts
from forgetlab.llm.benchmarks.icl_vs_if.benchmark import (
    PAPER_GENERATION,
    PAPER_LANGUAGES,
    IclVsIf,
    evaluate_icl_vs_if,
    summarise_rows,
)
from forgetlab.llm.benchmarks.loop import score_in_memory
from forgetlab.report.llm_report import render_table

TASKS = ("capslock-math", "repeat-math", "capslock-startblank", "repeat-startblank")
BASE_PER_TASK = {
    "capslock-math": 1.0,
    "repeat-math": 0.0,
    "capslock-startblank": 1.0,
    "repeat-startblank": 1.0,
}


def pair(**kw: object) -> dict[str, FakeBackend]:
    return {
        "base": FakeBackend(upper_query, name="fake-base", **kw),  # type: ignore[arg-type]
        "tuned": FakeBackend(english_instruction_follower, name="fake-tuned", **kw),  # type: ignore[arg-type]
    }


def run(out: Path, backends: dict[str, FakeBackend] | None = None, **kw: object) -> dict:
    kw.setdefault("limit", 2)
    kw.setdefault("batch_size", 3)
    return evaluate_icl_vs_if(backends or pair(), out=out, show_progress=False, **kw)  # type: ignore[arg-type]


def strip_volatile(results: dict) -> dict:
    return {k: v for k, v in results.items() if k != "provenance"}


def sample_rows(out: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    return {r["id"]: r for r in rows}


def test_exact_accuracies_and_drop(tmp_path: Path) -> None:
    res = run(tmp_path / "r", limit=3)
    assert res["complete"] and res["conditions"] == list(PAPER_LANGUAGES)
    for lang in PAPER_LANGUAGES:
        row = res["languages"][lang]
        base, tuned = row["base"], row["tuned"]
        assert base["n"] == tuned["n"] == 12
        assert base["icl_accuracy"] == 0.75 and base["icl_hits"] == 9 and base["if_rate"] == 0.0
        assert {t: s["icl_accuracy"] for t, s in base["per_task"].items()} == BASE_PER_TASK
        assert list(base["per_task"]) == list(TASKS)  # the paper's task order
        if lang == "en":
            assert (
                tuned["icl_accuracy"] == 0.5 and tuned["if_rate"] == 0.5 and tuned["if_hits"] == 6
            )
            assert tuned["per_task"]["capslock-math"]["icl_accuracy"] == 0.0
            assert tuned["per_task"]["repeat-math"]["if_rate"] == 1.0
            assert row["drop"] == 0.25 and row["if_increase"] == 0.5
        else:
            assert tuned == base and row["drop"] == 0.0
    ov = res["overall"]
    assert ov["base"]["icl_accuracy"] == 0.75
    assert ov["tuned"]["icl_accuracy"] == pytest.approx((0.5 + 6 * 0.75) / 7)
    assert ov["drop"] == pytest.approx(0.25 / 7)
    assert res["claim"] == {
        "english_drop": 0.25,
        "mean_other_drop": 0.0,
        "smaller_outside_english": True,
    }


def test_output_files_and_schema(tmp_path: Path) -> None:
    out = tmp_path / "r"
    res = run(out, languages=["en", "fr"], limit=2)
    assert json.loads((out / "results.json").read_text()) == json.loads(json.dumps(res))
    rows = sample_rows(out)
    assert len(rows) == 2 * 2 * 4 * 2  # models x languages x tasks x limit
    r = rows["base|en/capslock-math/0"]
    assert set(r) >= {
        "id", "model", "sample", "condition", "language", "transform", "icl_task", "if_task", "index",
        "prompt", "model_input", "icl_answer", "if_answer", "output", "output_mapped", "icl_hit", "if_hit",
    }  # fmt: skip
    assert r["icl_answer"] == " WHAT" and r["if_answer"] == " 23"
    assert r["output"] == " WHAT IS 19 PLUS 4?" and r["icl_hit"] is True and r["if_hit"] is False
    assert rows["tuned|en/capslock-math/0"]["output"] == " 23"
    assert rows["tuned|en/capslock-math/0"]["if_hit"] is True
    # identity, decoding and provenance recorded
    assert (
        res["models"]["base"]["name"] == "fake-base" and res["models"]["base"]["add_bos"] is False
    )
    assert res["models"]["tuned"]["batch_size"] == 1
    assert res["generation"]["max_new_tokens"] == 10 and res["generation"]["temperature"] == 0.0
    assert "forgetlab" in res["provenance"]["packages"]
    assert res["selection"] == {
        "languages": ["en", "fr"],
        "transforms": [],
        "limit": 2,
        "batch_size": 3,
    }
    assert res["pair"]["matched"] is None
    report = (out / "report.md").read_text()
    assert "| English | 75.0 | 50.0 | +25.0 | 0.0 | 50.0 | 8 |" in report
    assert (out / "icl_vs_if.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_backends_get_the_papers_decoding(tmp_path: Path) -> None:
    b = pair()
    run(tmp_path / "r", b, languages=["en"], limit=1, batch_size=16)
    assert b["base"].calls == [p.prompt for p in generate_prompts(["en"], n=1)]
    assert all(c.max_new_tokens == 10 and c.temperature == 0.0 for c in b["base"].configs)


def test_resume_equals_uninterrupted(tmp_path: Path) -> None:
    reference = run(tmp_path / "ref", languages=["en", "hu"], limit=3)
    out = tmp_path / "r"
    # die in the base phase after 7 prompts (batches of 3: 6 saved), then in the tuned phase
    first = {
        "base": FakeBackend(upper_query, name="fake-base", fail_after=7),
        "tuned": FakeBackend(english_instruction_follower, name="fake-tuned"),
    }
    with pytest.raises(GenerationFailed, match=r"after 6/48 samples"):
        run(out, first, languages=["en", "hu"], limit=3)
    partial = json.loads((out / "results.json").read_text())
    assert (
        partial["complete"] is False
        and partial["samples_done"] == 6
        and "outage" in partial["error"]
    )
    assert not (out / "report.md").exists()
    done_before = dict(sample_rows(out))
    second = {
        "base": FakeBackend(upper_query, name="fake-base"),
        "tuned": FakeBackend(english_instruction_follower, name="fake-tuned", fail_after=10),
    }
    with pytest.raises(GenerationFailed, match=r"after 33/48"):
        run(out, second, languages=["en", "hu"], limit=3)
    assert len(second["base"].calls) == 24 - 6  # only what was missing
    assert not set(second["base"].calls) & {r["model_input"] for r in done_before.values()}
    third = pair()
    res = run(out, third, languages=["en", "hu"], limit=3)
    assert third["base"].calls == [] and len(third["tuned"].calls) == 24 - 9
    assert strip_volatile(res) == strip_volatile(reference)
    assert sample_rows(out) == sample_rows(tmp_path / "ref")
    # a finished run reruns without touching (or even loading) any model
    loads: list[str] = []
    lazy = {
        role: LazyBackend(key=_key(b), load=lambda b=b: loads.append("x") or b)  # type: ignore[misc]
        for role, b in pair().items()
    }
    again = evaluate_icl_vs_if(
        lazy, out=tmp_path / "lazy", languages=["en"], limit=1, show_progress=False
    )
    assert loads == ["x", "x"] and again["complete"]
    evaluate_icl_vs_if(lazy, out=tmp_path / "lazy", languages=["en"], limit=1, show_progress=False)
    assert loads == ["x", "x"]


def test_ctrl_c_keeps_finished_samples(tmp_path: Path) -> None:
    served: list[str] = []

    def interrupt_third(prompt: str) -> str:  # Ctrl-C once, while the third prompt runs
        if len(served) == 2 and not interrupt_third.fired:  # type: ignore[attr-defined]
            interrupt_third.fired = True  # type: ignore[attr-defined]
            raise KeyboardInterrupt
        served.append(prompt)
        return upper_query(prompt)

    interrupt_third.fired = False  # type: ignore[attr-defined]
    b = {"base": FakeBackend(interrupt_third, name="fake-base"), "tuned": pair()["tuned"]}
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "r", b, languages=["en"], limit=2, batch_size=1)
    partial = json.loads((tmp_path / "r" / "results.json").read_text())
    assert (
        partial["complete"] is False
        and partial["samples_done"] == 2
        and partial["error"] == "interrupted"
    )
    run(tmp_path / "r", b, languages=["en"], limit=2, batch_size=1)
    assert len(served) == 8 and len(set(served)) == 8  # nothing served twice


def _key(b: FakeBackend) -> dict[str, object]:
    return {"spec": b.name}


def test_limit_growth_and_new_languages_resume(tmp_path: Path) -> None:
    out = tmp_path / "r"
    run(out, languages=["en"], limit=2)
    grown = pair()
    res = run(out, grown, languages=["en", "nl"], limit=3)
    assert len(grown["base"].calls) == 4 * 1 + 4 * 3  # en index 2, all of nl
    assert strip_volatile(res) == strip_volatile(
        run(tmp_path / "fresh", languages=["en", "nl"], limit=3)
    )
    shrunk = run(out, pair(), languages=["en"], limit=1)  # a subset is pure reporting
    assert shrunk["languages"]["en"]["base"]["n"] == 4


def test_refuses_a_different_configuration(tmp_path: Path) -> None:
    out = tmp_path / "r"
    run(out, languages=["en"], limit=1)
    other = {
        "base": FakeBackend(upper_query, name="fake-base"),
        "tuned": FakeBackend(repeat_query, name="other"),
    }
    with pytest.raises(RunDirMismatch, match=r"models\.tuned\.name"):
        run(out, other, languages=["en"], limit=1)
    with pytest.raises(RunDirMismatch, match="max_new_tokens"):
        run(out, languages=["en"], limit=1, generation=GenerationConfig(max_new_tokens=20))
    res = run(out, other, languages=["en"], limit=1, overwrite=True)
    assert len(other["tuned"].calls) == 4  # nothing reused from the other model
    assert res["languages"]["en"]["tuned"]["per_task"]["repeat-math"]["icl_accuracy"] == 1.0


def test_refuses_a_cached_sample_built_from_another_prompt(tmp_path: Path) -> None:
    out = tmp_path / "r"
    run(out, languages=["en"], limit=1)
    lines = (out / "samples.jsonl").read_text().splitlines()
    row = json.loads(lines[0])
    row["model_input"] += " (edited)"
    (out / "samples.jsonl").write_text("\n".join([json.dumps(row), *lines[1:]]) + "\n")
    with pytest.raises(ForgetlabError, match="different prompt"):
        run(out, languages=["en"], limit=1)


def test_transform_condition_scored_in_transform_space(tmp_path: Path) -> None:
    res = run(tmp_path / "r", languages=["en"], transforms=["rot13"], limit=2)
    assert res["conditions"] == ["en", "en+rot13"]
    t = res["languages"]["en+rot13"]
    assert t["base"]["icl_accuracy"] == 0.75  # the capitaliser is as good in rot13 ...
    assert t["drop"] == 0.0  # ... and the English-skewed "tuned" model acts like the base
    assert res["transforms"]["en+rot13"] == {
        "name": "rot13",
        "bijective": True,
        "scope": "full",
        "invertible": True,
    }
    r = sample_rows(tmp_path / "r")["base|en+rot13/capslock-math/0"]
    assert r["model_input"].startswith("Pncvgnyvmr") and r["prompt"].startswith("Capitalize every")
    assert r["icl_answer"] == " JUNG" and r["output"] == " JUNG VF 19 CYHF 4?"
    assert r["output_mapped"] == " WHAT IS 19 PLUS 4?" and r["transform"] == "rot13"
    en = sample_rows(tmp_path / "r")["base|en/capslock-math/0"]
    assert en["output_mapped"] == en["output"]
    assert "English + rot13" in (tmp_path / "r" / "report.md").read_text()


def test_non_invertible_output_keeps_the_sample(tmp_path: Path) -> None:
    res = run(tmp_path / "r", languages=[], transforms=["base64"], limit=1)
    rows = sample_rows(tmp_path / "r")
    assert res["complete"] and len(rows) == 8
    assert {r["output_mapped"] for r in rows.values()} == {
        None
    }  # upper-cased base64 is not base64 text


def test_in_memory_scores_match_the_pipeline(tmp_path: Path) -> None:
    """What the fine-tuning suite computes (IclVsIf scored in memory) equals the run's."""
    bench = IclVsIf(["en", "es"], limit=2)
    fake = FakeBackend(english_instruction_follower)
    rows = score_in_memory(bench, fake, "tuned", generation=PAPER_GENERATION, batch_size=5)
    acc = summarise_rows(rows, ["en", "es"])["conditions"]
    assert list(acc) == ["en", "es"]
    assert (
        acc["en"]["icl_accuracy"] == 0.5
        and acc["en"]["if_rate"] == 0.5
        and acc["es"]["icl_accuracy"] == 0.75
    )
    res = run(tmp_path / "r", languages=["en", "es"], limit=2)
    assert (
        acc["en"] == res["languages"]["en"]["tuned"]
        and acc["es"] == res["languages"]["es"]["tuned"]
    )


def test_pair_note() -> None:
    a = {"name": "a", "extra": {"architecture": "Gemma3ForCausalLM"}}
    b = {"name": "b", "extra": {"architecture": "LlamaForCausalLM"}}
    assert pair_note(a, b)["matched"] is False and "NOT a matched pair" in pair_note(a, b)["note"]
    assert pair_note(a, {"name": "a-sft", "extra": {"base_model": "a"}})["matched"] is True
    assert pair_note(a, {"name": "c", "extra": {}})["matched"] is None
    assert (
        pair_note(
            a, {"name": "d", "extra": {"architecture": "Gemma3ForCausalLM", "vocab_size": 9}}
        )["matched"]
        is None
    )


def test_identity_records_model_config_for_the_pair_check() -> None:
    from types import SimpleNamespace

    from forgetlab.llm.benchmarks.base import identity_dict

    fake = FakeBackend(upper_query, name="hf-like")
    fake.model = SimpleNamespace(  # type: ignore[attr-defined]
        config=SimpleNamespace(
            model_type="gemma3_text", architectures=["Gemma3ForCausalLM"], vocab_size=262144
        )
    )
    ident = identity_dict(fake)
    assert ident["name"] == "hf-like" and ident["batch_size"] == 1
    assert ident["extra"] == {
        "model_type": "gemma3_text",
        "architecture": "Gemma3ForCausalLM",
        "vocab_size": 262144,
    }


def test_input_validation(tmp_path: Path) -> None:
    with pytest.raises(ForgetlabError, match="need base and tuned"):
        evaluate_icl_vs_if({"base": FakeBackend(upper_query)}, out=tmp_path / "x")
    with pytest.raises(ForgetlabError, match="--limit"):
        run(tmp_path / "x", limit=0)
    with pytest.raises(ForgetlabError, match="unknown icl-vs-if language"):
        run(tmp_path / "x", languages=["de"])
    with pytest.raises(ForgetlabError, match="unknown transform"):
        run(tmp_path / "x", transforms=["nope"])
    assert not (tmp_path / "x").exists()


def test_markdown_table_shape(tmp_path: Path) -> None:
    table = render_table(run(tmp_path / "r", languages=["fr", "en"], limit=1))
    lines = table.splitlines()
    assert lines[0].startswith("| Language | Base ICL acc. | Tuned ICL acc. | Drop |")
    assert [ln.split("|")[1].strip() for ln in lines[2:]] == ["French", "English", "**Overall**"]


# --- command line ---------------------------------------------------------------------------------


@pytest.fixture
def fake_loader(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Route ``load_backend`` to fakes: ``fake:upper``, ``fake:follower``, ``fake:outage``."""
    import forgetlab.llm.backends as backends_pkg

    loaded: list[dict] = []
    fns = {"upper": upper_query, "follower": english_instruction_follower, "outage": upper_query}

    def load_backend(spec: str, **kw: object) -> FakeBackend:
        loaded.append({"spec": spec, **kw})
        kind = spec.removeprefix("fake:")
        if not spec.startswith("fake:") or kind not in fns:
            raise ForgetlabError(f"unknown model {spec!r}")
        return FakeBackend(fns[kind], name=spec, fail_after=2 if kind == "outage" else None)

    monkeypatch.setattr(backends_pkg, "load_backend", load_backend, raising=False)
    return loaded


def cli(args: list[str]) -> int:
    try:
        main(["llm", "icl-vs-if", *args])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_cli_end_to_end(
    tmp_path: Path, fake_loader: list[dict], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r"
    args = [
        "--base",
        "fake:upper",
        "--tuned",
        "fake:follower",
        "--languages",
        "en,ls",
        "--limit",
        "1",
        "--quiet",
    ]
    assert cli([*args, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert (
        "| English | 75.0 | 50.0 | +25.0 |" in text and "| Leetspeak | 75.0 | 75.0 | +0.0 |" in text
    )
    assert (
        fake_loader[0]["add_bos"] is None and fake_loader[0]["batch_size"] == 16
    )  # backend default
    assert (
        json.loads((out / "run_config.json").read_text())["config"]["models"]["base"]["spec"]
        == "fake:upper"
    )
    assert cli([*args, "--out", str(out)]) == 0  # resume of a finished run loads nothing
    assert len(fake_loader) == 2


def test_cli_errors_are_one_line(
    tmp_path: Path, fake_loader: list[dict], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r"
    common = ["--languages", "en", "--limit", "1", "--quiet", "--out", str(out)]
    assert cli(["--base", "nope", "--tuned", "fake:follower", *common]) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "unknown model 'nope'" in err
    assert not out.exists()  # an unknown model leaves no claim on --out
    assert cli(["--base", "fake:upper", "--tuned", "fake:follower", *common]) == 0
    assert cli(["--base", "fake:upper", "--tuned", "fake:upper", *common]) == 2
    assert "different configuration" in capsys.readouterr().err
    assert cli(["--base", "fake:upper", "--tuned", "fake:upper", "--overwrite", *common]) == 0
    assert (
        cli(
            [
                "--base",
                "fake:upper",
                "--tuned",
                "fake:follower",
                "--languages",
                "xx",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert (
        cli(
            [
                "--base",
                "fake:upper",
                "--tuned",
                "fake:follower",
                "--languages",
                "",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    capsys.readouterr()
    assert (
        cli(
            ["--base", "fake:outage", "--tuned", "fake:follower", *common[:-1], str(tmp_path / "o")]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "rerun the same command to resume" in err


# --- the packaged offline models (skip when absent) ---------------------------------------------


@pytest.mark.realmodel
@pytest.mark.slow
def test_packaged_pair_end_to_end(tmp_path: Path) -> None:
    packaged = pytest.importorskip("forgetlab.llm.backends.packaged")
    if not (
        packaged.is_available("gemma-3-270m") and packaged.is_available("smollm2-135m-instruct")
    ):
        pytest.skip("packaged models not installed")
    from forgetlab.llm.backends import load_backend

    backends = {
        role: LazyBackend(
            key={"spec": spec}, load=lambda spec=spec: load_backend(spec, batch_size=4)
        )
        for role, spec in (
            ("base", "packaged:gemma-3-270m"),
            ("tuned", "packaged:smollm2-135m-instruct"),
        )
    }
    res = evaluate_icl_vs_if(
        backends, out=tmp_path / "r", languages=["en"], limit=1, show_progress=False
    )
    assert res["complete"] and res["samples_done"] == 8
    assert (
        res["pair"]["matched"] is False
        and "NOT a matched pair" in (tmp_path / "r" / "report.md").read_text()
    )
    assert res["models"]["base"]["add_bos"] is True and res["models"]["tuned"]["add_bos"] is False
    # docs/backends.md#offline-packaged-models-and-the-cache: SmolLM2-Instruct answers the first English capslock-math question instead of " WHAT"
    row = sample_rows(tmp_path / "r")["tuned|en/capslock-math/0"]
    assert (
        row["output"].startswith(" 19 + 4 = 23")
        and row["if_hit"] is False
        and row["icl_hit"] is False
    )
