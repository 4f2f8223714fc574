"""`forgetlab llm export-prompts` and `export-lm-eval`: files round-trip to the generator."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from forgetlab.cli import main
from forgetlab.errors import ForgetlabError
from forgetlab.llm.benchmarks import icl_vs_if as b
from forgetlab.llm.benchmarks.registry import export_rows, prompt_exports
from forgetlab.llm.lm_eval_export import export_lm_eval, task_name

FIELDS = ["language", "icl_task", "if_task", "index", "prompt", "icl_answer", "if_answer"]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _fingerprint(rows: list[dict[str, Any]]) -> str:
    table = sorted([r[k] for k in FIELDS] for r in rows)
    return hashlib.sha256(json.dumps(table, ensure_ascii=False).encode()).hexdigest()


def test_export_prompts_cli_writes_the_reference_benchmark(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "icl.jsonl"
    main(["llm", "export-prompts", "icl-vs-if", "--out", str(out)])
    assert "wrote 2800 icl-vs-if prompts" in capsys.readouterr().out
    rows = _read_jsonl(out)
    assert len(rows) == 2800
    assert all(list(r) == FIELDS for r in rows)
    assert _fingerprint(rows) == b.REFERENCE_SHA256
    assert rows[0]["prompt"] == b.generate_prompts(["en"], n=1)[0].prompt


def test_export_prompts_subsets_and_transforms(tmp_path: Path) -> None:
    out = tmp_path / "sub.jsonl"
    main(
        [
            "llm", "export-prompts", "icl-vs-if", "--languages", "fr,pl", "--tasks", "repeat-math",
            "--transforms", "rot13,leetspeak@payload", "--limit", "3", "--out", str(out),
        ]
    )  # fmt: skip
    rows = _read_jsonl(out)
    assert [(r["language"], r["index"]) for r in rows] == [
        (lang, i) for lang in ("fr", "pl", "rot13", "leetspeak@payload") for i in range(3)
    ]
    expected = [p.to_row() for p in b.generate_prompts(["fr", "pl"], ["repeat-math"], n=3)]
    expected += [p.to_row() for p in b.generate_transformed_prompts("rot13", ["repeat-math"], n=3)]
    assert rows[:9] == expected
    only_transformed = export_rows("icl-vs-if", None, transforms=["base64"], limit=2)
    assert {r["language"] for r in only_transformed} == {"base64"} and len(only_transformed) == 8


def test_registry_knows_other_benchmarks() -> None:
    assert set(prompt_exports()) == {
        "icl-vs-if",
        "harmful",
        "multijail",
        "benign",
        "xnli",
        "ifeval",
    }
    with pytest.raises(ForgetlabError, match="unknown benchmark 'nli'"):
        export_rows("nli")
    with pytest.raises(ForgetlabError, match="does not take option"):
        export_rows("icl-vs-if", all_prompts=True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export-prompts", "nope"], "unknown benchmark 'nope'"),
        (["export-prompts", "icl-vs-if", "--languages", "de"], "unknown icl-vs-if language 'de'"),
        (["export-prompts", "icl-vs-if", "--transforms", "rot99"], "unknown transform 'rot99'"),
        (["export-prompts", "icl-vs-if", "--limit", "0"], "--limit must be >= 1"),
        (["export-lm-eval", "--languages", "xx"], "unknown icl-vs-if language 'xx'"),
    ],
)
def test_cli_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["llm", *args, "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


class _Loader(yaml.SafeLoader):
    """Reads lm-eval YAML: ``!function module.attr`` becomes a marker string."""


def _function_tag(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    assert isinstance(node, yaml.ScalarNode)
    return f"!function {loader.construct_scalar(node)}"


_Loader.add_constructor("!function", _function_tag)


def _load_utils(folder: Path) -> Any:
    spec = importlib.util.spec_from_file_location(
        f"icl_utils_{abs(hash(folder))}", folder / "utils.py"
    )
    assert spec is not None and spec.loader is not None
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    return utils


def test_lm_eval_export(tmp_path: Path) -> None:
    out = tmp_path / "tasks"
    res = export_lm_eval(out, ["en", "fr"], ["rot13"], limit=5)
    tasks = ["capslock-math", "repeat-math", "capslock-startblank", "repeat-startblank"]
    conds = ["en", "fr", "rot13"]
    assert res["groups"] == ["icl_vs_if_en", "icl_vs_if_fr", "icl_vs_if_rot13"]
    assert res["tasks"] == [f"icl_vs_if_{c}_{t.replace('-', '_')}" for c in conds for t in tasks]
    assert res["rows"] == 3 * 4 * 5
    top = yaml.load((out / "icl_vs_if.yaml").read_text(), Loader=_Loader)
    assert top["group"] == "icl_vs_if" and top["task"] == res["groups"]
    for group, cond in zip(res["groups"], conds, strict=True):
        g = yaml.load((out / f"{group}.yaml").read_text(), Loader=_Loader)
        assert g["group_alias"] == cond and g["task"] == [
            n for n in res["tasks"] if n.startswith(group + "_")
        ]
        # a language's number is the unweighted mean over its tasks, as in forgetlab
        assert all(m["weight_by_size"] is False for m in g["aggregate_metric_list"])
        assert g["metadata"]["generator_fingerprint"] == b.REFERENCE_SHA256
    utils = _load_utils(out)
    for cond in conds:
        if cond == "rot13":
            prompts = b.generate_transformed_prompts("rot13", n=5)
        else:
            prompts = b.generate_prompts([cond], n=5)
        for task in tasks:
            name = task_name(f"{cond}_{task}")
            cfg = yaml.load((out / f"{name}.yaml").read_text(), Loader=_Loader)
            assert cfg["task"] == name and cfg["task_alias"] == task
            assert cfg["output_type"] == "generate_until" and cfg["test_split"] == "test"
            assert cfg["doc_to_text"] == "{{prompt}}" and cfg["doc_to_target"] == "{{icl_answer}}"
            gen = cfg["generation_kwargs"]
            assert (
                gen["max_gen_toks"] == 10 and gen["do_sample"] is False and gen["until"] == ["\n\n"]
            )
            assert cfg["process_results"] == "!function utils.process_results"
            assert cfg["custom_dataset"] == "!function utils.load_data"
            assert {m["metric"] for m in cfg["metric_list"]} == {"icl_acc", "if_rate"}
            meta = cfg["metadata"]
            assert (meta["condition"], meta["task"]) == (cond, task)
            assert meta["generator_fingerprint"] == b.REFERENCE_SHA256
            kw = cfg["dataset_kwargs"]
            assert kw["data_file"] == f"data/{name}.jsonl"  # relative to the task folder
            expected = [p.to_row() for p in prompts if f"{p.icl_task}-{p.if_task}" == task]
            assert len(expected) == 5
            assert _read_jsonl(out / kw["data_file"]) == expected
            assert kw["rows_sha256_expected"] == b.rows_fingerprint(
                [p for p in prompts if f"{p.icl_task}-{p.if_task}" == task]
            )
            # lm-eval calls custom_dataset(**metadata, **dataset_kwargs)
            ds = utils.load_data(**meta, **kw)
            assert ds["test"].to_list() == expected
    readme = (out / "README.md").read_text()
    assert "add_bos_token=False" in readme and "add_bos_token=True" in readme and "Gemma" in readme
    # exporting fewer conditions removes the old task files (lm-eval would load them)
    export_lm_eval(out, ["en"], tasks=["repeat-math"], limit=1)
    assert sorted(p.name for p in out.glob("icl_vs_if*.yaml")) == [
        "icl_vs_if.yaml", "icl_vs_if_en.yaml", "icl_vs_if_en_repeat_math.yaml"
    ]  # fmt: skip
    assert [p.name for p in (out / "data").iterdir()] == ["icl_vs_if_en_repeat_math.jsonl"]


def test_lm_eval_folder_moves_and_checks_its_data(tmp_path: Path) -> None:
    export_lm_eval(tmp_path / "a", ["en"], tasks=["capslock-math"], limit=3)
    moved = tmp_path / "elsewhere" / "b"
    moved.parent.mkdir()
    (tmp_path / "a").rename(moved)
    cfg = yaml.load((moved / "icl_vs_if_en_capslock_math.yaml").read_text(), Loader=_Loader)
    utils = _load_utils(moved)
    kw = cfg["dataset_kwargs"]
    assert len(utils.load_data(**kw)["test"]) == 3
    data = moved / kw["data_file"]
    data.write_text(data.read_text().replace("WHAT", "WHO"), encoding="utf-8")
    with pytest.raises(ValueError, match="does not match the fingerprint"):
        utils.load_data(**kw)


def test_lm_eval_full_export_carries_the_reference_fingerprint(tmp_path: Path) -> None:
    from forgetlab.llm.lm_eval_export import rows_sha256

    export_lm_eval(tmp_path)
    rows = [r for f in sorted((tmp_path / "data").glob("*.jsonl")) for r in _read_jsonl(f)]
    assert len(rows) == 2800 and rows_sha256(rows) == b.REFERENCE_SHA256


def test_lm_eval_utils_matches_score_output(tmp_path: Path) -> None:
    export_lm_eval(tmp_path, ["en"], limit=1)
    utils = _load_utils(tmp_path)
    docs = [
        {"icl_answer": " WHAT", "if_answer": " 23"},
        {"icl_answer": " ____", "if_answer": " Trash"},
    ]
    outputs = [
        " WHAT IS",
        "WHAT",
        "\nWHAT",
        " 23",
        "23",
        " what",
        "",
        " \\_\\_\\_\\_ x",
        "____",
        " Trash",
    ]
    for doc in docs:
        for o in outputs:
            icl, if_ = b.score_output(o, doc["icl_answer"], doc["if_answer"])
            assert utils.process_results(doc, [o]) == {"icl_acc": float(icl), "if_rate": float(if_)}


def test_task_names_are_lm_eval_safe() -> None:
    assert task_name("apertium:eng-spa") == "icl_vs_if_apertium_eng_spa"
    assert task_name("leetspeak@payload") == "icl_vs_if_leetspeak_payload"


def _fake_lm_eval_run(
    out: Path, tasks_dir: Path, names: list[str], fn: Any, *, samples: bool = True
) -> Path:
    """Files shaped like lm-eval 0.4's ``--output_path`` (results + ``--log_samples``), with
    outputs ``fn(prompt)`` cut at the task's stop string and scored by the exported utils.py."""
    utils = _load_utils(tasks_dir)
    stamp = "2026-01-01T00-00-00.000001"
    res: dict[str, Any] = {"results": {}, "configs": {}, "n-samples": {}}
    res["config"] = {"model": "hf", "model_args": "pretrained=fake", "batch_size": 1}
    res["results"]["icl_vs_if"] = {"alias": "icl_vs_if", "icl_acc,none": -1.0}  # a group: ignored
    out.mkdir(parents=True)
    for name in names:
        cfg = yaml.load((tasks_dir / f"{name}.yaml").read_text(), Loader=_Loader)
        docs = utils.load_data(**cfg["dataset_kwargs"])["test"].to_list()
        lines, scores = [], []
        for i, doc in enumerate(docs):
            output = fn(doc["prompt"]).split("\n\n")[0]
            metrics = utils.process_results(doc, [output])
            scores.append(metrics)
            lines.append({"doc_id": i, "doc": doc, "filtered_resps": [output], **metrics})
        if samples:
            body = "".join(json.dumps(x) + "\n" for x in lines)
            (out / f"samples_{name}_{stamp}.jsonl").write_text(body, encoding="utf-8")
        n = len(scores)
        res["results"][name] = {
            "alias": cfg["task_alias"],
            "icl_acc,none": sum(s["icl_acc"] for s in scores) / n,
            "if_rate,none": sum(s["if_rate"] for s in scores) / n,
        }
        res["configs"][name] = {k: cfg[k] for k in ("task", "dataset_kwargs", "metadata")}
        res["n-samples"][name] = {"original": n, "effective": n}
    path = out / f"results_{stamp}.json"
    path.write_text(json.dumps(res), encoding="utf-8")
    return path


