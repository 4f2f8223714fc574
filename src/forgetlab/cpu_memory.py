"""Keep freed CPU memory in the process instead of handing it back to the kernel at once.

Why: by default glibc serves every allocation above a (dynamic) threshold with a fresh
``mmap`` and returns it with ``munmap`` when freed, and it trims the heap top eagerly. A
packed prompt pass allocates and frees activations of several MB per layer, so every layer
page-faults its memory in anew; on virtual machines a page fault is expensive, and this
measured up to a third of the prompt-pass time (BENCHMARKS.md). Raising glibc's mmap and
trim thresholds (``mallopt``) lets freed blocks be reused; the cost is that the process
keeps its peak heap. PyTorch's own CPU tuning guide recommends the same effect through
jemalloc or tcmalloc; this needs no preloaded library.

Process-wide and idempotent; ``FORGETLAB_MALLOC_TUNING=0`` switches it off. A no-op where
glibc is absent (macOS, musl, Windows).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's maximum on 64-bit systems
TRIM_THRESHOLD = 1024 * 1024 * 1024

_state: dict[str, bool] = {}


def retain_freed_memory() -> bool:
    """Apply the glibc thresholds once per process; True when they are in effect."""
    if "on" in _state:
        return _state["on"]
    on = False
    if os.environ.get("FORGETLAB_MALLOC_TUNING", "1") != "0" and platform.system() == "Linux":
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            mallopt = libc.mallopt
        except (OSError, AttributeError):  # not glibc
            mallopt = None
        if mallopt is not None and platform.libc_ver()[0] == "glibc":
            mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            on = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
                mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
            )
    _state["on"] = on
    return on
