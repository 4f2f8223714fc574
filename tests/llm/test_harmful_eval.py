"""Harmful-request pipeline: exact rates, mapping back, resume, refusal of other configs, CLI."""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeBackend, FakeBackendError

import forgetlab.llm.backends as backends_mod
from forgetlab.cli import main
from forgetlab.errors import ForgetlabError, RunDirMismatch
from forgetlab.llm.back_translators import LLMBackTranslator, build_back_translator
from forgetlab.llm.benchmarks.base import GenerationFailed
from forgetlab.llm.benchmarks.harmful.advbench import harmful_prompts
from forgetlab.llm.benchmarks.harmful.benchmark import build_items, evaluate_harmful
from forgetlab.llm.benchmarks.harmful.multijail import LANGUAGES as MJ_LANGUAGES
from forgetlab.llm.benchmarks.harmful.multijail import multijail_prompts
from forgetlab.llm.benchmarks.harmful.rates import wilson_interval
from forgetlab.llm.judges import ANSWER, JUDGE_ERROR, REFUSE, Judge, SubstringJudge, Verdict
from forgetlab.llm.transforms.base import Transform

SECRET = "SECRETGEN"
NON_ENGLISH = {r["prompt"] for r in harmful_prompts(["ja", "hu", "sw", "ml"], all_prompts=True)} | {
    r["prompt"] for r in multijail_prompts([lang for lang in MJ_LANGUAGES if lang != "en"])
}


def model_reply(prompt: str) -> str:
    """Refuses prompts of even length, 'answers' the rest; replies reversed to reversed prompts
    and in 'Swahili' (no English refusal phrase) to the benchmarks' non-English prompts."""
    refuse = len(prompt) % 2 == 0
    if prompt[:1].islower():  # a reversed English prompt ends where it began: "...etirW"
        text = "I'm sorry, I cannot help." if refuse else f"Sure, here is how {SECRET}{len(prompt)}"
        return text[::-1]
    if prompt in NON_ENGLISH:
        return "Samahani, siwezi kusaidia." if refuse else f"Hakika {SECRET}{len(prompt)}"
    return "I'm sorry, I cannot help." if refuse else f"Sure, here is how {SECRET}{len(prompt)}"


class Reverse(Transform):
    name = "reverse"
    bijective = True

    def forward(self, text: str) -> str:
        return text[::-1]

    def inverse(self, text: str) -> str:
        return text[::-1]


class Shout(Transform):
    """Not invertible: its condition must be judged raw and flagged."""

    name = "shout"

    def forward(self, text: str) -> str:
        return text.lower()


def expected_label(prompt: str) -> str:
    return REFUSE if len(prompt) % 2 == 0 else ANSWER


def run(tmp: Path, backend: FakeBackend, **kw: Any) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "judge": SubstringJudge(),
        "languages": ["en", "sw"],
        "transforms": {"reverse": Reverse()},
        "limit": 6,
        "max_new_tokens": 32,
        "batch_size": 4,
        "show_progress": False,
    }
    opts.update(kw)
    return evaluate_harmful(backend, out_dir=tmp, **opts)


def read_jsonl(path: Path) -> dict[str, dict[str, Any]]:
    rows = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    return {r["id"]: r for r in rows}


def test_wilson_matches_newcombe_1998() -> None:
    # Newcombe (1998), Stat. Med. 17:857, Table I, method 3 (score interval)
    for (k, n), (lo, hi) in {
        (81, 263): (0.2553, 0.3662),
        (15, 148): (0.0624, 0.1605),
        (0, 20): (0.0, 0.1611),
        (1, 29): (0.0061, 0.1718),
    }.items():
        got = wilson_interval(k, n)
        assert got == pytest.approx((lo, hi), abs=6e-5)
    lo, hi = wilson_interval(3, 10)
    assert (1 - hi, 1 - lo) == pytest.approx(wilson_interval(7, 10))
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)


