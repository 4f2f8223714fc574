"""Write the icl-vs-if benchmark as lm-evaluation-harness tasks (``forgetlab llm export-lm-eval``).

Layout of the output directory (usable with ``lm_eval --include_path DIR``):

- ``data/icl_vs_if_<cond>.jsonl``: one row per prompt (the ``export-prompts`` fields);
- ``icl_vs_if_<cond>.yaml``: one ``generate_until`` task per language or transform
  (400 prompts = the paper's 4 tasks x 100, so the task mean is the paper's per-language
  number), greedy, ``max_gen_toks: 10``, ``doc_to_text: "{{prompt}}"``,
  ``doc_to_target: "{{icl_answer}}"``, metrics from ``utils.process_results``;
- ``icl_vs_if.yaml``: a group over all of them;
- ``utils.py``: the paper's prefix-match metric, self-contained (no forgetlab import), so
  the folder works wherever lm-eval does;
- ``README.md``: how to run it and the pitfalls (BOS, chat templates).

Data paths in the YAML files are absolute (the ``json`` loader resolves relative paths
against the working directory, not the YAML file): export again after moving the folder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError
from forgetlab.results import write_text_atomic

GROUP = "icl_vs_if"
MAX_GEN_TOKS = 10

UTILS_PY = '''"""Metrics for the forgetlab icl_vs_if tasks (written by `forgetlab llm export-lm-eval`).

The paper's metric (Kotha et al., ICLR 2024, evaluate_accuracy.py): replace "\\\\_" with "_",
then an output scores when it starts with the answer, with or without the answer's leading
space. Nothing else is stripped.
"""


def _starts(output, answer):
    return output.startswith(answer) or output.startswith(answer[1:] if answer.startswith(" ") else answer)


def process_results(doc, results):
    output = results[0].replace("\\\\_", "_")
    return {
        "icl_acc": float(_starts(output, doc["icl_answer"])),
        "if_rate": float(_starts(output, doc["if_answer"])),
    }
'''

README = """# icl_vs_if for lm-evaluation-harness

Exported by `forgetlab llm export-lm-eval` from the forgetlab icl-vs-if benchmark
(Kotha, Springer & Raghunathan, "Understanding Catastrophic Forgetting in Language Models
via Implicit Inference", ICLR 2024). Conditions: {conds}.

    lm_eval --model hf --model_args pretrained=MODEL,add_bos_token=False \\
        --include_path {path} --tasks icl_vs_if --batch_size 1 --log_samples --output_path out/

- `icl_acc`: share of outputs that start with `icl_answer` (pattern continued: in-context
  learning); `if_rate`: share that start with `if_answer` (instruction followed). Compare a
  base model with its fine-tuned version: the paper's claim is that the ICL drop is smaller
  outside English.
- Paper decoding: greedy, 10 new tokens, no BOS token, batch size 1. lm-eval's `hf` backend
  adds BOS for some models (Gemma); keep `add_bos_token=False` to match the paper and say so
  when you report. Do not use `--apply_chat_template`: these are raw completion prompts.
- Batch sizes above 1 pad; with left padding greedy outputs normally match batch 1 but are not
  guaranteed bit-identical: record the batch size.
- Data paths in the YAML files are absolute: export again after moving this folder.
"""


def task_name(condition: str) -> str:
    """lm-eval task name of a language or transform label (``apertium:eng-spa`` -> ...)."""
    return f"{GROUP}_" + re.sub(r"[^0-9A-Za-z]+", "_", condition).strip("_").lower()


def _task_yaml(name: str, data_file: Path) -> str:
    def q(s: str) -> str:
        return json.dumps(s)  # a JSON string is a valid YAML double-quoted scalar

    return "\n".join(
        [
            f"task: {name}",
            "tag:",
            f"  - {GROUP}_tasks",
            "dataset_path: json",
            "dataset_kwargs:",
            "  data_files:",
            f"    test: {q(str(data_file))}",
            "test_split: test",
            "output_type: generate_until",
            "num_fewshot: 0",
            f"doc_to_text: {q('{{prompt}}')}",
            f"doc_to_target: {q('{{icl_answer}}')}",
            "generation_kwargs:",
            "  until:",
            f"    - {q(chr(10) * 2)}",
            "  do_sample: false",
            "  temperature: 0.0",
            f"  max_gen_toks: {MAX_GEN_TOKS}",
            "process_results: !function utils.process_results",
            "metric_list:",
            "  - metric: icl_acc",
            "    aggregation: mean",
            "    higher_is_better: true",
            "  - metric: if_rate",
            "    aggregation: mean",
            "    higher_is_better: false",
            "metadata:",
            "  version: 1.0",
            "",
        ]
    )


def _group_yaml(names: Sequence[str]) -> str:
    lines = [f"group: {GROUP}", "task:"] + [f"  - {n}" for n in names]
    lines += ["aggregate_metric_list:"]
    for metric in ("icl_acc", "if_rate"):
        lines += [f"  - metric: {metric}", "    aggregation: mean", "    weight_by_size: true"]
    lines += ["metadata:", "  version: 1.0", ""]
    return "\n".join(lines)


def export_lm_eval(
    out_dir: str | Path,
    languages: Sequence[str] | None = None,
    transforms: Sequence[str] = (),
    tasks: Sequence[str] | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Write the task folder; returns ``{"tasks": [...], "rows": n, "dir": path}``."""
    from forgetlab.llm.benchmarks.registry import export_rows

    out = Path(out_dir).resolve()
    if out.exists() and not out.is_dir():
        raise ForgetlabError(f"--out {out} exists and is not a directory")
    rows = export_rows(
        "icl-vs-if", languages, tasks=tasks, limit=limit, transforms=list(transforms)
    )
    by_cond: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_cond.setdefault(str(row["language"]), []).append(row)
    names = []
    for cond, cond_rows in by_cond.items():
        name = task_name(cond)
        if name in names:
            raise ForgetlabError(f"two conditions map to the lm-eval task name {name!r}")
        names.append(name)
        data_file = out / "data" / f"{name}.jsonl"
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in cond_rows)
        write_text_atomic(data_file, body)
        write_text_atomic(out / f"{name}.yaml", _task_yaml(name, data_file))
    for stale in [*out.glob(f"{GROUP}_*.yaml"), *(out / "data").glob(f"{GROUP}_*.jsonl")]:
        if stale.stem not in names:  # a condition of an earlier export: lm-eval would load it
            stale.unlink()
    write_text_atomic(out / f"{GROUP}.yaml", _group_yaml(names))
    write_text_atomic(out / "utils.py", UTILS_PY)
    write_text_atomic(out / "README.md", README.format(conds=", ".join(by_cond), path=out))
    return {"tasks": names, "rows": len(rows), "dir": str(out)}
