"""Every CPU workload quiet and beside a busy process, under both OpenMP wait policies.

Runs the ``--contended`` mode of each benchmark (synthetic training step, Bayes
predictors, LLM generation, LoRA SFT step) in a fresh process per wait policy, because
libgomp reads ``OMP_WAIT_POLICY`` only when it loads:

* ``PASSIVE`` — what every ``forgetlab`` command runs with (forgetlab/openmp.py);
* ``default`` — libgomp's own policy (spin, then sleep), as a script that imports torch
  before forgetlab gets;
* ``1-thread`` — libgomp's default with one intra-op thread (``OMP_NUM_THREADS=1``).

    python experiments/bench_contention.py            # all four, ~8 min on 2 cores
    python experiments/bench_contention.py --only synthetic-step,bayes

Prints one table row per (workload, policy) with the quiet and contended seconds and the
slowdown; the goal is a slowdown of at most ~2.5x (ideal 2x on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
WORKLOADS: dict[str, list[str]] = {
    "synthetic-step": [
        "bench_model_step.py", "--layers", "4", "--width", "64", "--heads", "2", "--d", "5",
        "--points", "16", "--block", "20", "--blocks", "3", "--contended",
    ],
    "bayes": [
        "bench_bayes.py", "--threads", "2", "--repeats", "3", "--loop-repeats", "1",
        "--big-batch", "2048", "--contended",
    ],
    "generation": [
        "bench_generation.py", "--n", "8", "--repeats", "2", "--skip-hf-batched", "--contended",
    ],
    "sft-step": ["bench_sft_step.py", "--blocks", "2", "--contended"],
}  # fmt: skip
LINE = re.compile(
    r"^(?P<label>.+?): quiet (?P<q>[\d.]+) s, contended (?P<c>[\d.]+) s, slowdown_contended=(?P<r>[\d.]+)x"
)


def run(workload: str, policy: str) -> list[tuple[str, float, float, float]]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY",)}
    script, *rest = WORKLOADS[workload]
    if policy in ("default", "1-thread"):
        env["FORGETLAB_OMP_PASSIVE"] = "0"
    else:
        env["OMP_WAIT_POLICY"] = policy
    if policy == "1-thread":  # one intra-op thread: nothing to wait for at a barrier
        env["OMP_NUM_THREADS"] = "1"
        rest = [("1" if a == "2" and rest[i - 1] == "--threads" else a) for i, a in enumerate(rest)]
    res = subprocess.run(
        [sys.executable, str(HERE / script), *rest], env=env, capture_output=True, text=True,
        cwd=HERE,
    )  # fmt: skip
    if res.returncode != 0:
        print(f"{workload} ({policy}) failed:\n{res.stderr[-2000:]}", file=sys.stderr)
        return []
    rows = []
    for line in res.stdout.splitlines():
        m = LINE.match(line)
        if m:
            rows.append((m["label"], float(m["q"]), float(m["c"]), float(m["r"])))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads")
    ap.add_argument("--policies", default="PASSIVE,default,1-thread")
    args = ap.parse_args()
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| workload | OMP wait policy | quiet s | beside a busy loop s | slowdown |")
    print("|---|---|---|---|---|")
    for workload in args.only.split(","):
        for policy in args.policies.split(","):
            for label, q, c, r in run(workload, policy):
                print(
                    f"| {workload}: {label} | {policy} | {q:.3f} | {c:.3f} | {r:.2f}x |", flush=True
                )
    print(f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
