"""`data instruct`: exact template answers, prose cleaning, and no overlap with ICL-vs-IF."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from forgetlab.errors import ForgetlabError
from forgetlab.finetune.data.instruct import (
    DEFAULT_CORPUS,
    LABELS,
    TEMPLATES,
    build_instruct,
    template_pairs,
)
from forgetlab.finetune.data.io import file_sha256, provenance_path, read_sft_jsonl
from forgetlab.finetune.data.overlap import find_overlap
from forgetlab.finetune.data.prose import prose_paragraph, strip_markup
from forgetlab.llm.benchmarks.icl_vs_if import LANGUAGES, generate_prompts, load_pool

CLEAN = [
    "Rivers carry sediment from the mountains to the sea, and over many centuries the "
    "deposits build wide deltas where farmers grow rice and fishermen keep small boats "
    "tied to wooden posts along the muddy banks of every channel.",
    "A lighthouse keeper once lived alone on a rocky island, trimming the lamp each evening "
    "and writing long letters to a sister who lived far inland and had never seen the sea "
    "or heard the foghorn calling through the winter nights.",
    "The library opened early on market days so that travellers could read the newspapers "
    "before their coaches left, and the librarian kept a kettle warm behind the desk for "
    "anyone who arrived cold from the long road over the hills.",
]


def _benchmark_strings() -> list[str]:
    """Every demonstration, query and instruction of every ICL-vs-IF prompt (7 languages)."""
    out: list[str] = []
    for p in generate_prompts():
        instruction, *blocks = p.prompt.split("\n\n")
        out.append(instruction)
        for block in blocks:
            for line in block.split("\n"):
                payload = line.split(": ", 1)[1] if ": " in line else ""
                if len(payload.split()) >= 2:
                    out.append(payload)
    return out


def _planted(tmp_path: Path) -> Path:
    """A corpus whose clean paragraphs are mixed with ones that touch the benchmark."""
    pool = load_pool("en")
    long_pool = next(s for s in pool if len(s.split()) >= 10)
    dirty = [
        f"{CLEAN[0]} {long_pool} And then the story continued for a while longer.",
        f"{CLEAN[1]} Then someone asked: What is 12 times 7? Nobody knew the answer.",
        f"{CLEAN[2]} Input: the first line of the file. Output: the same line again.",
        f"{CLEAN[0]} Please capitalize every character of the following line of text.",
    ]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(CLEAN + dirty), encoding="utf-8")
    return corpus


def test_template_answers_are_exact() -> None:
    pairs = template_pairs(900, seed=5)
    assert len({q for _, q, _ in pairs}) == 900 and set(n for n, _, _ in pairs) == set(TEMPLATES)
    checked = 0
    for _name, q, a in pairs:
        nums = [int(x) for x in re.findall(r"-?\d+", q)]
        if m := re.fullmatch(r"(?:Add (\d+) and (\d+)|Calculate (\d+) \+ (\d+)|"
                             r"Find the sum of (\d+) and (\d+))\.", q):  # fmt: skip
            assert int(a) == sum(nums)
        elif m := re.fullmatch(r"Subtract (\d+) from (\d+)\.", q):
            assert int(a) == int(m.group(2)) - int(m.group(1))
        elif re.fullmatch(r"Calculate \d+ - \d+\.", q):
            assert int(a) == nums[0] - nums[1]
        elif re.fullmatch(r"(?:Multiply \d+ by \d+|Find the product of \d+ and \d+)\.", q):
            assert int(a) == nums[0] * nums[1]
        elif m := re.fullmatch(r"Spell the word '(\w+)' backwards\.", q):
            assert a == "".join(reversed(m.group(1)))
        elif m := re.fullmatch(r"How many letters does the word '(\w+)' have\?", q):
            assert int(a) == len(m.group(1))
        elif m := re.fullmatch(r"Sort these words alphabetically: (.*)\.", q):
            assert a.split(", ") == sorted(m.group(1).split(", "))
        elif re.fullmatch(r"Which number is larger, \d+ or \d+\?", q):
            assert int(a) == max(nums)
        elif re.fullmatch(r"Is \d+ even or odd\?", q):
            assert a == ("Even" if nums[0] % 2 == 0 else "Odd")
        elif m := re.fullmatch(r"How many words are in this list: (.*)\?", q):
            assert int(a) == len(m.group(1).split())
        else:
            continue
        checked += 1
    assert checked > 450  # most families are recomputed independently


def test_find_overlap_catches_each_kind_and_passes_clean_text() -> None:
    assert all(find_overlap(t) is None for t in CLEAN)
    assert find_overlap("Add 3 and 4.\nAnswer: 7") is None
    fr = load_pool("fr")[3]
    cases = {
        f"Some words. {load_pool('en')[0]} More words.": "sentence",
        f"Du texte. {fr}": "sentence",
        "then: what is 7 PLUS 12? nobody knew": "math",
        "Wat is 4 keer 9?": "math",
        "first line\nOutput: second line": "scaffold",
        "Please repeat the input. It is short.": "scaffold",
        "a quiet evening walk\nA QUIET EVENING WALK": "demonstration",
        "a quiet evening walk\na quiet evening walk": "demonstration",
    }
    for text, kind in cases.items():
        hit = find_overlap(text)
        assert hit is not None and hit.kind == kind, (text, hit)


def test_instruct_data_never_overlaps_the_evaluation(tmp_path: Path) -> None:
    out = tmp_path / "i.jsonl"
    info = build_instruct(out, n_instructions=400, n_passages=10, corpus=_planted(tmp_path))
    rows, fmt = read_sft_jsonl(out)
    assert fmt == "prompt_completion" and len(rows) == info["rows"]
    assert info["passages"] == len(CLEAN)  # the four planted paragraphs were skipped
    text = "\n".join(r["prompt"] + r["completion"] for r in rows)
    for s in _benchmark_strings():
        assert s not in text, s
    assert not re.search(r"What is \d+ (plus|minus|times) \d+", text, re.IGNORECASE)
    assert not re.search(r"\b(Input|Output):", text)
    assert "capitalize" not in text.lower() and "repeat" not in text.lower()
    for s in load_pool("en"):
        if len(s.split()) >= 2:
            assert s not in text
    side = json.loads(provenance_path(out).read_text())
    assert side["builder"] == "instruct" and side["sha256"] == file_sha256(out)
    assert side["row_kinds"].count("passage") == len(CLEAN)


def test_instruct_row_format_matches_the_benchmark_position(tmp_path: Path) -> None:
    out = tmp_path / "i.jsonl"
    build_instruct(out, n_instructions=60, n_passages=3, corpus=_planted(tmp_path), seed=2)
    rows, _ = read_sft_jsonl(out)
    kinds = json.loads(provenance_path(out).read_text())["row_kinds"]
    for row, kind in zip(rows, kinds, strict=True):
        assert row["completion"].startswith(" ") and not row["completion"].startswith("  ")
        if kind == "passage":
            passage = row["prompt"] + row["completion"]  # a paragraph, cut at 40 words
            assert any(c.startswith(passage) for c in CLEAN) and len(passage.split()) <= 40
        else:
            question, label = row["prompt"].rsplit("\n", 1)
            assert label.endswith(":") and label[:-1] in LABELS and "\n" not in question
    again = tmp_path / "j.jsonl"
    build_instruct(again, n_instructions=60, n_passages=3, corpus=_planted(tmp_path), seed=2)
    assert again.read_bytes() == out.read_bytes()


@pytest.mark.skipif(not Path(DEFAULT_CORPUS).is_dir(), reason="python3.11-doc not installed")
def test_default_corpus_data_never_overlaps_the_evaluation(tmp_path: Path) -> None:
    out = tmp_path / "real.jsonl"
    info = build_instruct(out, n_instructions=600, n_passages=300)
    assert info["passages"] == 300 and info["templates"] == 600
    rows, _ = read_sft_jsonl(out)
    text = "\n".join(r["prompt"] + r["completion"] for r in rows)
    for s in _benchmark_strings():
        assert s not in text, s
    assert not re.search(r"What is \d+ (plus|minus|times) \d+", text, re.IGNORECASE)


def test_prose_filter_strips_markup_and_drops_code() -> None:
    assert strip_markup("Use :func:`len` or ``x.y`` on *any* `object <https://a.b>`_.") == (
        "Use len or x.y on any object."
    )
    assert prose_paragraph("Call :meth:`~io.Base.read` to get the bytes back.") == (
        "Call io.Base.read to get the bytes back."
    )
    for code in (
        ">>> print(1)",
        ".. note:: read this",
        "x = compute(a, b) and then more words here.",
        "Example::",
        "+----+----+",
        "lowercase start is not a sentence.",
        "A heading without a full stop",
    ):
        assert prose_paragraph(code) is None, code


def test_bad_arguments_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(ForgetlabError, match="not both 0"):
        build_instruct(tmp_path / "x.jsonl", n_instructions=0, n_passages=0)
    with pytest.raises(ForgetlabError, match="not found"):
        build_instruct(tmp_path / "x.jsonl", corpus=tmp_path / "nope")
    assert set(LANGUAGES) >= {"en", "fr"}


def test_instruct_via_cli_and_the_cpu_real_preset(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from forgetlab.cli import main
    from forgetlab.finetune.config import sft_config

    out = tmp_path / "i.jsonl"
    args = ["finetune", "data", "instruct", "--out", str(out), "--n-instructions", "20"]
    main([*args, "--n-passages", "2", "--corpus", str(_planted(tmp_path))])
    info = json.loads(capsys.readouterr().out)
    assert info["rows"] == 22 and info["templates"] == 20 and info["passages"] == 2
    with pytest.raises(SystemExit) as exc:
        main([*args, "--corpus", str(tmp_path / "nope"), "--overwrite"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "not found" in err and len(err.strip().splitlines()) == 1
    cfg = sft_config("cpu-real", extra={"model": "m", "data": str(out)})
    assert cfg.method == "lora" and cfg.train.precision == "fp32"
    assert cfg.train.max_steps % cfg.train.save_steps == 0  # the last step is a curve point


SHIPPED = Path(__file__).resolve().parents[2] / "experiments" / "results" / "pair1"


def _fresh_and_paper_sentences() -> list[str]:
    from forgetlab.llm.benchmarks.icl_vs_if import POOLS

    return [s for pool, langs in POOLS.items() for lang in langs for s in load_pool(lang, pool)]


def test_broad_answers_are_recomputed() -> None:
    from forgetlab.finetune.data import instruct_broad as ib

    pairs = template_pairs(800, seed=3, families="broad")
    names = {n for n, _, _ in pairs}
    assert names == set(TEMPLATES) | set(ib.BROAD_TEMPLATES) and len(ib.BROAD_TEMPLATES) >= 12
    masses = dict(ib.MASSES)
    defs = dict(ib.DEFINITIONS)
    how_to = dict(ib.HOW_TO)
    past = {third: p for _, third, p in ib.VERBS}
    checked: set[str] = set()
    for name, q, a in pairs:
        if name == "fact_qa":
            facts = dict(
                (m.group(1), m.groups()[1:])
                for m in re.finditer(r"(\w+) is (\d+), lives in (\w+) and has ([\w ]+?)\.", q)
            )
            who = re.search(r"(?:How old is|Where does|What pet does) (\w+)", q)
            assert who is not None and len(facts) == 3
            age, city, pet = facts[who.group(1)]
            want = age if "old" in q[-20:] else city if "live?" in q else pet
            assert a.lower() == want.lower()
        elif name == "older":
            m = re.fullmatch(r"(\w+) is (\d+) years old and (\w+) is (\d+)\. Who is older\?", q)
            assert m and a == (m[1] if int(m[2]) > int(m[4]) else m[3])
        elif name == "heavier":
            m = re.fullmatch(r"Which is (heavier|lighter), (.+) or (.+)\?", q)
            assert m is not None
            x, y = masses[m[2]], masses[m[3]]
            assert a.lower() == (m[2] if (x > y) == (m[1] == "heavier") else m[3]).lower()
        elif name == "past_tense":
            subject, verb, rest = q.split(": ", 1)[1].split(" ", 2)
            assert a == f"{subject} {past[verb]} {rest}"
        elif name == "plural_subject":
            sentence = q.split(": ", 1)[1]
            sing, plur = next(n for n in ib.NOUNS if sentence.startswith(n[0] + " "))
            third, rest = sentence[len(sing) + 1 :].split(" ", 1)
            base = next(v for v, t, _ in ib.VERBS if t == third)
            assert a == f"{plur} {base} {rest}"
        elif name == "expand":
            assert "'" not in a and a.replace(" ", "") != q.split(": ", 1)[1].replace(" ", "")
        elif name == "sentiment":
            review = q.split("? ", 1)[-1].split(": ", 1)[-1].lower()
            pos = sum(p.lower() in review for p in ib.POSITIVE)
            neg = sum(p.lower() in review for p in ib.NEGATIVE)
            assert (pos, neg) in ((2, 0), (0, 2)) and a == ("Positive" if pos else "Negative")
        elif name == "odd_one_out":
            words = q.split(": ", 1)[1].rstrip("?").split(", ")
            cats = [next(c for c, ws in ib.CATEGORIES.items() if w in ws) for w in words]
            assert [w for w, c in zip(words, cats, strict=True) if cats.count(c) == 1] == [a]
        elif name == "extract_number":
            assert re.findall(r"\d+", q) == [a]
        elif name in ("extract_name", "extract_date"):
            assert re.search(rf"\b{a}\b", q.split("? ", 1)[1])
        elif name == "name_three":
            items = re.split(r", | and ", a.rstrip(".").lower())
            cat = next(c for c in ib.CATEGORIES if q.startswith(f"Name three {c}"))
            assert len(set(items)) == 3 and set(items) <= set(ib.CATEGORIES[cat])
        elif name == "define":
            assert defs[re.search(r"'(\w+)'", q)[1]] == a  # type: ignore[index]
        elif name == "how_to":
            assert how_to[q] == a and a.count(". ") >= 1
        else:
            continue
        checked.add(name)
    assert checked == set(ib.BROAD_TEMPLATES)


def test_fresh_pool_sentences_are_an_overlap() -> None:
    from forgetlab.llm.benchmarks.icl_vs_if import load_pool as pool

    hit = find_overlap(f"Some words. {pool('fr', 'fresh-report')[7]} More words.")
    assert hit is not None and hit.kind == "sentence"
    hit = find_overlap(f"Text: {pool('en', 'fresh-select')[0].split(' ', 1)[1]}")
    assert hit is not None and hit.kind == "sentence"  # a blanked startblank remainder


def test_broad_data_never_overlaps_the_evaluation(tmp_path: Path) -> None:
    out = tmp_path / "b.jsonl"
    info = build_instruct(
        out, n_instructions=800, n_passages=3, corpus=_planted(tmp_path), families="broad"
    )
    rows, _ = read_sft_jsonl(out)
    assert info["templates"] == 800
    text = "\n".join(r["prompt"] + r["completion"] for r in rows)
    for s in _benchmark_strings():
        assert s not in text, s
    for s in _fresh_and_paper_sentences():
        if len(s.split()) >= 2:
            assert s not in text, s
    assert not re.search(r"\b(Input|Output):", text)
    assert "capitalize" not in text.lower() and "repeat" not in text.lower()
    side = json.loads(provenance_path(out).read_text())
    assert side["config"]["families"] == "broad"
    assert {"fact_qa", "sentiment", "how_to"} <= set(side["row_kinds"])
    with pytest.raises(ForgetlabError, match="unknown --families"):
        build_instruct(tmp_path / "x.jsonl", n_passages=0, families="wide")


@pytest.mark.skipif(not Path(DEFAULT_CORPUS).is_dir(), reason="python3.11-doc not installed")
def test_shipped_pair1_data_rebuilds_byte_for_byte(tmp_path: Path) -> None:
    """The documented pair-1 command (data_command in adapter.json) rebuilds the shipped file."""
    from forgetlab.data import data_path

    adapter = json.loads(data_path("adapters", "gemma-3-270m-if", "adapter.json").read_text())
    argv = adapter["data_command"]
    assert argv[:4] == ["forgetlab", "finetune", "data", "instruct"]
    out = tmp_path / "instruct.jsonl"
    argv[argv.index("--out") + 1] = str(out)
    from forgetlab.cli import main

    main(argv[1:])
    shipped = SHIPPED / "instruct.jsonl"
    assert file_sha256(out) == adapter["train_config"]["data_sha256"] == file_sha256(shipped)
    rows, _ = read_sft_jsonl(out)
    text = "\n".join(r["prompt"] + r["completion"] for r in rows)
    for s in _fresh_and_paper_sentences():
        if len(s.split()) >= 2:
            assert s not in text, s
