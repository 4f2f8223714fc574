"""Device choice and optional DDP for synthetic training.

Launch with ``torchrun`` to train data-parallel: the process group is initialised from
the ``RANK``/``WORLD_SIZE``/``MASTER_ADDR`` environment torchrun sets (NCCL on CUDA, gloo
on CPU). Every rank draws the *same* stateless global batch and keeps its own slice, so a
DDP run sees exactly the batches a single process would, and rank 0 alone writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from forgetlab.errors import ForgetlabError


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the (possibly trivial) process group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def shard(self, batch_size: int) -> slice:
        """This rank's rows of a global batch (equal slices; the size must divide evenly)."""
        if batch_size % self.world_size:
            raise ForgetlabError(
                f"batch size {batch_size} is not divisible by the {self.world_size} DDP processes"
            )
        per = batch_size // self.world_size
        return slice(self.rank * per, (self.rank + 1) * per)


def resolve_device(device: str | torch.device | None = None, local_rank: int = 0) -> torch.device:
    """``None``/``"auto"`` -> CUDA when present (this rank's GPU under torchrun), else CPU."""
    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ForgetlabError(f"unknown device {device!r} (use auto, cpu, cuda or cuda:N)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ForgetlabError(f"device {device!r} requested but CUDA is not available")
        if dev.index is None:
            dev = torch.device("cuda", local_rank % torch.cuda.device_count())
    return dev


def setup(device: str | torch.device | None = None) -> tuple[DistInfo, torch.device]:
    """Join the torchrun process group when ``WORLD_SIZE > 1``; otherwise a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(), resolve_device(device)
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    owns = not dist.is_initialized()
    if owns:
        backend = "nccl" if dev.type == "cuda" else "gloo"
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend=backend)
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank, owns_group=owns), dev


def teardown(info: DistInfo) -> None:
    if info.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def broadcast(obj: Any, info: DistInfo) -> Any:
    """Rank 0's ``obj`` on every rank (identity without DDP)."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def mean_across(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Average a scalar tensor over ranks (equal shards: the global-batch mean)."""
    if not info.enabled:
        return value
    out = value.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / info.world_size


def run_on_main(fn: Any, info: DistInfo) -> Any:
    """Run ``fn()`` on rank 0 and share its result; a ForgetlabError is raised on every rank.

    Without this, a user error detected on rank 0 (say a refused ``--out``) would leave the
    other ranks waiting forever at the next collective.
    """
    result: Any = None
    error: str | None = None
    if info.is_main:
        try:
            result = fn()
        except ForgetlabError as exc:
            error = str(exc)
    error, result = broadcast((error, result), info)
    if error is not None:
        raise ForgetlabError(error)
    return result
