"""Make PyTorch's CPU threads yield instead of spin, so a busy machine does not stall them.

Why: PyTorch's CPU kernels run on GNU OpenMP. Between parallel regions libgomp's idle
threads spin for a while before they sleep. On a laptop that is never idle, one of the
two threads of a small op is often descheduled; its sibling then burns its core spinning
at the barrier while the descheduled one waits for a turn, and every small op pays for a
scheduler time slice. Measured on a 2-core VM beside one busy process: the CPU workloads
became 3.4-4.9x slower with libgomp's default policy and 0.8-2.4x with
``OMP_WAIT_POLICY=PASSIVE`` (BENCHMARKS.md, "Speed under contention"); the price is up to
~1.7x on a quiet VM for the smallest ops. The wait policy does not change how work is
split, so results are bit-identical either way.

libgomp reads the variable once, when it is loaded, i.e. on ``import torch``; forgetlab's
package ``__init__`` calls :func:`prefer_passive_waiting` first, so every ``forgetlab``
command gets it. A program that imports torch before forgetlab keeps libgomp's default.
A user's own ``OMP_WAIT_POLICY`` always wins; ``FORGETLAB_OMP_PASSIVE=0`` leaves the
variable unset.
"""

from __future__ import annotations

import os
import sys

ENV = "OMP_WAIT_POLICY"
SWITCH = "FORGETLAB_OMP_PASSIVE"


def prefer_passive_waiting() -> str | None:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless the user chose or torch is already loaded.

    Returns the policy in effect for this process (``None``: libgomp's default).
    """
    if ENV in os.environ:
        return os.environ[ENV]
    if os.environ.get(SWITCH, "1") == "0" or "torch" in sys.modules:
        return None
    os.environ[ENV] = "PASSIVE"
    return "PASSIVE"


def wait_policy() -> str:
    """The policy this process runs with, for provenance (``default`` when unset)."""
    return os.environ.get(ENV, "default")