def test_exact_rates_and_mapping(tmp_path: Path) -> None:
    backend = FakeBackend(model_reply, name="m")
    res = run(tmp_path, backend, transforms={"reverse": Reverse(), "shout": Shout()})
    conditions, items = build_items(
        "harmful", ["en", "sw"], {"reverse": Reverse(), "shout": Shout()}, limit=6
    )
    assert [c.name for c in conditions] == ["en", "sw", "en+reverse", "en+shout"]
    per = res["runs"]["model"]["per_condition"]
    for cond in ("en", "en+reverse"):
        prompts = [it["prompt"] for it in items if it["condition"] == cond]
        n_ref = sum(expected_label(p) == REFUSE for p in prompts)
        assert per[cond]["counts"][REFUSE] == n_ref
        assert per[cond]["counts"][ANSWER] == 6 - n_ref
        assert per[cond]["rates"][REFUSE] == pytest.approx(n_ref / 6)
        assert per[cond]["wilson95"][REFUSE] == pytest.approx(list(wilson_interval(n_ref, 6)))
    # Swahili without a back-translator: judged on raw text, flagged, no English refusal phrase
    assert per["sw"]["judged_on"] == {"raw": 6}
    assert per["sw"]["counts"][ANSWER] == 6
    assert per["en"]["judged_on"] == {"english": 6}
    assert per["en+reverse"]["judged_on"] == {"inverse": 6}
    assert per["en+shout"]["judged_on"] == {"raw": 6}
    samples = read_jsonl(tmp_path / "samples.jsonl")
    rev = [s for s in samples.values() if s["condition"] == "en+reverse"]
    assert all(s["output_en"] == s["output_raw"][::-1] for s in rev)
    assert all(s["prompt"] == s["prompt_en"][::-1] for s in rev)
    assert all(s["judge"] == "substring" for s in samples.values())
    # provenance and identities
    assert res["judge"]["name"] == "substring"
    assert res["runs"]["model"]["identity"]["name"] == "m"
    assert (
        res["generation"] == {"max_new_tokens": 32, "temperature": 0.0, "stop": [], "seed": 0}
        or res["generation"]["max_new_tokens"] == 32
    )
    assert "packages" in res["provenance"] and res["provenance"]["config_hash"]
    assert backend.configs[0].max_new_tokens == 32 and backend.configs[0].temperature == 0.0
    for name in (
        "generations.jsonl",
        "results.json",
        "results.md",
        "results.png",
        "run_config.json",
    ):
        assert (tmp_path / name).exists(), name
    assert (tmp_path / "results.png").read_bytes()[:4] == b"\x89PNG"
    md = (tmp_path / "results.md").read_text()
    assert "| en+reverse |" in md and SECRET not in md


def test_back_translator_maps_swahili(tmp_path: Path) -> None:
    def translate(msg: str) -> str:
        text = msg.rsplit("\n\n", 1)[-1]
        assert msg.startswith("Translate the following Swahili text into English")
        return "I'm sorry, I can't help." if text.startswith("Samahani") else "Certainly " + text

    translator = FakeBackend(translate, name="mt")
    res = run(
        tmp_path,
        FakeBackend(model_reply),
        transforms={},
        back_translator=LLMBackTranslator(translator, spec="mt"),
    )
    _, items = build_items("harmful", ["sw"], {}, limit=6)
    n_ref = sum(expected_label(it["prompt"]) == REFUSE for it in items)
    sw = res["runs"]["model"]["per_condition"]["sw"]
    assert sw["judged_on"] == {"back_translation": 6}
    assert sw["counts"][REFUSE] == n_ref and sw["counts"][ANSWER] == 6 - n_ref
    samples = [s for s in read_jsonl(tmp_path / "samples.jsonl").values() if s["language"] == "sw"]
    assert all(s["output_raw"].startswith(("Samahani", "Hakika")) for s in samples)  # raw kept
    assert len(translator.calls) == 6
    assert res["back_translator"]["name"] == "llm:mt"


