"""MEET-style two-stage fine-tuning with control tokens (docs/finetuning.md#finetune-meet--meet-with-control-tokens).

Stage 1 adds the control tokens to the tokenizer, initialises each new embedding row as the
mean embedding of the token's name (``<concise>`` -> the pieces of "concise") and trains
*only those rows*: every other weight, including the other embedding rows, stays
bit-identical. Models with separate input/output embeddings use PEFT's
``TrainableTokensConfig`` (``trainable_token_indices``); models that tie them (Gemma 3,
SmolLM2) cannot, because PEFT then also wraps ``lm_head`` and TRL 1.16 refuses an adapter on
the LM head — for them every weight is frozen except the embedding matrix, whose gradient is
masked to the new rows (AdamW without weight decay leaves zero-gradient rows unchanged,
exactly). Stage 2 fine-tunes the stage-1 model (LoRA or full)
on the same data, the control tokens now meaningful. Layout::

    OUT/run_config.json   OUT/stage1/ (an SFT run dir)   OUT/stage2/ (an SFT run dir)

``OUT/stage2/model`` is the final model; each stage resumes like ``finetune sft``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError
from forgetlab.finetune.config import SFTRunConfig
from forgetlab.finetune.data.io import provenance_path
from forgetlab.finetune.models import load_model_and_tokenizer, resolve_model_source
from forgetlab.finetune.sft import run_sft, with_data_hash
from forgetlab.results import read_json
from forgetlab.rundir import RunDir


def control_tokens_of(data: str | Path, tokens: Sequence[str] | None) -> list[str]:
    """Tokens given explicitly, else those recorded by the control-data builder."""
    if tokens:
        return list(tokens)
    side = provenance_path(data)
    if side.is_file():
        found = read_json(side).get("control_tokens")
        if found:
            return [str(t) for t in found]
    raise ForgetlabError(
        f"no control tokens: pass --tokens or build {data} with 'finetune data control'"
    )


def add_control_tokens(model: Any, tokenizer: Any, tokens: Sequence[str]) -> list[int]:
    """Add ``tokens`` (unsplittable), resize embeddings, init each from its name; return ids."""
    import torch

    new = [t for t in tokens if t not in tokenizer.get_vocab()]
    tokenizer.add_tokens(list(new), special_tokens=True)
    ids = [int(tokenizer.convert_tokens_to_ids(t)) for t in tokens]
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    emb = model.get_input_embeddings().weight
    with torch.no_grad():
        for tok, idx in zip(tokens, ids, strict=True):
            if tok not in new:
                continue
            name = tok.strip("<>[]|") or tok
            piece_ids = tokenizer(name, add_special_tokens=False)["input_ids"]
            piece_ids = [i for i in piece_ids if i < emb.shape[0] and i not in ids] or [0]
            emb[idx] = emb[piece_ids].mean(dim=0)
    return ids


def _ties_embeddings(model: Any) -> bool:
    out = model.get_output_embeddings()
    return out is not None and out.weight is model.get_input_embeddings().weight


def freeze_all_but_rows(model: Any, ids: Sequence[int]) -> None:
    """Train only rows ``ids`` of the (possibly tied) embedding matrix."""
    import torch

    for p in model.parameters():
        p.requires_grad_(False)
    weight = model.get_input_embeddings().weight
    weight.requires_grad_(True)
    mask = torch.zeros(weight.shape[0], 1, dtype=weight.dtype, device=weight.device)
    mask[list(ids)] = 1.0
    weight.register_hook(lambda grad: grad * mask.to(grad.device, grad.dtype))


def run_meet(
    stage1: SFTRunConfig,
    stage2: SFTRunConfig,
    out: str | Path,
    *,
    tokens: Sequence[str] | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Run (or resume) both stages; returns both stages' results and the control-token ids."""
    from peft import TrainableTokensConfig

    toks = control_tokens_of(stage1.data, tokens)
    stage1 = with_data_hash(stage1)
    stage2 = with_data_hash(stage2)
    with RunDir(
        out,
        {
            "kind": "meet",
            "tokens": toks,
            "stage1": stage1.model_dump(),
            "stage2": stage2.model_dump(),
        },
        overwrite=overwrite,
    ) as claim:
        out_dir = claim.path
        model, tokenizer = load_model_and_tokenizer(resolve_model_source(stage1.model))
        ids = add_control_tokens(model, tokenizer, toks)
        peft_config = None
        if _ties_embeddings(model):
            freeze_all_but_rows(model, ids)
            train = stage1.train.model_copy(update={"weight_decay": 0.0})
            stage1 = stage1.model_copy(update={"method": "full", "train": train})
        else:
            peft_config = TrainableTokensConfig(token_indices=ids)
        r1 = run_sft(
            stage1,
            out_dir / "stage1",
            overwrite=overwrite,
            model=model,
            tokenizer=tokenizer,
            peft_config=peft_config,
            kind="meet-stage1",
            base_model=stage1.model,
        )
        del model
        stage2 = stage2.model_copy(update={"model": str(out_dir / "stage1" / "model")})
        r2 = run_sft(
            stage2,
            out_dir / "stage2",
            overwrite=overwrite,
            kind="meet-stage2",
            base_model=stage1.model,
        )
        return {
            "tokens": toks,
            "token_ids": ids,
            "stage1": r1,
            "stage2": r2,
            "load_with": f"hf:{out_dir / 'stage2' / 'model'}",
        }
