"""Fixtures for the HTML-report tests: run directories made by the labs' pipelines, and one
headless Chromium per module (skipped when Playwright or Chromium is not installed)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_env import CHROMIUM_ARGS, REQUIRED, chromium_path, missing


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole module (the system browser, never a download)."""
    reason = missing()
    if reason is not None and REQUIRED:
        pytest.fail(reason)
    if reason is not None:
        pytest.skip(reason)
    from playwright import sync_api

    exe = chromium_path()
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class Page:
    """A page opened on a local report, recording console errors and every request made."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.page.set_default_timeout(5_000)  # a missing element fails fast
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_selector("html[data-ready='1']", timeout=10_000)

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    pages: list[Page] = []

    def _open(path: Path) -> Page:
        p = Page(browser, path)
        pages.append(p)
        return p

    yield _open
    for p in pages:
        p.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: $FORGETLAB_SCREENSHOTS (CI artefacts) or a pytest temp dir."""
    env = os.environ.get("FORGETLAB_SCREENSHOTS")
    out = Path(env) if env else tmp_path_factory.mktemp("screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


# --- run directories (session-scoped: each is made once) ------------------------------------


@pytest.fixture(scope="session")
def icl_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from html_runs import icl_run

    return icl_run(
        tmp_path_factory.mktemp("icl") / "run",
        languages=["en", "fr"],
        transforms=["leetspeak"],
        limit=3,
    )


@pytest.fixture(scope="session")
def harmful_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from html_runs import harmful_run

    return harmful_run(tmp_path_factory.mktemp("harmful") / "run")


@pytest.fixture(scope="session")
def finetune_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from html_runs import finetune_run

    return finetune_run(tmp_path_factory.mktemp("finetune") / "run")


@pytest.fixture(scope="session")
def big_icl_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All 100 prompts × 4 tasks × 7 languages: the paper's 2,800-sample run."""
    from html_runs import icl_run

    return icl_run(
        tmp_path_factory.mktemp("big") / "run",
        languages=["en", "fr", "es", "nl", "hu", "ls", "pl"],
        limit=None,
    )


@pytest.fixture(scope="session")
def synthetic_dirs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two real ``synthetic reproduce --preset smoke`` runs (seeds 0 and 1)."""
    from forgetlab.synthetic.reproduce import reproduce, reproduce_config

    root = tmp_path_factory.mktemp("synthetic")
    dirs = []
    for seed in (0, 1):
        cfg = reproduce_config("smoke", overrides=[f"seed={seed}"])
        reproduce(cfg, root / f"seed{seed}", device="cpu", show_progress=False, log=lambda s: None)
        dirs.append(root / f"seed{seed}")
    return dirs
