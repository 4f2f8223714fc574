"""Fixtures for fine-tuning tests (no downloads: tiny models built from configs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ft_helpers import build_tiny, write_rows


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def untied_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny(tmp_path_factory.mktemp("tiny-untied") / "model", tie=False)


@pytest.fixture
def pc_data(tmp_path: Path) -> Path:
    from forgetlab.finetune.data.safety import benign_pairs

    rows = [{"prompt": q + "\nAnswer:", "completion": " " + a} for q, a in benign_pairs(16, 1)]
    return write_rows(tmp_path / "pc.jsonl", rows)


@pytest.fixture
def chat_data(tmp_path: Path) -> Path:
    from forgetlab.finetune.data.safety import benign_pairs

    rows = [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        for q, a in benign_pairs(16, 2)
    ]
    return write_rows(tmp_path / "chat.jsonl", rows)


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> Any:
    """Tiny models are faster single-threaded on a shared 2-core machine (no contention)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
