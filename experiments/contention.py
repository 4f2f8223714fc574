"""Quiet vs contended timing: the same work alone, then beside one busy process.

A user's laptop is never idle. ``--contended`` in each benchmark times its forgetlab
workload twice in one run: on the machine as it is, then beside one normal-priority
``while True: pass`` process started here (and stopped here, with a hard time limit so it
can never outlive the benchmark). The slowdown factor is what one competing process costs.
On 2 cores the ideal is 1x-2x: the busy loop takes one core's worth of time.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

BUSY = "import time\nend = time.monotonic() + {limit}\nwhile time.monotonic() < end:\n    pass\n"


@contextlib.contextmanager
def busy_loop(limit_s: float = 900.0) -> Iterator[int]:
    """Run one busy-loop process (bounded by ``limit_s``) for the duration; yields its PID."""
    proc = subprocess.Popen([sys.executable, "-c", BUSY.format(limit=limit_s)])
    time.sleep(0.3)  # let the scheduler see it before timing starts
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def median_time(work: Callable[[], object], repeats: int) -> float:
    """Median wall seconds of ``repeats`` calls (after one untimed warm-up call)."""
    work()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        work()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def quiet_and_contended(work: Callable[[], object], repeats: int) -> tuple[float, float]:
    quiet = median_time(work, repeats)
    with busy_loop():
        contended = median_time(work, repeats)
    return quiet, contended


def report(label: str, quiet: float, contended: float) -> str:
    """One line with both figures, the slowdown, the load, the policy and the threads."""
    import torch

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{label}: quiet {quiet:.4f} s, contended {contended:.4f} s, "
        f"slowdown_contended={contended / quiet:.2f}x "
        f"(OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'default')}, "
        f"torch threads {torch.get_num_threads()}, load average after: {load})"
    )
