"""Write the icl-vs-if benchmark as lm-evaluation-harness tasks (``forgetlab llm export-lm-eval``).

Layout of the output directory (usable with ``lm_eval --include_path DIR``, tested with
lm_eval 0.4.13):

- ``data/icl_vs_if_<cond>_<task>.jsonl``: the prompts of one (language or transform, task)
  cell (the ``export-prompts`` fields);
- ``icl_vs_if_<cond>_<task>.yaml``: one ``generate_until`` subtask per cell, greedy,
  ``max_gen_toks: 10``, ``doc_to_text: "{{prompt}}"``, ``doc_to_target: "{{icl_answer}}"``,
  metrics from ``utils.process_results``; one subtask per task so that lm-eval's ``--limit N``
  means N prompts per task, as forgetlab's ``--limit`` does;
- ``icl_vs_if_<cond>.yaml``: a group per language or transform whose metric is the unweighted
  mean over its tasks (the paper's per-language number); ``icl_vs_if.yaml``: a group over them;
- ``utils.py``: the paper's prefix-match metric and a loader that reads the data relative to
  its own folder (so the folder can be moved) and checks each file against the fingerprint in
  the task's metadata; self-contained (no forgetlab import);
- ``README.md``: how to run it, the BOS setting that matches forgetlab, the pitfalls.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError
from forgetlab.results import write_text_atomic

GROUP = "icl_vs_if"
MAX_GEN_TOKS = 10
VERSION = 2.0
FIELDS = ("language", "icl_task", "if_task", "index", "prompt", "icl_answer", "if_answer")

UTILS_PY = '''"""Data loader and metrics for the forgetlab icl_vs_if tasks (written by
`forgetlab llm export-lm-eval`; no forgetlab import, so the folder works wherever lm-eval does).

The paper's metric (Kotha et al., ICLR 2024, evaluate_accuracy.py): replace "\\\\_" with "_",
then an output scores when it starts with the answer, with or without the answer's leading
space. Nothing else is stripped.
"""

import hashlib
import json
from pathlib import Path

FIELDS = ("language", "icl_task", "if_task", "index", "prompt", "icl_answer", "if_answer")


def rows_sha256(rows):
    """sha256 of the sorted [language, icl_task, if_task, index, prompt, icl_answer, if_answer] rows."""
    table = sorted([r[k] for k in FIELDS] for r in rows)
    return hashlib.sha256(json.dumps(table, ensure_ascii=False).encode()).hexdigest()


def load_data(data_file=None, rows_sha256_expected=None, **_metadata):
    """`custom_dataset` of every task: the JSONL file named relative to this folder."""
    import datasets

    path = Path(__file__).resolve().parent / data_file
    with open(path, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    if rows_sha256_expected and rows_sha256(rows) != rows_sha256_expected:
        raise ValueError(f"{path} does not match the fingerprint in its task YAML; export again")
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})


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

Exported by `forgetlab llm export-lm-eval` (forgetlab {version}) from the forgetlab icl-vs-if
benchmark (Kotha, Springer & Raghunathan, "Understanding Catastrophic Forgetting in Language
Models via Implicit Inference", ICLR 2024). Conditions: {conds}. Tasks: {tasks}.
Benchmark generator fingerprint: `{fingerprint}` (sha256 of all 2,800 reference prompts).

    lm_eval --model hf --model_args pretrained=MODEL,add_bos_token=False \\
        --include_path . --tasks icl_vs_if --batch_size 16 --log_samples --output_path out/

- Groups: `icl_vs_if` > `icl_vs_if_<language>` > `icl_vs_if_<language>_<task>`
  (run one language with `--tasks icl_vs_if_en`). `--limit N` takes the first N prompts of
  every task, like forgetlab's `--limit`.
- `icl_acc`: share of outputs that start with `icl_answer` (pattern continued: in-context
  learning); `if_rate`: share that start with `if_answer` (instruction followed). A language's
  number is the unweighted mean over its tasks (the paper's). Compare a base model with its
  fine-tuned version: the paper's claim is that the ICL drop is smaller outside English.
- Drop table with paired 95 % intervals from two runs made with `--log_samples`:
  `forgetlab llm lm-eval-drop BASE_RESULTS.json TUNED_RESULTS.json`.
- **BOS, to match forgetlab's defaults**: no BOS token (`add_bos_token=False`), except for
  Gemma-family models (`model_type` starting with `gemma`), which degenerate without one:
  pass `add_bos_token=True` for them. If lm-eval is left to decide (`add_bos_token` unset),
  the tokenizer's own default applies (Llama tokenizers add BOS, GPT-2-style ones do not),
  which may differ from forgetlab's. If you ran forgetlab with `--bos`/`--no-bos`, pass the
  same value. forgetlab records the value it used in `results.json` (`models.*.add_bos`).
- Paper decoding: greedy, 10 new tokens. Do not use `--apply_chat_template`: these are raw
  completion prompts. Generation stops at a blank line (`until: ["\\n\\n"]`) or EOS; the
  metric looks at the start of the output only, so this does not change scores.
- Batch sizes above 1 pad on the left; greedy outputs normally match batch 1 but are not
  guaranteed bit-identical: record the batch size.
- Each task's data file is read relative to this folder (the folder can be moved) and checked
  against `rows_sha256_expected` in the task's metadata; lm-eval needs `custom_dataset`
  support (0.4.x releases from 2025 on; tested with 0.4.13).
"""


def task_name(condition: str) -> str:
    """lm-eval task name of a language or transform label (``apertium:eng-spa`` -> ...)."""
    return f"{GROUP}_" + re.sub(r"[^0-9A-Za-z]+", "_", condition).strip("_").lower()


