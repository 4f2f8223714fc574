"""The HTML report driven in headless Chromium: loads with no console error and no network
request, filters show the expected rows, generated text is revealed and hidden on click,
the headline numbers equal the result files, and a 2,800-sample report opens fast."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from browser_env import REQUIRED, missing
from html_runs import read_jsonl

from forgetlab.report.html import write_report

# skip before any run directory is built; in CI (REQUIRED) the browser fixture fails instead
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(missing() is not None and not REQUIRED, reason=str(missing())),
]

PAGE_SIZE = 50


def count(page: Any, nth: int = 0) -> int:
    return int(page.locator(".browser .count").nth(nth).get_attribute("data-count"))


def visible_rows(page: Any, nth: int = 0) -> int:
    return page.locator(".browser").nth(nth).locator("tbody tr").count()


def assert_clean(p: Any) -> None:
    assert p.errors == []
    assert all(u.startswith(("file:", "data:")) for u in p.requests), p.requests


def paired_outcomes(run: Path) -> dict[str, dict[str, str]]:
    """sample -> model -> outcome, from the recorded hit flags."""
    out: dict[str, dict[str, str]] = {}
    for r in read_jsonl(run / "samples.jsonl"):
        icl, iff = r["icl_hit"], r["if_hit"]
        o = "both" if icl and iff else "ICL hit" if icl else "IF hit" if iff else "neither"
        out.setdefault(r["sample"], {})[r["model"]] = o
    return out


def test_icl_report_filters_and_numbers(
    open_page: Any, icl_dir: Path, tmp_path: Path, screenshot_dir: Path
) -> None:
    html = write_report([icl_dir], tmp_path / "icl.html")
    p = open_page(html)
    assert_clean(p)
    page = p.page
    samples = paired_outcomes(icl_dir)
    rows = read_jsonl(icl_dir / "samples.jsonl")
    cond_of = {r["sample"]: r["condition"] for r in rows}
    assert count(page) == len(samples) == 3 * 4 * 3
    assert visible_rows(page) == min(len(samples), PAGE_SIZE)

    page.select_option(".browser select[data-field=cond]", "fr")
    assert count(page) == visible_rows(page) == sum(c == "fr" for c in cond_of.values())
    page.select_option(".browser select[data-field=cond]", "")
    page.select_option(".browser select[data-field=task]", "capslock-math")
    assert count(page) == sum(s.split("/")[1] == "capslock-math" for s in samples)
    page.select_option(".browser select[data-field=task]", "")

    flipped = sum(o["base"] == "ICL hit" and o["tuned"] == "IF hit" for o in samples.values())
    assert flipped > 0  # the tuned fake answers English arithmetic instead of capitalising
    page.click(".browser button[data-preset]")
    assert count(page) == visible_rows(page) == flipped
    assert page.locator(".browser tbody mark.if").count() >= flipped  # tuned answers marked
    page.select_option(".browser select[data-field=cond]", "fr")
    assert count(page) == 0 and visible_rows(page) == 0
    page.select_option(".browser select[data-field=cond]", "")

    page.select_option(".browser select[data-view]", "tuned")
    assert page.locator(".browser td.col-base").first.is_hidden()
    assert page.locator(".browser td.col-tuned").first.is_visible()
    page.select_option(".browser select[data-view]", "both")

    # a transformed prompt shows the text the model saw and, on opening, its inverse
    for field in ("bo", "to"):
        page.select_option(f".browser select[data-field={field}]", "")
    page.select_option(".browser select[data-field=cond]", "en+leetspeak")
    assert count(page) == sum(c == "en+leetspeak" for c in cond_of.values())
    first = page.locator(".browser tbody tr").first
    first.locator("summary").click()
    leet = next(
        r
        for r in rows
        if r["condition"] == "en+leetspeak" and r["sample"] == first.get_attribute("data-id")
    )
    text = first.inner_text()
    assert leet["model_input"].strip().splitlines()[-2] in text
    assert leet["prompt"].strip().splitlines()[-2] in text

    results = json.loads((icl_dir / "results.json").read_text())
    shown = page.eval_on_selector_all(
        "[data-key]",
        "els => els.map(e => [JSON.parse(e.dataset.key), e.dataset.fmt, e.textContent])",
    )
    checked = 0
    for key, fmt, text in shown:
        value = results
        for k in key:
            value = value[k]
        if fmt in ("pct", "spct"):
            assert float(text.split()[0]) == pytest.approx(100 * value, abs=0.051), key
            checked += 1
    assert checked >= 6 * 4
    page.screenshot(path=str(screenshot_dir / "icl_vs_if.png"), full_page=True)


def test_harmful_reveal_hide_and_judge_filter(
    open_page: Any, harmful_dir: Path, tmp_path: Path, screenshot_dir: Path
) -> None:
    html = write_report([harmful_dir], tmp_path / "harmful.html")
    p = open_page(html)
    assert_clean(p)
    page = p.page
    samples = {s["id"]: s for s in read_jsonl(harmful_dir / "samples.jsonl")}
    assert count(page) == len(samples) == 2 * 2 * 6
    assert page.locator(".gen").count() == visible_rows(page)
    assert all(not g.is_visible() for g in page.locator(".gen").all())
    assert "GENERATED-TEXT" not in page.locator("body").inner_text()

    row = page.locator(".browser tbody tr").first
    button = row.locator("button.reveal")
    button.click()
    gen = row.locator(".gen")
    assert gen.is_visible()
    assert samples[row.get_attribute("data-id")]["output_raw"] in gen.inner_text()
    assert button.inner_text() == "Hide generated text"
    button.click()
    assert gen.is_hidden() and button.inner_text() == "Reveal generated text"

    labels = Counter(s["label"] for s in samples.values())
    for label, n in labels.items():
        page.select_option(".browser select[data-field=lab]", label)
        assert count(page) == n
    page.select_option(".browser select[data-field=lab]", "")
    page.select_option(".browser select[data-field=role]", "compare")
    assert count(page) == sum(s["role"] == "compare" for s in samples.values())
    page.select_option(".browser select[data-field=role]", "")

    manual = json.loads((harmful_dir / "labels" / "manual.json").read_text())["labels"]
    differ = sum(manual[i] != s["label"] for i, s in samples.items())
    assert differ == 3
    page.select_option(".browser select[data-field=dis]", "any")
    assert count(page) == visible_rows(page) == differ
    assert page.locator(".browser tbody .badge.differs").count() == differ
    page.select_option(".browser select[data-field=dis]", "none")
    assert count(page) == len(samples) - differ
    page.screenshot(path=str(screenshot_dir / "harmful.png"), full_page=True)

    redacted = open_page(write_report([harmful_dir], tmp_path / "r.html", redact=True))
    assert_clean(redacted)
    assert redacted.page.locator("button.reveal").count() == 0
    assert count(redacted.page) == len(samples)


def test_synthetic_runs_side_by_side(
    open_page: Any, synthetic_dirs: list[Path], tmp_path: Path, screenshot_dir: Path
) -> None:
    p = open_page(write_report(synthetic_dirs, tmp_path / "synthetic.html"))
    assert_clean(p)
    page = p.page
    head = page.locator("#synthetic table").first
    assert [h.strip() for h in head.locator("thead th").all_inner_texts()][1:3] == [
        "seed0 (seed 0)",
        "seed1 (seed 1)",
    ]
    for d in synthetic_dirs:
        m = json.loads((d / "metrics.json").read_text())
        cell = head.locator(
            f"td[data-src='{d / 'metrics.json'}'][data-key='[\"recovered_fraction\"]']"
        )
        assert float(cell.inner_text()) == pytest.approx(m["recovered_fraction"], abs=5e-4)
    imgs = page.locator("figure img")
    assert imgs.count() == sum(len(list(d.glob("fig_*.png"))) for d in synthetic_dirs)
    assert all(page.evaluate("(i) => i.naturalWidth > 0", im.element_handle()) for im in imgs.all())
    assert page.locator("svg.chart").count() >= 2 * 5
    page.screenshot(path=str(screenshot_dir / "synthetic.png"), full_page=True)


def test_finetune_curves(
    open_page: Any, finetune_dir: Path, tmp_path: Path, screenshot_dir: Path
) -> None:
    p = open_page(write_report([finetune_dir], tmp_path / "finetune.html"))
    assert_clean(p)
    titles = p.page.locator("svg.chart .ct").all_text_contents()
    assert titles == [
        "training loss",
        "ICL accuracy per language (icl-vs-if)",
        "IF rate per language (icl-vs-if)",
        "refusal rate per language (harmful)",
    ]
    # one line per language, one marker per checkpoint
    icl = p.page.locator("svg.chart").nth(1)
    assert icl.locator("polyline").count() == 2 and icl.locator("circle").count() == 2 * 5
    p.page.screenshot(path=str(screenshot_dir / "finetune.png"), full_page=True)


def test_2800_sample_report_is_small_and_fast(
    open_page: Any, big_icl_dir: Path, tmp_path: Path, screenshot_dir: Path
) -> None:
    html = write_report([big_icl_dir], tmp_path / "big.html")
    size = html.stat().st_size
    assert size < 10 * 2**20, size
    t0 = time.perf_counter()
    p = open_page(html)
    load_s = time.perf_counter() - t0
    assert_clean(p)
    page = p.page
    nav = page.evaluate(
        "() => { const e = performance.getEntriesByType('navigation')[0];"
        " return e.domContentLoadedEventEnd - e.startTime; }"
    )
    assert count(page) == 2800 and visible_rows(page) == PAGE_SIZE
    assert load_s < 2.0 and nav < 2000, (load_s, nav)
    t0 = time.perf_counter()
    page.select_option(".browser select[data-field=cond]", "hu")
    assert count(page) == 400
    assert time.perf_counter() - t0 < 1.0
    print(
        f"2,800-sample report: {size / 2**20:.2f} MiB, opened in {load_s:.2f} s (DOM {nav:.0f} ms)"
    )
    page.screenshot(path=str(screenshot_dir / "icl_vs_if_2800.png"))


def test_page_prints_without_controls(open_page: Any, harmful_dir: Path, tmp_path: Path) -> None:
    p = open_page(write_report([harmful_dir], tmp_path / "print.html"))
    page = p.page
    page.emulate_media(media="print")
    assert page.locator(".browser .filters").first.is_hidden()
    assert all(b.is_hidden() for b in page.locator("button.reveal").all())
    assert all(g.is_hidden() for g in page.locator(".gen").all())  # still hidden on paper
    assert page.locator("table").first.is_visible()
    assert page.pdf(format="A4")[:4] == b"%PDF"
