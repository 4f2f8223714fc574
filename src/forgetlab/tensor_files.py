"""safetensors files with reproducible bytes and one-line errors.

``safetensors`` keeps the ``__metadata__`` mapping in a hash map, so two identical saves
can order its keys differently and get different sha256 digests. :func:`save_tensors`
rewrites the JSON header with sorted keys (same length, same offsets), so identical
tensors and metadata always give identical bytes — a resumed run's weights hash like an
uninterrupted run's.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from forgetlab.errors import ForgetlabError, one_line
from forgetlab.results import atomic_path


def canonical_safetensors_bytes(data: bytes) -> bytes:
    """The same file with its JSON header's keys sorted (tensor data untouched)."""
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    if len(text) > n:  # cannot happen for a re-ordering; kept as a guard
        raise ValueError("canonical header longer than the original")
    return data[:8] + text + b" " * (n - len(text)) + data[8 + n :]


def save_tensors(
    tensors: Mapping[str, torch.Tensor], path: str | Path, metadata: Mapping[str, str]
) -> None:
    """Atomically write ``tensors`` to ``path`` with reproducible bytes."""
    state = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    data = canonical_safetensors_bytes(save(state, metadata=dict(metadata)))
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def load_tensors(path: str | Path, what: str = "weights file") -> dict[str, torch.Tensor]:
    """Load a safetensors file, or fail with one line when it is missing or corrupt."""
    p = Path(path)
    try:
        return load_file(str(p))
    except FileNotFoundError:
        raise ForgetlabError(f"missing {what} {p}") from None
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ForgetlabError(f"{what} {p} is corrupt or truncated ({one_line(exc)})") from None
