"""Time LoRA fine-tuning steps (forward + backward + AdamW) of a real causal LM on CPU.

The step is what ``forgetlab finetune sft`` runs through TRL's trainer: the model with
the default LoRA adapter (r = 16, alpha = 32, every linear layer), a batch of
``--batch`` sequences of ``--tokens`` tokens, causal-LM loss, AdamW. Timed in blocks,
median reported; ``--contended`` repeats it beside one busy process.

    python experiments/bench_sft_step.py                          # packaged SmolLM2-135M
    python experiments/bench_sft_step.py --contended --blocks 3
"""

from __future__ import annotations

# isort: off
import forgetlab  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch loads)

# isort: on

import argparse
import os

import torch

from forgetlab.finetune.config import LoraSettings
from forgetlab.finetune.models import load_model_and_tokenizer, resolve_model_source


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="packaged:smollm2-135m-instruct")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--block", type=int, default=2, help="steps per timed block")
    ap.add_argument("--blocks", type=int, default=3, help="timed blocks")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    ap.add_argument("--contended", action="store_true", help="also time beside a busy process")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from peft import LoraConfig, get_peft_model

    from contention import median_time, quiet_and_contended, report

    model, tok = load_model_and_tokenizer(resolve_model_source(args.model))
    lora = LoraSettings.model_validate({})
    model = get_peft_model(
        model,
        LoraConfig(
            r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
            target_modules=lora.target_modules, task_type="CAUSAL_LM",
        ),
    )  # fmt: skip
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, len(tok), (args.batch, args.tokens), generator=gen)

    def block() -> None:
        for _ in range(args.block):
            loss = model(input_ids=ids, labels=ids).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    print(
        f"{args.model} + LoRA r={lora.r}, batch {args.batch} x {args.tokens} tokens, "
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, {os.cpu_count()} CPUs"
    )
    if args.contended:
        quiet, contended = quiet_and_contended(block, args.blocks)
        print(report(f"LoRA SFT ({args.block} steps)", quiet, contended))
    else:
        t = median_time(block, args.blocks)
        print(f"{1000 * t / args.block:.0f} ms/step (load average {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
