"""The HTML report without a browser: run recognition, one-line errors, numbers traced back
to the result files, self-containment, redaction, and the report each lab writes."""

from __future__ import annotations

import json
import re
import shutil
import statistics
from pathlib import Path
from typing import Any

import pytest
from html_runs import read_jsonl

from forgetlab.cli import main
from forgetlab.errors import ForgetlabError
from forgetlab.report.html import build_report
from forgetlab.report.html.collect import FinetuneRun, HarmfulRun, PairedRun, SyntheticRun, collect

CELL = re.compile(
    r"data-src=\"([^\"]+)\" data-key='([^']*)' data-fmt=\"(\w+)\">([^<\s]*)"
    r"(?: <span class=\"ci\">\[([^,\]]+), ([^\]]+)\]</span>)?<"
)


def cells(page: str) -> list[tuple[Path, list[Any], str, str, tuple[str, str] | None]]:
    """(source file, path in it, format, shown text, shown interval) of every number cell."""
    out = []
    for file, key, fmt, text, lo, hi in CELL.findall(page):
        path = json.loads(key.replace("&quot;", '"'))
        out.append((Path(file), path, fmt, text, (lo, hi) if lo else None))
    return out


def interval_at(data: Any, path: list[Any]) -> tuple[Any, Any] | None:
    """Where a shown interval is stored: Wilson intervals beside rates, lo/hi beside a value."""
    if "rates" in path:
        i = path.index("rates")
        lo, hi = value_at(data, [*path[:i], "wilson95", *path[i + 1 :]])
        return lo, hi
    if path[-1] == "drop":  # the paired bootstrap interval stored beside each drop
        lo, hi = value_at(data, [*path[:-1], "drop_ci95"])
        return lo, hi
    parent = value_at(data, path[:-1]) if path[-1] in ("value", "mean") else None
    if isinstance(parent, dict) and "lo" in parent:  # {"value"|"mean", "lo", "hi"}
        return parent["lo"], parent["hi"]
    return None


def value_at(data: Any, path: list[Any]) -> Any:
    for k in path:
        data = data[k]
    return data


def check_cells(page: str, dirs: list[Path]) -> int:
    """Every number cell shows the value stored at its path in its file (to its rounding),
    and every shown interval the interval stored beside it; the files are those of ``dirs``."""
    found = cells(page)
    for file, path, fmt, text, shown_iv in found:
        assert any(file.parent == d or d in file.parents for d in dirs), file
        data = json.loads(file.read_text(encoding="utf-8"))
        value = value_at(data, path)
        if value is None or (isinstance(value, float) and value != value):
            assert text == "–", (file, path, text)
            continue
        assert_shown(text, value, fmt, (file, path))
        stored_iv = interval_at(data, path)
        if shown_iv is not None or (stored_iv is not None and stored_iv[0] == stored_iv[0]):
            assert shown_iv is not None and stored_iv is not None, (file, path)
            for t, v in zip(shown_iv, stored_iv, strict=True):
                assert_shown(t, v, fmt, (file, path))
    return len(found)


def assert_shown(text: str, value: float, fmt: str, where: Any) -> None:
    shown = float(text)
    if fmt in ("pct", "spct"):
        assert shown == pytest.approx(100 * value, abs=0.051), where
    elif fmt == "int":
        assert shown == value, where
    else:
        assert shown == pytest.approx(value, abs=0.6 * 10 ** -int(fmt[1:])), where


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_runs_are_recognised(
    icl_dir: Path, harmful_dir: Path, finetune_dir: Path, synthetic_dirs: list[Path]
) -> None:
    assert isinstance(collect(icl_dir), PairedRun)
    assert isinstance(collect(harmful_dir), HarmfulRun)
    assert isinstance(collect(finetune_dir), FinetuneRun)
    syn = collect(synthetic_dirs[0])
    assert isinstance(syn, SyntheticRun)
    assert {"fig_error_vs_k.png", "fig_recovery.png"} <= set(syn.figures)
    assert set(syn.training) == {"pretrained", "finetuned"}


