"""DDP: batch sharding, device choice, and a real 2-process gloo run against one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from forgetlab.errors import ForgetlabError
from forgetlab.synthetic.distributed import DistInfo, resolve_device, run_on_main, setup


def test_shards_partition_the_global_batch():
    rows = torch.arange(12)
    parts = [rows[DistInfo(rank=r, world_size=3).shard(12)] for r in range(3)]
    assert torch.equal(torch.cat(parts), rows)
    assert {len(p) for p in parts} == {4}
    with pytest.raises(ForgetlabError, match="not divisible"):
        DistInfo(rank=0, world_size=3).shard(10)


def test_single_process_setup_without_torchrun(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    info, dev = setup("cpu")
    assert (info.world_size, info.rank, info.is_main, info.enabled) == (1, 0, True, False)
    assert dev == torch.device("cpu")
    assert run_on_main(lambda: 41 + 1, info) == 42


def test_device_resolution():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device(None).type == expected
    assert resolve_device("auto").type == expected
    with pytest.raises(ForgetlabError, match="unknown device"):
        resolve_device("tpu-ish")
    if not torch.cuda.is_available():
        with pytest.raises(ForgetlabError, match="CUDA is not available"):
            resolve_device("cuda")


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path):
    """torchrun with 2 CPU ranks (each half of the same global batch) trains like one process."""
    from forgetlab.synthetic.presets import synthetic_config
    from forgetlab.synthetic.train import pretrain

    sets = ("train.steps=8", "train.checkpoint_every=3", "train.log_every=2")
    single = tmp_path / "single"
    pretrain(synthetic_config("smoke", overrides=sets), single, device="cpu", show_progress=False)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for attempt in range(2):
        multi = tmp_path / f"ddp{attempt}"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
        cmd += ["-m", "forgetlab", "synthetic", "pretrain", "--preset", "smoke", "--device", "cpu"]
        cmd += ["--quiet", "--out", str(multi), *(x for kv in sets for x in ("--set", kv))]
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        # In the full suite on a 2-core machine a rank has occasionally died with SIGABRT
        # (never when run alone; the launcher did not say why): one fresh retry for that case.
        if res.returncode == 0 or "Signal 6" not in res.stderr:
            break
    assert res.returncode == 0, res.stderr[:2000] + "\n[...]\n" + res.stderr[-2000:]

    meta = json.loads((multi / "config.json").read_text())
    assert meta["world_size"] == 2
    a, b = load_file(str(single / "model.safetensors")), load_file(str(multi / "model.safetensors"))
    assert a.keys() == b.keys()
    # Reduction order differs (gloo all-reduce), and Adam magnifies tiny differences in
    # near-zero gradients, so allow ~1/10 of one Adam step (lr 3e-3) of drift per weight.
    for k in a:
        assert torch.allclose(a[k], b[k], atol=3e-4, rtol=0), k
    loss = [
        [json.loads(x)["loss"] for x in (run / "metrics.jsonl").read_text().splitlines()]
        for run in (single, multi)
    ]
    assert loss[0] == pytest.approx(loss[1], rel=1e-4)
