"""Brute-force references shared by the generation tests (imported by name: pytest puts this
folder on ``sys.path``)."""

from __future__ import annotations

from typing import Any

import torch


def naive_greedy(model: Any, ids: list[int], n: int, eos: set[int] | None = None) -> list[int]:
    """Reference: recompute the whole sequence for every token, no cache, no padding."""
    seq = list(ids)
    out: list[int] = []
    with torch.no_grad():
        for _ in range(n):
            nxt = int(model(torch.tensor([seq])).logits[0, -1].argmax())
            if nxt in (eos or ()):
                break
            out.append(nxt)
            seq.append(nxt)
    return out


def encode_all(tok: Any, prompts: list[str], bos: bool = False) -> list[list[int]]:
    out = []
    for p in prompts:
        ids = tok(p, add_special_tokens=False)["input_ids"]
        out.append([tok.bos_token_id, *ids] if bos else list(ids))
    return out


SHARED = "Capitalize every character.\n\nInput: "
