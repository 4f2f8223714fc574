"""HF backend on tiny random-weight models: batched KV-cache decoding vs a brute-force loop."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from llm_reference import SHARED, encode_all, naive_greedy

from forgetlab.errors import ForgetlabError
from forgetlab.llm.backends import GenerationConfig, load_backend, resolve_model_spec
from forgetlab.llm.backends.hf import HFBackend, cut_at_stop
from forgetlab.llm.backends.hf_generate import cache_is_mergeable, common_prefix_length, generate


@pytest.mark.parametrize(
    ("arch", "batch_size", "prefill", "shared_prefix"),
    [
        ("llama", 1, "packed", False),
        ("llama", 3, "packed", False),  # one packed prompt pass per batch
        ("llama", 4, "packed", True),  # shared-instruction cache reused by the packed pass
        ("llama", 7, "packed", True),
        ("llama", 1, "unpadded", False),
        ("llama", 3, "unpadded", False),
        ("llama", 4, "unpadded", True),  # prompts one by one, caches merged
        ("llama", 3, "padded", True),  # left-padded batch prompt pass
        ("gemma3", 3, "packed", True),  # sliding-window cache: falls back to the padded path
    ],
)
def test_batched_kv_generation_equals_bruteforce(
    tiny_model_factory, tiny_tokenizer, tiny_prompts, arch, batch_size, prefill, shared_prefix
):
    model = tiny_model_factory(tiny_tokenizer, arch)
    texts = [SHARED + p for p in tiny_prompts] if shared_prefix else tiny_prompts
    enc = encode_all(tiny_tokenizer, texts)
    if shared_prefix:
        assert common_prefix_length(enc) >= 4
    got = generate(
        model,
        enc,
        batch_size=batch_size,
        max_new_tokens=7,
        pad_id=0,
        eos_ids=[],
        prefill=prefill,
    )
    assert got == [naive_greedy(model, e, 7) for e in enc]


def test_common_prefix_and_merge_probe(tiny_model_factory, tiny_model, tiny_tokenizer):
    assert common_prefix_length([[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 9]]) == 2
    assert common_prefix_length([[1, 2], [1, 2, 3]]) == 1  # each prompt keeps >= 1 token to run
    assert common_prefix_length([[1, 2, 3]]) == 0
    assert cache_is_mergeable(tiny_model)
    assert not cache_is_mergeable(tiny_model_factory(tiny_tokenizer, "gemma3"))


def test_eos_truncates_and_rows_finish_independently(tiny_model, tiny_tokenizer, tiny_prompts):
    enc = encode_all(tiny_tokenizer, tiny_prompts)
    free = [naive_greedy(tiny_model, e, 10) for e in enc]
    eos = free[0][
        3
    ]  # a token prompt 0 emits at step 4: it must stop there, others wherever it occurs
    got = generate(tiny_model, enc, batch_size=4, max_new_tokens=10, pad_id=0, eos_ids=[eos])
    expected = [f[: f.index(eos)] if eos in f else f for f in free]
    assert got == expected
    assert len(got[0]) == 3


def test_complete_decodes_generated_ids_only(tiny_model, tiny_tokenizer, tiny_prompts):
    be = HFBackend.from_model(tiny_model, tiny_tokenizer, name="tiny", batch_size=4)
    out = be.complete(tiny_prompts, GenerationConfig(max_new_tokens=6))
    eos = set(be.eos_ids)
    expected = [
        tiny_tokenizer.decode(naive_greedy(tiny_model, e, 6, eos), skip_special_tokens=True)
        for e in encode_all(tiny_tokenizer, tiny_prompts)
    ]
    assert out == expected
    # batching does not change greedy outputs
    be1 = HFBackend.from_model(tiny_model, tiny_tokenizer, name="tiny", batch_size=1)
    assert be1.complete(tiny_prompts, GenerationConfig(max_new_tokens=6)) == out


def test_bos_policy(tiny_model, tiny_tokenizer, tiny_prompts):
    no_bos = HFBackend.from_model(tiny_model, tiny_tokenizer, name="tiny")
    bos = HFBackend.from_model(tiny_model, tiny_tokenizer, name="tiny", add_bos=True)
    assert no_bos.identity.add_bos is False and bos.identity.add_bos is True
    assert no_bos.encode("Le chat", add_bos=False)[0] != tiny_tokenizer.bos_token_id
    with_bos = bos.encode("Le chat", add_bos=True)
    assert with_bos[0] == tiny_tokenizer.bos_token_id and with_bos[1] != tiny_tokenizer.bos_token_id
    assert bos.encode("<bos>Le chat", add_bos=True).count(tiny_tokenizer.bos_token_id) == 1
    eos = set(bos.eos_ids)
    expected = [
        tiny_tokenizer.decode(naive_greedy(tiny_model, e, 5, eos), skip_special_tokens=True)
        for e in encode_all(tiny_tokenizer, tiny_prompts, bos=True)
    ]
    assert bos.complete(tiny_prompts, GenerationConfig(max_new_tokens=5)) == expected


def test_chat_applies_template_with_generation_prompt(tiny_model, tiny_tokenizer):
    be = HFBackend.from_model(tiny_model, tiny_tokenizer, name="tiny", add_bos=True)
    conv = [{"role": "user", "content": "What is 19 plus 4?"}]
    text = be.render_chat(conv)
    assert text == "<|user|>What is 19 plus 4?<eos>\n<|assistant|>"
    ids = be.encode_chat(conv)
    assert ids == tiny_tokenizer(text, add_special_tokens=False)["input_ids"]  # template owns BOS
    cfg = GenerationConfig(max_new_tokens=5)
    expected = tiny_tokenizer.decode(
        naive_greedy(tiny_model, ids, 5, set(be.eos_ids)), skip_special_tokens=True
    )
    assert be.chat([conv], cfg) == [expected]
    raw = HFBackend.from_model(tiny_model, tiny_tokenizer, name="tiny", chat_template=False)
    assert (
        raw.render_chat([*conv, {"role": "user", "content": "Le chat"}])
        == "What is 19 plus 4?\n\nLe chat"
    )
    assert raw.identity.chat_template is None
    assert (
        be.identity.chat_template
        == hashlib.sha256(tiny_tokenizer.chat_template.encode()).hexdigest()[:16]
    )


def test_chat_without_template_is_a_one_line_error(tiny_model, tiny_tokenizer):
    be = HFBackend.from_model(tiny_model, tiny_tokenizer, name="tiny")
    saved = tiny_tokenizer.chat_template
    try:
        tiny_tokenizer.chat_template = None
        with pytest.raises(ForgetlabError, match="no chat template") as err:
            be.chat([[{"role": "user", "content": "hi"}]], GenerationConfig())
        assert "\n" not in str(err.value)
    finally:
        tiny_tokenizer.chat_template = saved


def test_stop_strings(tiny_model, tiny_tokenizer, tiny_prompts):
    assert cut_at_stop("abc\n\nInput: x", ["\n\n", "Input"]) == "abc"
    assert cut_at_stop("abc", ["zz"]) == "abc"
    be = HFBackend.from_model(tiny_model, tiny_tokenizer, name="tiny")
    full = be.complete(tiny_prompts, GenerationConfig(max_new_tokens=8))
    stop = full[0][2:4]
    cut = be.complete(tiny_prompts, GenerationConfig(max_new_tokens=8, stop=(stop,)))
    assert cut == [cut_at_stop(f, [stop]) for f in full]
    assert len(cut[0]) <= 2


def test_sampling_is_seeded(tiny_model, tiny_tokenizer, tiny_prompts):
    be = HFBackend.from_model(tiny_model, tiny_tokenizer, name="tiny", batch_size=3)
    cfg = GenerationConfig(max_new_tokens=8, temperature=1.0, seed=5)
    first = be.complete(tiny_prompts, cfg)
    assert be.complete(tiny_prompts, cfg) == first
    others = [
        be.complete(tiny_prompts, GenerationConfig(max_new_tokens=8, temperature=1.0, seed=s))
        for s in (6, 7)
    ]
    assert any(o != first for o in others)


def test_training_mode_is_restored(tiny_model, tiny_tokenizer):
    be = HFBackend.from_model(tiny_model, tiny_tokenizer, name="tiny")
    tiny_model.train()
    try:
        be.complete(["Le chat"], GenerationConfig(max_new_tokens=2))
        assert tiny_model.training
    finally:
        tiny_model.eval()


def test_wraps_peft_model(tiny_model_factory, tiny_tokenizer, tiny_prompts):
    peft = pytest.importorskip("peft")
    base = tiny_model_factory(tiny_tokenizer)
    plain = HFBackend.from_model(base, tiny_tokenizer, name="base").complete(
        tiny_prompts, GenerationConfig(max_new_tokens=6)
    )
    lora = peft.get_peft_model(base, peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    be = HFBackend.from_model(lora, tiny_tokenizer, name="lora")
    assert be.complete(tiny_prompts, GenerationConfig(max_new_tokens=6)) == plain  # B = 0 at init
    with torch.no_grad():
        for name, p in lora.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 1.0)
    cfg = GenerationConfig(max_new_tokens=6)
    tuned = be.complete(tiny_prompts, cfg)
    assert tuned != plain
    expected = [
        tiny_tokenizer.decode(naive_greedy(lora, e, 6, set(be.eos_ids)), skip_special_tokens=True)
        for e in encode_all(tiny_tokenizer, tiny_prompts)
    ]
    assert tuned == expected
    with lora.disable_adapter():
        assert be.complete(tiny_prompts, cfg) == plain


def test_load_backend_local_dir(tiny_model_dir: Path, tiny_model, tiny_tokenizer, tiny_prompts):
    assert resolve_model_spec(str(tiny_model_dir)) == ("hf", str(tiny_model_dir))
    be = load_backend(str(tiny_model_dir), batch_size=5, device="cpu")
    be2 = load_backend(f"hf:{tiny_model_dir}", device="cpu")
    ident = be.identity
    assert ident.backend == "hf" and ident.batch_size == 5 and ident.dtype == "float32"
    assert ident.add_bos is False and ident.source == str(tiny_model_dir.resolve())
    weights = tiny_model_dir / "model.safetensors"
    expected = hashlib.sha256(b"model.safetensors" + weights.read_bytes()).hexdigest()[:16]
    assert ident.revision == f"sha256:{expected}"
    json.dumps(ident.as_dict())  # serialisable for result files
    cfg = GenerationConfig(max_new_tokens=5)
    reference = HFBackend.from_model(tiny_model, tiny_tokenizer, name="t").complete(
        tiny_prompts, cfg
    )
    assert be.complete(tiny_prompts, cfg) == reference == be2.complete(tiny_prompts, cfg)
    bf16 = load_backend(str(tiny_model_dir), dtype="bfloat16", device="cpu")
    assert bf16.identity.dtype == "bfloat16"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nonsense-model", "unknown model"),
        ("/no/such/dir", "unknown model"),
        ("hf:/no/such/dir", "not found"),
        ("hf:./missing", "not found"),
        ("/no/such/file.gguf", "GGUF file not found"),
        ("hf:/no/such/file.gguf", "GGUF file not found"),
        ("packaged:llama-70b", "unknown packaged model"),
        ("hf:", "names no model"),
    ],
)
def test_bad_specs_are_one_line_errors(spec, message):
    with pytest.raises(ForgetlabError, match=message) as err:
        load_backend(spec)
    assert "\n" not in str(err.value)


def test_bad_options_are_one_line_errors(tiny_model_dir):
    with pytest.raises(ForgetlabError, match="unknown dtype"):
        load_backend(str(tiny_model_dir), dtype="float8")
    with pytest.raises(ForgetlabError, match="do not apply"):
        load_backend(str(tiny_model_dir), tensor_parallel_size=2)
    with pytest.raises(ForgetlabError, match="batch_size"):
        load_backend(str(tiny_model_dir), batch_size=0)
    if not torch.cuda.is_available():
        with pytest.raises(ForgetlabError, match="CUDA is not available"):
            load_backend(str(tiny_model_dir), device="cuda")


def test_not_a_model_directory(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ForgetlabError, match="cannot load model") as err:
        load_backend(str(tmp_path))
    assert "\n" not in str(err.value)


def test_finetune_output_dir_loads_and_declares_its_base(tmp_path, tiny_model_dir):
    """A `forgetlab finetune` output directory (DIR/model + marker) loads as DIR and names its base."""
    import json
    import shutil

    from forgetlab.llm.benchmarks.base import pair_note

    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run / "model")
    (run / "model" / "forgetlab_model.json").write_text(
        json.dumps({"base_model": "packaged:base-x"})
    )
    tuned = load_backend(str(run), device="cpu")
    assert tuned.identity.extra["base_model"] == "packaged:base-x"
    note = pair_note({"name": "packaged:base-x", "extra": {}}, tuned.identity.as_dict())
    assert note["matched"] is True
    plain = load_backend(str(tiny_model_dir), device="cpu")
    assert "base_model" not in plain.identity.extra
