"""Benchmark: forgetlab's batched generation vs the batch-size-1 loop, same model, same run.

Run: ``python experiments/bench_generation.py`` (``--n 8 --repeats 1`` for a smoke run).
Model: ``packaged:smollm2-135m-instruct`` (or ``--model SPEC``), float32, CPU. Prompts: the
first ``--n`` (default 32) English capslock-math prompts of the paper's benchmark. Decoding:
greedy, 10 new tokens, no BOS. Methods, interleaved in each repeat:

* ``loop``: the reference approach, one ``model.generate`` call per prompt (batch size 1);
* ``hf-batched``: plain left-padded ``model.generate`` on batches of ``--batch-size``;
* ``forgetlab``: ``HFBackend.complete`` (one packed prompt pass per batch continuing the
  shared instruction's cache, last-position logits, a preallocated left-padded KV cache for
  decoding, length sorting);
* ``forgetlab-bf16`` (``--bf16``): the same with the weights cast to bfloat16 (not exact).

Prints wall seconds (minimum and median over ``--repeats``: the machine is shared and noisy),
process CPU seconds (robust to other jobs when run with ``--threads 1``), generated tokens/s,
speedups vs the loop, and the fraction of prompts whose greedy output is identical to the
loop's; ends with ``speedup=X cpu_speedup=Y identical=Z``.
"""

from __future__ import annotations

# isort: off
import forgetlab  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch loads)

# isort: on

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import torch


