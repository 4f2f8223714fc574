"""lm-evaluation-harness 0.4.x sample logs (``lm_eval ... --log_samples``).

lm-eval writes one ``samples_<task>_<timestamp>.jsonl`` per task beside its
``results_<timestamp>.json``, in ``OUTPUT_PATH/<model name>/``. Each line is one document
under one filter: ``doc_id``, ``doc``, ``target``, ``arguments`` (the requests; the first
one's first argument is the prompt), ``resps``/``filtered_resps``, ``filter``, ``metrics``
(the names of the per-sample scores, also present as keys of the line), ``doc_hash``,
``prompt_hash`` and ``target_hash``. The file is read line by line, keeping only what the
comparison needs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from forgetlab.compare.files import file_record
from forgetlab.compare.model import Log, Sample, Task, clip
from forgetlab.errors import ForgetlabError

HARNESS = "lm-evaluation-harness"
SAMPLES_RE = re.compile(r"^samples_(?P<task>.+)_(?P<stamp>\d{4}-\d{2}-\d{2}T[0-9.\-]+)\.jsonl$")
# Keys of a logged sample that are not per-sample scores (older logs lack ``metrics``).
RECORD_KEYS = frozenset(
    {
        "doc_id",
        "doc",
        "target",
        "arguments",
        "resps",
        "filtered_resps",
        "filter",
        "metrics",
        "doc_hash",
        "prompt_hash",
        "target_hash",
        "answer_extraction_errors",
    }
)


def is_samples_file(path: Path) -> bool:
    return path.is_file() and SAMPLES_RE.match(path.name) is not None


def find_samples(path: Path) -> dict[str, Path]:
    """task -> newest samples file under ``path`` (a samples file or an output directory)."""
    if path.is_file():
        m = SAMPLES_RE.match(path.name)
        if m is None:
            raise ForgetlabError(
                f"{path}: not an lm-eval samples file (expected samples_<task>_<time>.jsonl)"
            )
        return {m["task"]: path}
    found: dict[str, tuple[str, Path]] = {}
    folders: set[Path] = set()
    for file in sorted(path.rglob("samples_*.jsonl")):
        m = SAMPLES_RE.match(file.name)
        if m is None:
            continue
        folders.add(file.parent)
        task, stamp = m["task"], m["stamp"]
        if task not in found or stamp > found[task][0]:
            found[task] = (stamp, file)
    if len(folders) > 1:
        names = ", ".join(sorted(str(f) for f in folders)[:3])
        raise ForgetlabError(
            f"{path} holds lm-eval samples of several runs ({names}); pass one model's folder"
        )
    if not found:
        raise ForgetlabError(f"{path}: no lm-eval samples_*.jsonl (run lm_eval with --log_samples)")
    return {task: file for task, (_, file) in sorted(found.items())}


def _prompt(arguments: Any) -> str:
    """The first request's first argument: the prompt (list or ``gen_args_0`` dict layouts)."""
    first: Any = arguments
    if isinstance(first, dict):
        first = next(iter(first.values()), "")
    elif isinstance(first, list) and first:
        first = first[0]
    if isinstance(first, dict):
        return str(first.get("arg_0", ""))
    if isinstance(first, list | tuple) and first:
        return str(first[0])
    return str(first)


def _output(filtered: Any) -> str:
    if isinstance(filtered, list) and len(filtered) == 1 and isinstance(filtered[0], str):
        return filtered[0]
    if isinstance(filtered, str):
        return filtered
    return json.dumps(filtered, ensure_ascii=False)


def _score(value: Any, task: str, metric: str, doc_id: Any, file: Path) -> float:
    if isinstance(value, bool | int | float):
        return float(value)
    kind = type(value).__name__
    raise ForgetlabError(
        f"{file}: task {task} metric {metric!r} of doc {doc_id} is a {kind}, not a per-sample "
        "number (a corpus-level metric?); pick numeric metrics with --metrics"
    )


