"""``forgetlab llm run BENCHMARK``: benchmark commands built from their declarations.

The registered benchmarks are listed without loading a model library; ``llm run NAME`` and
the older ``llm NAME`` are one command (same help, same files, same output); and a toy
benchmark defined only as a module plus a registry entry runs with no command-line code.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeBackend, lower_query, upper_query

import forgetlab.llm.backends as backends_pkg
from forgetlab.cli import main
from forgetlab.errors import ForgetlabError
from forgetlab.llm.benchmarks import registry as benchmark_registry
from forgetlab.llm.benchmarks.command import BenchmarkCommand, Flag, split_csv
from forgetlab.llm.cli import DIRECT_BENCHMARKS
from forgetlab.registry import Registry

XNLI_FIXTURE = Path(__file__).parent / "data" / "xnli_fixture.jsonl"
XNLI_WORDS = ["True", "False", "Neither", "Vrai", "Faux", "Ni", "Verdadero", "Falso"]


def _pick(prompt: str, options: list[str]) -> str:
    """A fixed but prompt-dependent choice, so that scores are neither 0 nor 100%."""
    return options[zlib.crc32(prompt.encode()) % len(options)]


def xnli_guess(prompt: str) -> str:
    return " " + _pick(prompt, XNLI_WORDS)


def harmful_reply(prompt: str) -> str:
    return _pick(prompt, ["I'm sorry, I cannot help with that.", "Sure, here is how to do it."])


FNS = {"upper": upper_query, "lower": lower_query, "guess": xnli_guess, "reply": harmful_reply}


@pytest.fixture
def fake_loader(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``load_backend("fake:NAME")`` -> a FakeBackend applying ``FNS[NAME]``."""
    loaded: list[str] = []

    def load_backend(spec: str, **kw: Any) -> FakeBackend:
        loaded.append(spec)
        kind = spec.removeprefix("fake:")
        if not spec.startswith("fake:") or kind not in FNS:
            raise ForgetlabError(f"unknown model {spec!r}")
        return FakeBackend(FNS[kind], name=spec)

    monkeypatch.setattr(backends_pkg, "load_backend", load_backend, raising=False)
    return loaded