def test_bad_input_is_one_line_exit_2(
    tmp_path: Path, icl_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "results.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "results.json").write_text('{"benchmark": "mmlu"}', encoding="utf-8")
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "results.json").write_text(
        '{"benchmark": "icl_vs_if", "languages": ["en"], "overall": {}}', encoding="utf-8"
    )
    cases = [
        [str(tmp_path / "missing"), "--out", str(tmp_path / "r.html")],
        [str(tmp_path / "empty"), "--out", str(tmp_path / "r.html")],
        [str(tmp_path / "broken"), "--out", str(tmp_path / "r.html")],
        [str(tmp_path / "other"), "--out", str(tmp_path / "r.html")],
        [str(tmp_path / "odd"), "--out", str(tmp_path / "r.html")],
        [str(icl_dir), "--out", str(tmp_path / "r.txt")],
        [str(icl_dir), "--out", str(tmp_path / "no" / "such" / "r.html")],
        ["--out", str(tmp_path / "r.html")],
    ]
    for args in cases:
        code, _, err = run_cli(capsys, "report", *args)
        assert code == 2, args
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, (args, err)
    assert not list(tmp_path.glob("*.html")) and not list(tmp_path.glob("*.txt"))
    with pytest.raises(ForgetlabError):
        collect(tmp_path / "empty")


