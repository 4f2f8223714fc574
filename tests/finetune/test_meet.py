"""MEET: stage 1 changes only the control-token embedding rows; stage 2 fine-tunes with them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from ft_helpers import state

from forgetlab.errors import ForgetlabError
from forgetlab.finetune.config import sft_config
from forgetlab.finetune.data.control import CONTROL_TOKENS, build_control
from forgetlab.finetune.meet import control_tokens_of, run_meet


@pytest.mark.slow
@pytest.mark.parametrize("tied", [True, False])
def test_meet_stage1_trains_only_the_new_embedding_rows(
    tied: bool, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Tied embeddings take the gradient-mask path, untied ones PEFT TrainableTokens."""
    from transformers import AutoTokenizer

    tiny_model_dir: Path = request.getfixturevalue("tiny_model_dir" if tied else "untied_model_dir")
    data = tmp_path / "control.jsonl"
    build_control(data, n=8, seed=0)
    stage2 = sft_config("smoke", extra={"model": str(tiny_model_dir), "data": str(data)})
    stage1 = stage2.model_copy(
        update={"train": stage2.train.model_copy(update={"learning_rate": 0.05})}
    )
    result = run_meet(stage1, stage2, tmp_path / "meet")
    ids = result["token_ids"]
    assert result["tokens"] == list(CONTROL_TOKENS)
    base, s1 = state(tiny_model_dir), state(tmp_path / "meet" / "stage1" / "model")
    emb = "model.embed_tokens.weight"
    n_old = base[emb].shape[0]
    assert ids == [n_old, n_old + 1] and s1[emb].shape[0] == n_old + 2
    assert (emb in base) and (("lm_head.weight" in base) != tied)
    for k in base:  # every original weight is bit-identical after stage 1
        if k in (emb, "lm_head.weight"):
            assert torch.equal(base[k], s1[k][:n_old]), k
        else:
            assert torch.equal(base[k], s1[k]), k
    assert (tmp_path / "meet" / "stage1" / "adapter").is_dir() != tied
    tok = AutoTokenizer.from_pretrained(tmp_path / "meet" / "stage1" / "model")
    # the new rows moved away from their name-based initialisation (the mean of the name's pieces)
    for t, i in zip(CONTROL_TOKENS, ids, strict=True):
        pieces = tok(t.strip("<>"), add_special_tokens=False)["input_ids"]
        assert not torch.allclose(s1[emb][i], base[emb][pieces].mean(0))
        assert tok(f"{t} What", add_special_tokens=False)["input_ids"][0] == i  # never split
    s2 = state(tmp_path / "meet" / "stage2" / "model")
    assert s2[emb].shape[0] == n_old + 2
    assert any(not torch.equal(s1[k], s2[k]) for k in s1)
    assert result["load_with"].endswith("stage2/model")
    marker = json.loads(
        (tmp_path / "meet" / "stage2" / "model" / "forgetlab_model.json").read_text()
    )
    assert (
        marker["base_model"] == str(tiny_model_dir) and marker["finetune"]["kind"] == "meet-stage2"
    )


def test_control_tokens_come_from_provenance_or_flag(tmp_path: Path) -> None:
    data = tmp_path / "c.jsonl"
    build_control(data, n=2)
    assert control_tokens_of(data, None) == list(CONTROL_TOKENS)
    assert control_tokens_of(data, ["<a>"]) == ["<a>"]
    plain = tmp_path / "plain.jsonl"
    plain.write_text(data.read_text(), encoding="utf-8")
    with pytest.raises(ForgetlabError, match="--tokens"):
        control_tokens_of(plain, None)
