"""``forgetlab compare`` on lm-evaluation-harness sample logs written in lm-eval's format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness_logs import binary_task, lm_eval_record, write_lm_eval_run

from forgetlab.cli import main
from forgetlab.compare import stats
from forgetlab.compare.run import Options, compare
from forgetlab.errors import ForgetlabError

N = 200
BASE_RIGHT = set(range(0, 120))
R2W = set(range(10, 40))  # planted: right in base, wrong after tuning (30 samples)
W2R = {150, 151, 152, 153, 154}  # planted: wrong in base, right after tuning
TUNED_RIGHT = (BASE_RIGHT - R2W) | W2R


def pair(tmp_path: Path, **extra_tasks: tuple[list, list]) -> tuple[Path, Path]:
    b, t = binary_task(N, BASE_RIGHT, TUNED_RIGHT)
    tasks_b = {"arith": b, **{k: v[0] for k, v in extra_tasks.items()}}
    tasks_t = {"arith": t, **{k: v[1] for k, v in extra_tasks.items()}}
    base = write_lm_eval_run(tmp_path / "base", tasks_b, model="org/base")
    tuned = write_lm_eval_run(tmp_path / "tuned", tasks_t, model="org/tuned")
    return base, tuned


def test_planted_flips_are_found_and_tested(tmp_path: Path) -> None:
    base, tuned = pair(tmp_path)
    res = compare(base, tuned, tmp_path / "out")
    (row,) = res["rows"]
    assert row["task"] == "arith" and row["metric"] == "exact_match" and row["kind"] == "binary"
    assert row["flips"] == {"right_to_wrong": 30, "wrong_to_right": 5, "unchanged": 165}
    assert row["base_mean"] == pytest.approx(120 / N)
    assert row["tuned_mean"] == pytest.approx(95 / N)
    assert row["delta"] == pytest.approx(-25 / N)
    assert row["test"] == "mcnemar-exact"
    assert row["p"] == pytest.approx(stats.mcnemar_exact(30, 5))
    assert row["p"] < 1e-4
    lo, hi = row["delta_ci95"]
    assert lo < -25 / N < hi < 0
    assert res["base"]["model"] == "org/base" and res["tuned"]["model"] == "org/tuned"
    on_disk = json.loads((tmp_path / "out" / "results.json").read_text())
    assert on_disk["rows"][0]["flips"]["right_to_wrong"] == 30
    assert len(on_disk["base"]["files"][0]["sha256"]) == 64
    assert on_disk["provenance"]["config"]["align_by"] == "id+prompt"
    md = (tmp_path / "out" / "results.md").read_text()
    assert "| arith | exact_match | 200 | 0.6000 | 0.4750 | -0.1250" in md
    html = (tmp_path / "out" / "report.html").read_text()
    data = html.split('id="compare-samples">', 1)[1].split("</script>", 1)[0]
    rows = json.loads(data)["rows"]
    r2w = {int(r["id"]) for r in rows if r["dir"] == "right → wrong"}
    assert r2w == R2W
    assert {int(r["id"]) for r in rows if r["dir"] == "wrong → right"} == W2R
    flipped = next(r for r in rows if r["id"] == "10")
    assert flipped["b"]["o"] == "yes" and flipped["t"]["o"] == "no"
    assert flipped["p"] == "Q10: say yes"


def test_holm_over_tasks_and_continuous_metric(tmp_path: Path) -> None:
    # a second task with a continuous metric: the Wilcoxon test, Holm over the three rows
    b2 = [lm_eval_record(i, f"S{i}", "x", {"bleu_like": i / 10, "acc": 1.0}) for i in range(12)]
    t2 = [
        lm_eval_record(i, f"S{i}", "x", {"bleu_like": i / 10 - 0.05 * (i % 3), "acc": 1.0})
        for i in range(12)
    ]
    base, tuned = pair(tmp_path, summ=(b2, t2))
    res = compare(base, tuned, tmp_path / "out", Options(equivalence_margin=0.5))
    by = {(r["task"], r["metric"]): r for r in res["rows"]}
    cont = by[("summ", "bleu_like")]
    assert cont["kind"] == "continuous" and cont["test"].startswith("wilcoxon-signed-rank")
    assert cont["flips"] == {"right_to_wrong": 8, "wrong_to_right": 0, "unchanged": 4}
    acc = by[("summ", "acc")]
    assert acc["p"] == 1.0 and acc["delta"] == 0.0
    ps = [r["p"] for r in res["rows"]]
    assert [r["p_holm"] for r in res["rows"]] == pytest.approx(stats.holm(ps))
    assert acc["equivalence"]["equivalent"] is True
    assert by[("arith", "exact_match")]["equivalence"]["equivalent"] is True  # |−0.125| < 0.5


def test_filters_become_metric_names(tmp_path: Path) -> None:
    recs_b, recs_t = [], []
    for i in range(6):
        for filt, val in (("strict", float(i < 3)), ("flexible", 1.0)):
            recs_b.append(lm_eval_record(i, f"P{i}", "a", {"exact_match": val}, filt=filt))
            recs_t.append(lm_eval_record(i, f"P{i}", "a", {"exact_match": float(i < 1)}, filt=filt))
    base = write_lm_eval_run(tmp_path / "b", {"gsm": recs_b})
    tuned = write_lm_eval_run(tmp_path / "t", {"gsm": recs_t})
    res = compare(base, tuned, tmp_path / "out")
    by = {r["metric"]: r for r in res["rows"]}
    assert set(by) == {"exact_match,strict", "exact_match,flexible"}
    assert by["exact_match,strict"]["flips"]["right_to_wrong"] == 2
    assert by["exact_match,flexible"]["flips"]["right_to_wrong"] == 5


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    err = capsys.readouterr().err
    return int(exc.value.code or 0), err


def one_line_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code, err = run_cli(args, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("forgetlab: error: "), err
    return lines[0]


def test_cli_writes_the_three_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, tuned = pair(tmp_path)
    main_ret = main(["compare", str(base), str(tuned), "--out", str(tmp_path / "o")])
    assert main_ret is None
    out = capsys.readouterr().out
    assert "| arith | exact_match | 200 |" in out
    assert {p.name for p in (tmp_path / "o").iterdir()} == {
        "results.json",
        "results.md",
        "report.html",
    }


def test_bad_inputs_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, tuned = pair(tmp_path)
    out = str(tmp_path / "o")
    msg = one_line_error(["compare", str(tmp_path / "nope"), str(tuned), "--out", out], capsys)
    assert "not found" in msg
    # truncated: the last line cut mid-record
    cut = tmp_path / "cut"
    cut.mkdir()
    src = next(base.glob("samples_*.jsonl"))
    text = src.read_text()
    (cut / src.name).write_text(text[: len(text) - 40])
    msg = one_line_error(["compare", str(cut), str(tuned), "--out", out], capsys)
    assert "truncated" in msg and "line 200" in msg
    # non-UTF-8
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / src.name).write_bytes(b"\xff\xfe" + text.encode()[:100])
    assert "not UTF-8" in one_line_error(["compare", str(bad), str(tuned), "--out", out], capsys)
    # empty file
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / src.name).write_text("")
    assert "no samples" in one_line_error(["compare", str(empty), str(tuned), "--out", out], capsys)
    # an lm-eval results file alone has no per-sample scores
    res_file = next(base.glob("results_*.json"))
    assert "--log_samples" in one_line_error(
        ["compare", str(res_file), str(tuned), "--out", out], capsys
    )
    # a folder with no logs at all
    none = tmp_path / "none"
    none.mkdir()
    assert "no lm-eval" in one_line_error(["compare", str(none), str(tuned), "--out", out], capsys)


def test_mismatches_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b, t = binary_task(N, BASE_RIGHT, TUNED_RIGHT)
    base = write_lm_eval_run(tmp_path / "b", {"arith": b, "extra": b[:5]})
    tuned = write_lm_eval_run(tmp_path / "t", {"arith": t})
    out = str(tmp_path / "o")
    msg = one_line_error(["compare", str(base), str(tuned), "--out", out], capsys)
    assert "only in BASE: extra" in msg
    assert main(["compare", str(base), str(tuned), "--out", out, "--tasks", "arith"]) is None
    capsys.readouterr()
    # different sample counts
    short = write_lm_eval_run(tmp_path / "s", {"arith": t[:150]})
    msg = one_line_error(
        ["compare", str(base), str(short), "--out", out, "--tasks", "arith"], capsys
    )
    assert "BASE has 200 samples and TUNED 150" in msg and "sample 150" in msg
    # a different prompt (another few-shot draw) on sample 7: named; --align-by id accepts it
    t2 = [dict(r) for r in t]
    t2[7] = lm_eval_record(7, "Example: Q99 yes\nQ7: say yes", "no", {"exact_match": 0.0})
    drawn = write_lm_eval_run(tmp_path / "d", {"arith": t2})
    msg = one_line_error(
        ["compare", str(base), str(drawn), "--out", out, "--tasks", "arith"], capsys
    )
    assert "sample 7 has a different prompt" in msg and "--align-by id" in msg
    args = ["compare", str(base), str(drawn), "--out", out, "--tasks", "arith", "--align-by", "id"]
    assert main(args) is None
    capsys.readouterr()
    # a per-sample value that is not a number (a corpus-level metric's tuple)
    odd = [lm_eval_record(i, f"Q{i}: say yes", "x", {"bleu": ["ref", "pred"]}) for i in range(3)]
    weird = write_lm_eval_run(tmp_path / "w", {"arith": odd})
    msg = one_line_error(["compare", str(weird), str(tuned), "--out", out], capsys)
    assert "metric 'bleu'" in msg and "--metrics" in msg
    # --out a non-empty folder that is not a comparison
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    assert "not empty" in one_line_error(
        ["compare", str(base), str(tuned), "--out", str(other)], capsys
    )


def test_two_runs_in_one_folder_is_ambiguous(tmp_path: Path) -> None:
    b, t = binary_task(10, set(), set())
    write_lm_eval_run(tmp_path / "runs", {"a": b}, model="m1")
    write_lm_eval_run(tmp_path / "runs", {"a": t}, model="m2")
    with pytest.raises(ForgetlabError, match="several runs"):
        compare(tmp_path / "runs", tmp_path / "runs", tmp_path / "o")


def test_newest_samples_file_per_task_is_read(tmp_path: Path) -> None:
    b, t = binary_task(10, set(range(10)), set())
    folder = write_lm_eval_run(tmp_path / "b", {"a": b}, stamp="2026-01-01T00-00-00.000001")
    write_lm_eval_run(tmp_path / "b", {"a": t}, stamp="2026-02-01T00-00-00.000001")
    res = compare(folder, folder, tmp_path / "o")
    assert res["rows"][0]["base_mean"] == 0.0


def test_records_in_another_key_order_or_with_tricky_docs_read_the_same(tmp_path: Path) -> None:
    """The fast reader parses only each record's end; lines in another key order, or whose
    doc holds a "filter" key or an escaped '"filter": ' text, must give the same numbers."""
    b, t = binary_task(N, BASE_RIGHT, TUNED_RIGHT)
    for rec in b[:50]:
        rec["doc"]["filter"] = "none"  # a nested key of the same name before the real one
        rec["doc"]["note"] = 'has "filter": "x", inside a string'
    sorted_dir = tmp_path / "sorted" / "m"
    sorted_dir.mkdir(parents=True)
    from harness_logs import STAMP

    with (sorted_dir / f"samples_arith_{STAMP}.jsonl").open("w") as fh:
        for rec in t:
            fh.write(json.dumps(rec, sort_keys=True) + "\n")  # doc_id no longer first
    base = write_lm_eval_run(tmp_path / "b", {"arith": b})
    res = compare(base, tmp_path / "sorted", tmp_path / "o")
    (row,) = res["rows"]
    assert row["flips"] == {"right_to_wrong": 30, "wrong_to_right": 5, "unchanged": 165}
