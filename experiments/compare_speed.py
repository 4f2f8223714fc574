"""Speed and memory of ``forgetlab compare`` on two lm-eval sample logs of N samples each.

Writes two ``samples_<task>_<time>.jsonl`` files in lm-eval 0.4's record layout (a
generate_until task: prompt of a few hundred characters, a short output, a 0/1
``exact_match`` and a continuous ``f1``), then runs ``python -m forgetlab compare`` on them
in a child process and records its wall time, CPU time (user + system) and peak RSS (``ru_maxrss`` of the child), with
the machine's load average, to ``--json``.

    OMP_NUM_THREADS=1 PYTHONPATH=src python experiments/compare_speed.py --n 100000 \
        --json experiments/results/compare_speed/n100000.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAMP = "2026-12-05T10-00-00.000000"
TASKS = 4  # the N samples are spread over this many tasks


def hash_string(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


def write_side(folder: Path, n: int, seed: int, flip: float) -> None:
    """One model's output folder: TASKS tasks, n samples in all."""
    rng = random.Random(0)  # the same prompts and base answers on both sides
    flips = random.Random(seed)
    folder.mkdir(parents=True)
    per_task = n // TASKS
    for t in range(TASKS):
        with (folder / f"samples_synth_{t}_{STAMP}.jsonl").open("w", encoding="utf-8") as fh:
            for i in range(per_task):
                words = " ".join(rng.choice(("alpha", "beta", "gamma", "delta")) for _ in range(40))
                prompt = f"Question {t}-{i}: {words}\nAnswer:"
                right = rng.random() < 0.6
                f1 = rng.random()
                if flips.random() < flip:
                    right = not right
                    f1 = max(0.0, f1 - 0.1)
                output = " yes" if right else " no"
                doc = {"question": prompt, "answer": "yes", "id": i}
                rec = {
                    "doc_id": i,
                    "doc": doc,
                    "target": "yes",
                    "arguments": {"gen_args_0": {"arg_0": prompt, "arg_1": {"until": ["\n\n"]}}},
                    "resps": [[output]],
                    "filtered_resps": [output],
                    "filter": "none",
                    "metrics": ["exact_match", "f1"],
                    "doc_hash": hash_string(json.dumps(doc, indent=2)),
                    "prompt_hash": hash_string(prompt),
                    "target_hash": hash_string("yes"),
                    "exact_match": float(right),
                    "f1": round(f1, 4),
                }
                fh.write(json.dumps(rec) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="samples per log")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        write_side(root / "base", args.n, seed=1, flip=0.0)
        write_side(root / "tuned", args.n, seed=2, flip=0.05)
        written = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in root.rglob("*.jsonl"))
        load_before = os.getloadavg()
        cmd = [
            sys.executable,
            "-m",
            "forgetlab",
            "compare",
            str(root / "base"),
            str(root / "tuned"),
            "--out",
            str(root / "out"),
        ]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            sys.exit(f"compare failed: {proc.stderr.strip()}")
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        rss_mb = usage.ru_maxrss / 1024
        cpu_s = usage.ru_utime + usage.ru_stime
        html_mb = (root / "out" / "report.html").stat().st_size / 1e6
    figures = {
        "samples_per_log": args.n,
        "tasks": TASKS,
        "input_mb_both_logs": round(size / 1e6, 1),
        "compare_wall_s": round(wall, 2),
        "compare_cpu_s": round(cpu_s, 2),  # user + system: what the wall time is on an idle core
        "compare_peak_rss_mb": round(rss_mb, 1),
        "report_html_mb": round(html_mb, 2),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "write_logs_s": round(written, 1),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "command": "python -m forgetlab compare BASE TUNED --out OUT",
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
