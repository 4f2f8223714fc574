"""Packed prompt pass and preallocated decoding cache vs one prompt at a time, brute force."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from llm_reference import SHARED, encode_all, naive_greedy

from forgetlab.llm.backends.hf_generate import common_prefix_length, generate
from forgetlab.llm.backends.packed import (
    PACKED_ATTENTION,
    PreallocatedLayer,
    _packed,
    _Plan,
    _split_packs,
    gather_left_padded,
    prefill_packed,
    supports_packing,
)


def alone(
    model: Any, ids: list[int]
) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
    """Reference: the prompt run by itself, no cache reuse: last logits and per-layer k/v."""
    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids]), use_cache=True)
    kv = [(layer.keys[0], layer.values[0]) for layer in out.past_key_values.layers]
    return out.logits[0, -1], kv


@pytest.mark.parametrize(("shared", "max_tokens"), [(False, 4096), (True, 4096), (True, 12)])
def test_packed_prefill_equals_each_prompt_alone(
    tiny_model, tiny_tokenizer, tiny_prompts, shared, max_tokens
):
    texts = [SHARED + p for p in tiny_prompts] if shared else tiny_prompts
    enc = encode_all(tiny_tokenizer, texts)
    prefix = common_prefix_length(enc) if shared else 0
    assert (prefix >= 4) == shared
    packed = prefill_packed(tiny_model, enc, prefix=prefix, max_tokens=max_tokens)
    assert packed is not None
    n_packs = len(packed.keys)
    assert (n_packs > 1) == (max_tokens == 12)  # the small budget really splits the batch
    rows = [3, 0, 6, 1, 5, 2, 4]  # any order, as the batch's rows
    cache, mask = gather_left_padded(packed, rows, reserve=3)
    width = max(len(enc[r]) for r in rows)
    assert mask.shape == (len(rows), width)
    for b, r in enumerate(rows):
        logits, kv = alone(tiny_model, enc[r])
        torch.testing.assert_close(packed.logits[r], logits, rtol=1e-5, atol=1e-5)
        n = len(enc[r])
        assert mask[b].tolist() == [0] * (width - n) + [1] * n
        for layer, (k, v) in enumerate(kv):
            got = cache.layers[layer]
            torch.testing.assert_close(got.keys[b, :, width - n :], k, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(got.values[b, :, width - n :], v, rtol=1e-5, atol=1e-5)
            assert torch.isfinite(got.keys[b]).all() and torch.isfinite(got.values[b]).all()


def test_generate_with_packs_and_eos_equals_bruteforce(tiny_model, tiny_tokenizer, tiny_prompts):
    enc = encode_all(tiny_tokenizer, [SHARED + p for p in tiny_prompts])
    free = [naive_greedy(tiny_model, e, 8) for e in enc]
    eos = free[2][2]
    got = generate(tiny_model, enc, batch_size=7, max_new_tokens=8, pad_id=0, eos_ids=[eos])
    assert got == [f[: f.index(eos)] if eos in f else f for f in free]


def test_attention_setting_restored_even_on_error(tiny_model_factory, tiny_tokenizer):
    model = tiny_model_factory(tiny_tokenizer)
    assert supports_packing(model)
    with pytest.raises(RuntimeError, match="boom"), _packed(model, _Plan(0, [(0, 1)])):
        assert model.config._attn_implementation == PACKED_ATTENTION
        raise RuntimeError("boom")
    assert model.config._attn_implementation == "sdpa"


def test_eager_models_run_prompts_one_by_one(tiny_model_factory, tiny_tokenizer, tiny_prompts):
    model = tiny_model_factory(tiny_tokenizer)
    model.config._attn_implementation = "eager"
    assert not supports_packing(model)
    enc = encode_all(tiny_tokenizer, [SHARED + p for p in tiny_prompts])
    got = generate(model, enc, batch_size=4, max_new_tokens=5, pad_id=0, eos_ids=[])
    assert got == [naive_greedy(model, e, 5) for e in enc]


def test_preallocated_layer_grows_selects_and_crops():
    k = torch.arange(2 * 1 * 3 * 2, dtype=torch.float32).view(2, 1, 3, 2)
    layer = PreallocatedLayer(k.clone(), k.clone() + 100, length=2)  # one free slot
    assert layer.get_seq_length() == 2
    new = torch.full((2, 1, 2, 2), -1.0)
    keys, values = layer.update(new, new - 1)  # needs 2 slots, has 1: grows
    assert keys.shape == (2, 1, 4, 2) and layer.get_seq_length() == 4
    torch.testing.assert_close(keys[:, :, :2], k[:, :, :2])
    torch.testing.assert_close(keys[:, :, 2:], new)
    torch.testing.assert_close(values[:, :, :2], k[:, :, :2] + 100)
    layer.batch_select_indices(torch.tensor([1]))
    torch.testing.assert_close(layer.keys[0, :, :2], k[1, :, :2])
    layer.crop(-1)
    assert layer.get_seq_length() == 3 and layer.keys.shape[2] == 3
    with pytest.raises(ValueError):
        layer.crop(2)


def test_split_packs_respects_budget_and_keeps_order():
    assert _split_packs([5, 5, 5], 10) == [[0, 1], [2]]
    assert _split_packs([20, 1, 1], 10) == [[0], [1, 2]]  # an oversized prompt gets its own pack
    assert _split_packs([3], 1) == [[0]]


def test_sliding_window_model_packs_only_what_fits_in_the_window(
    tiny_model_factory, tiny_tokenizer, monkeypatch
):
    import forgetlab.llm.backends.hf_generate as hg

    model = tiny_model_factory(tiny_tokenizer, "gemma3")  # window 8 on its sliding layer
    assert hg.merge_limit(model) == 8
    calls: list[int] = []
    real = hg.prefill_packed
    monkeypatch.setattr(
        hg, "prefill_packed", lambda m, p, **kw: calls.append(len(p)) or real(m, p, **kw)
    )
    short = [[5, 9], [7, 8, 11], [12], [9, 9, 9]]
    got = generate(model, short, batch_size=4, max_new_tokens=5, pad_id=0, eos_ids=[])
    assert calls == [4]  # 3 prompt tokens + 5 new <= 8: packed, and exact
    assert got == [naive_greedy(model, e, 5) for e in short]
    calls.clear()
    longer = [*short, list(range(20, 27))]  # 7 + 5 > 8: the window binds, padded pass
    got = generate(model, longer, batch_size=5, max_new_tokens=5, pad_id=0, eos_ids=[])
    assert calls == []
    assert got == [naive_greedy(model, e, 5) for e in longer]


def _tiny(arch: str, vocab: int) -> Any:
    from transformers import (
        AutoModelForCausalLM,
        GPT2Config,
        MistralConfig,
        OPTConfig,
        PhiConfig,
        Qwen2Config,
    )

    small = {"num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": vocab}
    config = {
        "gpt2": lambda: GPT2Config(vocab_size=vocab, n_embd=32, n_layer=2, n_head=4),
        "qwen2": lambda: Qwen2Config(
            **small, hidden_size=32, intermediate_size=64, num_key_value_heads=2
        ),
        "mistral": lambda: MistralConfig(
            **small, hidden_size=32, intermediate_size=64, num_key_value_heads=2, sliding_window=64
        ),
        "phi": lambda: PhiConfig(**small, hidden_size=32, intermediate_size=64),
        "opt": lambda: OPTConfig(**small, hidden_size=32, ffn_dim=64, word_embed_proj_dim=32),
    }[arch]()
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.3)
    return model


@pytest.mark.parametrize("arch", ["gpt2", "qwen2", "mistral", "phi", "opt"])
def test_packed_generation_across_architectures(arch, tiny_tokenizer, tiny_prompts, monkeypatch):
    """Absolute positions (GPT-2, OPT), partial rotary (Phi), GQA (Qwen2): the packed path
    is taken and matches brute force. Mistral's window (64) binds on the long batch (up to
    102 + 6 tokens), which takes the padded pass, and not on the short one, which packs."""
    import forgetlab.llm.backends.hf_generate as hg

    model = _tiny(arch, len(tiny_tokenizer))
    calls: list[int] = []
    real = hg.prefill_packed
    monkeypatch.setattr(
        hg, "prefill_packed", lambda m, p, **kw: calls.append(len(p)) or real(m, p, **kw)
    )
    enc = encode_all(tiny_tokenizer, [SHARED + p for p in tiny_prompts[:4]]) + encode_all(
        tiny_tokenizer, tiny_prompts[4:]
    )
    got = generate(model, enc, batch_size=4, max_new_tokens=6, pad_id=0, eos_ids=[])
    assert calls == ([3] if arch == "mistral" else [4, 3])
    assert got == [naive_greedy(model, e, 6) for e in enc]


def test_models_without_logits_to_keep_take_last_positions(
    tiny_model, tiny_tokenizer, tiny_prompts
):
    from forgetlab.llm.backends.hf_generate import generate_batch

    enc = encode_all(tiny_tokenizer, [SHARED + p for p in tiny_prompts])
    got = generate_batch(
        tiny_model, enc, max_new_tokens=4, pad_id=0, eos_ids=[], keep_last_only=False
    )
    assert got == [naive_greedy(tiny_model, e, 4) for e in enc]