def cli(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


# --- listing ---------------------------------------------------------------------------------


def test_run_help_lists_every_benchmark_and_loads_no_model_library() -> None:
    code = (
        "import sys\n"
        "from forgetlab.cli import main\n"
        "try:\n"
        "    main(['llm', 'run', '--help'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "heavy = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
        "print('HEAVY:', ','.join(heavy) or 'none')\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert "HEAVY: none" in res.stdout
    listed = res.stdout.split("Commands:")[1].split()
    names = benchmark_registry.BENCHMARKS.names()
    assert set(names) >= {"icl-vs-if", "harmful", "xnli"}
    assert all(name in listed for name in names)


@pytest.mark.parametrize("name", DIRECT_BENCHMARKS)
def test_direct_command_is_the_registered_one(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    helps = []
    for argv in (["llm", name, "--help"], ["llm", "run", name, "--help"]):
        assert cli(argv) == 0
        helps.append(capsys.readouterr().out)
    direct, run = helps
    assert direct.replace(f"forgetlab llm {name} ", f"forgetlab llm run {name} ") == run
    spec = benchmark_registry.BENCHMARKS.get(name)
    for flag in spec.flags:
        assert flag.decl.split("/")[0] in run
    assert spec.help.splitlines()[0][:40] in " ".join(run.split())


def test_unknown_benchmark_is_one_line_with_a_suggestion(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli(["llm", "run", "xnlii", "--out", "x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown benchmark 'xnlii'" in err and "'xnli'" in err


# --- llm run NAME == llm NAME ----------------------------------------------------------------


def _comparable(results: dict[str, Any]) -> dict[str, Any]:
    """results.json without when, where and by which command line it was made (provenance
    but its ``config``)."""
    kept = {k: v for k, v in results.items() if k != "provenance"}
    return {**kept, "config": results["provenance"].get("config")}


CASES = {
    "xnli": (
        "xnli",
        ["--base", "fake:guess", "--tuned", "fake:guess", "--data", str(XNLI_FIXTURE),
         "--languages", "en,es", "--limit", "5", "--batch-size", "3", "--quiet"],
        "samples.jsonl",
    ),
    "harmful": (
        "harmful",
        ["--base", "fake:reply", "--tuned", "fake:reply", "--languages", "en",
         "--languages", "sw", "--transforms", "rot13,leetspeak", "--limit", "4",
         "--max-new-tokens", "16", "--show-outputs"],
        "samples.jsonl",
    ),
    "icl-vs-if": (
        "icl-vs-if",
        ["--base", "fake:upper", "--tuned", "fake:lower", "--languages", "en,fr",
         "--transforms", "rot13", "--limit", "2", "--no-bos", "--quiet"],
        "samples.jsonl",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_run_gives_what_the_direct_command_gives(
    case: str, tmp_path: Path, fake_loader: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    name, args, samples = CASES[case]
    outs = {}
    for how, prefix in (("direct", ["llm", name]), ("run", ["llm", "run", name])):
        out = tmp_path / how
        assert cli([*prefix, *args, "--out", str(out)]) == 0
        outs[how] = (out, capsys.readouterr().out.replace(str(out), "OUT"))
    (direct, direct_text), (run, run_text) = outs["direct"], outs["run"]
    assert run_text == direct_text and "OUT/" in run_text
    results = json.loads((run / "results.json").read_text())
    assert results["provenance"]["config"] and len((run / samples).read_text().splitlines()) >= 8
    assert _comparable(results) == _comparable(json.loads((direct / "results.json").read_text()))
    assert (run / samples).read_bytes() == (direct / samples).read_bytes()
    config = [json.loads((o / "run_config.json").read_text())["config"] for o in (direct, run)]
    assert config[0] == config[1]
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in direct.iterdir())


@pytest.mark.slow
def test_run_xnli_on_a_tiny_model_gives_what_llm_xnli_gives(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real HF backend on a tiny random model: same outputs, scores and results."""
    spec = f"hf:{tiny_model_dir}"
    args = ["--base", spec, "--tuned", spec, "--data", str(XNLI_FIXTURE), "--languages",
            "en,de", "--limit", "3", "--batch-size", "2", "--device", "cpu", "--quiet"]  # fmt: skip
    for how, prefix in (("direct", ["llm", "xnli"]), ("run", ["llm", "run", "xnli"])):
        assert cli([*prefix, *args, "--out", str(tmp_path / how)]) == 0
    capsys.readouterr()
    direct, run = tmp_path / "direct", tmp_path / "run"
    assert (run / "samples.jsonl").read_bytes() == (direct / "samples.jsonl").read_bytes()
    assert len((run / "samples.jsonl").read_text().splitlines()) == 12
    results = [json.loads((d / "results.json").read_text()) for d in (direct, run)]
    assert results[1]["complete"] and _comparable(results[0]) == _comparable(results[1])


def test_run_flags_reach_the_benchmark(
    tmp_path: Path, fake_loader: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Non-default values arrive under the right names (a wrong mapping would be ignored)."""
    out = tmp_path / "r"
    args = ["--base", "fake:upper", "--tuned", "fake:lower", "--languages", "fr",
            "--limit", "1", "--max-new-tokens", "3", "--bos", "--quiet", "--out", str(out)]  # fmt: skip
    assert cli(["llm", "run", "icl-vs-if", *args]) == 0
    config = json.loads((out / "run_config.json").read_text())["config"]
    assert config["generation"]["max_new_tokens"] == 3
    assert config["models"]["base"]["add_bos"] is True
    results = json.loads((out / "results.json").read_text())
    assert list(results["selection"]["languages"]) == ["fr"]
    assert results["selection"]["limit"] == 1


def test_run_bad_input_is_one_line_exit_2(
    tmp_path: Path, fake_loader: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["llm", "run", "xnli", "--base", "fake:guess", "--tuned", "fake:guess"]
    for extra in (["--languages", "en,xx"], ["--limit", "0"], ["--limit", "x"], []):
        code = cli([*base, "--data", str(XNLI_FIXTURE), *extra, "--out", str(tmp_path / "b")])
        err = capsys.readouterr().err
        if extra:
            assert code == 2 and err.count("\n") == 1 and err.startswith("forgetlab: error:")
    assert cli([*base, "--out", str(tmp_path / "c"), "--data"]) == 2  # missing value
    assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "c").exists()


# --- the recipe: a benchmark with no command-line code ---------------------------------------


@pytest.fixture
def with_toy(monkeypatch: pytest.MonkeyPatch) -> Registry[BenchmarkCommand]:
    """The real registry plus one line: ``toy`` -> ``toy_benchmark:COMMAND`` (lazy)."""
    real = benchmark_registry.BENCHMARKS
    entries: dict[str, Any] = {n: real.reference(n) or real.get(n) for n in real.names()}
    reg: Registry[BenchmarkCommand] = Registry(
        "benchmark", {**entries, "toy": "toy_benchmark:COMMAND"}
    )
    monkeypatch.setattr(benchmark_registry, "BENCHMARKS", reg)
    monkeypatch.delitem(sys.modules, "toy_benchmark", raising=False)
    return reg


def test_a_registered_module_is_a_command(
    tmp_path: Path, with_toy: Registry[BenchmarkCommand], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["llm", "run", "--help"]) == 0
    listing = capsys.readouterr().out
    assert "toy" in listing.split("Commands:")[1] and "Upper-case words" in listing
    assert cli(["llm", "run", "toy", "--help"]) == 0
    usage = capsys.readouterr().out
    assert "--words TEXT" in usage and "[default: alpha,beta,gamma]" in usage
    assert "--shout" in usage and "Only for tests." in usage

    out = tmp_path / "t"
    args = ["llm", "run", "toy", "--base", "upper", "--tuned", "title", "--quiet"]
    assert cli([*args, "--words", "ab, cd,E", "--out", str(out)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "base: 3/3",
        "tuned: 1/3",
        f"wrote {out}/results.json",
    ]
    results = json.loads((out / "results.json").read_text())
    assert results["correct"] == {"base": 3, "tuned": 1} and results["complete"]
    assert (out / "report.md").read_text() == "toy: {'base': 3, 'tuned': 1}\n"
    rows = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert {r["id"]: r["output"] for r in rows}["tuned|cd"] == "Cd"

    # its HTML section comes from its own declaration: title, table and browser columns
    page = (out / "report.html").read_text()
    assert "<h2>Toy upper-casing: t</h2>" in page and "forgetlab report: Toy upper-casing" in page
    assert "<th>base</th><td class='num'>3/3</td>" in page
    assert 'data-kind="columns"' in page and '<th class="">output</th>' in page
    browser = json.loads(page.split('id="samples-0">')[1].split("</script>")[0])
    assert {r["id"]: r["cells"] for r in browser["rows"]}["tuned|cd"] == [
        "tuned",
        "cd",
        "Cd",
        "False",
    ]
    assert cli(["report", str(out), "--out", str(tmp_path / "again.html")]) == 0
    assert "<h2>Toy upper-casing: t</h2>" in (tmp_path / "again.html").read_text()
    capsys.readouterr()

    # an output-only flag changes the printout, not the run (the finished run is reused)
    assert cli([*args, "--words", "ab, cd,E", "--shout", "--out", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == ["BASE: 3/3", "TUNED: 1/3"]

    # its own input checks end as one line, exit 2, with nothing claimed
    for bad in (["--words", " , "], ["--limit", "0"], ["--tuned", "nope"]):
        assert cli([*args, *bad, "--out", str(tmp_path / "bad")]) == 2, bad
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("forgetlab: error:"), err
    assert not (tmp_path / "bad").exists()
    assert cli(["llm", "toy", "--help"]) == 2  # new benchmarks live under `llm run` only
    capsys.readouterr()

    # the prompt set it declares is exported with no line of its own anywhere else
    target = tmp_path / "words.jsonl"
    assert cli(["llm", "export-prompts", "toy-words", "--limit", "2", "--out", str(target)]) == 0
    assert capsys.readouterr().out == f"wrote 2 toy-words prompts to {target}\n"
    assert [json.loads(x) for x in target.read_text().splitlines()] == [
        {"language": "en", "index": 0, "prompt": "alpha"},
        {"language": "en", "index": 1, "prompt": "beta"},
    ]
    assert cli(["llm", "export-prompts", "toy-words", "--tasks", "x", "--out", str(target)]) == 2
    assert "does not take option(s) tasks" in capsys.readouterr().err
    assert cli(["llm", "export-prompts", "toy", "--out", str(target)]) == 2  # a set, not a run
    assert "unknown benchmark 'toy'" in capsys.readouterr().err


# --- the declarations ------------------------------------------------------------------------


def test_flag_names_and_declaration_checks() -> None:
    assert Flag("--max-new-tokens").name == "max_new_tokens"
    assert Flag("--bos/--no-bos", kind="switch").name == "bos"
    assert Flag("--out", dest="out_dir").name == "out_dir"
    with pytest.raises(ValueError, match="declared twice: limit"):
        BenchmarkCommand("x", (Flag("--limit"), Flag("--limit")), run=dict, describe=list)
    with pytest.raises(ValueError, match="choices"):
        BenchmarkCommand("x", (Flag("--pick", choices=("a",)),), run=dict, describe=list)
    spec = BenchmarkCommand(
        "x", (Flag("--a"), Flag("--b", kind="switch", output_only=True)), run=dict, describe=list
    )
    assert spec.run_values({"a": 1, "b": True}) == {"a": 1}


def test_split_csv() -> None:
    assert split_csv(" en, ja ,,") == ["en", "ja"]
    assert split_csv(("en,ja", "hu", "")) == ["en", "ja", "hu"]
    assert split_csv(None) == [] and split_csv("") == []


# --- one vocabulary: --base/--tuned everywhere, the older names as deprecated aliases -----------


def test_old_model_flags_still_work_with_a_deprecation_note(
    tmp_path: Path, fake_loader: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """xnli's and harmful's ``--model/--compare`` (base/tuned) give the same files as
    ``--base/--tuned``, with one note per old flag on stderr; ``--help`` shows only the new."""
    xnli = ["--data", str(XNLI_FIXTURE), "--languages", "en", "--limit", "3", "--quiet"]
    harmful = ["--languages", "en", "--limit", "2", "--max-new-tokens", "8"]
    for name, rest in (("xnli", xnli), ("harmful", harmful)):
        model = "fake:guess" if name == "xnli" else "fake:reply"
        new, old = tmp_path / f"{name}-new", tmp_path / f"{name}-old"
        assert cli(["llm", name, "--base", model, "--tuned", model, *rest, "--out", str(new)]) == 0
        assert "deprecated" not in capsys.readouterr().err
        assert (
            cli(["llm", name, "--model", model, "--compare", model, *rest, "--out", str(old)]) == 0
        )
        notes = [line for line in capsys.readouterr().err.splitlines() if "deprecated" in line]
        assert len(notes) == 2 and any("use --tuned" in n for n in notes), notes
        assert any("use --base" in n for n in notes), notes
        assert _comparable(json.loads((new / "results.json").read_text())) == _comparable(
            json.loads((old / "results.json").read_text())
        )
        assert cli(["llm", name, "--help"]) == 0
        assert "--compare" not in capsys.readouterr().out
    assert cli(["llm", "xnli", "--tuned", "fake:guess", *xnli, "--out", str(tmp_path / "x")]) == 2
    assert "Missing option '--base'" in capsys.readouterr().err
    args = ["llm", "harmful", "--model", "fake:reply", *harmful, "--out", str(tmp_path / "one")]
    assert cli(args) == 0 and "deprecated" not in capsys.readouterr().err  # one model: --model
