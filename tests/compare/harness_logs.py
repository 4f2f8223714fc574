"""Synthetic harness logs in the formats the harnesses write.

lm-evaluation-harness 0.4.x: ``samples_<task>_<timestamp>.jsonl`` with the record fields of
``lm_eval.evaluator.evaluate`` (doc_id, doc, target, arguments, resps, filtered_resps, filter,
metrics, doc_hash, prompt_hash, target_hash, then each metric's value) and
``results_<timestamp>.json`` beside it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

STAMP = "2026-12-05T09-30-00.123456"


def hash_string(s: str) -> str:
    """lm_eval.utils.hash_string."""
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


def lm_eval_record(
    doc_id: int,
    prompt: str,
    output: str,
    scores: Mapping[str, Any],
    *,
    target: str = "yes",
    filt: str = "none",
) -> dict[str, Any]:
    doc = {"question": prompt, "answer": target}
    rec: dict[str, Any] = {
        "doc_id": doc_id,
        "doc": doc,
        "target": target,
        "arguments": {
            "gen_args_0": {"arg_0": prompt, "arg_1": {"until": ["\n\n"], "do_sample": False}}
        },
        "resps": [[output]],
        "filtered_resps": [output],
        "filter": filt,
        "metrics": list(scores),
        "doc_hash": hash_string(json.dumps(doc, indent=2, ensure_ascii=False)),
        "prompt_hash": hash_string(prompt),
        "target_hash": hash_string(target),
    }
    rec.update(scores)
    return rec


def write_lm_eval_run(
    folder: Path,
    tasks: Mapping[str, Sequence[Mapping[str, Any]]],
    model: str = "org/model",
    stamp: str = STAMP,
) -> Path:
    """One model's lm-eval output folder (OUTPUT_PATH/<model>/) with a samples file per task."""
    out = folder / model.replace("/", "__")
    out.mkdir(parents=True, exist_ok=True)
    for task, records in tasks.items():
        with (out / f"samples_{task}_{stamp}.jsonl").open("w", encoding="utf-8") as fh:
            for rec in records:
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    results = {
        "results": {t: {"alias": t} for t in tasks},
        "versions": dict.fromkeys(tasks, 1.0),
        "config": {"model": "hf", "model_args": f"pretrained={model}"},
        "model_name": model,
        "lm_eval_version": "0.4.13",
    }
    (out / f"results_{stamp}.json").write_text(json.dumps(results), encoding="utf-8")
    return out


def binary_task(
    n: int, base_right: set[int], tuned_right: set[int], metric: str = "exact_match"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Base and tuned records of one task: sample i is right where i is in the set."""
    base = [
        lm_eval_record(
            i,
            f"Q{i}: say yes",
            "yes" if i in base_right else "no",
            {metric: float(i in base_right)},
        )
        for i in range(n)
    ]
    tuned = [
        lm_eval_record(
            i,
            f"Q{i}: say yes",
            "yes" if i in tuned_right else "no",
            {metric: float(i in tuned_right)},
        )
        for i in range(n)
    ]
    return base, tuned
