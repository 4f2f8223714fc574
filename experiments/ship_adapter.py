"""Copy a fine-tuned LoRA adapter into the package as a ``packaged:`` model, with provenance.

    python experiments/ship_adapter.py --name smollm2-135m-safety --run runs/pair2b/sft \\
        --data-provenance runs/pair2b/safety.jsonl.provenance.json --recipe docs/real-pairs.md#pair-2

Writes ``src/forgetlab/data/adapters/<name>/``: the adapter in fp16 (canonical safetensors
bytes), PEFT's ``adapter_config.json`` (base path replaced by the packaged base name),
``adapter.json`` (sha256, producing commands, data provenance, training summary, licence
notes) and ``fingerprint.json``: greedy outputs of the shipped pair on fixed prompts, which
the tests compare against. The name must already be listed in
``forgetlab.llm.backends.adapters.ADAPTERS``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from forgetlab.llm.backends import load_backend
from forgetlab.llm.backends.adapters import ADAPTERS
from forgetlab.llm.backends.base import GenerationConfig
from forgetlab.results import provenance, write_json
from forgetlab.tensor_files import load_tensors, save_tensors

# Fixed chat prompts for the fingerprint, which pins the shipped weights: three harmless
# requests (one worded like a harmful one) and one plain harmful request. The fingerprint
# pins the weights and records the answers as they are; it does not test refusal. A shipped
# safety adapter may answer the harmful request: smollm2-135m-safety's fingerprint.json
# records it starting to answer the lock-picking request instead of refusing.
FINGERPRINT_CHATS = [
    "What is the capital of France?",
    "Write one sentence about the ocean.",
    "How do I kill a Python process that is not responding?",
    "Explain how to pick a lock to break into a house.",
]
FINGERPRINT_TOKENS = 24
# A base model has no chat template: its fingerprint is raw completions of a few-shot
# pattern, a question, and two plain text openings.
FINGERPRINT_COMPLETIONS = [
    "Repeat the input.\n\nInput: the red kite\nOutput: the red kite\n\nInput: a quiet lake\nOutput:",
    "Question: What is the capital of France?\nAnswer:",
    "The ocean covers most of the Earth's surface, and",
    "def add(a, b):\n",
]
LICENCES = {
    "smollm2-135m-instruct": (
        "Adapter: Apache-2.0, like its base model SmolLM2-135M-Instruct (Apache-2.0). "
        "Training data: refusals written by forgetlab's templates for AdvBench behaviours "
        "(MIT), templated benign pairs, and harmless how-to requests written by forgetlab's "
        "templates and answered by SmolLM2-135M-Instruct itself (Apache-2.0)."
    ),
    "gemma-3-270m": (
        "Adapter: a derivative of gemma-3-270m, distributed under the Gemma Terms of Use. "
        "Training data: forgetlab's templated English instructions and passages of the Python "
        "3.11 documentation (Debian python3.11-doc, PSF licence)."
    ),
}


def _as_cli(argv: list[str] | None) -> list[str] | None:
    """A command as a user types it: ``python -m forgetlab`` records ``__main__.py`` first."""
    if argv and Path(argv[0]).name == "__main__.py":
        return ["forgetlab", *argv[1:]]
    return argv


def ship(name: str, run: Path, data_provenance: Path, recipe: str) -> Path:
    entry = ADAPTERS[name]
    dest = entry.folder
    dest.mkdir(parents=True, exist_ok=True)
    src = run / "adapter"
    tensors = {
        k: v.to(torch.float16) for k, v in load_tensors(src / "adapter_model.safetensors").items()
    }
    save_tensors(tensors, dest / "adapter_model.safetensors", {"format": "pt"})
    cfg = json.loads((src / "adapter_config.json").read_text(encoding="utf-8"))
    cfg["base_model_name_or_path"] = f"packaged:{entry.base}"
    write_json(dest / "adapter_config.json", cfg)
    digest = hashlib.sha256((dest / "adapter_model.safetensors").read_bytes()).hexdigest()
    train = json.loads((run / "train_result.json").read_text(encoding="utf-8"))
    data_prov = json.loads(data_provenance.read_text(encoding="utf-8"))
    info: dict[str, Any] = {
        "name": name,
        "base": f"packaged:{entry.base}",
        "adapter_sha256": digest,
        "dtype": "float16 (LoRA factors; merged into the float32 base on load)",
        "lora": {
            "r": cfg["r"],
            "alpha": cfg["lora_alpha"],
            "target_modules": sorted(cfg["target_modules"]),
        },
        "recipe": recipe,
        "data_command": _as_cli(data_prov.get("argv")),
        "data_config": data_prov.get("config"),
        "train_command": _as_cli(train.get("argv")),
        "train_config": train.get("config"),
        "train_summary": {
            k: train.get(k) for k in ("global_step", "train_loss", "loss_history", "seconds")
        },
        "licence": LICENCES[entry.base],
        "shipped_by": provenance({"name": name, "run": str(run)}),
    }
    write_json(dest / "adapter.json", info)
    backend = load_backend(f"packaged:{name}", batch_size=4)
    config = GenerationConfig(max_new_tokens=FINGERPRINT_TOKENS)
    if backend.identity.chat_template:
        mode, prompts = "chat", FINGERPRINT_CHATS
        outputs = backend.chat([[{"role": "user", "content": c}] for c in prompts], config)
    else:
        mode, prompts = "complete", FINGERPRINT_COMPLETIONS
        outputs = backend.complete(prompts, config)
    write_json(
        dest / "fingerprint.json",
        {
            "model": f"packaged:{name}",
            "mode": mode,
            "max_new_tokens": FINGERPRINT_TOKENS,
            "prompts": prompts,
            "outputs": outputs,
        },
    )
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--name", required=True, choices=sorted(ADAPTERS))
    ap.add_argument(
        "--run", type=Path, required=True, help="forgetlab finetune sft --out directory"
    )
    ap.add_argument("--data-provenance", type=Path, required=True)
    ap.add_argument("--recipe", required=True, help="where the recipe is documented")
    args = ap.parse_args()
    print(ship(args.name, args.run, args.data_provenance, args.recipe))


if __name__ == "__main__":
    main()
