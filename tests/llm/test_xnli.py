"""XNLI benchmark: prompts, scoring rule, data readers, paired drops, resume, CLI.

The data is ``data/xnli_fixture.jsonl``: 12 hand-written pairs per language (4 per label),
not XNLI rows, so nothing is downloaded. Expected accuracies follow from the fakes:

- ``oracle`` answers the gold word after a space: accuracy 1 everywhere.
- ``says_true_in_english`` answers " True" to every English prompt (right on the 4 of 12
  entailment pairs) and is the oracle elsewhere: English drop 2/3, elsewhere 0.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeBackend

from forgetlab.cli import main
from forgetlab.errors import ForgetlabError
from forgetlab.llm.benchmarks.base import GenerationFailed
from forgetlab.llm.benchmarks.registry import export_rows
from forgetlab.llm.benchmarks.xnli import (
    FORMATS,
    LANGUAGES,
    build_prompt,
    evaluate_xnli,
    is_correct,
    load_examples,
    parse_label,
    predicted_word,
    read_file,
)

FIXTURE = Path(__file__).parent / "data" / "xnli_fixture.jsonl"
ROWS = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
GOLD = {
    build_prompt(r["language"], r["premise"], r["hypothesis"]): FORMATS[r["language"]].words[
        r["label"]
    ]
    for r in ROWS
}


def oracle(prompt: str) -> str:
    return " " + GOLD[prompt] + "\n"


def says_true_in_english(prompt: str) -> str:
    return " True, because" if prompt.endswith("\nAnswer:") else oracle(prompt)


def pair(**kw: Any) -> dict[str, FakeBackend]:
    return {
        "base": FakeBackend(oracle, name="fake-base", **kw),
        "tuned": FakeBackend(says_true_in_english, name="fake-tuned", **kw),
    }


def run(out: Path, backends: dict[str, FakeBackend] | None = None, **kw: Any) -> dict[str, Any]:
    kw.setdefault("data", FIXTURE)
    kw.setdefault("batch_size", 5)
    return evaluate_xnli(backends or pair(), out=out, show_progress=False, **kw)


# --- prompts and scoring ------------------------------------------------------------------------


def test_prompts_are_exactly_the_papers_per_language() -> None:
    p, h = "P.", "H."
    assert build_prompt("en", p, h) == "P.\nQuestion: H. True, False or Neither?\nAnswer:"
    assert build_prompt("fr", p, h) == "P.\nQuestion: H. Vrai, Faux ou Ni?\nRéponse:"
    assert build_prompt("es", p, h) == "P.\nPregunta: H. Verdadero, Falso o Ni?\nRespuesta:"
    assert build_prompt("de", p, h) == "P.\nFrage: H. Wahr, Falsch oder Weder?\nAntwort:"
    # label ints 0, 1, 2 = entailment, neutral, contradiction
    assert FORMATS["en"].words == ("True", "Neither", "False")
    assert FORMATS["fr"].words == ("Vrai", "Ni", "Faux")
    assert FORMATS["es"].words == ("Verdadero", "Ni", "Falso")
    assert FORMATS["de"].words == ("Wahr", "Weder", "Falsch")
    assert LANGUAGES == ("en", "fr", "es", "de")


@pytest.mark.parametrize(
    ("output", "correct"),
    [
        ("True", True),  # at the start
        (" True", True),  # one leading space
        ("\nTrue", True),  # one leading newline
        ('"True"', True),  # one leading quote
        (" True, because the premise says so", True),  # only the start counts
        ("Trueish", True),  # a prefix match, not a word match
        ("  True", False),  # two leading characters
        ("\n\nTrue", False),
        (' "True"', False),
        ("true", False),  # case-sensitive
        (" TRUE", False),
        ("", False),
        (" Tru", False),  # an output cut short
        (" False", False),
        (" Neither True", False),
    ],
)
def test_scoring_rule(output: str, correct: bool) -> None:
    assert is_correct(output, "True") is correct


def test_predicted_word_and_labels() -> None:
    assert predicted_word(" Ni", "fr") == "Ni" and predicted_word(" Faux.", "fr") == "Faux"
    assert predicted_word(" Weder noch", "de") == "Weder" and predicted_word("Ja", "de") is None
    assert [parse_label(x) for x in (0, "1", "contradiction", " Entailment ")] == [0, 1, 2, 0]
    for bad in (3, "-1", "maybe", True):
        with pytest.raises(ValueError):
            parse_label(bad)


# --- data ------------------------------------------------------------------------------------


def test_fixture_is_marked_and_balanced() -> None:
    assert all("NOT XNLI data" in r["note"] for r in ROWS)
    for lang in LANGUAGES:
        labels = [r["label"] for r in ROWS if r["language"] == lang]
        assert sorted(labels) == [0] * 4 + [1] * 4 + [2] * 4


def test_tsv_with_official_column_names_reads_like_jsonl(tmp_path: Path) -> None:
    tsv = tmp_path / "dev.tsv"
    names = ("entailment", "neutral", "contradiction")
    lines = ["language\tgold_label\tsentence1\tsentence2"]
    lines += [
        f"{r['language']}\t{names[r['label']]}\t{r['premise']}\t{r['hypothesis']}" for r in ROWS
    ]
    tsv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert read_file(tsv, ["de", "en"]) == read_file(FIXTURE, ["de", "en"])
    examples, source = load_examples(["fr"], tsv, limit=3)
    assert [e.index for e in examples] == [0, 1, 2] and source["kind"] == "file"
    assert examples[0].answer == "Vrai" and examples[0].prompt.startswith("Le chat dort")


def test_one_language_file_without_language_column(tmp_path: Path) -> None:
    f = tmp_path / "es.jsonl"
    f.write_text('{"premise": "A.", "hypothesis": "B.", "label": 2}\n', encoding="utf-8")
    (ex,) = load_examples(["es"], f)[0]
    assert ex.language == "es" and ex.answer == "Falso"
    with pytest.raises(ForgetlabError, match=r"es\.jsonl:1: no 'language' column"):
        load_examples(["es", "en"], f)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.jsonl", '{"language": "en", "premise": "A."}\n', r"a\.jsonl:1: missing column"),
        ("a.jsonl", '{"language": "en", "premise": "A.", "hypothesis": "B.", "label": 7}\n', "bad label"),
        ("a.jsonl", "not json\n", r"a\.jsonl:1: not JSON"),
        ("a.csv", "premise,hypothesis,label\n", "use a .jsonl or .tsv file"),
        ("a.jsonl", '{"language": "fr", "premise": "A.", "hypothesis": "B.", "label": 0}\n', "no rows for language"),
    ],
)  # fmt: skip
def test_bad_files_are_one_line_errors(tmp_path: Path, name: str, text: str, message: str) -> None:
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ForgetlabError, match=message):
        load_examples(["en"], f)


def test_bad_selection() -> None:
    with pytest.raises(ForgetlabError, match="unknown language"):
        load_examples(["en", "nl"], FIXTURE)
    with pytest.raises(ForgetlabError, match="--limit"):
        load_examples(["en"], FIXTURE, limit=0)
    with pytest.raises(ForgetlabError, match="no such file"):
        load_examples(["en"], FIXTURE.with_name("missing.jsonl"))


def test_hub_rows_through_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[str, str, str]] = []

    def load_dataset(name: str, config: str, split: str) -> list[dict[str, Any]]:
        asked.append((name, config, split))
        return [
            {"premise": r["premise"], "hypothesis": r["hypothesis"], "label": r["label"]}
            for r in ROWS
            if r["language"] == config
        ]

    fake = types.ModuleType("datasets")
    fake.load_dataset = load_dataset  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "datasets", fake)
    examples, source = load_examples(["de", "en"], limit=2)
    assert asked == [("xnli", "de", "validation"), ("xnli", "en", "validation")]
    assert [(e.language, e.index) for e in examples] == [("de", 0), ("de", 1), ("en", 0), ("en", 1)]
    assert source["kind"] == "hub" and source["id"] == "xnli"


def test_hub_without_datasets_or_connection_suggests_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` fail
    with pytest.raises(ForgetlabError, match=r"needs the `datasets` package.*--data PATH") as err:
        load_examples(["en"])
    assert "\n" not in str(err.value)

    def offline(name: str, config: str, split: str) -> list[dict[str, Any]]:
        raise ConnectionError("Couldn't reach 'xnli' on the Hub\n(offline)")

    fake = types.ModuleType("datasets")
    fake.load_dataset = offline  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "datasets", fake)
    with pytest.raises(ForgetlabError, match=r"cannot load xnli/fr .*reach.*--data PATH") as err:
        load_examples(["fr"])
    assert "\n" not in str(err.value)


# --- the paired evaluation -------------------------------------------------------------------


def test_exact_accuracies_drops_and_paired_intervals(tmp_path: Path) -> None:
    res = run(tmp_path / "r")
    assert res["complete"] and res["samples_done"] == res["samples_expected"] == 2 * 48
    assert list(res["languages"]) == ["en", "fr", "es", "de"]
    en = res["languages"]["en"]
    assert en["base"]["accuracy"] == 1.0 and en["tuned"]["accuracy"] == pytest.approx(1 / 3)
    assert en["drop"] == pytest.approx(2 / 3) and en["base"]["n"] == 12
    assert en["tuned"]["answers"] == {"True": 12, "Neither": 0, "False": 0, "other": 0}
    lo, hi = en["drop_ci95"]
    assert 0.3 < lo < 2 / 3 < hi <= 1.0  # 8 of 12 pairs lost, 4 kept: clearly above zero
    for lang in ("fr", "es", "de"):
        row = res["languages"][lang]
        assert row["drop"] == 0.0 and row["drop_ci95"] == [0.0, 0.0]
    assert res["overall"]["drop"] == pytest.approx(2 / 3 / 4)
    assert (
        res["overall"]["drop_ci95"][0] <= res["overall"]["drop"] <= res["overall"]["drop_ci95"][1]
    )
    assert set(res["paper"]) == {"en", "es"} and res["paper"]["en"]["drop"] == pytest.approx(0.0836)
    # the stored rows carry their own scoring, rescorable from the raw output
    rows = [json.loads(x) for x in (tmp_path / "r" / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 96 and all(
        r["correct"] == is_correct(r["output"], r["answer"]) for r in rows
    )
    report = (tmp_path / "r" / "report.md").read_text()
    assert "| English | 100.0 | 33.3 | +66.7 [" in report and "44.26 → 35.90 (+8.36)" in report
    page = (tmp_path / "r" / "report.html").read_text()
    assert "XNLI: r" in page and '>+66.7 <span class="ci">[' in page


def test_backends_get_greedy_ten_tokens_and_the_exact_prompts(tmp_path: Path) -> None:
    backends = pair()
    run(tmp_path / "r", backends, languages=["de"], limit=2)
    base = backends["base"]
    assert all(c.max_new_tokens == 10 and c.temperature == 0.0 for c in base.configs)
    assert base.calls == [build_prompt("de", r["premise"], r["hypothesis"]) for r in ROWS[36:38]]


def test_resume_equals_uninterrupted(tmp_path: Path) -> None:
    ref = run(tmp_path / "ref", languages=["en", "es"])
    cut = pair(fail_after=7)
    with pytest.raises(GenerationFailed, match="rerun the same command to resume"):
        run(tmp_path / "cut", cut, languages=["en", "es"])
    partial = json.loads((tmp_path / "cut" / "results.json").read_text())
    assert partial["complete"] is False and partial["samples_done"] == 5  # one batch of 5 kept
    again = pair()
    res = run(tmp_path / "cut", again, languages=["en", "es"])
    assert len(again["base"].calls) == 24 - 5 and len(again["tuned"].calls) == 24
    strip = ("provenance",)
    assert {k: v for k, v in res.items() if k not in strip} == {
        k: v for k, v in ref.items() if k not in strip
    }
    third = pair()
    run(tmp_path / "cut", third, languages=["en", "es"])
    assert third["base"].calls == [] and third["tuned"].calls == []  # nothing generated anew


def test_limit_growth_resumes_and_edited_data_is_refused(tmp_path: Path) -> None:
    run(tmp_path / "r", languages=["fr"], limit=2)
    grown = pair()
    res = run(tmp_path / "r", grown, languages=["fr"], limit=5)
    assert len(grown["base"].calls) == 3 and res["languages"]["fr"]["base"]["n"] == 5
    edited = tmp_path / "edited.jsonl"
    rows = [dict(r, premise=r["premise"] + " (edited)") for r in ROWS]
    edited.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(ForgetlabError, match="different prompt"):
        run(tmp_path / "r", data=edited, languages=["fr"], limit=2)
    relabelled = tmp_path / "relabelled.jsonl"
    rows = [dict(r, label=(r["label"] + 1) % 3) for r in ROWS]
    relabelled.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(ForgetlabError, match="different answer"):
        run(tmp_path / "r", data=relabelled, languages=["fr"], limit=2)


def test_export_prompts_registry(tmp_path: Path) -> None:
    rows = export_rows("xnli", ["es"], limit=2, data=str(FIXTURE))
    assert [r["index"] for r in rows] == [0, 1] and rows[0]["answer"] == "Verdadero"
    assert rows[0]["prompt"].endswith("Verdadero, Falso o Ni?\nRespuesta:")
    with pytest.raises(ForgetlabError, match="does not take"):
        export_rows("xnli", ["es"], tasks=["x"])


# --- command line ----------------------------------------------------------------------------


@pytest.fixture
def fake_loader(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    import forgetlab.llm.backends as backends_pkg

    loaded: list[dict[str, Any]] = []
    fns = {"oracle": oracle, "true": says_true_in_english}

    def load_backend(spec: str, **kw: Any) -> FakeBackend:
        loaded.append({"spec": spec, **kw})
        kind = spec.removeprefix("fake:")
        if not spec.startswith("fake:") or kind not in fns:
            raise ForgetlabError(f"unknown model {spec!r}")
        return FakeBackend(fns[kind], name=spec)

    monkeypatch.setattr(backends_pkg, "load_backend", load_backend, raising=False)
    return loaded


def cli(args: list[str]) -> int:
    try:
        main(["llm", "xnli", *args])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_cli_end_to_end_and_errors(
    tmp_path: Path, fake_loader: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r"
    args = ["--base", "fake:oracle", "--tuned", "fake:true", "--data", str(FIXTURE), "--quiet"]
    assert cli([*args, "--languages", "en,de", "--limit", "6", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert (
        "| English | 100.0 | 66.7 | +33.3 [" in text and "| German | 100.0 | 100.0 | +0.0" in text
    )
    assert fake_loader[0]["chat_template"] is False and fake_loader[0]["add_bos"] is None
    assert cli([*args, "--languages", "en,de", "--limit", "6", "--out", str(out)]) == 0
    assert len(fake_loader) == 2  # a finished run loads no model
    assert cli([*args, "--limit", "1", "--out", str(tmp_path / "all")]) == 0
    assert list(json.loads((tmp_path / "all" / "results.json").read_text())["languages"]) == [
        "en",
        "fr",
        "es",
        "de",
    ]  # without --languages: all four
    capsys.readouterr()
    bad = [
        ["--languages", "en,xx"],
        ["--languages", ""],
        ["--limit", "0"],
        ["--batch-size", "0"],
        ["--data", str(tmp_path / "missing.jsonl")],
    ]
    for extra in bad:
        assert cli([*args, *extra, "--out", str(tmp_path / "bad")]) == 2, extra
        err = capsys.readouterr().err
        assert err.strip().count("\n") == 0 and err.strip(), extra
    assert not (tmp_path / "bad").exists()  # nothing claimed by bad input


@pytest.mark.slow
def test_tiny_hf_models_end_to_end(tmp_path: Path, tiny_model_dir: Path) -> None:
    """Two (identical) tiny random models through the real HF backend: the pipeline runs,
    stores what the model said, scores it by the rule, and two identical models drop 0."""
    out = tmp_path / "r"
    spec = f"hf:{tiny_model_dir}"
    code = cli(
        ["--base", spec, "--tuned", spec, "--data", str(FIXTURE), "--languages", "en,fr",
         "--limit", "3", "--batch-size", "4", "--device", "cpu", "--quiet", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    res = json.loads((out / "results.json").read_text())
    assert res["complete"] and res["models"]["base"]["add_bos"] is False
    rows = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 12 and all(
        r["correct"] == is_correct(r["output"], r["answer"]) for r in rows
    )
    by = {r["id"]: r["output"] for r in rows}
    assert all(by[f"base|{s}"] == by[f"tuned|{s}"] for s in ("en/0", "en/2", "fr/1"))
    assert res["languages"]["en"]["drop"] == 0.0 and res["languages"]["en"]["drop_ci95"] == [
        0.0,
        0.0,
    ]
