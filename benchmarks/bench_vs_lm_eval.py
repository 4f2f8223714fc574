"""Benchmark: forgetlab's generation vs lm-evaluation-harness's HF backend, same model and prompts.

Run: ``python benchmarks/bench_vs_lm_eval.py`` (``--n 8 --repeats 1`` for a smoke run).
Needs lm-evaluation-harness, which is not a forgetlab dependency:
``pip install "lm-eval[hf]>=0.4.9"`` (checked with 0.4.13).

What users compare: a forgetlab ICL-vs-IF run against the same prompts run through
``lm_eval`` with ``--model hf``. Both sides here load the same local model directory
(``--model``, default ``packaged:smollm2-135m-instruct``), float32 on the CPU, no BOS,
batch size ``--batch-size``, greedy, ``--max-new-tokens`` new tokens, stop at ``--until``
(default a blank line, as in forgetlab's lm-eval export):

* ``forgetlab``: ``HFBackend.complete(prompts, GenerationConfig(max_new_tokens, stop=until))``;
* ``lm-eval``: ``HFLM(pretrained=DIR, batch_size, device="cpu", dtype="float32",
  add_bos_token=False).generate_until(requests)``, the requests built as a ``generate_until``
  task builds them (``Instance`` with ``(prompt, generation_kwargs)`` arguments, where
  ``generation_kwargs = {"until": [...], "do_sample": False, "temperature": 0.0,
  "max_gen_toks": N}``).

Outputs are compared as returned, with no normalisation of our own: both decode the new
tokens with special tokens skipped and cut the text before the first stop string (HFLM also
stops at the EOS token's text, which forgetlab handles as a token id: end of generation).

Prompts: the paper's English ICL-vs-IF prompts, ``--n`` in all, split evenly over the four
tasks (``--tasks`` to choose). Timing: one untimed warm-up call of each, then ``--repeats``
rounds, each timing both once, in alternating order, so that other load on the machine hits
both alike. Prints the minimum and median wall seconds and process CPU seconds of each, the
ratio HFLM / forgetlab (above 1: forgetlab is faster), the number of identical outputs, the
torch thread count, the OpenMP wait policy and the load average; ends with
``ratio=X cpu_ratio=Y identical=K/N``. ``--contended`` then times both quiet and beside one
busy process (see ``contention.py``).
"""

from __future__ import annotations

# isort: off
import forgetlab  # first: it sets OMP_WAIT_POLICY before torch loads

# isort: on

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

INSTALL = 'pip install "lm-eval[hf]>=0.4.9"'


def paper_prompts(n: int, tasks: list[str] | None) -> list[str]:
    """The first ``n`` English prompts, an equal share from each task (task by task)."""
    from forgetlab.llm.benchmarks.icl_vs_if import generate_prompts, parse_tasks

    pairs = parse_tasks(tasks)
    per_task = math.ceil(n / len(pairs))
    by_task = [generate_prompts(["en"], [pair], n=per_task) for pair in pairs]
    return [p.prompt for group in by_task for p in group][:n]


