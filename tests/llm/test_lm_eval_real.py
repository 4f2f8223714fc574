"""The exported tasks under the real lm-evaluation-harness (skipped when ``lm_eval`` is absent).

Two tiny models built from a config are scored by ``lm_eval`` (its command line, ``hf``
backend, ``--limit 2``) on a moved copy of the export and by ``forgetlab llm icl-vs-if`` on
the same prompts: every output, every hit and the drop table with its interval must agree.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("lm_eval")

from forgetlab.cli import main
from forgetlab.llm.lm_eval_drop import drop_table
from forgetlab.llm.lm_eval_export import export_lm_eval

pytestmark = pytest.mark.slow
HELPERS = Path(__file__).resolve().parents[1] / "finetune" / "ft_helpers.py"


def _build_tiny(path: Path, seed: int) -> Path:
    spec = importlib.util.spec_from_file_location("ft_helpers_for_lm_eval", HELPERS)
    assert spec is not None and spec.loader is not None
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)
    return Path(helpers.build_tiny(path, seed=seed))


def _lm_eval(model: Path, tasks: Path, out: Path) -> Path:
    cmd = [sys.executable, "-m", "lm_eval", "--model", "hf"]
    cmd += ["--model_args", f"pretrained={model},add_bos_token=False,dtype=float32"]
    cmd += ["--include_path", str(tasks), "--tasks", "icl_vs_if", "--limit", "2"]
    cmd += ["--batch_size", "4", "--device", "cpu", "--log_samples", "--output_path", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, cwd=out.parent, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (found,) = out.glob("*/results_*.json")
    return found


def test_real_lm_eval_agrees_with_icl_vs_if(tmp_path: Path) -> None:
    models = {
        role: _build_tiny(tmp_path / role, seed) for role, seed in (("base", 0), ("tuned", 1))
    }
    export_lm_eval(tmp_path / "export", ["en", "fr"])
    tasks = tmp_path / "moved" / "tasks"  # data paths are relative: the folder can move
    tasks.parent.mkdir()
    (tmp_path / "export").rename(tasks)
    files = {role: _lm_eval(models[role], tasks, tmp_path / f"lm-{role}") for role in models}
    res = json.loads(files["base"].read_text())
    assert res["n-samples"]["icl_vs_if_en_capslock_math"]["effective"] == 2  # --limit is per task
    assert len([k for k in res["configs"] if k.startswith("icl_vs_if_")]) == 8

    run = tmp_path / "forgetlab"
    main(
        [
            "llm", "icl-vs-if", "--base", f"hf:{models['base']}", "--tuned", f"hf:{models['tuned']}",
            "--languages", "en,fr", "--limit", "2", "--batch-size", "4", "--device", "cpu",
            "--quiet", "--out", str(run),
        ]
    )  # fmt: skip
    ours = json.loads((run / "results.json").read_text())
    assert ours["models"]["base"]["add_bos"] is False  # forgetlab's default for a llama model

    outputs = {}
    for line in (run / "samples.jsonl").read_text().splitlines():
        r = json.loads(line)
        outputs[(r["model"], r["sample"])] = r["output"].split("\n\n")[0]  # lm-eval's stop string
    compared = 0
    for role, file in files.items():
        for path in file.parent.glob("samples_*.jsonl"):
            for line in path.read_text().splitlines():
                s = json.loads(line)
                doc = s["doc"]
                key = (role, f"{doc['language']}/{doc['icl_task']}-{doc['if_task']}/{doc['index']}")
                assert s["filtered_resps"][0] == outputs[key], key
                compared += 1
    assert compared == 2 * 2 * 4 * 2

    table = drop_table(files["base"], files["tuned"])
    assert table["per_sample"] is True
    for key in ("languages", "overall", "claim"):
        assert table[key] == ours[key], key
