"""Turning a MODEL argument into a trainable transformers model and tokenizer.

MODEL is what the LLM lab accepts: ``packaged:NAME`` (offline GGUF models, dequantised once
to a safetensors cache by the backends module), ``hf:ID_OR_DIR``, a local directory (also a
forgetlab fine-tuning output, whose merged ``model/`` is used) or a hub id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError, one_line


def resolve_model_source(spec: str) -> str:
    """Local directory or hub id that ``from_pretrained`` can read for ``spec``."""
    from forgetlab.llm.backends import parse_model_spec

    parsed = parse_model_spec(spec)
    if parsed.kind == "packaged":
        return str(_packaged_dir(parsed.arg))
    if parsed.kind not in ("", "hf"):
        raise ForgetlabError(
            f"fine-tuning needs packaged:NAME, hf:ID_OR_DIR, a model directory or a hub id, "
            f"not a {parsed.kind}: model"
        )
    spec = parsed.arg
    path = Path(spec)
    if path.is_dir():
        if (path / "model" / "config.json").is_file() and not (path / "config.json").is_file():
            return str(path / "model")  # a forgetlab finetune output directory
        if not (path / "config.json").is_file():
            raise ForgetlabError(f"model directory {path} has no config.json")
        return str(path)
    if spec.startswith((".", "/")) or spec.count("/") > 1:
        raise ForgetlabError(f"model directory {spec} not found")
    return spec  # hub id: transformers resolves it (offline mode gives its own message)


def _packaged_dir(name: str) -> Path:
    """The backends module's safetensors cache directory of a packaged model."""
    from forgetlab.llm.backends.adapters import packaged_model_dir

    return packaged_model_dir(name)


def load_model_and_tokenizer(source: str, *, dtype: Any = None) -> tuple[Any, Any]:
    """Load a causal LM and its tokenizer; a tokenizer without a pad token reuses EOS."""
    from safetensors import SafetensorError
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
        raise ForgetlabError(f"cannot load model {source}: {one_line(exc)}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer
