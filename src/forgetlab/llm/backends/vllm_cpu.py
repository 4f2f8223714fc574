"""Settings that vLLM's CPU build takes from the environment, chosen so that it runs as is.

vLLM-CPU sizes its KV cache from ``VLLM_CPU_KVCACHE_SPACE`` (GiB) or, when that is unset,
from ``gpu_memory_utilization`` of all RAM: 0.9 of a machine's memory leaves nothing for the
model, and the kernel kills the worker mid-generation. By default it also keeps one CPU for
its scheduler process, which halves the compute of a 2-core machine. So forgetlab sizes the
cache from the memory available now and gives the engine every CPU, unless the user set
these variables (their values win and are recorded). Pure functions: testable without vLLM.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass

from forgetlab.errors import ForgetlabError

KV_ENV = "VLLM_CPU_KVCACHE_SPACE"
RESERVED_ENV = "VLLM_CPU_NUM_OF_RESERVED_CPU"
BIND_ENV = "VLLM_CPU_OMP_THREADS_BIND"
KV_SHARE = 0.25  # of the memory available at start-up, for the KV cache
KV_MIN_GIB = 1
KV_MAX_GIB = 16  # more only serves batches far beyond what a CPU computes in reasonable time
GIB = 1024**3
# values this process exported for an earlier engine: not the user's choice
_exported: dict[str, str] = {}


@dataclass(frozen=True)
class CpuSettings:
    """What the engine is started with on CPU (recorded in the backend's identity)."""

    kv_cache_gib: int
    kv_cache_from: str  # "auto" (a share of available memory), "user" (environment) or "option"
    threads: int  # CPUs the engine computes on
    threads_from: str  # "auto" (every usable CPU), "user" (environment) or "option"
    reserved_cpus: int  # CPUs left to vLLM's other processes
    threads_bind: str  # VLLM_CPU_OMP_THREADS_BIND as set ("auto" = vLLM binds by itself)
    available_gib: float  # memory available when the engine started

    def as_dict(self) -> dict[str, object]:
        return {
            "kv_cache_gib": self.kv_cache_gib,
            "kv_cache_from": self.kv_cache_from,
            "threads": self.threads,
            "threads_from": self.threads_from,
            "reserved_cpus": self.reserved_cpus,
            "threads_bind": self.threads_bind,
            "available_gib": round(self.available_gib, 1),
        }


def available_memory_bytes() -> int:
    """``MemAvailable`` from /proc/meminfo (what can be allocated without swapping)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    pages = os.sysconf("SC_AVPHYS_PAGES") if hasattr(os, "sysconf") else 0
    return int(pages) * int(os.sysconf("SC_PAGE_SIZE")) if pages else 0


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's core count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _int_env(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name, "").strip()
    if not raw or _exported.get(name) == raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ForgetlabError(f"{name}={raw!r} is not a whole number") from None


def plan_cpu(
    *,
    weights_bytes: int,
    kv_cache_gib: int | None = None,
    threads: int | None = None,
    env: Mapping[str, str] | None = None,
    available_bytes: int | None = None,
    cpus: int | None = None,
) -> CpuSettings:
    """Choose KV-cache size and threads; refuse a plan that cannot fit in memory.

    ``weights_bytes`` is the size of the model's weight files (float32 loads may double a
    bf16 checkpoint; the check is a floor, not a promise).
    """
    env = os.environ if env is None else env
    available = available_memory_bytes() if available_bytes is None else available_bytes
    ncpu = usable_cpus() if cpus is None else cpus
    user_kv = _int_env(env, KV_ENV)
    if kv_cache_gib is not None:
        if kv_cache_gib < 1:
            raise ForgetlabError("kv_cache_gib must be >= 1")
        kv, source = kv_cache_gib, "option"
    elif user_kv is not None:
        kv, source = user_kv, "user"
    else:
        kv = int(min(KV_MAX_GIB, max(KV_MIN_GIB, (available - weights_bytes) * KV_SHARE // GIB)))
        source = "auto"
    need = kv * GIB + weights_bytes
    if available and need > available:
        raise ForgetlabError(
            f"not enough memory for vLLM on CPU: a {kv} GiB KV cache plus "
            f"{weights_bytes / GIB:.1f} GiB of weights exceed the {available / GIB:.1f} GiB "
            f"available; lower {KV_ENV} or kv_cache_gib, or free memory"
        )
    bind = env.get(BIND_ENV, "").strip() or "auto"
    user_reserved = _int_env(env, RESERVED_ENV)
    if threads is not None:
        if not 1 <= threads <= ncpu:
            raise ForgetlabError(f"threads must be between 1 and {ncpu} (the usable CPUs)")
        reserved, threads_from = ncpu - threads, "option"
    elif user_reserved is not None:
        reserved, threads_from = user_reserved, "user"
    else:
        reserved, threads_from = 0, "auto"
    if not 0 <= reserved < ncpu:
        raise ForgetlabError(f"{RESERVED_ENV}={reserved} leaves no CPU of {ncpu} to compute on")
    return CpuSettings(
        kv_cache_gib=kv,
        kv_cache_from=source,
        threads=ncpu - reserved,
        threads_from=threads_from,
        reserved_cpus=reserved,
        threads_bind=bind,
        available_gib=available / GIB,
    )


def apply_cpu(settings: CpuSettings, env: MutableMapping[str, str] | None = None) -> None:
    """Export the settings where vLLM and its worker processes read them.

    The user's own values stay as they are; the ones chosen here are remembered, so that the
    next engine of this process chooses afresh instead of taking them for the user's.
    """
    env = os.environ if env is None else env
    for name, value, source in (
        (KV_ENV, settings.kv_cache_gib, settings.kv_cache_from),
        (RESERVED_ENV, settings.reserved_cpus, settings.threads_from),
    ):
        if source != "user":
            env[name] = _exported[name] = str(value)
