"""Tiny random-weight causal LMs for backend tests (no download, a second on CPU).

A byte-level BPE tokenizer is trained on the fly on a few sentences, given BOS/EOS/PAD tokens
and a chat template, and paired with a 2-layer Llama (or Gemma-3 text) model built from a
config with a fixed seed. Saved once per session to a temporary directory so tests can also
load it through ``load_backend``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<eos>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SENTENCES = [
    "The busker hoped that the people passing by would throw money.",
    "People generally approve of dogs eating cat food but not cats eating dog food.",
    "Capitalize every character. Repeat the input. Input: Output:",
    "What is 19 plus 4? What is 6 times 11? What is 8 minus 15?",
    "He exchanged his hat for a juicer, so they threw tomatoes instead.",
    "Le chat mange. El perro come. De kat eet. A macska eszik.",
]


def build_tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<pad>", "<bos>", "<eos>", "<|user|>", "<|assistant|>", "<|system|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tk.train_from_iterator(SENTENCES * 3, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>"
    )
    tok.chat_template = CHAT_TEMPLATE
    return tok


def build_model(tokenizer: Any, arch: str = "llama", seed: int = 0) -> Any:
    import torch
    from transformers import AutoModelForCausalLM, Gemma3TextConfig, LlamaConfig

    common = {
        "vocab_size": len(tokenizer),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 512,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    if arch == "llama":
        config = LlamaConfig(**common)
    else:  # one sliding-window layer (window 8) and one global layer: exercises hybrid caches
        config = Gemma3TextConfig(
            **common,
            head_dim=8,
            sliding_window=8,
            layer_types=["sliding_attention", "full_attention"],
        )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    # Larger weights than the default init: sharper logits, so greedy argmax has no near-ties.
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.3)
    return model.eval()


@pytest.fixture(scope="session")
def tiny_tokenizer() -> Any:
    return build_tokenizer()


@pytest.fixture(scope="session")
def tiny_model_factory() -> Any:
    """``build_model(tokenizer, arch="llama"|"gemma3", seed=0)``: a fresh tiny model."""
    return build_model


@pytest.fixture(scope="session")
def tiny_model(tiny_tokenizer: Any) -> Any:
    return build_model(tiny_tokenizer)


@pytest.fixture(scope="session")
def tiny_model_dir(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Any, tiny_tokenizer: Any
) -> Path:
    out = tmp_path_factory.mktemp("tiny_llama")
    tiny_model.save_pretrained(out)
    tiny_tokenizer.save_pretrained(out)
    return out


@pytest.fixture
def tiny_prompts() -> list[str]:
    """Prompts of different lengths (so batches need padding), one very short."""
    return [
        "Capitalize every character.\n\nInput: The busker hoped\nOutput: THE BUSKER HOPED\n\nInput: dogs\nOutput:",
        "What is 19 plus 4?",
        "Le chat",
        "Repeat the input.\n\nInput: People generally approve of dogs eating cat food\nOutput:",
        "He exchanged his hat for a juicer, so",
        "El perro come. De kat eet. A macska",
        "x",
    ]