def _decode(raw: bytes, file: Path, n: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ForgetlabError(f"{file}: line {n} is not UTF-8 text") from None


def _full(line: str, file: Path, n: int) -> dict[str, Any]:
    try:
        rec = json.loads(line)
    except json.JSONDecodeError:
        raise ForgetlabError(f"{file}: line {n} is not JSON (a truncated file?)") from None
    if not isinstance(rec, dict) or "doc_id" not in rec:
        raise ForgetlabError(f"{file}: line {n} is not an lm-eval sample record")
    return rec


CHUNK_BYTES = 4 << 20  # lines read, decoded and parsed together


def _tail(line: str) -> str | None:
    """The small end of a record as a JSON object (``doc_id`` plus everything from the
    top-level ``filter`` key on), or ``None`` for a line in another layout.

    lm-eval writes ``doc_id`` first, then the large fields (``doc``, ``arguments``, the
    responses), then ``filter``, ``metrics``, the hashes and the scores. Inside a JSON string
    every quote is escaped, so the last unescaped ``"filter": `` of a line is a key. Anything
    unexpected makes the parse of the chunk fail or the record incomplete, and such lines are
    parsed whole.
    """
    if not line.startswith('{"doc_id": '):
        return None
    cut = line.rfind('"filter": ')
    comma = line.find(", ", 11)
    if cut < 0 or comma < 0 or comma > cut:
        return None
    return '{"doc_id": ' + line[11:comma] + ", " + line[cut:]


def _usable(tail: Any) -> bool:
    if not isinstance(tail, dict) or not isinstance(tail.get("metrics"), list):
        return False
    return "prompt_hash" in tail and all(m in tail for m in tail["metrics"])


def _parse_chunk(chunk: list[tuple[int, str]], file: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Records of a chunk of lines. Only the small end of each record is parsed (all of the
    chunk's in one ``json.loads``), skipping the large fields; a line in another layout or
    a damaged one is parsed whole (and a damaged one reported)."""
    tails = [_tail(line) for _, line in chunk]
    parsed: list[Any] = [None] * len(chunk)
    if all(tails):
        joined = ",".join(t for t in tails if t is not None)
        try:
            parsed = json.loads("[" + joined + "]")
        except json.JSONDecodeError:
            parsed = [None] * len(chunk)
    for (n, line), rec in zip(chunk, parsed, strict=True):
        yield n, rec if _usable(rec) else _full(line, file, n)


def _records(file: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) of every non-blank line."""
    try:
        with file.open("rb") as fh:
            n = 0
            while True:
                raw_lines = fh.readlines(CHUNK_BYTES)
                if not raw_lines:
                    break
                chunk: list[tuple[int, str]] = []
                for raw in raw_lines:
                    n += 1
                    if raw.strip():
                        chunk.append((n, _decode(raw, file, n).rstrip("\r\n")))
                yield from _parse_chunk(chunk, file)
    except OSError as exc:
        raise ForgetlabError(f"{file}: cannot read ({exc.strerror or exc})") from None


def _texts_reader(file: Path) -> Any:
    """Reads the prompt, output and target of samples back from their lines in ``file``
    (``Sample.offset`` holds the line number)."""

    def texts(samples: list[Sample]) -> None:
        wanted: dict[int, list[Sample]] = {}
        for sample in samples:
            if sample.offset is not None:
                wanted.setdefault(sample.offset, []).append(sample)
        with file.open("rb") as fh:
            for n, raw in enumerate(fh, 1):
                for sample in wanted.get(n, ()):
                    rec = _full(_decode(raw, file, n), file, n)
                    sample.prompt = clip(_prompt(rec.get("arguments")))
                    sample.output = clip(_output(rec.get("filtered_resps")))
                    sample.target = clip(rec.get("target"))
                    sample.offset = None

    return texts


def read_task(file: Path, task: str, metrics: frozenset[str] | None = None) -> Task:
    """One task's samples; ``metrics`` keeps only those metric names (all numeric ones if None)."""
    out = Task(name=task, source=str(file), texts=_texts_reader(file))
    for n, rec in _records(file):
        doc_id = rec["doc_id"]
        sid = str(doc_id)
        filt = str(rec.get("filter") or "none")
        names = rec.get("metrics")
        if not isinstance(names, list):
            names = [k for k in rec if k not in RECORD_KEYS]
        scores: dict[str, float] = {}
        for name in names:
            metric = name if filt == "none" else f"{name},{filt}"
            if metrics is not None and metric not in metrics:
                continue
            if name not in rec:
                raise ForgetlabError(f"{file}: line {n} lists metric {name!r} but has no value")
            value = rec[name]
            scores[metric] = (
                value if type(value) is float else _score(value, task, metric, doc_id, file)
            )
        prompt_hash = str(rec.get("prompt_hash") or "")
        sample = out.samples.get(sid)
        if sample is None:
            out.samples[sid] = Sample(id=sid, prompt_hash=prompt_hash, scores=scores, offset=n)
        else:  # the same document under another filter
            if any(m in sample.scores for m in scores):
                raise ForgetlabError(f"{file}: doc {doc_id} is logged twice (line {n})")
            sample.scores.update(scores)
    if not out.samples:
        raise ForgetlabError(f"{file}: no samples (an empty or unfinished log?)")
    return out


def _results_meta(folder: Path) -> dict[str, Any]:
    """Model name and versions from the newest ``results_*.json`` beside the samples, if any."""
    found = sorted(folder.glob("results_*.json"))
    if not found:
        return {}
    try:
        res = json.loads(found[-1].read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    if not isinstance(res, dict):
        return {}
    cfg = res.get("config") if isinstance(res.get("config"), dict) else {}
    return {
        "results_file": str(found[-1]),
        "model_name": res.get("model_name"),
        "model_args": (cfg or {}).get("model_args"),
        "lm_eval_version": res.get("lm_eval_version"),
        "versions": res.get("versions"),
    }


def read_lm_eval(path: Path, metrics: frozenset[str] | None = None) -> Log:
    """An lm-eval run: every task's newest samples file under ``path``."""
    files = find_samples(path)
    first = next(iter(files.values()))
    meta = _results_meta(first.parent)
    model = str(meta.get("model_name") or meta.get("model_args") or first.parent.name)
    log = Log(path=path, harness=HARNESS, model=model, meta=meta)
    versions = meta.get("versions") if isinstance(meta.get("versions"), dict) else {}
    for task, file in files.items():
        log.tasks[task] = read_task(file, task, metrics)
        v = (versions or {}).get(task)
        log.tasks[task].version = None if v is None else str(v)
        log.files.append(file_record(file))
    return log
