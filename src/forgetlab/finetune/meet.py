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

The **joint** baseline (:func:`run_meet_joint`, ``finetune meet --joint``) trains the same
control-token rows and the stage-2 adapter (or the whole model) *together from the start*,
for as many steps as both stages together, at stage 2's learning rate: the comparison the
MEET paper makes against its two-stage recipe. Layout: ``OUT/joint/`` (an SFT run dir).
With LoRA the rows are trained through the same gradient mask (PEFT's own token training
wraps a tied LM head, which TRL refuses); a Trainer checkpoint holds only the adapter, so
each checkpoint also stores the rows (``control_rows.safetensors``) and a resumed run
restores them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError, one_line
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


def check_new_tokens(tokenizer: Any, tokens: Sequence[str]) -> None:
    """Control tokens must be new: one already in the vocabulary has a meaning to unlearn."""
    vocab = tokenizer.get_vocab()
    known = [t for t in tokens if t in vocab]
    if known:
        raise ForgetlabError(
            f"control token(s) {', '.join(known)} already in the model's vocabulary; "
            "choose new ones with --tokens"
        )
    if len(set(tokens)) != len(tokens) or not all(t.strip() for t in tokens):
        raise ForgetlabError(f"control tokens must be distinct and non-blank (got {list(tokens)})")


def preflight_tokens(model_spec: str, tokens: Sequence[str]) -> None:
    """Check the control tokens against the model's tokenizer before any run directory is
    claimed or any weight is loaded."""
    from transformers import AutoTokenizer

    source = resolve_model_source(model_spec)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise ForgetlabError(
            f"cannot load the tokenizer of {model_spec}: {one_line(exc)}"
        ) from None
    check_new_tokens(tokenizer, tokens)


def add_control_tokens(model: Any, tokenizer: Any, tokens: Sequence[str]) -> list[int]:
    """Add ``tokens`` (unsplittable), resize embeddings, init each from its name; return ids."""
    import torch

    check_new_tokens(tokenizer, tokens)
    new = list(tokens)
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


def mask_rows(weight: Any, ids: Sequence[int]) -> None:
    """Make ``weight`` trainable in rows ``ids`` only (its gradient elsewhere is zero)."""
    import torch

    weight.requires_grad_(True)
    mask = torch.zeros(weight.shape[0], 1, dtype=weight.dtype, device=weight.device)
    mask[list(ids)] = 1.0
    weight.register_hook(lambda grad: grad * mask.to(grad.device, grad.dtype))


def freeze_all_but_rows(model: Any, ids: Sequence[int]) -> None:
    """Train only rows ``ids`` of the (possibly tied) embedding matrix."""
    for p in model.parameters():
        p.requires_grad_(False)
    mask_rows(model.get_input_embeddings().weight, ids)


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
    preflight_tokens(stage1.model, toks)
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


ROWS_FILE = "control_rows.safetensors"


def _rows_callback(ids: Sequence[int]) -> Any:
    """A Trainer callback that stores the control-token rows in every checkpoint."""
    from transformers import TrainerCallback

    from forgetlab.tensor_files import save_tensors

    class SaveControlRows(TrainerCallback):
        def on_save(
            self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any
        ) -> None:
            weight = model.get_input_embeddings().weight
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            save_tensors(
                {"rows": weight[list(ids)]},
                folder / ROWS_FILE,
                {"token_ids": ",".join(str(i) for i in ids)},
            )

    return SaveControlRows()


def _restore_rows(model: Any, ids: Sequence[int], checkpoint_dir: Path) -> str | None:
    """Put the rows of the newest checkpoint back (a resumed LoRA joint run); its path."""
    import torch

    from forgetlab.finetune.sft import last_checkpoint
    from forgetlab.tensor_files import load_tensors

    last = last_checkpoint(checkpoint_dir)
    if last is None or not (Path(last) / ROWS_FILE).is_file():
        return None
    rows = load_tensors(Path(last) / ROWS_FILE)["rows"]
    with torch.no_grad():
        model.get_input_embeddings().weight[list(ids)] = rows.to(
            model.get_input_embeddings().weight.dtype
        )
    return last


def run_meet_joint(
    stage1: SFTRunConfig,
    stage2: SFTRunConfig,
    out: str | Path,
    *,
    tokens: Sequence[str] | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """The joint baseline: control-token rows and the stage-2 model trained together for
    ``stage1 + stage2`` steps, at stage 2's settings (module docstring)."""
    from peft import LoraConfig, get_peft_model

    toks = control_tokens_of(stage2.data, tokens)
    preflight_tokens(stage2.model, toks)
    steps = stage1.train.max_steps + stage2.train.max_steps
    joint = with_data_hash(
        stage2.model_copy(update={"train": stage2.train.model_copy(update={"max_steps": steps})})
    )
    with RunDir(
        out,
        {"kind": "meet-joint", "tokens": toks, "stage1_steps": stage1.train.max_steps,
         "joint": joint.model_dump()},
        overwrite=overwrite,
    ) as claim:  # fmt: skip
        out_dir = claim.path
        model, tokenizer = load_model_and_tokenizer(resolve_model_source(joint.model))
        ids = add_control_tokens(model, tokenizer, toks)
        callbacks: list[Any] = []
        if joint.method == "lora":
            lora = joint.lora
            model = get_peft_model(
                model,
                LoraConfig(
                    r=lora.r,
                    lora_alpha=lora.alpha,
                    lora_dropout=lora.dropout,
                    target_modules=lora.target_modules,
                    task_type="CAUSAL_LM",
                ),
            )
            weight = model.get_input_embeddings().weight
            mask_rows(weight, ids)
            _restore_rows(model, ids, out_dir / "joint" / "checkpoints")
            callbacks.append(_rows_callback(ids))
            joint = joint.model_copy(
                update={"train": joint.train.model_copy(update={"weight_decay": 0.0})}
            )
        result = run_sft(
            joint,
            out_dir / "joint",
            overwrite=overwrite,
            model=model,
            tokenizer=tokenizer,
            callbacks=callbacks,
            kind="meet-joint",
            base_model=joint.model,
        )
        return {
            "tokens": toks,
            "token_ids": ids,
            "steps": steps,
            "joint": result,
            "load_with": f"hf:{out_dir / 'joint' / 'model'}",
        }
