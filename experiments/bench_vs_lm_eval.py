"""Benchmark: forgetlab's generation vs lm-evaluation-harness's HF backend, same model and prompts.

Run: ``python experiments/bench_vs_lm_eval.py`` (``--n 8 --repeats 1`` for a smoke run).
Needs lm-evaluation-harness, which is not a forgetlab dependency:
``pip install "lm-eval[hf]>=0.4.9"`` (checked with 0.4.13).

What users compare: a forgetlab ICL-vs-IF run against the same prompts run through
``lm_eval`` with ``--model hf``. Both sides load the same local model directory
(``--model``, default ``packaged:smollm2-135m-instruct``), float32 on the CPU, no BOS,
batch size ``--batch-size``, greedy, ``--max-new-tokens`` new tokens, stop at ``--until``
(default a blank line, as in forgetlab's lm-eval export):

* ``forgetlab``: ``HFBackend.complete(prompts, GenerationConfig(max_new_tokens, stop=until))``;
* ``lm-eval``: ``HFLM(pretrained=DIR, batch_size, device="cpu", dtype="float32",
  add_bos_token=False).generate_until(requests)``, the requests built as a ``generate_until``
  task builds them (``Instance`` with ``(prompt, generation_kwargs)`` arguments, where
  ``generation_kwargs = {"until": [...], "do_sample": False, "temperature": 0.0,
  "max_gen_toks": N}``).

Each side runs in its own worker process, as a user runs each tool: the forgetlab worker
imports forgetlab first (its OpenMP wait policy and memory settings apply), the lm-eval
worker never imports forgetlab (libgomp's default policy, glibc's default allocator
thresholds), and both get the environment this script was started with. The workers wait
on a pipe while the other one runs, so the two never compete for the CPU.
``--same-process`` runs both in this process instead (both then share forgetlab's
process-wide settings; the way earlier tables were measured).

Outputs are compared as returned, with no normalisation of our own: both decode the new
tokens with special tokens skipped and cut the text before the first stop string (HFLM also
stops at the EOS token's text, which forgetlab handles as a token id: end of generation).

Prompts: the paper's English ICL-vs-IF prompts, ``--n`` in all, split evenly over the four
tasks (``--tasks`` to choose). Timing: one untimed warm-up call of each, then ``--repeats``
rounds, each timing both once, in alternating order, so that other load on the machine hits
both alike. Prints the minimum and median wall seconds and process CPU seconds of each, the
ratio HFLM / forgetlab (above 1: forgetlab is faster), the number of identical outputs, the
torch thread count and OpenMP wait policy of each side and the load average; ends with
``ratio=X cpu_ratio=Y identical=K/N``. ``--contended`` then times both quiet and beside one
busy process (see ``contention.py``).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Protocol

INSTALL = 'pip install "lm-eval[hf]>=0.4.9"'
SIDES = ("forgetlab", "lm-eval")


class Side(Protocol):
    """One tool set up for the benchmark: ``info`` describes it, ``run`` times one call."""

    info: dict[str, Any]

    def run(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


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


def _timed(call: Any) -> dict[str, Any]:
    t, c = time.perf_counter(), time.process_time()
    outputs = call()
    return {"wall": time.perf_counter() - t, "cpu": time.process_time() - c, "outputs": outputs}


def _torch_info() -> dict[str, Any]:
    import torch

    return {
        "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
        "torch_version": torch.__version__,
    }


class ForgetlabSide:
    """``HFBackend.complete`` on the prompts (imports forgetlab before torch)."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        import forgetlab
        from forgetlab.llm.backends import GenerationConfig, load_backend
        from forgetlab.llm.backends.hf import HFBackend

        if cfg.get("threads"):
            import torch

            torch.set_num_threads(cfg["threads"])
        t0 = time.perf_counter()
        backend = load_backend(
            cfg["model"], batch_size=cfg["batch_size"], add_bos=False, device="cpu"
        )
        assert isinstance(backend, HFBackend)
        self.backend, self.prompts = backend, cfg["prompts"]
        self.config = GenerationConfig(
            max_new_tokens=cfg["max_new_tokens"], stop=tuple(cfg["until"])
        )
        tokens = [len(backend.encode(p, add_bos=False)) for p in self.prompts]
        self.info = {
            "model_dir": str(backend.source),
            "load_s": time.perf_counter() - t0,
            "mean_prompt_tokens": sum(tokens) / len(tokens),
            "forgetlab_version": forgetlab.__version__,
            **_torch_info(),
        }

    def run(self) -> dict[str, Any]:
        return _timed(lambda: self.backend.complete(self.prompts, self.config))

    def close(self) -> None:
        self.backend.close()