def _q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # a JSON string is a valid YAML double-quoted scalar


def rows_sha256(rows: Sequence[dict[str, Any]]) -> str:
    """Fingerprint of exported rows; for the full benchmark it equals ``REFERENCE_SHA256``."""
    table = sorted([r[k] for k in FIELDS] for r in rows)
    return hashlib.sha256(json.dumps(table, ensure_ascii=False).encode()).hexdigest()


def _metrics_block(key: str, weight_by_size: bool | None = None) -> list[str]:
    lines = [f"{key}:"]
    for metric, higher in (("icl_acc", "true"), ("if_rate", "false")):
        lines += [f"  - metric: {metric}", "    aggregation: mean"]
        if weight_by_size is None:
            lines.append(f"    higher_is_better: {higher}")
        else:
            lines.append(f"    weight_by_size: {str(weight_by_size).lower()}")
    return lines


def _task_yaml(
    name: str, cond: str, task: str, data_file: str, sha: str, meta: dict[str, str]
) -> str:
    return "\n".join(
        [
            f"task: {name}",
            f"task_alias: {_q(task)}",
            "tag:",
            f"  - {GROUP}_tasks",
            "custom_dataset: !function utils.load_data",
            "dataset_kwargs:",
            f"  data_file: {_q(data_file)}",
            f"  rows_sha256_expected: {_q(sha)}",
            "test_split: test",
            "output_type: generate_until",
            "num_fewshot: 0",
            f"doc_to_text: {_q('{{prompt}}')}",
            f"doc_to_target: {_q('{{icl_answer}}')}",
            "generation_kwargs:",
            "  until:",
            f"    - {_q(chr(10) * 2)}",
            "  do_sample: false",
            "  temperature: 0.0",
            f"  max_gen_toks: {MAX_GEN_TOKS}",
            "process_results: !function utils.process_results",
            *_metrics_block("metric_list"),
            "metadata:",
            f"  version: {VERSION}",
            f"  condition: {_q(cond)}",
            f"  task: {_q(task)}",
            *(f"  {k}: {_q(v)}" for k, v in meta.items()),
            "",
        ]
    )


def _group_yaml(group: str, alias: str, members: Sequence[str], meta: dict[str, str]) -> str:
    """Unweighted mean over members: a language is the mean of its tasks, the whole group the
    mean of its languages (= the mean over every cell, since each language has the same tasks)."""
    lines = [f"group: {group}", f"group_alias: {_q(alias)}", "task:"]
    lines += [f"  - {n}" for n in members]
    lines += _metrics_block("aggregate_metric_list", weight_by_size=False)
    lines += ["metadata:", f"  version: {VERSION}"]
    lines += [f"  {k}: {_q(v)}" for k, v in meta.items()]
    return "\n".join([*lines, ""])


def export_lm_eval(
    out_dir: str | Path,
    languages: Sequence[str] | None = None,
    transforms: Sequence[str] = (),
    tasks: Sequence[str] | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Write the task folder; returns ``{"tasks": [...], "groups": [...], "rows": n, "dir": path}``
    (``tasks`` are the per-(condition, task) subtasks, ``groups`` the per-condition groups)."""
    from forgetlab import __version__
    from forgetlab.llm.benchmarks import icl_vs_if
    from forgetlab.llm.benchmarks.registry import export_rows

    out = Path(out_dir).resolve()
    if out.exists() and not out.is_dir():
        raise ForgetlabError(f"--out {out} exists and is not a directory")
    rows = export_rows(
        "icl-vs-if", languages, tasks=tasks, limit=limit, transforms=list(transforms)
    )
    meta = {
        "generator_fingerprint": icl_vs_if.REFERENCE_SHA256,
        "forgetlab_version": str(__version__),
    }
    cells: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for row in rows:
        task = f"{row['icl_task']}-{row['if_task']}"
        cells.setdefault(str(row["language"]), {}).setdefault(task, []).append(row)
    groups: list[str] = []
    names: list[str] = []
    for cond, by_task in cells.items():
        group = task_name(cond)
        if group in groups:
            raise ForgetlabError(f"two conditions map to the lm-eval group name {group!r}")
        groups.append(group)
        members = []
        for task, task_rows in by_task.items():
            name = f"{group}_{task_name(task).removeprefix(GROUP + '_')}"
            members.append(name)
            data_file = f"data/{name}.jsonl"
            body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in task_rows)
            write_text_atomic(out / data_file, body)
            sha = rows_sha256(task_rows)
            write_text_atomic(
                out / f"{name}.yaml", _task_yaml(name, cond, task, data_file, sha, meta)
            )
        names.extend(members)
        write_text_atomic(out / f"{group}.yaml", _group_yaml(group, cond, members, meta))
    keep = {GROUP, *groups, *names}
    for stale in [*out.glob(f"{GROUP}_*.yaml"), *(out / "data").glob(f"{GROUP}_*.jsonl")]:
        if stale.stem not in keep:  # left by an earlier export: lm-eval would load it
            stale.unlink()
    write_text_atomic(out / f"{GROUP}.yaml", _group_yaml(GROUP, GROUP, groups, meta))
    write_text_atomic(out / "utils.py", UTILS_PY)
    all_tasks = list(dict.fromkeys(t for by_task in cells.values() for t in by_task))
    readme = README.format(
        version=__version__,
        conds=", ".join(cells),
        tasks=", ".join(all_tasks),
        fingerprint=icl_vs_if.REFERENCE_SHA256,
    )
    write_text_atomic(out / "README.md", readme)
    return {"tasks": names, "groups": groups, "rows": len(rows), "dir": str(out)}