def test_lm_eval_drop_table_equals_icl_vs_if_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Same outputs through lm-eval's files and through icl-vs-if: same table, same interval."""
    from fakes import FakeBackend, english_instruction_follower, upper_query

    from forgetlab.llm.benchmarks.icl_vs_if.benchmark import evaluate_icl_vs_if
    from forgetlab.llm.lm_eval_drop import drop_table

    exp = export_lm_eval(tmp_path / "tasks", ["en", "fr"], limit=6)
    files = {
        role: _fake_lm_eval_run(tmp_path / role, tmp_path / "tasks", exp["tasks"], fn)
        for role, fn in (("base", upper_query), ("tuned", english_instruction_follower))
    }
    ours = evaluate_icl_vs_if(
        {"base": FakeBackend(upper_query), "tuned": FakeBackend(english_instruction_follower)},
        out=tmp_path / "run",
        languages=["en", "fr"],
        limit=6,
        report=False,
        show_progress=False,
    )
    table = drop_table(files["base"], files["tuned"].parent)  # a folder works too
    assert table["per_sample"] is True and table["conditions"] == ["en", "fr"]
    assert ours["languages"]["en"]["drop"] > 0.2  # the fakes do forget in English
    for key in ("languages", "overall", "claim", "drop_interval"):
        assert table[key] == ours[key], key
    main(
        [
            "llm",
            "lm-eval-drop",
            str(files["base"]),
            str(files["tuned"]),
            "--out",
            str(tmp_path / "d.json"),
        ]
    )
    text = capsys.readouterr().out
    assert "| English |" in text and "paired 95% interval" in text
    assert json.loads((tmp_path / "d.json").read_text())["languages"] == ours["languages"]

    # without --log_samples: the same means and drops, no interval
    bare = {
        role: _fake_lm_eval_run(
            tmp_path / f"{role}-bare", tmp_path / "tasks", exp["tasks"], fn, samples=False
        )
        for role, fn in (("base", upper_query), ("tuned", english_instruction_follower))
    }
    means = drop_table(bare["base"], bare["tuned"])
    assert means["per_sample"] is False and means["overall"]["drop_ci95"] is None
    for cond in ("en", "fr"):
        row, ref = means["languages"][cond], ours["languages"][cond]
        assert row["drop"] == pytest.approx(ref["drop"]) and row["drop_ci95"] is None
        assert row["base"]["icl_accuracy"] == pytest.approx(ref["base"]["icl_accuracy"])
        assert row["tuned"]["if_rate"] == pytest.approx(ref["tuned"]["if_rate"])


