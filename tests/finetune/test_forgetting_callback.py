"""The forgetting curve: evaluated at step 0 (base) and at each checkpoint, resumable."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import TrainerCallback

from forgetlab.finetune.callbacks import CURVE_JSON, CURVE_PNG, ForgettingCallback, _base_view
from forgetlab.finetune.config import sft_config
from forgetlab.finetune.sft import run_sft, with_data_hash

IDS = torch.tensor([[5, 17, 99, 230, 7, 41, 12, 300]])


def _prob(model: Any) -> float:
    """exp(-mean NLL) of a fixed sequence: a number in (0, 1) that moves with every weight."""
    with torch.no_grad():
        return math.exp(-float(model(IDS, labels=IDS).loss))


class ModelHolder:
    """Test stand-in for the in-memory backend: just exposes the model."""

    def __init__(self, model: Any, tokenizer: Any, **kw: Any) -> None:
        self.model = model


class CountingRunner:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, backend: ModelHolder, step_dir: Path) -> dict[str, dict[str, float]]:
        self.calls += 1
        assert not backend.model.training  # evaluated in eval mode
        return {"icl_accuracy": {"en": _prob(backend.model)}}


class Crash(TrainerCallback):
    def on_save(self, args: Any, st: Any, control: Any, **kw: Any) -> None:
        if st.global_step == 2:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_curve_points_match_the_saved_models_and_resume(
    tiny_model_dir: Path, pc_data: Path, tmp_path: Path
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    cfg = with_data_hash(
        sft_config("smoke", extra={"model": str(tiny_model_dir), "data": str(pc_data)})
    )
    out = tmp_path / "run"
    first = CountingRunner()
    cb = ForgettingCallback(cfg, out, runners={"icl-vs-if": first}, backend_factory=ModelHolder)
    with pytest.raises(KeyboardInterrupt):
        run_sft(cfg, out, callbacks=[cb, Crash()])
    assert first.calls == 2  # step 0 and step 2
    second = CountingRunner()
    cb2 = ForgettingCallback(cfg, out, runners={"icl-vs-if": second}, backend_factory=ModelHolder)
    run_sft(cfg, out, callbacks=[cb2])
    assert second.calls == 1  # only step 4: steps 0 and 2 were kept from the killed run
    curve = json.loads((out / CURVE_JSON).read_text())
    points = {p["step"]: p for p in curve["points"]}
    assert sorted(points) == [0, 2, 4] and points[0]["side"] == "base"
    value = {s: p["metrics"]["icl-vs-if"]["icl_accuracy"]["en"] for s, p in points.items()}
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    assert value[0] == pytest.approx(_prob(base), rel=1e-6)
    at2 = PeftModel.from_pretrained(base, out / "checkpoints" / "checkpoint-2").eval()
    assert value[2] == pytest.approx(_prob(at2), rel=1e-6)
    final = AutoModelForCausalLM.from_pretrained(out / "model").eval()
    assert value[4] == pytest.approx(_prob(final), rel=1e-6)
    assert len({round(v, 9) for v in value.values()}) == 3
    assert (out / CURVE_PNG).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert curve["config"]["model"] == str(tiny_model_dir)
    # another configuration (--overwrite) does not inherit the old points or samples
    (out / "forgetting" / "step-0").mkdir(parents=True, exist_ok=True)
    other = cfg.model_copy(update={"completion_only_loss": False})
    fresh = ForgettingCallback(
        other, out, runners={"icl-vs-if": CountingRunner()}, backend_factory=ModelHolder
    )
    assert fresh.points == [] and not (out / "forgetting").exists()
    assert (
        ForgettingCallback(cfg, out, runners={}, backend_factory=ModelHolder).points
        == curve["points"]
    )


def test_base_view_disables_a_trained_adapter(tiny_model_dir: Path) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base_p = _prob(AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval())
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_model_dir),
        LoraConfig(r=2, target_modules="all-linear", init_lora_weights=False),
    ).eval()
    tuned_p = _prob(model)
    assert tuned_p != pytest.approx(base_p, rel=1e-4)
    with _base_view(model, enabled=True):
        assert _prob(model) == pytest.approx(base_p, rel=1e-6)
    with _base_view(model, enabled=False):
        assert _prob(model) == pytest.approx(tuned_p, rel=1e-6)


@pytest.mark.slow
def test_real_suites_write_a_curve_through_the_hf_backend(
    tiny_model_dir: Path, chat_data: Path, tmp_path: Path
) -> None:
    cfg = sft_config(
        "smoke",
        extra={
            "model": str(tiny_model_dir),
            "data": str(chat_data),
            "eval": {"suites": ["icl-vs-if:1", "harmful:1"], "languages": ["en", "fr", "sw"]},
        },
    )
    out = tmp_path / "run"
    run_sft(cfg, out)
    curve = json.loads((out / CURVE_JSON).read_text())
    assert curve["suites"] == ["icl-vs-if:1", "harmful:1"]
    assert [p["step"] for p in curve["points"]] == [0, 2, 4]
    for p in curve["points"]:
        icl, harm = p["metrics"]["icl-vs-if"], p["metrics"]["harmful"]
        assert set(icl["icl_accuracy"]) == {"en", "fr"} and set(harm["refusal_rate"]) == {
            "en",
            "sw",
        }
        for v in [*icl["icl_accuracy"].values(), *harm["refusal_rate"].values()]:
            assert 0.0 <= v <= 1.0
        rows = [
            json.loads(x)
            for x in (out / "forgetting" / f"step-{p['step']}" / "harmful.jsonl")
            .read_text()
            .splitlines()
        ]
        assert sorted(r["language"] for r in rows) == ["en", "sw"] and all(
            "output" in r for r in rows
        )
    assert (out / CURVE_PNG).stat().st_size > 1000
