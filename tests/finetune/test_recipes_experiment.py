"""experiments/fine_tuning_recipes.py (its commands) and its table script (from result files)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "experiments" / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_dry_run_lists_every_arm_with_equal_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mod = script("fine_tuning_recipes")
    assert mod.main(["--out", str(tmp_path / "r"), "--seeds", "0,1", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    trains = [x for x in lines if " finetune sft " in x or " finetune meet " in x]
    assert len(trains) == 9  # 5 trained arms x 2 seeds, the true-half control once
    assert sum("--true-half" in x for x in lines) == 1
    sft = [x for x in trains if " finetune sft " in x]
    assert all("--max-steps 120" in x for x in sft)
    meet = [x for x in trains if " finetune meet " in x]
    assert all("--stage1-steps 40 --max-steps 80" in x for x in meet)  # 40 + 80 = 120
    assert sum("--joint" in x for x in meet) == 2
    assert sum(" llm run controllability " in x for x in lines) == 4  # MEET arms only
    assert not (tmp_path / "r").exists()  # a dry run writes nothing
    with pytest.raises(SystemExit):
        mod.main(["--out", str(tmp_path / "r"), "--arms", "nope"])


def write(path: Path, data: dict[str, Any]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / "results.json").write_text(json.dumps(data), encoding="utf-8")


def ifeval(change: float, lo: float, hi: float) -> dict[str, Any]:
    cell = {"change": change, "ci95": [lo, hi]}
    return {"paired": {"prompt_strict": cell, "prompt_loose": cell}}


def test_table_means_t_intervals_paired_intervals_and_missing(tmp_path: Path) -> None:
    mod = script("fine_tuning_recipes_table")
    write(tmp_path / "sft" / "seed0" / "ifeval", ifeval(0.10, 0.02, 0.18))
    write(tmp_path / "sft" / "seed1" / "ifeval", ifeval(0.20, 0.1, 0.3))
    write(tmp_path / "sft" / "seed2" / "ifeval", ifeval(0.30, 0.2, 0.4))
    write(
        tmp_path / "meet" / "seed0" / "controllability",
        {"per_role": {"model": {"controllability": 0.75, "length_ratio": 2.5}}},
    )
    text = mod.table(tmp_path)
    sft = next(x for x in text.splitlines() if x.startswith("| instruction SFT"))
    # mean 20 pts, sd 10, t(2) = 4.303: half-width 4.303 * 10 / sqrt(3) = 24.8
    assert "+20.0 ± 24.8 (n=3) [+2.0, +18.0]" in sft
    assert sft.count("not yet measured") == 8
    meet = next(x for x in text.splitlines() if x.startswith("| MEET two-stage"))
    assert "+75.0 (n=1)" in meet and "2.50 (n=1)" in meet
    base = next(x for x in text.splitlines() if x.startswith("| base"))
    assert base.count("not yet measured") == 10
