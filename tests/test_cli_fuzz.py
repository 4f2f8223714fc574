"""CLI fuzz: every command, driven with random bad values, ends as one line and exit 2.

Each example picks a command and one of its inputs, replaces that input with a random bad
value (out-of-range numbers, unknown names, non-UTF-8 or corrupt files, unusable output
paths) and runs the command in-process. It must exit with code 2, print exactly one
``forgetlab: error:`` line and no traceback, and leave nothing behind: no output directory
or file, no temporary files beside the inputs. Values are drawn so that none can be valid,
so no example ever starts real work.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forgetlab.cli import main

sys.path.insert(0, str(Path(__file__).parent / "finetune"))
from ft_helpers import build_tiny

SEED_MAX = 2**63 - 1
TRIED: list[str] = []

# -- bad values ---------------------------------------------------------------------------
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12)
not_positive = st.integers(max_value=0).map(str)
too_big_seed = st.integers(min_value=SEED_MAX + 1, max_value=10**30).map(str)
negative = st.integers(max_value=-1).map(str)
junk_number = st.sampled_from(["", "x", "1.5e", "nan?", "--", "1_000x", "0x"])
bad_seed = st.one_of(too_big_seed, negative, junk_number)
bad_device = names.filter(lambda s: s not in {"cpu", "cuda", "mps", "auto", "meta"})
bad_count = st.one_of(not_positive, junk_number)


def _bad_bytes() -> st.SearchStrategy[bytes]:
    """Content that is not UTF-8 (a lone continuation or an invalid lead byte)."""
    return st.tuples(
        st.binary(max_size=20), st.sampled_from([b"\xff", b"\xc3\x28", b"\x80", b"\xfe\xfe"])
    ).map(lambda t: t[0] + t[1] + t[0])


# -- commands ----------------------------------------------------------------------------
# Each case: (name, argv builder). The builder gets the work dir, the output path, the
# drawn bad value and the tiny model directory, and returns argv.
Builder = Callable[[Path, Path, str, Path], list[str]]


def _file(work: Path, name: str, data: bytes) -> str:
    path = work / name
    path.write_bytes(data)
    return str(path)


def _pretrain(opt: str) -> Builder:
    def argv(work: Path, out: Path, bad: str, model: Path) -> list[str]:
        return ["synthetic", "pretrain", "--preset", "smoke", "--out", str(out), opt, bad]

    return argv


CASES: dict[str, tuple[st.SearchStrategy, Builder]] = {
    "pretrain --seed": (bad_seed, _pretrain("--seed")),
    "pretrain --steps": (bad_count, _pretrain("--steps")),
    "pretrain --device": (bad_device, _pretrain("--device")),
    "pretrain --preset": (names.filter(lambda s: s not in {"smoke", "cpu"}), _pretrain("--preset")),
    "pretrain --set task.d": (
        st.one_of(not_positive, st.integers(min_value=4097, max_value=10**13).map(str)).map(
            lambda v: f"task.d={v}"
        ),
        _pretrain("--set"),
    ),
    "pretrain --set unknown key": (names.map(lambda k: f"task.zz{k}=1"), _pretrain("--set")),
    "pretrain --config non-UTF-8": (
        _bad_bytes().map(lambda b: b.hex()),
        lambda w, o, bad, m: [
            "synthetic",
            "pretrain",
            "--preset",
            "smoke",
            "--out",
            str(o),
            "--config",
            _file(w, "cfg.yaml", bytes.fromhex(bad)),
        ],
    ),
    "finetune --from corrupt weights": (
        st.binary(max_size=64).map(lambda b: b.hex()),
        lambda w, o, bad, m: [
            "synthetic",
            "finetune",
            "--from",
            _corrupt_run(w, bad),
            "--out",
            str(o),
        ],
    ),
    "baselines --seed": (
        bad_seed,
        lambda w, o, bad, m: [
            "synthetic",
            "baselines",
            "--preset",
            "smoke",
            "--out",
            str(o),
            "--seed",
            bad,
        ],
    ),
    "reproduce --set analysis": (
        names.map(lambda k: f"analysis.zz{k}=1"),
        lambda w, o, bad, m: [
            "synthetic",
            "reproduce",
            "--preset",
            "smoke",
            "--out",
            str(o),
            "--set",
            bad,
        ],
    ),
    "reproduce unwritable --out": (
        names,
        lambda w, o, bad, m: [
            "synthetic",
            "reproduce",
            "--preset",
            "smoke",
            "--out",
            str(Path(_file(w, "afile", b"x")) / bad),
        ],
    ),
    "icl-vs-if --languages": (
        names.filter(lambda s: s not in {"en", "fr", "es", "nl", "hu", "ls", "pl"}),
        lambda w, o, bad, m: [*_icl(o, m), "--languages", bad],
    ),
    "icl-vs-if --transforms": (
        names.map(lambda s: f"zz{s}"),
        lambda w, o, bad, m: [*_icl(o, m), "--transforms", bad],
    ),
    "icl-vs-if --limit": (bad_count, lambda w, o, bad, m: [*_icl(o, m), "--limit", bad]),
    "icl-vs-if --batch-size": (bad_count, lambda w, o, bad, m: [*_icl(o, m), "--batch-size", bad]),
    "icl-vs-if --device": (bad_device, lambda w, o, bad, m: [*_icl(o, m), "--device", bad]),
    "icl-vs-if --dtype": (
        names.filter(lambda s: s not in {"float32", "fp32", "bf16", "bfloat16", "fp16", "float16"}),
        lambda w, o, bad, m: [*_icl(o, m), "--dtype", bad],
    ),
    "icl-vs-if --base": (
        names,
        lambda w, o, bad, m: [*_icl(o, m), "--base", f"hf:{w}/missing-{bad}"],
    ),
    "harmful --languages": (
        names.filter(lambda s: s not in {"en", "ja", "hu", "sw", "ml"}),
        lambda w, o, bad, m: [*_harmful(o, m), "--languages", bad],
    ),
    "harmful --limit": (bad_count, lambda w, o, bad, m: [*_harmful(o, m), "--limit", bad]),
    "harmful --max-new-tokens": (
        bad_count,
        lambda w, o, bad, m: [*_harmful(o, m), "--max-new-tokens", bad],
    ),
    "harmful --transforms": (
        names.map(lambda s: f"zz{s}"),
        lambda w, o, bad, m: [*_harmful(o, m), "--transforms", bad],
    ),
    "xnli --languages": (
        names.filter(lambda s: s not in {"en", "fr", "es", "de"}),
        lambda w, o, bad, m: [*_xnli(w, o, m), "--languages", bad],
    ),
    "xnli --limit": (bad_count, lambda w, o, bad, m: [*_xnli(w, o, m), "--limit", bad]),
    "xnli --batch-size": (bad_count, lambda w, o, bad, m: [*_xnli(w, o, m), "--batch-size", bad]),
    "xnli --device": (bad_device, lambda w, o, bad, m: [*_xnli(w, o, m), "--device", bad]),
    "xnli --data non-UTF-8": (
        _bad_bytes().map(lambda b: b.hex()),
        lambda w, o, bad, m: [
            *_xnli(w, o, m),
            "--data",
            _file(w, "bad.jsonl", bytes.fromhex(bad)),
        ],
    ),
    "xnli --data label": (
        names.filter(lambda s: s not in {"0", "1", "2", "entailment", "neutral", "contradiction"}),
        lambda w, o, bad, m: [
            *_xnli(w, o, m),
            "--data",
            _file(w, "bad.tsv", f"premise\thypothesis\tlabel\nA.\tB.\t{bad}\n".encode()),
            "--languages",
            "de",
        ],
    ),
    "run benchmark": (
        names.filter(lambda s: s not in {"icl-vs-if", "harmful", "xnli"}),
        lambda w, o, bad, m: ["llm", "run", bad, "--out", str(o)],
    ),
    "run xnli --limit": (
        bad_count,
        lambda w, o, bad, m: ["llm", "run", *_xnli(w, o, m)[1:], "--limit", bad],
    ),
    "run harmful --languages": (
        names.filter(lambda s: s not in {"en", "ja", "hu", "sw", "ml"}),
        lambda w, o, bad, m: ["llm", "run", *_harmful(o, m)[1:], "--languages", bad],
    ),
    "export-prompts benchmark": (
        names.filter(lambda s: s not in {"icl-vs-if", "harmful", "multijail", "benign", "xnli"}),
        lambda w, o, bad, m: ["llm", "export-prompts", bad, "--out", str(o)],
    ),
    "export-prompts --limit": (
        bad_count,
        lambda w, o, bad, m: ["llm", "export-prompts", "harmful", "--out", str(o), "--limit", bad],
    ),
    "sft --data non-UTF-8": (
        _bad_bytes().map(lambda b: b.hex()),
        lambda w, o, bad, m: [
            "finetune",
            "sft",
            "--model",
            str(m),
            "--out",
            str(o),
            "--data",
            _file(w, "d.jsonl", bytes.fromhex(bad)),
        ],
    ),
    "sft --set train.seed": (
        st.one_of(negative, too_big_seed).map(lambda v: f"train.seed={v}"),
        lambda w, o, bad, m: [*_sft(w, o, m), "--set", bad],
    ),
    "sft --eval-languages": (
        names.filter(
            lambda s: s not in {"en", "fr", "es", "nl", "hu", "ls", "pl", "ja", "sw", "ml"}
        ),
        lambda w, o, bad, m: [
            *_sft(w, o, m),
            "--eval-suite",
            "icl-vs-if:2",
            "--eval-languages",
            bad,
        ],
    ),
    "data safety --seed": (
        bad_seed,
        lambda w, o, bad, m: ["finetune", "data", "safety", "--out", str(o), "--seed", bad],
    ),
}


def _icl(out: Path, model: Path) -> list[str]:
    return [
        "llm",
        "icl-vs-if",
        "--base",
        f"hf:{model}",
        "--tuned",
        f"hf:{model}",
        "--out",
        str(out),
    ]


def _xnli(work: Path, out: Path, model: Path) -> list[str]:
    row = '{"language": "en", "premise": "A cat sleeps.", "hypothesis": "An animal rests.", "label": 0}'
    data = _file(work, "xnli.jsonl", (row + "\n").encode())
    spec = f"hf:{model}"
    return ["llm", "xnli", "--base", spec, "--tuned", spec, "--data", data, "--out", str(out)]


def _harmful(out: Path, model: Path) -> list[str]:
    return ["llm", "harmful", "--model", f"hf:{model}", "--out", str(out)]


def _sft(work: Path, out: Path, model: Path) -> list[str]:
    data = work / "ok.jsonl"
    data.write_text('{"prompt": "What is 2 plus 2?", "completion": " 4"}\n', encoding="utf-8")
    return ["finetune", "sft", "--model", str(model), "--data", str(data), "--out", str(out)]


def _corrupt_run(work: Path, hex_bytes: str) -> str:
    """A finished-looking pretraining directory whose weights file is garbage."""
    import json

    run = work / "parent"
    run.mkdir(exist_ok=True)
    from forgetlab.synthetic.presets import synthetic_config

    cfg = synthetic_config("smoke", None, (), {}).model_dump(mode="json")
    (run / "config.json").write_text(json.dumps({"kind": "pretrain", "config": cfg}))
    (run / "model.safetensors").write_bytes(bytes.fromhex(hex_bytes))
    return str(run)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny(tmp_path_factory.mktemp("fuzz-model") / "model")


def _run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    code: int | str | None = 0
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code
    return (code if isinstance(code, int) else 1), err.getvalue()


EXAMPLES_PER_CASE = int(os.environ.get("FORGETLAB_FUZZ_EXAMPLES", "5"))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
@settings(
    max_examples=EXAMPLES_PER_CASE,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_every_bad_input_is_one_line_exit_2_and_leaves_nothing(
    name: str, data: st.DataObject, tiny_model: Path
) -> None:
    strategy, build = CASES[name]
    bad = data.draw(strategy, label="bad value")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        out = work / "out"
        argv = build(work, out, bad, tiny_model)
        before = {p.relative_to(work) for p in work.rglob("*")}
        code, err = _run(argv)
        after = {p.relative_to(work) for p in work.rglob("*")}
    TRIED.append(name)
    assert code == 2, f"{name}: exit {code}: {err!r}"
    assert err.count("\n") == 1 and err.startswith("forgetlab: error: "), f"{name}: {err!r}"
    assert "Traceback" not in err
    assert after == before, f"{name} left {sorted(map(str, after - before))}"


def test_zz_report_how_many_cases_were_tried() -> None:
    """Runs last in file order; prints the count (``pytest -s``) for the docs."""
    if not TRIED:
        pytest.skip("the fuzz test did not run")
    print(f"\nCLI fuzz: {len(TRIED)} bad inputs over {len(set(TRIED))} command inputs")
    assert set(TRIED) == set(CASES)
