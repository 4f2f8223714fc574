"""Time one training step (forward + backward + Adam) of the synthetic model vs a HF GPT-2 wrapper.

The reference is the public code's approach: linear read-in -> ``transformers.GPT2Model``
(``inputs_embeds=...``) -> linear read-out, built from a ``GPT2Config`` with the same
n_layer / n_embd / n_head and dropout 0, at identical shapes, in the same process. Steps
alternate between the two models in blocks so machine noise hits both alike; the median
block is reported.

    python experiments/bench_model_step.py                 # 4 x 128, batch 64 x 64 tokens
    python experiments/bench_model_step.py --layers 4 --width 64 --points 16   # cpu preset

The last line is ``ratio_vs_hf_gpt2=X`` (HF seconds per step / ours, default HF attention).
The ``ours_no_onednn`` row is our model with its linear maps on ``F.linear`` (MKL ``addmm``,
as HF's ``Conv1D`` uses) instead of oneDNN: it separates the kernel choice from the
structural savings (last block at the x positions only, fused QKV, no packing).
"""

from __future__ import annotations

# isort: off
import forgetlab  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch loads)

# isort: on

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from forgetlab.synthetic import model as model_mod
from forgetlab.synthetic.model import build_model, count_parameters
from forgetlab.synthetic.presets import ModelConfig
from forgetlab.synthetic.tasks import TaskConfig, TaskSampler, pack_tokens


class HFGPT2Regressor(nn.Module):
    """Read-in -> ``GPT2Model`` -> read-out, predictions at the x positions."""

    def __init__(
        self, d: int, n_points: int, layers: int, width: int, heads: int, attn: str | None
    ) -> None:
        super().__init__()
        from transformers import GPT2Config, GPT2Model

        kwargs = {"attn_implementation": attn} if attn else {}
        cfg = GPT2Config(
            n_positions=2 * n_points, n_embd=width, n_layer=layers, n_head=heads,
            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, use_cache=False, **kwargs,
        )  # fmt: skip
        self.read_in = nn.Linear(d + 1, width)
        self.backbone = GPT2Model(cfg)
        self.read_out = nn.Linear(width, 1)

    def forward(self, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        h = self.backbone(inputs_embeds=self.read_in(pack_tokens(xs, ys))).last_hidden_state
        return self.read_out(h[:, 0::2]).squeeze(-1)


def step_fn(model: nn.Module, xs: torch.Tensor, ys: torch.Tensor, onednn: bool = True):
    """One training step as the trainer does it (``Adam(lr)``, MSE over all positions)."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> None:
        saved, model_mod.USE_ONEDNN = model_mod.USE_ONEDNN, model_mod.USE_ONEDNN and onednn
        try:
            loss = nn.functional.mse_loss(model(xs, ys), ys)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        finally:
            model_mod.USE_ONEDNN = saved

    return step


def train_flops(model: nn.Module, batch: int, tokens: int, layers: int, width: int) -> float:
    """~6 x params x tokens (dense) + 12 x L x T^2 x C x B (attention scores and mixing)."""
    return (
        6.0 * count_parameters(model) * batch * tokens + 12.0 * layers * tokens**2 * width * batch
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--d", type=int, default=8)
    ap.add_argument("--points", type=int, default=32, help="K examples (2K tokens)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--block", type=int, default=5, help="steps per timed block")
    ap.add_argument("--blocks", type=int, default=7, help="timed blocks per model")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    ap.add_argument(
        "--contended", action="store_true", help="also time ours and HF beside a busy process"
    )
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    task = TaskConfig(d=args.d, n_points=args.points)
    b = TaskSampler(task, seed=0).batch(0, args.batch)
    shape = ModelConfig(n_layer=args.layers, n_embd=args.width, n_head=args.heads)
    ours: nn.Module = build_model(task, shape)
    models: dict[str, nn.Module] = {
        "ours": ours,
        "ours_no_onednn": build_model(task, shape),
        "ours_gelu_tanh": build_model(task, shape.model_copy(update={"activation": "gelu_tanh"})),
        "hf_gpt2": HFGPT2Regressor(args.d, args.points, args.layers, args.width, args.heads, None),
        "hf_gpt2_eager": HFGPT2Regressor(
            args.d, args.points, args.layers, args.width, args.heads, "eager"
        ),
    }
    steps = {name: step_fn(m, b.xs, b.ys, name != "ours_no_onednn") for name, m in models.items()}
    for s in steps.values():  # warm-up (allocator, lazy init, compile)
        for _ in range(3):
            s()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.blocks):
        for name, s in steps.items():
            t0 = time.perf_counter()
            for _ in range(args.block):
                s()
            times[name].append((time.perf_counter() - t0) / args.block)
    tokens = 2 * args.points
    print(
        f"shape: {args.layers} layers x {args.width} wide, {args.heads} heads, batch {args.batch} x "
        f"{tokens} tokens, d={args.d}; torch {torch.__version__}, threads {torch.get_num_threads()}"
    )
    med = {name: statistics.median(v) for name, v in times.items()}
    # Same work for every model (HF's unused 50k-token embedding table is not work).
    flops = train_flops(ours, args.batch, tokens, args.layers, args.width)
    for name in models:
        print(
            f"{name:14s} {1000 * med[name]:8.1f} ms/step  {args.batch * tokens / med[name]:9.0f} tokens/s  "
            f"~{flops / med[name] / 1e9:6.2f} GFLOP/s  (blocks: {', '.join(f'{1000 * t:.0f}' for t in times[name])} ms)"
        )
    print(f"ratio_no_onednn_vs_hf_gpt2={med['hf_gpt2'] / med['ours_no_onednn']:.2f}")
    print(f"ratio_vs_hf_gpt2_eager={med['hf_gpt2_eager'] / med['ours']:.2f}")
    print(f"ratio_same_activation_vs_hf_gpt2={med['hf_gpt2'] / med['ours_gelu_tanh']:.2f}")
    print(f"ratio_vs_hf_gpt2={med['hf_gpt2'] / med['ours']:.2f}")
    if args.contended:
        from contention import quiet_and_contended, report

        for name in ("ours", "hf_gpt2"):
            step = steps[name]

            def block(step: Callable[[], None] = step) -> None:
                for _ in range(args.block):
                    step()

            quiet, contended = quiet_and_contended(block, args.blocks)
            print(report(f"{name} ({args.block} steps)", quiet, contended))


if __name__ == "__main__":
    main()
