"""Debian's Chromium driven by Playwright (never a downloaded browser), for the browser tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connections

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    # This machine has no internet: without these, Chromium keeps trying to reach Google's hosts.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_marks() -> list[pytest.MarkDecorator]:
    """Browser tests skip on a developer machine without Chromium; CI installs it, so there they run."""
    missing = not CHROMIUM.exists() and os.environ.get("CI") != "true"
    return [
        pytest.mark.browser,
        pytest.mark.skipif(missing, reason="Debian's Chromium is not installed at /usr/bin/chromium"),
    ]


@contextmanager
def chromium_page(monkeypatch: pytest.MonkeyPatch, *, timeout_ms: int = 20_000) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls would otherwise
    # raise SynchronousOnlyOperation (pytest-django's documented workaround). Scoped to the test: left
    # set, it would trip `manage.py check --deploy` (async.E001) in every later test.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(timeout_ms)
        try:
            yield context.new_page()
        finally:
            browser.close()
            # While Playwright's loop runs, asgiref gives this thread's ORM calls their own database
            # connection; close it here, or PostgreSQL refuses to drop the test database at the end.
            connections.close_all()