def lm_eval_requests(prompts: list[str], gen_kwargs: dict[str, Any]) -> list[Any]:
    """``generate_until`` requests as a harness task builds them (one per document)."""
    import copy

    from lm_eval.api.instance import Instance

    return [
        Instance(
            request_type="generate_until",
            doc={"prompt": p},
            arguments=(p, copy.deepcopy(gen_kwargs)),
            idx=0,
            metadata=("forgetlab_icl_vs_if_en", i, 1),
        )
        for i, p in enumerate(prompts)
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="packaged:smollm2-135m-instruct")
    ap.add_argument("--n", type=int, default=48, help="number of prompts")
    ap.add_argument("--tasks", nargs="*", default=None, help="e.g. capslock-math (default: all)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=10)
    ap.add_argument("--until", nargs="*", default=["\n\n"], help="stop strings")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's)"
    )
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    ap.add_argument("--contended", action="store_true", help="also time both beside a busy process")
    args = ap.parse_args(argv)
    if args.n < 1 or args.batch_size < 1 or args.max_new_tokens < 1 or args.repeats < 1:
        print("--n, --batch-size, --max-new-tokens and --repeats must be >= 1", file=sys.stderr)
        return 2
    try:
        import lm_eval
        from lm_eval.models.huggingface import HFLM
    except ImportError:
        print(f"this benchmark needs lm-evaluation-harness: {INSTALL}", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)

    from forgetlab.llm.backends import GenerationConfig, load_backend
    from forgetlab.llm.backends.hf import HFBackend

    t0 = time.perf_counter()
    backend = load_backend(args.model, batch_size=args.batch_size, add_bos=False, device="cpu")
    assert isinstance(backend, HFBackend)
    model_dir = backend.source
    print(f"forgetlab loaded {args.model} ({model_dir}) in {time.perf_counter() - t0:.1f}s")
    t0 = time.perf_counter()
    hflm = HFLM(
        pretrained=model_dir,
        batch_size=args.batch_size,
        device="cpu",
        dtype="float32",  # forgetlab's CPU default; "auto" would follow the saved dtype
        add_bos_token=False,
    )
    print(f"lm-eval {lm_eval.__version__} HFLM loaded in {time.perf_counter() - t0:.1f}s")

    prompts = paper_prompts(args.n, args.tasks)
    until = [s for s in args.until if s]
    cfg = GenerationConfig(max_new_tokens=args.max_new_tokens, stop=tuple(until))
    gen_kwargs = {
        "until": until,
        "do_sample": False,
        "temperature": 0.0,
        "max_gen_toks": args.max_new_tokens,
    }
    n_tokens = sum(len(backend.encode(p, add_bos=False)) for p in prompts) / len(prompts)
    print(f"{len(prompts)} prompts, {n_tokens:.1f} tokens on average, until={until!r}")

    def ours() -> list[str]:
        return backend.complete(prompts, cfg)

    def theirs() -> list[str]:
        return list(hflm.generate_until(lm_eval_requests(prompts, gen_kwargs), disable_tqdm=True))

    methods: dict[str, Callable[[], list[str]]] = {"forgetlab": ours, "lm-eval": theirs}
    outputs = {name: fn() for name, fn in methods.items()}  # warm-up, and the outputs compared
    times: dict[str, list[float]] = {k: [] for k in methods}
    cpu: dict[str, list[float]] = {k: [] for k in methods}
    for rep in range(args.repeats):
        order = list(methods) if rep % 2 == 0 else list(reversed(methods))
        for name in order:
            t, c = time.perf_counter(), time.process_time()
            res = methods[name]()
            times[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
            if res != outputs[name]:
                print(f"  warning: {name} outputs changed between calls", file=sys.stderr)
            print(
                f"  repeat {rep + 1} {name}: {times[name][-1]:.2f}s wall, {cpu[name][-1]:.2f}s cpu",
                flush=True,
            )
    same = sum(a == b for a, b in zip(outputs["forgetlab"], outputs["lm-eval"], strict=True))
    summary: dict[str, dict[str, Any]] = {
        name: {
            "min_s": min(times[name]),
            "median_s": statistics.median(times[name]),
            "min_cpu_s": min(cpu[name]),
            "times_s": times[name],
        }
        for name in methods
    }
    fl, le = summary["forgetlab"], summary["lm-eval"]
    ratio, ratio_median = le["min_s"] / fl["min_s"], le["median_s"] / fl["median_s"]
    cpu_ratio = le["min_cpu_s"] / fl["min_cpu_s"]
    load = os.getloadavg()
    print(f"\n{'method':<10} {'wall s':>7} {'median':>7} {'cpu s':>7}")
    for name, s in summary.items():
        print(f"{name:<10} {s['min_s']:7.2f} {s['median_s']:7.2f} {s['min_cpu_s']:7.2f}")
    print(
        f"ratio HFLM/forgetlab: {ratio:.2f}x (min), {ratio_median:.2f}x (median), "
        f"cpu {cpu_ratio:.2f}x; identical outputs {same}/{len(prompts)}; "
        f"torch threads {torch.get_num_threads()}, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'default')}, "
        f"load average {', '.join(f'{x:.2f}' for x in load)}"
    )
    diffs = [
        (p[-40:], a, b)
        for p, a, b in zip(prompts, outputs["forgetlab"], outputs["lm-eval"], strict=True)
        if a != b
    ]
    for tail, a, b in diffs[:5]:
        print(f"  differs: ...{tail!r}: forgetlab {a!r} vs lm-eval {b!r}")
    info = {
        "model": args.model,
        "model_dir": model_dir,
        "lm_eval_version": lm_eval.__version__,
        "forgetlab_version": forgetlab.__version__,
        "torch_version": torch.__version__,
        "n_prompts": len(prompts),
        "batch_size": args.batch_size,
        "max_new_tokens": args.max_new_tokens,
        "until": until,
        "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
        "cpu_count": os.cpu_count(),
        "load_average": load,
        "platform": platform.platform(),
        "results": summary,
        "ratio_min": ratio,
        "ratio_median": ratio_median,
        "cpu_ratio": cpu_ratio,
        "identical": same,
    }
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(info, fh, indent=2)
    print(f"ratio={ratio:.2f} cpu_ratio={cpu_ratio:.2f} identical={same}/{len(prompts)}")
    if args.contended:
        from contention import quiet_and_contended, report

        timed = {name: quiet_and_contended(fn, args.repeats) for name, fn in methods.items()}
        for name, (quiet, contended) in timed.items():
            print(report(f"{name} ({len(prompts)} prompts)", quiet, contended))
        (fq, fc), (lq, lc) = timed["forgetlab"], timed["lm-eval"]
        print(f"ratio HFLM/forgetlab: quiet {lq / fq:.2f}x, contended {lc / fc:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
