"""``forgetlab compare`` on real Inspect logs (``inspect_ai.eval`` with ``mockllm/model``),
and forgetlab's Inspect tasks and ``conjugate()`` solver."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("inspect_ai")

from inspect_ai import Task, task
from inspect_ai import eval as inspect_eval
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.log import read_eval_log
from inspect_ai.model import ModelOutput, ModelUsage, get_model
from inspect_ai.scorer import match
from inspect_ai.solver import generate, solver

from forgetlab.cli import main
from forgetlab.compare import stats
from forgetlab.compare.run import compare
from forgetlab.errors import ForgetlabError

N = 24
R2W = {2, 3, 5, 7, 11, 13}  # planted: right in base, wrong after tuning
W2R = {20}
BASE_RIGHT = set(range(16))
TUNED_RIGHT = (BASE_RIGHT - R2W) | W2R


def mock(outputs: list[str]) -> object:
    """mockllm/model answering ``outputs`` in order (usage set, so nothing is downloaded)."""
    return get_model(
        "mockllm/model",
        custom_outputs=[
            ModelOutput.from_content("mockllm/model", o).model_copy(
                update={"usage": ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)}
            )
            for o in outputs
        ],
    )


@task
def yes_task(n: int = N, prefix: str = "Q") -> Task:
    samples = [Sample(id=i, input=f"{prefix}{i}: say yes", target="yes") for i in range(n)]
    return Task(dataset=MemoryDataset(samples), solver=generate(), scorer=match())


def run(task_obj: Task, outputs: list[str], log_dir: Path, fmt: str = "eval") -> Path:
    (log,) = inspect_eval(
        task_obj,
        model=mock(outputs),
        log_dir=str(log_dir),
        log_format=fmt,
        max_samples=1,
        display="none",
    )
    return Path(log.location)


def answers(right: set[int], n: int = N) -> list[str]:
    return ["yes" if i in right else "no" for i in range(n)]


def test_planted_flips_in_inspect_logs(tmp_path: Path) -> None:
    base = run(yes_task(), answers(BASE_RIGHT), tmp_path / "base", "eval")
    tuned = run(yes_task(), answers(TUNED_RIGHT), tmp_path / "tuned", "json")
    assert base.suffix == ".eval" and tuned.suffix == ".json"
    res = compare(base, tuned, tmp_path / "out")
    (row,) = res["rows"]
    assert row["metric"] == "match" and row["kind"] == "binary"
    assert row["flips"] == {"right_to_wrong": 6, "wrong_to_right": 1, "unchanged": 17}
    assert row["p"] == pytest.approx(stats.mcnemar_exact(6, 1))
    assert row["base_mean"] == pytest.approx(16 / N) and row["tuned_mean"] == pytest.approx(11 / N)
    assert res["base"]["harness"] == "inspect" and res["base"]["model"] == "mockllm/model"
    html = (tmp_path / "out" / "report.html").read_text()
    rows = json.loads(html.split('id="compare-samples">', 1)[1].split("</script>", 1)[0])["rows"]
    assert {int(r["id"]) for r in rows if r["dir"] == "right → wrong"} == R2W
    flipped = next(r for r in rows if r["id"] == "2")
    assert (flipped["b"]["o"], flipped["t"]["o"]) == ("yes", "no")
    assert flipped["p"] == "Q2: say yes"
    # log folders work too
    res = compare(tmp_path / "base", tmp_path / "tuned", tmp_path / "out2")
    assert res["rows"][0]["flips"]["right_to_wrong"] == 6


@solver
def explode():  # type: ignore[no-untyped-def]
    async def solve(state, generate):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    return solve


def one_line(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_failed_eval_other_prompts_and_bad_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = run(yes_task(), answers(BASE_RIGHT), tmp_path / "base")
    out = str(tmp_path / "o")
    failed_task = Task(
        dataset=MemoryDataset([Sample(id=1, input="x", target="y")]),
        solver=explode(),
        scorer=match(),
    )
    (log,) = inspect_eval(
        failed_task, model=mock(["y"]), log_dir=str(tmp_path / "failed"), display="none"
    )
    assert log.status == "error"
    msg = one_line(["compare", str(base), log.location, "--out", out], capsys)
    assert "error Inspect eval" in msg and "boom" in msg
    # the same ids but another template: the first sample is named
    other = run(yes_task(prefix="Question "), answers(BASE_RIGHT), tmp_path / "other")
    msg = one_line(["compare", str(base), str(other), "--out", out], capsys)
    assert "sample 0 has a different prompt" in msg
    assert main(["compare", str(base), str(other), "--out", out, "--align-by", "id"]) is None
    capsys.readouterr()
    # fewer samples
    short = run(yes_task(n=20), answers(BASE_RIGHT, 20), tmp_path / "short")
    msg = one_line(["compare", str(base), str(short), "--out", out], capsys)
    assert "BASE has 24 samples and TUNED 20" in msg
    # a truncated .eval (zip) file
    cut = tmp_path / "cut.eval"
    data = base.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    msg = one_line(["compare", str(cut), str(base), "--out", out], capsys)
    assert "not a readable Inspect log" in msg
    # a .json log that is not UTF-8
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"version": 2, "status": "success", "eval": \xff\xfe}')
    assert "cut.eval" not in one_line(["compare", str(bad), str(base), "--out", out], capsys)


def test_tasks_only_in_one_log_folder_are_listed(tmp_path: Path) -> None:
    run(yes_task(), answers(BASE_RIGHT), tmp_path / "base")

    @task
    def other_task() -> Task:
        return Task(dataset=MemoryDataset([Sample(id=0, input="a", target="a")]), scorer=match())

    run(other_task(), ["a"], tmp_path / "base")
    run(yes_task(), answers(TUNED_RIGHT), tmp_path / "tuned")
    with pytest.raises(ForgetlabError, match="only in BASE: other_task"):
        compare(tmp_path / "base", tmp_path / "tuned", tmp_path / "o")
    res = compare(tmp_path / "base", tmp_path / "tuned", tmp_path / "o", _opts(tasks=("yes_task",)))
    assert [r["task"] for r in res["rows"]] == ["yes_task"]


def _opts(**kw: object):  # type: ignore[no-untyped-def]
    from forgetlab.compare.run import Options

    return Options(**kw)  # type: ignore[arg-type]


def test_forgetlab_icl_vs_if_task_through_the_registry_with_mockllm(tmp_path: Path) -> None:
    """``forgetlab/icl_vs_if`` resolves by its registry name (the entry point) and scores with
    forgetlab's own rule; the sample ids are forgetlab's."""
    # Looked up before anything imports forgetlab.inspect: Inspect loads the entry point
    # itself, which is what names the tasks forgetlab/<name>.
    from inspect_ai._util.registry import registry_lookup

    if registry_lookup("task", "forgetlab/icl_vs_if") is None:  # pragma: no cover
        pytest.skip("forgetlab's inspect_ai entry point is not installed (pip install -e .)")
    # capslock-math prompt 0: ICL answer " WHAT", IF answer " 23"
    outputs = [" WHAT IS 19 PLUS 4?", " 23", " what"]
    from inspect_ai._util.registry import registry_create

    made = registry_create(
        "task", "forgetlab/icl_vs_if", language="en", tasks="capslock-math", limit=3
    )
    (log,) = inspect_eval(
        made,
        model=mock(outputs),
        log_dir=str(tmp_path),
        max_samples=1,
        display="none",
    )
    assert log.status == "success"
    log = read_eval_log(log.location)
    assert [s.id for s in log.samples] == [f"en/capslock-math/{i}" for i in range(3)]
    got = [
        (
            s.scores["icl_vs_if_scorer"].value["icl_acc"],
            s.scores["icl_vs_if_scorer"].value["if_rate"],
        )
        for s in log.samples
    ]
    from forgetlab.llm.benchmarks.icl_vs_if import score_output

    expect = [
        tuple(float(x) for x in score_output(o, s.metadata["icl_answer"], s.metadata["if_answer"]))
        for o, s in zip(outputs, log.samples, strict=True)
    ]
    assert got == expect
    assert got[0] == (1.0, 0.0)


def test_conjugate_solver_transforms_and_maps_back(tmp_path: Path) -> None:
    from forgetlab.inspect.solver import conjugate
    from forgetlab.llm.transforms import get_transform

    rot = get_transform("rot13")
    # the model "answers" in rot13: the solver must map it back before match() scores it
    t = Task(
        dataset=MemoryDataset([Sample(id=0, input="Say yes", target="yes")]),
        solver=conjugate("rot13"),
        scorer=match(),
    )
    (log,) = inspect_eval(
        t, model=mock([rot.forward("yes")]), log_dir=str(tmp_path), display="none"
    )
    log = read_eval_log(log.location)
    (s,) = log.samples
    assert s.scores["match"].value == "C"
    assert s.output.completion == "yes"
    meta = s.metadata["conjugate"]
    assert meta["completion"] == rot.forward("yes") and meta["completion_mapped"] == "yes"
    assert meta["transformed_prompt"] == rot.forward("Say yes")
    user = next(m for m in s.messages if m.role == "user")
    assert user.text == rot.forward("Say yes")  # what the model saw
