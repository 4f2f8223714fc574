"""vLLM backend: a clear error without vLLM; real generation only where vLLM and a GPU exist."""

from __future__ import annotations

import importlib.util

import pytest

from forgetlab.errors import ForgetlabError
from forgetlab.llm.backends import GenerationConfig, load_backend

HAVE_VLLM = importlib.util.find_spec("vllm") is not None


@pytest.mark.skipif(HAVE_VLLM, reason="vLLM is installed")
def test_missing_vllm_is_a_one_line_error_with_install_hint(tiny_model_dir):
    with pytest.raises(ForgetlabError, match=r"pip install 'forgetlab\[vllm\]'") as err:
        load_backend(f"vllm:{tiny_model_dir}")
    assert "\n" not in str(err.value)


def test_vllm_option_checks():
    with pytest.raises(ForgetlabError, match="do not apply"):
        load_backend("vllm:some/model", revision="main")
    with pytest.raises(ForgetlabError, match="CUDA GPUs only"):
        load_backend("vllm:some/model", device="cpu")


@pytest.mark.realmodel
@pytest.mark.slow
@pytest.mark.skipif(not HAVE_VLLM, reason="vLLM not installed")
def test_vllm_matches_hf_greedy(tiny_model_dir, tiny_prompts):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("vLLM needs a CUDA GPU")
    cfg = GenerationConfig(max_new_tokens=6)
    hf = load_backend(str(tiny_model_dir), dtype="float32", device="cuda")
    vl = load_backend(
        f"vllm:{tiny_model_dir}",
        dtype="float32",
        tensor_parallel_size=1,
        gpu_memory_utilization=0.3,
    )
    assert vl.identity.extra["tensor_parallel_size"] == 1
    assert vl.identity.add_bos == hf.identity.add_bos
    assert vl.complete(tiny_prompts, cfg) == hf.complete(tiny_prompts, cfg)
    vl.close()