def test_lm_eval_drop_refuses_runs_on_different_prompts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fakes import upper_query

    a = export_lm_eval(tmp_path / "a", ["en"], tasks=["repeat-math"], limit=3)
    b_ = export_lm_eval(tmp_path / "b", ["en"], tasks=["repeat-math"], limit=4)
    base = _fake_lm_eval_run(tmp_path / "ra", tmp_path / "a", a["tasks"], upper_query)
    tuned = _fake_lm_eval_run(tmp_path / "rb", tmp_path / "b", b_["tasks"], upper_query)
    with pytest.raises(SystemExit) as exc:
        main(["llm", "lm-eval-drop", str(base), str(tuned)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "different exports of the prompts" in err and "\n" not in err
    (tmp_path / "junk.json").write_text("{}", encoding="utf-8")
    with pytest.raises(SystemExit):
        main(["llm", "lm-eval-drop", str(tmp_path / "junk.json"), str(tuned)])
    assert "is not an lm-eval results file" in capsys.readouterr().err
    (samples,) = base.parent.glob("samples_*.jsonl")
    samples.write_text(samples.read_text()[:-20], encoding="utf-8")  # a torn last line
    with pytest.raises(SystemExit):
        main(["llm", "lm-eval-drop", str(base), str(base)])
    err = capsys.readouterr().err.strip()
    assert "unreadable lm-eval samples" in err and "\n" not in err
