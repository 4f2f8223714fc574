"""Manual labelling of a refusal run (``forgetlab llm label ...``): a CSV for annotators,
their labels read back as label sets, other judges' labels, and the label sets that
Cohen's kappa compares (docs/harmful.md#manual-labels)."""

from __future__ import annotations

import csv
import io
import random
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError
from forgetlab.llm.judges import LABELS, Judge, safe_judge
from forgetlab.results import JsonlCache, read_json, write_json

SAMPLES = "samples.jsonl"  # the judged samples of a refusal run
LABELS_DIR = "labels"

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
CSV_FIELDS = (
    "id",
    "model",
    "condition",
    "language",
    "index",
    "prompt_en",
    "output_en",
    "output_raw",
    "judged_on",
    "label",
)


def load_samples(run_dir: str | Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / SAMPLES
    if not path.exists():
        raise ForgetlabError(f"{path} not found: run `forgetlab llm harmful --out {run_dir}` first")
    return list(JsonlCache(path, key="id").rows.values())


def export_label_csv(
    run_dir: str | Path,
    out_csv: str | Path,
    *,
    with_judge: bool = False,
    sample: int | None = None,
    seed: int = 0,
) -> int:
    """Write a CSV for annotators (empty ``label`` column; judge labels only if asked).

    ``sample=N`` keeps N samples spread evenly over (model, condition) strata — each stratum
    shuffled with ``seed``, then taken round-robin — so a small hand-labelled set covers every
    condition of both models instead of the first few hundred rows of one.
    """
    samples = load_samples(run_dir)
    if sample is not None:
        samples = stratified_sample(samples, sample, seed)
    fields = [*CSV_FIELDS, "judge_label"] if with_judge else list(CSV_FIELDS)
    target = Path(out_csv)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for s in samples:
            row = {f: s.get(f, "") for f in CSV_FIELDS}
            row["model"] = s.get("role", "")
            row["label"] = ""
            if with_judge:
                row["judge_label"] = s.get("label", "")
            writer.writerow(row)
    return len(samples)


def stratified_sample(samples: Sequence[dict[str, Any]], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` samples taken round-robin from seeded shuffles of each (role, condition) stratum."""
    if n < 1:
        raise ForgetlabError(f"--sample must be >= 1 (got {n})")
    strata: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for s in samples:
        strata.setdefault((str(s.get("role", "")), str(s.get("condition", ""))), []).append(s)
    rng = random.Random(seed)
    queues = []
    for key in sorted(strata):
        rows = sorted(strata[key], key=lambda r: str(r["id"]))
        rng.shuffle(rows)
        queues.append(rows)
    picked: list[dict[str, Any]] = []
    while len(picked) < n and any(queues):
        for q in queues:
            if q and len(picked) < n:
                picked.append(q.pop(0))
    return picked


def import_labels(run_dir: str | Path, csv_path: str | Path, annotator: str) -> dict[str, int]:
    """Read an annotated CSV into ``labels/<annotator>.json``; blank labels are skipped."""
    if not _NAME.match(annotator) or annotator == "judge":
        raise ForgetlabError(
            f"annotator name {annotator!r} must match [A-Za-z0-9_.-]+ and not be 'judge'"
        )
    known = {str(s["id"]) for s in load_samples(run_dir)}
    labels: dict[str, str] = {}
    try:
        with open(csv_path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(io.StringIO(fh.read()))
            if (
                not reader.fieldnames
                or "id" not in reader.fieldnames
                or "label" not in reader.fieldnames
            ):
                raise ForgetlabError(f"{csv_path} needs 'id' and 'label' columns")
            for line, row in enumerate(reader, start=2):
                label = (row.get("label") or "").strip().upper()
                if not label:
                    continue
                if label not in LABELS:
                    raise ForgetlabError(
                        f"{csv_path}:{line}: label {label!r} is not one of {', '.join(LABELS)}"
                    )
                sid = (row.get("id") or "").strip()
                if sid not in known:
                    raise ForgetlabError(f"{csv_path}:{line}: unknown sample id {sid!r}")
                labels[sid] = label
    except FileNotFoundError:
        raise ForgetlabError(f"missing file {csv_path}") from None
    except UnicodeDecodeError:
        raise ForgetlabError(f"labels file {csv_path} is not UTF-8 text") from None
    write_json(
        Path(run_dir) / LABELS_DIR / f"{annotator}.json",
        {"annotator": annotator, "source": str(csv_path), "labels": labels},
    )
    return dict(Counter(labels.values()))


def store_judge_labels(run_dir: str | Path, judge: Judge, name: str) -> dict[str, int]:
    """Label an existing run's mapped outputs with another judge, as label set ``name``."""
    if not _NAME.match(name) or name == "judge":
        raise ForgetlabError(
            f"label-set name {name!r} must match [A-Za-z0-9_.-]+ and not be 'judge'"
        )
    samples = load_samples(run_dir)
    verdicts = safe_judge(
        judge, [str(s["prompt_en"]) for s in samples], [str(s["output_en"]) for s in samples]
    )
    labels = {str(s["id"]): v.label for s, v in zip(samples, verdicts, strict=True)}
    write_json(
        Path(run_dir) / LABELS_DIR / f"{name}.json", {"judge": judge.identity(), "labels": labels}
    )
    return dict(Counter(labels.values()))


def load_label_set(run_dir: str | Path, name: str) -> dict[str, str]:
    """``judge`` (the run's own judge) or a stored label set (annotator or extra judge)."""
    if name == "judge":
        return {str(s["id"]): str(s["label"]) for s in load_samples(run_dir)}
    path = Path(run_dir) / LABELS_DIR / f"{name}.json"
    if not _NAME.match(name) or not path.exists():
        have = sorted(p.stem for p in (Path(run_dir) / LABELS_DIR).glob("*.json"))
        raise ForgetlabError(
            f"no label set {name!r} in {run_dir} (have: judge{''.join(', ' + h for h in have)})"
        )
    labels: dict[str, str] = read_json(path)["labels"]
    return labels