def paper_prompts(n: int) -> list[str]:
    from forgetlab.llm.benchmarks.icl_vs_if import generate_prompts

    return [p.prompt for p in generate_prompts(["en"], [("capslock", "math")], n=n)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="packaged:smollm2-135m-instruct")
    ap.add_argument("--n", type=int, default=32, help="number of prompts")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's)"
    )
    ap.add_argument("--skip-hf-batched", action="store_true")
    ap.add_argument("--bf16", action="store_true", help="also time forgetlab with bfloat16 compute")
    ap.add_argument(
        "--no-malloc-tuning",
        action="store_true",
        help="leave glibc's allocator thresholds alone (forgetlab.cpu_memory)",
    )
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    ap.add_argument(
        "--contended", action="store_true", help="also time forgetlab beside a busy process"
    )
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.no_malloc_tuning:
        os.environ["FORGETLAB_MALLOC_TUNING"] = "0"
    from forgetlab.cpu_memory import retain_freed_memory

    # Process-wide, so every method below (the reference loop too) runs under it.
    malloc_tuned = retain_freed_memory()
    print(f"glibc thresholds raised (forgetlab.cpu_memory): {malloc_tuned}")

    from forgetlab.llm.backends import GenerationConfig, load_backend
    from forgetlab.llm.backends.hf import HFBackend

    t0 = time.perf_counter()
    backend = load_backend(args.model, batch_size=args.batch_size, add_bos=False, device="cpu")
    assert isinstance(backend, HFBackend)
    print(f"loaded {args.model} in {time.perf_counter() - t0:.1f}s", flush=True)
    model, tok = backend.model, backend.tokenizer
    prompts = paper_prompts(args.n)
    encoded = [backend.encode(p, add_bos=False) for p in prompts]
    print(f"{len(prompts)} prompts, {sum(map(len, encoded)) / len(encoded):.1f} tokens on average")
    cfg = GenerationConfig(max_new_tokens=args.max_new_tokens)
    gen_kw = {
        "max_new_tokens": args.max_new_tokens,
        "do_sample": False,
        "pad_token_id": backend.pad_id,
    }

    @torch.inference_mode()
    def loop() -> list[list[int]]:
        out = []
        for ids in encoded:
            x = torch.tensor([ids])
            y = model.generate(input_ids=x, attention_mask=torch.ones_like(x), **gen_kw)
            out.append(_strip_eos(y[0, x.shape[1] :].tolist(), backend.eos_ids))
        return out

    @torch.inference_mode()
    def hf_batched() -> list[list[int]]:
        tok.padding_side = "left"
        out: list[list[int]] = []
        for s in range(0, len(prompts), args.batch_size):
            chunk = encoded[s : s + args.batch_size]
            enc = tok.pad({"input_ids": chunk}, return_tensors="pt")
            y = model.generate(**enc, **gen_kw)
            out += [
                _strip_eos(r.tolist(), backend.eos_ids) for r in y[:, enc["input_ids"].shape[1] :]
            ]
        return out

    def ours() -> list[str]:
        return backend.complete(prompts, cfg)

    def ours_bf16() -> list[str]:
        return bf16.complete(prompts, cfg)

    methods: dict[str, Callable[[], list]] = {"loop": loop, "forgetlab": ours}
    if not args.skip_hf_batched:
        methods["hf-batched"] = hf_batched
    if args.bf16:  # same weights, bfloat16 compute: faster on CPUs with AVX512-BF16, not exact
        bf16 = HFBackend.from_model(
            copy.deepcopy(model).to(torch.bfloat16),
            tok,
            name="bf16",
            add_bos=False,
            batch_size=args.batch_size,
        )
        methods["forgetlab-bf16"] = ours_bf16
    times: dict[str, list[float]] = {k: [] for k in methods}
    cpu: dict[str, list[float]] = {k: [] for k in methods}
    outputs: dict[str, list[str]] = {}
    n_tokens: dict[str, int] = {}
    for rep in range(args.repeats):
        for name, fn in methods.items():
            t, c = time.perf_counter(), time.process_time()
            res = fn()
            times[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
            texts = (
                res
                if name.startswith("forgetlab")
                else [tok.decode(r, skip_special_tokens=True) for r in res]
            )
            outputs.setdefault(name, texts)
            if not name.startswith("forgetlab"):
                n_tokens[name] = sum(len(r) for r in res)
            print(
                f"  repeat {rep + 1} {name}: {times[name][-1]:.2f}s wall, {cpu[name][-1]:.2f}s cpu",
                flush=True,
            )
    n_tokens["forgetlab"] = sum(
        len(tok(t, add_special_tokens=False)["input_ids"]) for t in outputs["forgetlab"]
    )
    ref = outputs["loop"]
    best_loop, best_loop_cpu = min(times["loop"]), min(cpu["loop"])
    summary: dict[str, dict[str, float]] = {}
    print(
        f"\n{'method':<15} {'wall s':>7} {'median':>7} {'tok/s':>6} {'speedup':>8} "
        f"{'cpu s':>7} {'cpu speedup':>11} {'identical':>9}"
    )
    for name in methods:
        best, best_cpu = min(times[name]), min(cpu[name])
        same = sum(a == b for a, b in zip(outputs[name], ref, strict=True)) / len(ref)
        tps = n_tokens["loop"] / best  # same work for every method: the loop's token count
        summary[name] = {
            "min_s": best,
            "median_s": statistics.median(times[name]),
            "min_cpu_s": best_cpu,
            "tokens_per_s": tps,
            "speedup": best_loop / best,
            "cpu_speedup": best_loop_cpu / best_cpu,
            "identical": same,
        }
        print(
            f"{name:<15} {best:7.2f} {statistics.median(times[name]):7.2f} {tps:6.1f} "
            f"{best_loop / best:7.2f}x {best_cpu:7.2f} {best_loop_cpu / best_cpu:10.2f}x {same:9.1%}"
        )
    diffs = [
        (p[-40:], a, b)
        for p, a, b in zip(prompts, ref, outputs["forgetlab"], strict=True)
        if a != b
    ]
    for tail, a, b in diffs[:5]:
        print(f"  differs: ...{tail!r}: loop {a!r} vs forgetlab {b!r}")
    info = {
        "model": args.model,
        "n_prompts": len(prompts),
        "batch_size": args.batch_size,
        "max_new_tokens": args.max_new_tokens,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "retain_freed_memory": malloc_tuned,
        "platform": platform.platform(),
        "results": summary,
    }
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(info, fh, indent=2)
    f = summary["forgetlab"]
    print(
        f"speedup={f['speedup']:.2f} cpu_speedup={f['cpu_speedup']:.2f} identical={f['identical']:.3f}"
    )
    if args.contended:
        from contention import quiet_and_contended, report

        quiet, contended = quiet_and_contended(ours, args.repeats)
        print(report(f"forgetlab complete() ({len(prompts)} prompts)", quiet, contended))
    return 0


def _strip_eos(ids: list[int], eos: tuple[int, ...]) -> list[int]:
    for i, t in enumerate(ids):
        if t in eos:
            return ids[:i]
    return ids


if __name__ == "__main__":
    sys.exit(main())