class LmEvalSide:
    """``HFLM.generate_until`` on the same prompts, as an lm-eval task would request them."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        import lm_eval
        from lm_eval.models.huggingface import HFLM

        if cfg.get("threads"):
            import torch

            torch.set_num_threads(cfg["threads"])
        t0 = time.perf_counter()
        self.hflm = HFLM(
            pretrained=cfg["model_dir"],
            batch_size=cfg["batch_size"],
            device="cpu",
            dtype="float32",  # forgetlab's CPU default; "auto" would follow the saved dtype
            add_bos_token=False,
        )
        self.prompts = cfg["prompts"]
        self.gen_kwargs = {
            "until": cfg["until"],
            "do_sample": False,
            "temperature": 0.0,
            "max_gen_toks": cfg["max_new_tokens"],
        }
        self.info = {
            "load_s": time.perf_counter() - t0,
            "lm_eval_version": lm_eval.__version__,
            "forgetlab_imported": "forgetlab" in sys.modules,
            **_torch_info(),
        }

    def run(self) -> dict[str, Any]:
        requests = lm_eval_requests(self.prompts, self.gen_kwargs)
        return _timed(lambda: list(self.hflm.generate_until(requests, disable_tqdm=True)))

    def close(self) -> None:
        pass


def _make(kind: str, cfg: dict[str, Any]) -> Side:
    return ForgetlabSide(cfg) if kind == "forgetlab" else LmEvalSide(cfg)


class WorkerSide:
    """A side living in its own process, driven over its stdin/stdout (one JSON per line)."""

    def __init__(self, kind: str, cfg: dict[str, Any], *, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.info = self._ask(cfg)

    def _ask(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"benchmark worker exited with code {self.proc.wait()}")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply

    def run(self) -> dict[str, Any]:
        return self._ask({"cmd": "run"})

    def close(self) -> None:
        if self.proc.poll() is None:
            self._ask({"cmd": "quit"})
            self.proc.wait(timeout=60)


def worker_main(kind: str) -> int:
    """Serve one side: the first line is its configuration, then ``run`` / ``quit``."""
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # stray prints of the libraries go to stderr, replies alone to ``out``

    def reply(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    try:
        side = _make(kind, json.loads(sys.stdin.readline()))
    except Exception as exc:  # reported to the parent, which prints one line and exits 2
        reply({"error": f"{kind} worker: {type(exc).__name__}: {exc}"})
        return 1
    reply(side.info)
    for line in sys.stdin:
        if json.loads(line).get("cmd") != "run":
            break
        reply(side.run())
    side.close()
    reply({"closed": True})
    return 0


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    walls, cpus = [r["wall"] for r in runs], [r["cpu"] for r in runs]
    return {
        "min_s": min(walls),
        "median_s": statistics.median(walls),
        "min_cpu_s": min(cpus),
        "times_s": walls,
    }


def main(argv: list[str] | None = None) -> int:
    env_at_start = dict(os.environ)  # before forgetlab, once imported here, sets its defaults
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
    ap.add_argument("--same-process", action="store_true", help="run both sides in this process")
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    ap.add_argument("--contended", action="store_true", help="also time both beside a busy process")
    ap.add_argument("--worker", choices=SIDES, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker_main(args.worker)
    if args.n < 1 or args.batch_size < 1 or args.max_new_tokens < 1 or args.repeats < 1:
        print("--n, --batch-size, --max-new-tokens and --repeats must be >= 1", file=sys.stderr)
        return 2
    try:
        import lm_eval  # noqa: F401
    except ImportError:
        print(f"this benchmark needs lm-evaluation-harness: {INSTALL}", file=sys.stderr)
        return 2
    if args.same_process:
        import forgetlab  # noqa: F401  (before torch: its OpenMP policy must apply)

    prompts = paper_prompts(args.n, args.tasks)
    cfg = {
        "model": args.model,
        "prompts": prompts,
        "batch_size": args.batch_size,
        "max_new_tokens": args.max_new_tokens,
        "until": [s for s in args.until if s],
        "threads": args.threads,
    }
    make: Any = _make if args.same_process else functools.partial(WorkerSide, env=env_at_start)
    sides: dict[str, Side] = {}
    try:
        sides["forgetlab"] = make("forgetlab", cfg)
        sides["lm-eval"] = make(
            "lm-eval", {**cfg, "model_dir": sides["forgetlab"].info["model_dir"]}
        )
        return _compare(args, sides, cfg)
    except RuntimeError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2
    finally:
        for side in sides.values():
            side.close()


def _compare(args: argparse.Namespace, sides: dict[str, Side], cfg: dict[str, Any]) -> int:
    mode = "same process" if args.same_process else "one process per side"
    print(
        f"{len(cfg['prompts'])} prompts, {sides['forgetlab'].info['mean_prompt_tokens']:.1f} "
        f"tokens on average, until={cfg['until']!r}; {mode}"
    )
    for name, side in sides.items():
        print(f"  {name}: {json.dumps(side.info)}")
    outputs = {name: side.run()["outputs"] for name, side in sides.items()}  # warm-up
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
    for rep in range(args.repeats):
        order = list(sides) if rep % 2 == 0 else list(reversed(sides))
        for name in order:
            res = sides[name].run()
            runs[name].append(res)
            if res["outputs"] != outputs[name]:
                print(f"  warning: {name} outputs changed between calls", file=sys.stderr)
            print(
                f"  repeat {rep + 1} {name}: {res['wall']:.2f}s wall, {res['cpu']:.2f}s cpu",
                flush=True,
            )
    n = len(cfg["prompts"])
    same = sum(a == b for a, b in zip(outputs["forgetlab"], outputs["lm-eval"], strict=True))
    summary = {name: _summary(r) for name, r in runs.items()}
    fl, le = summary["forgetlab"], summary["lm-eval"]
    ratio, ratio_median = le["min_s"] / fl["min_s"], le["median_s"] / fl["median_s"]
    cpu_ratio = le["min_cpu_s"] / fl["min_cpu_s"]
    load = os.getloadavg()
    print(f"\n{'method':<10} {'wall s':>7} {'median':>7} {'cpu s':>7}")
    for name, s in summary.items():
        print(f"{name:<10} {s['min_s']:7.2f} {s['median_s']:7.2f} {s['min_cpu_s']:7.2f}")
    policies = ", ".join(
        f"{name} {side.info['omp_wait_policy']} x{side.info['threads']}"
        for name, side in sides.items()
    )
    print(
        f"ratio HFLM/forgetlab: {ratio:.2f}x (min), {ratio_median:.2f}x (median), "
        f"cpu {cpu_ratio:.2f}x; identical outputs {same}/{n}; {mode}; "
        f"OpenMP policy and threads: {policies}; "
        f"load average {', '.join(f'{x:.2f}' for x in load)}"
    )
    diffs = [
        (p[-40:], a, b)
        for p, a, b in zip(cfg["prompts"], outputs["forgetlab"], outputs["lm-eval"], strict=True)
        if a != b
    ]
    for tail, a, b in diffs[:5]:
        print(f"  differs: ...{tail!r}: forgetlab {a!r} vs lm-eval {b!r}")
    info = {
        **{k: v for k, v in cfg.items() if k != "prompts"},
        "n_prompts": n,
        "mode": mode,
        "sides": {name: side.info for name, side in sides.items()},
        "cpu_count": os.cpu_count(),
        "load_average": load,
        "platform": platform.platform(),
        "results": summary,
        "ratio_min": ratio,
        "ratio_median": ratio_median,
        "cpu_ratio": cpu_ratio,
        "identical": same,
    }
    print(f"ratio={ratio:.2f} cpu_ratio={cpu_ratio:.2f} identical={same}/{n}")
    if args.contended:
        from contention import quiet_and_contended

        timed = {name: quiet_and_contended(side.run, args.repeats) for name, side in sides.items()}
        load_after = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        for name, (quiet, contended) in timed.items():
            print(
                f"{name} ({n} prompts): quiet {quiet:.3f} s, contended {contended:.3f} s, "
                f"slowdown_contended={contended / quiet:.2f}x "
                f"(OMP_WAIT_POLICY={sides[name].info['omp_wait_policy']}, "
                f"torch threads {sides[name].info['threads']}, load average after: {load_after})"
            )
        (fq, fc), (lq, lc) = timed["forgetlab"], timed["lm-eval"]
        print(f"ratio HFLM/forgetlab: quiet {lq / fq:.2f}x, contended {lc / fc:.2f}x")
        info["contended"] = {
            "median_s": {name: {"quiet": q, "contended": c} for name, (q, c) in timed.items()},
            "ratio_quiet": lq / fq,
            "ratio_contended": lc / fc,
            "load_average_after": os.getloadavg(),
        }
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(info, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
