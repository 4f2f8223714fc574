"""``forgetlab compare``'s report.html in headless Chromium: the browser lists the planted
flips under each direction, the preset shows what fine-tuning broke, no network, no error."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from browser_env import REQUIRED, missing

from forgetlab.compare.run import compare

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(missing() is not None and not REQUIRED, reason=str(missing())),
]

N, R2W, W2R = 120, set(range(5, 65)), {100, 101}  # 60 right → wrong: two pages


def write_side(folder: Path, right: set[int]) -> Path:
    folder.mkdir(parents=True)
    with (folder / "samples_t_2026-12-05T10-00-00.000000.jsonl").open("w") as fh:
        for i in range(N):
            prompt = f"<b>Q{i}</b>: say yes"  # markup must show as text
            out = "yes" if i in right else "no"
            rec = {
                "doc_id": i,
                "doc": {"q": prompt},
                "target": "yes",
                "arguments": {"gen_args_0": {"arg_0": prompt, "arg_1": {}}},
                "resps": [[out]],
                "filtered_resps": [out],
                "filter": "none",
                "metrics": ["exact_match"],
                "doc_hash": "",
                "prompt_hash": hashlib.sha256(prompt.encode()).hexdigest(),
                "target_hash": "",
                "exact_match": float(i in right),
            }
            fh.write(json.dumps(rec) + "\n")
    return folder


def test_compare_browser_filters_flips(tmp_path: Path, open_page: Any) -> None:
    base_right = set(range(90))
    base = write_side(tmp_path / "base", base_right)
    tuned = write_side(tmp_path / "tuned", (base_right - R2W) | W2R)
    compare(base, tuned, tmp_path / "out")
    p = open_page(tmp_path / "out" / "report.html")
    page = p.page
    count = page.locator(".browser .count")
    assert int(count.get_attribute("data-count")) == N
    page.click(".browser button[data-preset]")
    assert int(count.get_attribute("data-count")) == len(R2W)
    assert page.locator(".browser tbody tr").count() == 50  # first page
    first = page.locator(".browser tbody tr").first
    assert first.get_attribute("data-id") == "5"
    assert "<b>Q5</b>" in first.locator("summary").inner_text()
    assert first.locator("td.col-base pre").inner_text() == "yes"
    assert first.locator("td.col-tuned pre").inner_text() == "no"
    page.select_option(".browser select[data-field=dir]", "wrong → right")
    assert int(count.get_attribute("data-count")) == len(W2R)
    delta = page.locator('section#deltas td.num[data-key=\'["rows", 0, "delta"]\']')
    assert delta.inner_text().startswith(f"{-58 / N:.4f}")
    assert p.errors == []
    assert all(u.startswith(("file:", "data:")) for u in p.requests)