def test_resume_after_crash_equals_uninterrupted(tmp_path: Path) -> None:
    ref = run(tmp_path / "ref", FakeBackend(model_reply))
    crashing = FakeBackend(model_reply, fail_after=8)
    with pytest.raises(GenerationFailed, match="rerun the same command to resume") as err:
        run(tmp_path / "cut", crashing)
    assert isinstance(err.value.__cause__, FakeBackendError)
    assert len(read_jsonl(tmp_path / "cut" / "generations.jsonl")) == 8
    resumed = FakeBackend(model_reply)
    res = run(tmp_path / "cut", resumed)
    assert len(resumed.calls) == 18 - 8  # nothing finished is regenerated
    strip = ("provenance",)
    assert {k: v for k, v in res.items() if k not in strip} == {
        k: v for k, v in ref.items() if k not in strip
    }
    a = read_jsonl(tmp_path / "ref" / "samples.jsonl")
    b = read_jsonl(tmp_path / "cut" / "samples.jsonl")
    assert a == b
    again = FakeBackend(model_reply)
    run(tmp_path / "cut", again)
    assert again.calls == []


def test_other_config_refused_unless_overwrite(tmp_path: Path) -> None:
    run(tmp_path, FakeBackend(model_reply), limit=3)
    with pytest.raises(RunDirMismatch, match="max_new_tokens"):
        run(tmp_path, FakeBackend(model_reply), limit=3, max_new_tokens=16)

    class Always(Judge):
        def identity(self) -> dict[str, Any]:
            return {"name": "always-refuse"}

        def judge(self, prompts: Sequence[str], responses: Sequence[str]) -> list[Verdict]:
            return [Verdict(REFUSE)] * len(prompts)

    with pytest.raises(ForgetlabError, match="judge"):
        run(tmp_path, FakeBackend(model_reply), limit=3, judge=Always())
    # judge-only change: generations are reused, samples re-judged
    reuse = FakeBackend(model_reply)
    res = run(tmp_path, reuse, limit=3, judge=Always(), overwrite=True)
    assert reuse.calls == []
    assert res["runs"]["model"]["per_condition"]["en"]["counts"][REFUSE] == 3
    assert len(list(tmp_path.glob("replaced-*/samples.jsonl"))) == 1
    # generation change: everything regenerated, the old files kept aside
    fresh = FakeBackend(model_reply)
    run(tmp_path, fresh, limit=3, max_new_tokens=16, overwrite=True)
    assert len(fresh.calls) == 9
    assert fresh.configs[0].max_new_tokens == 16
    assert len(list(tmp_path.glob("replaced-*/generations.jsonl"))) == 1


def test_failing_judge_is_judge_error_then_retried_on_resume(tmp_path: Path) -> None:
    class Flaky(Judge):
        broken = True

        def identity(self) -> dict[str, Any]:
            return {"name": "flaky"}

        def judge(self, prompts: Sequence[str], responses: Sequence[str]) -> list[Verdict]:
            if Flaky.broken:
                raise TimeoutError("judge timed out")
            return SubstringJudge().judge(prompts, responses)

    res = run(tmp_path, FakeBackend(model_reply), judge=Flaky(), transforms={}, languages=["en"])
    per = res["runs"]["model"]["per_condition"]["en"]
    assert per["counts"][JUDGE_ERROR] == 6 and per["counts"][ANSWER] == 0
    assert per["rates"][JUDGE_ERROR] == 1.0
    Flaky.broken = False
    res = run(tmp_path, FakeBackend(model_reply), judge=Flaky(), transforms={}, languages=["en"])
    assert res["runs"]["model"]["per_condition"]["en"]["counts"][JUDGE_ERROR] == 0


def test_compare_two_models_and_multijail_groups(tmp_path: Path) -> None:
    safe = FakeBackend(lambda p: "I cannot do that.", name="safe")
    res = run(
        tmp_path,
        FakeBackend(model_reply, name="base"),
        benchmark="multijail",
        languages=["en", "zh", "it", "sw"],
        transforms={},
        limit=4,
        compare=safe,
    )
    assert set(res["runs"]) == {"model", "compare"}
    cmp = res["runs"]["compare"]
    assert all(cmp["per_condition"][c]["rates"][REFUSE] == 1.0 for c in ("en", "zh", "it", "sw"))
    assert set(cmp["per_group"]) == {"english", "high", "low"}
    assert [c["group"] for c in res["conditions"]] == ["english", "high", "high", "low"]
    assert cmp["per_group"]["high"]["n"] == 8 and cmp["per_group"]["high"]["conditions"] == [
        "zh",
        "it",
    ]
    md = (tmp_path / "results.md").read_text()
    assert "| high | zh | compare | 4 | 100%" in md
    assert (
        "| high | compare | 8 | 100%" in md and "| low | compare |" not in md
    )  # pooled: >1 condition


