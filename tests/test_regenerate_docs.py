"""Generated doc tables: the published numbers equal what the committed files give."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from experiments import regenerate_docs, synthetic_tables  # noqa: E402
from experiments.regenerate_docs import MarkerError, regenerate, replace_generated  # noqa: E402


def test_every_published_table_matches_the_committed_files() -> None:
    diffs = regenerate(ROOT, write=False)
    assert not diffs, (
        "tables differ from their files (python -m experiments.regenerate_docs):\n"
        + ("\n".join(f"{d.path}: generated:{d.name}\n{d.diff}" for d in diffs))
    )


def test_every_registered_table_is_in_a_doc() -> None:
    text = "".join(p.read_text(encoding="utf-8") for p in regenerate_docs.doc_files(ROOT))
    for name in regenerate_docs.TABLES:
        assert f"<!-- generated:{name} -->" in text, name


DOC = """# Title

Prose before.

<!-- generated:alpha -->
| stale |
<!-- /generated:alpha -->

Prose between, with a literal generated:alpha that is not a marker.

<!-- generated:beta -->
| b |
|---|
| 2 |
<!-- /generated:beta -->

Prose after.
"""


def _tables() -> dict[str, regenerate_docs.TableFn]:
    return {
        "alpha": lambda root: "| a |\n|---|\n| 1 |\n",
        "beta": lambda root: "| b |\n|---|\n| 2 |",
    }


def test_check_names_only_the_stale_block_and_writes_nothing(tmp_path: Path) -> None:
    doc = tmp_path / "README.md"
    doc.write_text(DOC, encoding="utf-8")
    diffs = regenerate(tmp_path, _tables(), write=False)
    assert [(d.path, d.name) for d in diffs] == [(Path("README.md"), "alpha")]
    assert "-| stale |" in diffs[0].diff and "+| 1 |" in diffs[0].diff
    assert doc.read_text(encoding="utf-8") == DOC


def test_write_replaces_block_contents_and_keeps_the_prose(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    doc = tmp_path / "docs" / "page.md"
    doc.write_text(DOC, encoding="utf-8")
    regenerate(tmp_path, _tables(), write=True)
    new = doc.read_text(encoding="utf-8")
    assert new == DOC.replace("| stale |\n", "| a |\n|---|\n| 1 |\n")
    assert regenerate(tmp_path, _tables(), write=False) == []


def test_replace_generated_renders_each_block_by_name() -> None:
    text, changed = replace_generated(
        "x <!-- generated:n -->old<!-- /generated:n --> y", lambda name: f"[{name}]"
    )
    assert text == "x <!-- generated:n -->\n[n]\n<!-- /generated:n --> y"
    assert changed == ["n"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<!-- generated:a -->\n", "never closed"),
        ("<!-- /generated:a -->\n", "closes nothing"),
        ("<!-- generated:a -->\n<!-- generated:b -->\n<!-- /generated:b -->\n", "opens inside"),
        ("<!-- generated:a -->\n<!-- /generated:b -->\n", "closes nothing"),
        ("<!-- generated:gamma -->\n<!-- /generated:gamma -->\n", "no function"),
    ],
)
def test_bad_markers_are_errors(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "a.md").write_text(DOC + text, encoding="utf-8")
    with pytest.raises(MarkerError, match=message):
        regenerate(tmp_path, _tables(), write=False)


def test_a_registered_table_missing_from_every_doc_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(DOC, encoding="utf-8")
    tables = {**_tables(), "orphan": lambda root: ""}
    with pytest.raises(MarkerError, match="orphan"):
        regenerate(tmp_path, tables, write=False)


def test_main_check_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(regenerate_docs, "TABLES", _tables())
    doc = tmp_path / "a.md"
    doc.write_text(DOC, encoding="utf-8")
    assert regenerate_docs.main(["--check", "--root", str(tmp_path)]) == 1
    assert regenerate_docs.main(["--root", str(tmp_path)]) == 0
    assert regenerate_docs.main(["--check", "--root", str(tmp_path)]) == 0
    doc.write_text(DOC + "<!-- generated:alpha -->\n", encoding="utf-8")
    assert regenerate_docs.main(["--check", "--root", str(tmp_path)]) == 2


def _copy_synthetic(tmp_path: Path) -> Path:
    dst = tmp_path / synthetic_tables.RESULTS
    dst.mkdir(parents=True)
    for suffix in ("headline.json", "bayes.json", "report.md"):
        name = f"{synthetic_tables.RUN}_{suffix}"
        shutil.copy(ROOT / synthetic_tables.RESULTS / name, dst / name)
    return dst


def test_synthetic_tables_refuse_a_bayes_file_of_other_prompts(tmp_path: Path) -> None:
    dst = _copy_synthetic(tmp_path)
    synthetic_tables.claims_table(tmp_path)  # the committed files agree
    path = dst / f"{synthetic_tables.RUN}_bayes.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    values = data["per_seed"]["1"]["values"]
    values["bayes.continuous.mixture.error"] *= 1.001
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match=r"bayes\.continuous\.mixture\.error, seed 1"):
        synthetic_tables.claims_table(tmp_path)


def test_synthetic_tables_refuse_a_report_whose_bayes_column_differs(tmp_path: Path) -> None:
    dst = _copy_synthetic(tmp_path)
    path = dst / f"{synthetic_tables.RUN}_report.md"
    report = path.read_text(encoding="utf-8")
    line = next(x for x in report.splitlines() if x.startswith("| 0.3–0.7 |"))
    cells = line.split(" | ")
    cells[3] = "0.999 [0.998, 0.999]"  # the first Bayes column of the λ-vs-g table
    path.write_text(report.replace(line, " | ".join(cells), 1), encoding="utf-8")
    with pytest.raises(ValueError, match="Bayes cell"):
        synthetic_tables.lambda_vs_g_table(tmp_path)
