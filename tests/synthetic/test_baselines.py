"""``forgetlab synthetic baselines``: outputs, recomputation from the eval stream, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from forgetlab.cli import cli, main
from forgetlab.synthetic import bayes
from forgetlab.synthetic.baselines import FAMILIES, PREDICTORS, SIGMA_FLOOR_RATIO
from forgetlab.synthetic.presets import PRESETS
from forgetlab.synthetic.tasks import TaskConfig, TaskSampler


def run_ok(*args: str) -> str:
    res = CliRunner().invoke(cli, ["synthetic", "baselines", *args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


@pytest.mark.slow  # ~2 s, more when matplotlib first builds its font cache
def test_writes_json_png_and_table_recomputable_from_the_eval_stream(tmp_path: Path) -> None:
    out = tmp_path / "bl"
    text = run_ok("--preset", "smoke", "--n-prompts", "40", "--seed", "3", "--out", str(out))
    data = json.loads((out / "baselines.json").read_text())
    assert (out / "baselines.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    task = TaskConfig.model_validate(PRESETS["smoke"]["task"])
    K, d = task.n_points, task.d
    assert data["k"] == list(range(K)) and data["n_prompts"] == 40
    assert data["provenance"]["config"]["seed"] == 3
    assert data["provenance"]["config"]["task"] == task.model_dump(mode="json")
    for fam in FAMILIES:
        assert f"family: {fam}" in text
        assert set(data["families"][fam]) == set(PREDICTORS)
    # Recompute two entries from the dedicated stream (40 prompts fit one batch).
    sampler = TaskSampler(task, seed=3, dtype=torch.float64)
    for fam in FAMILIES:
        b = sampler.batch(0, 40, stream=f"eval/{fam}", family=fam)  # type: ignore[arg-type]
        zero = (b.targets**2 / d).mean(0)
        ridge = bayes.ridge_predictions(b.xs, b.ys, sigma=task.sigma, tau=task.tau)
        ridge_err = ((ridge - b.targets) ** 2 / d).mean(0)
        torch.testing.assert_close(
            torch.tensor(data["families"][fam]["zero"]["mean"], dtype=torch.float64), zero
        )
        torch.testing.assert_close(
            torch.tensor(data["families"][fam]["ridge"]["mean"], dtype=torch.float64), ridge_err
        )
    # never the training stream
    train = sampler.batch(0, 40, family="continuous")
    assert data["families"]["continuous"]["zero"]["mean"] != (train.targets**2 / d).mean(0).tolist()


@pytest.mark.slow  # ~2 s CPU, more wall time on a busy machine
def test_bayes_ordering_on_each_family(tmp_path: Path) -> None:
    run_ok("--preset", "smoke", "--n-prompts", "1500", "--out", str(tmp_path))
    fam = json.loads((tmp_path / "baselines.json").read_text())["families"]

    def err(f: str, p: str) -> float:
        return float(fam[f][p]["mean_over_k"])

    assert err("continuous", "ridge") < err("continuous", "mixture") < err("continuous", "dmmse")
    assert err("discrete", "dmmse") < err("discrete", "mixture") < err("discrete", "ridge")
    assert err("mixture", "mixture") < min(err("mixture", "ridge"), err("mixture", "dmmse"))
    assert fam["continuous"]["zero"]["mean"][0] == fam["continuous"]["ridge"]["mean"][0]


def test_noiseless_task_uses_a_sigma_floor(tmp_path: Path) -> None:
    text = run_ok(
        "--preset", "smoke", "--set", "task.sigma=0", "--n-prompts", "64", "--out", str(tmp_path)
    )
    data = json.loads((tmp_path / "baselines.json").read_text())
    assert (
        data["bayes_sigma"] == pytest.approx(SIGMA_FLOOR_RATIO)
        and "Bayes predictors use sigma" in text
    )
    cont = data["families"]["continuous"]
    d = PRESETS["smoke"]["task"]["d"]
    assert max(cont["ols"]["mean"][d:]) < 1e-20  # exact recovery once k >= d
    for k in range(len(data["k"])):  # ridge at σ → 0 is the min-norm interpolant
        assert cont["ridge"]["mean"][k] == pytest.approx(cont["ols"]["mean"][k], rel=1e-3, abs=1e-6)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--set", "task.alpha=1.5"], "task.alpha"),
        (["--set", "task.d=0"], "task.d"),
        (["--set", "task.sigma=-1"], "task.sigma"),
        (["--set", "task.n_points=0"], "task.n_points"),
        (["--n-prompts", "0"], "eval.n_prompts"),
        (["--preset", "nope"], "unknown preset"),
        (["--config", "/nonexistent/cfg.yaml"], "missing config file"),
        (["--config", "BAD_YAML"], "not valid YAML"),
    ],
)
def test_invalid_input_is_one_line_exit_2(
    args: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: {alpha: [1, 2\n")
    args = [str(bad) if a == "BAD_YAML" else a for a in args]
    with pytest.raises(SystemExit) as exc:
        main(["synthetic", "baselines", "--preset", "smoke", *args, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.startswith("forgetlab: error:") and err.strip().count("\n") == 0 and needle in err
    assert not (tmp_path / "o" / "baselines.json").exists()


def test_out_with_a_different_config_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_ok("--preset", "smoke", "--n-prompts", "16", "--out", str(tmp_path))
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "synthetic",
                "baselines",
                "--preset",
                "smoke",
                "--n-prompts",
                "17",
                "--out",
                str(tmp_path),
            ]
        )
    assert exc.value.code == 2 and "different configuration" in capsys.readouterr().err
    run_ok("--preset", "smoke", "--n-prompts", "17", "--out", str(tmp_path), "--overwrite")
    assert json.loads((tmp_path / "baselines.json").read_text())["n_prompts"] == 17