def test_cli_writes_one_page(
    tmp_path: Path, icl_dir: Path, harmful_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(
        capsys, "report", str(icl_dir), str(harmful_dir), "--out", str(tmp_path / "r.html")
    )
    assert code == 0 and "wrote" in out
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.count('class="browser"') == 2
    assert check_cells(page, [icl_dir, harmful_dir]) > 30


def test_each_lab_wrote_its_report(
    icl_dir: Path, harmful_dir: Path, synthetic_dirs: list[Path]
) -> None:
    """The pipelines end by writing RUN_DIR/report.html: the same page the command builds."""
    for d in (icl_dir, *synthetic_dirs):
        assert (d / "report.html").read_text(encoding="utf-8") == build_report([d])
    # the harmful fixture adds a manual label set after the run, so only the run's own labels
    page = (harmful_dir / "report.html").read_text(encoding="utf-8")
    assert "Harmful requests" in page and "judge ≠ manual" not in page


def test_numbers_are_read_from_the_result_files(
    icl_dir: Path, harmful_dir: Path, finetune_dir: Path, synthetic_dirs: list[Path]
) -> None:
    assert check_cells(build_report([icl_dir]), [icl_dir]) >= 6 * 4
    assert check_cells(build_report([harmful_dir]), [harmful_dir]) == 2 * 2 * 5
    assert check_cells(build_report([finetune_dir]), [finetune_dir]) == 3 + 5 * 5
    page = build_report(synthetic_dirs)
    assert check_cells(page, synthetic_dirs) > 2 * 20


def test_across_runs_column_is_mean_and_t_interval(synthetic_dirs: list[Path]) -> None:
    page = build_report(synthetic_dirs)
    vals = [
        json.loads((d / "metrics.json").read_text())["finetuned"]["continuous_error"]
        for d in synthetic_dirs
    ]
    mean, half = statistics.fmean(vals), 12.706 * statistics.stdev(vals) / 2**0.5
    row = re.search(r"fine-tuned, continuous error</th>(.*?)</tr>", page)
    assert row is not None
    across = re.search(
        r'class="num across">([-\d.]+) <span class="ci">\[([-\d.]+), ([-\d.]+)\]', row.group(1)
    )
    assert across is not None
    assert [float(x) for x in across.groups()] == pytest.approx(
        [mean, mean - half, mean + half], abs=6e-5
    )


def test_page_is_self_contained(icl_dir: Path, synthetic_dirs: list[Path]) -> None:
    page = build_report([icl_dir, *synthetic_dirs])
    assert not re.search(r"<(script|img|link|iframe)[^>]+(src|href)=\"(?!data:)", page)
    assert "<link" not in page and "@import" not in page
    assert page.count("data:image/png;base64,") >= 2 * 4  # every figure, inline


def test_redact_leaves_generated_text_out(harmful_dir: Path) -> None:
    outputs = {s["output_raw"] for s in read_jsonl(harmful_dir / "samples.jsonl")}
    assert any("GENERATED-TEXT" in o for o in outputs)
    full = build_report([harmful_dir])
    assert "GENERATED-TEXT" in full  # present, behind the reveal button (browser test)
    redacted = build_report([harmful_dir], redact=True)
    assert "GENERATED-TEXT" not in redacted
    assert not any(o in redacted for o in outputs if len(o) > 12)
    assert "Reveal generated text" not in redacted.split("<script>")[0]


def test_embedded_text_cannot_close_the_script(tmp_path: Path, harmful_dir: Path) -> None:
    """Generated text is data: a '</script>' inside it stays inside the JSON."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(harmful_dir, run)
    rows = read_jsonl(run / "samples.jsonl")
    rows[0]["output_raw"] = "</script><script>alert(1)</script>"
    (run / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    page = build_report([run])
    assert "<script>alert(1)" not in page
    assert page.count("</script>") == page.count("<script")


def test_seed_set_shows_its_own_aggregate(tmp_path: Path) -> None:
    """reproduce --seeds N: each seed side by side, the last column read from the seed set's
    metrics.json (mean and interval across seeds), and the seed set gets its report.html."""
    from forgetlab.synthetic.reproduce import reproduce_config
    from forgetlab.synthetic.seeds import run_seeds

    out = tmp_path / "seeds"
    run_seeds(
        reproduce_config("smoke"), out, 2, jobs=1, device="cpu", show_progress=False, log=print
    )
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page == build_report([out])
    agg = [c for c in cells(page) if c[0] == out / "metrics.json"]
    assert len(agg) >= 14 and all(c[4] is not None for c in agg)  # every one with its interval
    assert check_cells(page, [out]) > 2 * 20
    assert "seed_0 (seed 0)" in page and "seed_1 (seed 1)" in page


def test_multijail_pools_each_resource_group(tmp_path: Path) -> None:
    from html_runs import multijail_run

    run = multijail_run(tmp_path / "mj")
    page = (run / "report.html").read_text(encoding="utf-8")
    assert "Pooled by group" in page and "MultiJail" in page
    pooled = [c for c in cells(page) if "per_group" in c[1]]
    assert {c[1][3] for c in pooled} == {"low"}  # only a group of several conditions
    assert check_cells(page, [run]) == 3 * 5 + 4


def test_a_page_that_cannot_be_drawn_does_not_fail_the_run(
    tmp_path: Path, icl_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    from forgetlab.report.html import write_run_report

    run = tmp_path / "run"
    shutil.copytree(icl_dir, run)
    (run / "report.html").unlink()
    results = json.loads((run / "results.json").read_text())
    results["languages"] = list(results["languages"])  # a shape this version cannot draw
    (run / "results.json").write_text(json.dumps(results))
    assert write_run_report(run) is None
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "forgetlab report" in err
    assert not (run / "report.html").exists()


def test_every_registered_benchmark_titles_its_section(tmp_path: Path) -> None:
    """A real (fake-model) run of every registered benchmark and prompt set gets its own
    section title, as each command declares it; older spellings of a benchmark too."""
    from html_runs import FnBackend, harmful_answer, icl_run

    from forgetlab.llm.benchmarks.harmful.benchmark import evaluate_harmful
    from forgetlab.llm.benchmarks.registry import BENCHMARKS
    from forgetlab.llm.benchmarks.xnli import evaluate_xnli
    from forgetlab.llm.judges import SubstringJudge

    fixture = Path(__file__).parents[1] / "llm" / "data" / "xnli_fixture.jsonl"
    runs = {"icl-vs-if": icl_run(tmp_path / "icl", languages=["en"], limit=1)}
    guess = FnBackend(lambda p: " True", "fake-guess")
    evaluate_xnli(
        {"base": guess, "tuned": guess}, out=tmp_path / "xnli", data=fixture, limit=2,
        show_progress=False,
    )  # fmt: skip
    runs["xnli"] = tmp_path / "xnli"
    titles = {
        "icl-vs-if": "ICL vs instruction following",
        "xnli": "XNLI",
        "harmful": "Harmful requests",
        "harmful-select": "Harmful requests (selection set)",
        "multijail": "MultiJail",
        "benign": "Harmless requests",
        "benign-select": "Harmless requests (selection set)",
        "harmful-conv-select": "Conversational harmful requests (selection set)",
    }
    for prompt_set in (
        "harmful", "harmful-select", "multijail", "benign", "benign-select", "harmful-conv-select",
    ):  # fmt: skip
        runs[prompt_set] = tmp_path / prompt_set
        evaluate_harmful(
            FnBackend(harmful_answer, "fake-chat"), out_dir=runs[prompt_set],
            judge=SubstringJudge(), benchmark=prompt_set, languages=["en"], limit=2,
            max_new_tokens=8, show_progress=False,
        )  # fmt: skip
    declared = {
        name for b in BENCHMARKS.names() if (r := BENCHMARKS.get(b).report) for name in r.results
    }
    assert set(runs) == declared - {"icl_vs_if"}  # every declared results name is run here
    for name, run_dir in runs.items():
        page = (run_dir / "report.html").read_text()
        assert f"<h2>{titles[name]}: {run_dir.name}</h2>" in page, name
    old = tmp_path / "old-icl"
    shutil.copytree(runs["icl-vs-if"], old)
    results = json.loads((old / "results.json").read_text())
    (old / "results.json").write_text(json.dumps({**results, "benchmark": "icl_vs_if"}))
    assert f"<h2>ICL vs instruction following: {old.name}</h2>" in build_report([old])