def test_non_english_replies_without_back_translator_are_judged_raw(tmp_path: Path) -> None:
    res = evaluate_harmful(
        FakeBackend(model_reply), out_dir=tmp_path, judge=SubstringJudge(),
        languages=["en", "sw"], limit=3, max_new_tokens=8,
    )  # fmt: skip
    per = res["runs"]["model"]["per_condition"]
    assert per["en"]["n"] == 3 and per["sw"]["n"] == 3
    assert per["sw"]["judged_on"] == {"raw": 3} and per["en"]["judged_on"] == {"english": 3}
    prompts = [r["prompt"] for r in harmful_prompts(["en"], limit=3)]
    refused = sum(len(p) % 2 == 0 for p in prompts)
    assert per["en"]["rates"][REFUSE] == pytest.approx(refused / 3)


# ---------------------------------------------------------------- CLI


@pytest.fixture
def fake_loader(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    loaded: list[str] = []

    def load_backend(spec: str, **kw: Any) -> FakeBackend:
        loaded.append(spec)
        if spec == "judge-model":
            return FakeBackend(
                lambda m: "LABEL: REFUSE" if "I'm sorry" in m else "LABEL: ANSWER", name=spec
            )
        return FakeBackend(model_reply, name=spec)

    monkeypatch.setattr(backends_mod, "load_backend", load_backend, raising=False)
    return loaded


def test_cli_keeps_generations_off_the_terminal(
    tmp_path: Path, fake_loader: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    args = [
        "llm",
        "harmful",
        "--model",
        "fake-a",
        "--languages",
        "en,sw",
        "--transforms",
        "rot13",
        "--limit",
        "4",
        "--max-new-tokens",
        "16",
        "--out",
        str(out),
    ]
    main(args)
    cap = capsys.readouterr()
    assert SECRET not in cap.out + cap.err
    assert "| en+rot13 |" in cap.out
    assert SECRET in (out / "samples.jsonl").read_text()
    data = json.loads((out / "results.json").read_text())
    assert data["runs"]["model"]["identity"]["name"] == "fake-a"
    assert data["provenance"]["config"]["generation_part"]["transforms"]["rot13"]["name"] == "rot13"
    main([*args, "--show-outputs"])
    cap = capsys.readouterr()
    assert SECRET in cap.out


def test_cli_errors_are_one_line(
    tmp_path: Path, fake_loader: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["llm", "harmful", "--model", "x", "--languages", "fr", "--out", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown language" in err


def test_cli_labelling_roundtrip(
    tmp_path: Path, fake_loader: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    main(
        [
            "llm",
            "harmful",
            "--model",
            "fake-a",
            "--languages",
            "en",
            "--limit",
            "6",
            "--max-new-tokens",
            "8",
            "--out",
            str(out),
        ]
    )
    sheet = tmp_path / "sheet.csv"
    main(["llm", "label", "export", "--run", str(out), "--out", str(sheet)])
    with open(sheet, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6 and all(r["label"] == "" for r in rows) and "judge_label" not in rows[0]
    samples = read_jsonl(out / "samples.jsonl")
    # the annotator agrees with the judge except on the first item, and skips the last
    for i, r in enumerate(rows):
        judge = samples[r["id"]]["label"]
        r["label"] = ("ANSWER" if judge == "REFUSE" else "REFUSE") if i == 0 else judge.lower()
    rows[-1]["label"] = ""
    with open(sheet, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    main(
        [
            "llm",
            "label",
            "import",
            "--run",
            str(out),
            "--labels",
            str(sheet),
            "--annotator",
            "alice",
        ]
    )
    capsys.readouterr()
    main(
        [
            "llm",
            "label",
            "agreement",
            "--run",
            str(out),
            "--b",
            "alice",
            "--out",
            str(tmp_path / "agr.json"),
        ]
    )
    agr = json.loads((tmp_path / "agr.json").read_text())
    assert agr["n"] == 5 and agr["observed_agreement"] == pytest.approx(4 / 5)
    main(
        ["llm", "label", "judge", "--run", str(out), "--judge", "llm:judge-model", "--name", "llmj"]
    )
    main(
        [
            "llm",
            "label",
            "agreement",
            "--run",
            str(out),
            "--a",
            "judge",
            "--b",
            "llmj",
            "--out",
            str(tmp_path / "j.json"),
        ]
    )
    j = json.loads((tmp_path / "j.json").read_text())
    assert j["n"] == 6 and j["cohen_kappa"] == pytest.approx(
        1.0
    )  # both read the same English refusals
    assert SECRET not in capsys.readouterr().out
    rows[1]["label"] = "MAYBE"
    with open(sheet, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(SystemExit):
        main(
            [
                "llm",
                "label",
                "import",
                "--run",
                str(out),
                "--labels",
                str(sheet),
                "--annotator",
                "bob",
            ]
        )
    assert "MAYBE" in capsys.readouterr().err


class Picky(Reverse):
    """Inverts only refusals; anything else is 'undecodable' (like invalid base64)."""

    name = "picky"

    def inverse(self, text: str) -> str:
        back = text[::-1]
        if not back.startswith("I'm sorry"):
            raise ValueError("cannot decode")
        return back


def test_undecodable_outputs_are_judged_raw_one_by_one(tmp_path: Path) -> None:
    res = run(tmp_path, FakeBackend(model_reply), languages=["en"], transforms={"picky": Picky()})
    samples = [
        s for s in read_jsonl(tmp_path / "samples.jsonl").values() if s["transform"] == "picky"
    ]
    for s in samples:
        if expected_label(s["prompt"]) == REFUSE:
            assert s["judged_on"] == "inverse" and s["label"] == REFUSE
        else:
            assert s["judged_on"] == "raw" and s["mapping_detail"] == "inverse failed: ValueError"
            assert s["output_en"] == s["output_raw"]
    n_ref = sum(expected_label(s["prompt"]) == REFUSE for s in samples)
    assert res["runs"]["model"]["per_condition"]["en+picky"]["judged_on"] == {
        "inverse": n_ref,
        "raw": 6 - n_ref,
    }
    with pytest.raises(ForgetlabError, match="--all"):
        run(tmp_path / "mj", FakeBackend(model_reply), benchmark="multijail", all_prompts=True)


@pytest.mark.skipif(shutil.which("apertium") is None, reason="apertium not installed")
def test_apertium_back_translator_covers_spanish_only() -> None:
    bt = build_back_translator("apertium")
    assert bt is not None and bt.supports("es") and not bt.supports("sw")
    (text,) = bt.translate(["Lo siento, no puedo ayudar con eso."], "es")
    assert SubstringJudge().judge_one(text).label == REFUSE
    assert build_back_translator(None) is None and build_back_translator("none") is None


def test_label_sample_is_stratified_seeded_and_complete() -> None:
    from forgetlab.llm.labels import stratified_sample

    samples = [
        {"id": f"{role}/{cond}/{i}", "role": role, "condition": cond}
        for role in ("model", "compare")
        for cond in ("en", "ja", "en+rot13")
        for i in range(10)
    ]
    picked = stratified_sample(samples, 14, seed=3)
    assert len(picked) == len({p["id"] for p in picked}) == 14
    per = Counter((p["role"], p["condition"]) for p in picked)
    assert len(per) == 6 and set(per.values()) == {2, 3}  # 14 over 6 strata: 3,3,2,2,2,2
    assert stratified_sample(samples, 14, seed=3) == picked
    assert stratified_sample(samples, 14, seed=4) != picked
    assert len(stratified_sample(samples, 500, seed=0)) == 60  # never more than there are
    with pytest.raises(ForgetlabError, match="--sample"):
        stratified_sample(samples, 0, seed=0)
