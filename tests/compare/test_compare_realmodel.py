"""The real harnesses on packaged models: ``lm_eval`` (CLI, ``--model hf``) and ``inspect
eval`` (Hugging Face provider) on the gemma pair's local directories, then ``forgetlab
compare``; Inspect's drop must equal forgetlab's own ``llm icl-vs-if`` on the same prompts.

Slow (real generation on CPU); skipped without the harness extra or the packaged models.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.realmodel, pytest.mark.slow]

BASE, TUNED = "gemma-3-270m", "gemma-3-270m-if"
RAW_TEMPLATE = "{% for m in messages %}{{ m.content }}{% endfor %}"


def model_dirs() -> dict[str, Path]:
    from forgetlab.llm.backends import packaged as pk

    if not pk.is_available(BASE):
        pytest.skip("packaged gemma-3-270m is not installed")
    from forgetlab.llm.backends.adapters import packaged_model_dir

    return {"base": packaged_model_dir(BASE), "tuned": packaged_model_dir(TUNED)}


def env() -> dict[str, str]:
    out = dict(os.environ)
    out.update(
        OMP_NUM_THREADS=out.get("OMP_NUM_THREADS", "1"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
    )
    return out


def tool(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (pip install 'forgetlab[harness]')")
    return path


def run(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{cmd[0]} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


def test_lm_eval_cli_then_compare(tmp_path: Path) -> None:
    lm_eval = tool("lm_eval")
    dirs = model_dirs()
    from forgetlab.llm.benchmarks.icl_vs_if import score_output
    from forgetlab.llm.lm_eval_export import export_lm_eval

    export_lm_eval(tmp_path / "tasks", ["en"], tasks=["capslock-math"], limit=2)
    for role, model in dirs.items():
        run(
            [
                lm_eval, "--model", "hf",
                "--model_args", f"pretrained={model},add_bos_token=True,dtype=float32",
                "--include_path", str(tmp_path / "tasks"), "--tasks", "icl_vs_if_en",
                "--limit", "2", "--batch_size", "2", "--device", "cpu",
                "--log_samples", "--output_path", str(tmp_path / role),
            ],
            tmp_path,
        )  # fmt: skip
    from forgetlab.compare.run import compare

    res = compare(tmp_path / "base", tmp_path / "tuned", tmp_path / "out")
    rows = {(r["task"], r["metric"]): r for r in res["rows"]}
    assert set(rows) == {
        ("icl_vs_if_en_capslock_math", "icl_acc"),
        ("icl_vs_if_en_capslock_math", "if_rate"),
    }
    row = rows[("icl_vs_if_en_capslock_math", "icl_acc")]
    assert row["n"] == 2 and res["base"]["harness"] == "lm-evaluation-harness"
    # the compared means are the logged per-sample scores, which are forgetlab's rule
    for role, mean_key in (("base", "base_mean"), ("tuned", "tuned_mean")):
        (samples,) = (tmp_path / role).rglob("samples_*.jsonl")
        recs = [json.loads(line) for line in samples.read_text().splitlines()]
        rescored = [
            score_output(r["filtered_resps"][0], r["doc"]["icl_answer"], r["doc"]["if_answer"])[0]
            for r in recs
        ]
        assert [bool(r["icl_acc"]) for r in recs] == rescored
        assert row[mean_key] == pytest.approx(sum(rescored) / 2)
    assert (tmp_path / "out" / "report.html").stat().st_size > 1000


def test_inspect_hf_provider_drop_equals_forgetlab_icl_vs_if(tmp_path: Path) -> None:
    inspect_cli = tool("inspect")
    dirs = model_dirs()
    for role, model in dirs.items():
        run(
            [
                inspect_cli, "eval", "forgetlab/icl_vs_if", "--model", f"hf/{model}",
                "-M", f"chat_template='{RAW_TEMPLATE}'", "-M", "do_sample=false",
                "-M", "device=cpu", "-M", "dtype=float32", "--max-connections", "1",
                "-T", "language=en", "-T", "limit=1",
                "--log-dir", str(tmp_path / role), "--display", "plain",
            ],
            tmp_path,
        )  # fmt: skip
    from forgetlab.compare.run import compare

    res = compare(tmp_path / "base", tmp_path / "tuned", tmp_path / "out")
    inspect_rows = {r["metric"]: r for r in res["rows"]}
    assert inspect_rows["icl_vs_if_scorer/icl_acc"]["n"] == 4  # 4 tasks × 1 prompt
    # forgetlab's own run on the same models and prompts
    run(
        [
            sys.executable, "-m", "forgetlab", "llm", "icl-vs-if",
            "--base", f"packaged:{BASE}", "--tuned", f"packaged:{TUNED}",
            "--languages", "en", "--limit", "1", "--batch-size", "1", "--dtype", "float32",
            "--quiet", "--out", str(tmp_path / "own"),
        ],
        tmp_path,
    )  # fmt: skip
    own = json.loads((tmp_path / "own" / "results.json").read_text())
    own_drop = own["languages"]["en"]["drop"]
    assert -inspect_rows["icl_vs_if_scorer/icl_acc"]["delta"] == pytest.approx(own_drop, abs=1e-12)
    assert inspect_rows["icl_vs_if_scorer/icl_acc"]["base_mean"] == pytest.approx(
        own["languages"]["en"]["base"]["icl_accuracy"]
    )
    assert inspect_rows["icl_vs_if_scorer/if_rate"]["tuned_mean"] == pytest.approx(
        own["languages"]["en"]["tuned"]["if_rate"]
    )
