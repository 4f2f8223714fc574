"""safetensors with reproducible bytes and one-line errors."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save

from forgetlab.errors import ForgetlabError
from forgetlab.tensor_files import canonical_safetensors_bytes, load_tensors, save_tensors

META = {f"key{i}": f"value{i}" for i in range(12)}


def _tensors() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"b.weight": torch.randn(3, 4, generator=g), "a.bias": torch.randn(5, generator=g)}


def test_plain_safetensors_bytes_vary_but_ours_do_not(tmp_path: Path) -> None:
    tensors = _tensors()
    plain = {hashlib.sha256(save(tensors, metadata=META)).hexdigest() for _ in range(20)}
    assert len(plain) > 1, "safetensors ordered its metadata the same way 20 times"
    ours = set()
    for i in range(20):
        save_tensors(tensors, tmp_path / f"{i}.safetensors", META)
        ours.add(hashlib.sha256((tmp_path / f"{i}.safetensors").read_bytes()).hexdigest())
    assert len(ours) == 1


def test_canonical_file_loads_to_the_same_tensors_and_metadata(tmp_path: Path) -> None:
    tensors = _tensors()
    path = tmp_path / "w.safetensors"
    save_tensors(tensors, path, META)
    loaded = load_file(str(path))
    assert set(loaded) == set(tensors)
    assert all(torch.equal(loaded[k], tensors[k]) for k in tensors)
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    assert header["__metadata__"] == META
    assert list(header) == sorted(header)  # keys in canonical order
    assert canonical_safetensors_bytes(data) == data  # idempotent


@pytest.mark.parametrize("damage", [b"", b"garbage", b"\x10\x00\x00\x00\x00\x00\x00\x00{"])
def test_corrupt_file_is_one_line(tmp_path: Path, damage: bytes) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(damage)
    with pytest.raises(ForgetlabError, match=r"model\.safetensors is corrupt or truncated"):
        load_tensors(path)


def test_truncated_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    save_tensors(_tensors(), path, META)
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(ForgetlabError, match="corrupt or truncated") as exc:
        load_tensors(path)
    assert "\n" not in str(exc.value)
