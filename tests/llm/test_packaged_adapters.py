"""Shipped LoRA adapters: the merge equals PEFT's, the files match their hashes, and the
shipped pair's greedy outputs equal the recorded fingerprint."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from forgetlab.errors import ForgetlabError
from forgetlab.llm.backends import GenerationConfig, load_backend
from forgetlab.llm.backends import packaged as pk
from forgetlab.llm.backends.adapters import (
    ADAPTERS,
    adapter_info,
    lora_deltas,
    merge_into,
    packaged_entry,
)
from forgetlab.llm.benchmarks.base import identity_dict, pair_note


def test_merge_equals_peft_merge_and_unload(
    tmp_path: Path, tiny_model_factory: Any, tiny_tokenizer: Any
) -> None:
    peft = pytest.importorskip("peft")
    base = tiny_model_factory(tiny_tokenizer, seed=0)
    reference = tiny_model_factory(tiny_tokenizer, seed=0)
    cfg = peft.LoraConfig(r=4, lora_alpha=12, target_modules="all-linear", init_lora_weights=False)
    lora = peft.get_peft_model(reference, cfg)
    lora.save_pretrained(tmp_path / "adapter")
    merged_reference = lora.merge_and_unload().state_dict()
    n = merge_into(base, lora_deltas(tmp_path / "adapter"))
    assert n == sum(1 for k in merged_reference if k.endswith("proj.weight"))
    ours = base.state_dict()
    assert set(ours) == set(merged_reference)
    for key, value in merged_reference.items():
        torch.testing.assert_close(ours[key], value, rtol=0, atol=1e-6)
    assert any(
        not torch.equal(ours[k], v)
        for k, v in tiny_model_factory(tiny_tokenizer, seed=0).state_dict().items()
    )  # the merge changed something


def test_unsupported_adapters_are_refused(
    tmp_path: Path, tiny_model_factory: Any, tiny_tokenizer: Any
) -> None:
    peft = pytest.importorskip("peft")
    model = peft.get_peft_model(
        tiny_model_factory(tiny_tokenizer, seed=0),
        peft.LoraConfig(r=2, target_modules="all-linear", use_dora=True),
    )
    model.save_pretrained(tmp_path / "dora")
    with pytest.raises(ForgetlabError, match="only plain LoRA"):
        lora_deltas(tmp_path / "dora")


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_shipped_files_match_their_recorded_hash(name: str) -> None:
    folder = ADAPTERS[name].folder
    info = adapter_info(name)
    data = (folder / "adapter_model.safetensors").read_bytes()
    assert hashlib.sha256(data).hexdigest() == info["adapter_sha256"]
    assert len(data) < 12 * 2**20  # a few MB: fp16 factors only
    cfg = json.loads((folder / "adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"] == info["base"] == f"packaged:{ADAPTERS[name].base}"
    assert info["train_command"][:3] == ["forgetlab", "finetune", "sft"]
    assert info["data_command"][:3] == ["forgetlab", "finetune", "data"]
    assert json.loads((folder / "fingerprint.json").read_text())["outputs"]
    assert packaged_entry(name).add_bos == pk.get_packaged(ADAPTERS[name].base).add_bos


def test_unknown_packaged_name_lists_the_adapters() -> None:
    with pytest.raises(ForgetlabError, match="smollm2-135m-safety"):
        packaged_entry("nope")


@pytest.mark.realmodel
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_shipped_pair_reproduces_its_fingerprint(name: str) -> None:
    if not pk.is_available(ADAPTERS[name].base):
        pytest.skip(f"base model {ADAPTERS[name].base} not installed")
    fingerprint = json.loads((ADAPTERS[name].folder / "fingerprint.json").read_text())
    config = GenerationConfig(max_new_tokens=fingerprint["max_new_tokens"])

    def run(be: Any) -> list[str]:
        if fingerprint["mode"] == "chat":
            return be.chat(
                [[{"role": "user", "content": p}] for p in fingerprint["prompts"]], config
            )
        return be.complete(fingerprint["prompts"], config)

    backend = load_backend(f"packaged:{name}", batch_size=4)
    outputs = run(backend)
    assert outputs == fingerprint["outputs"]
    ident = backend.identity
    assert ident.name == f"packaged:{name}"
    assert ident.revision == "sha256:" + adapter_info(name)["adapter_sha256"][:16]
    assert ident.extra["base"] == ADAPTERS[name].base
    base = load_backend(f"packaged:{ADAPTERS[name].base}", batch_size=4)
    assert run(base) != outputs  # the adapter changes behaviour
    note = pair_note(identity_dict(base), identity_dict(backend))
    assert note["matched"] is True, note
