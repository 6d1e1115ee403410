"""A reader pages through a long history in Debian's Chromium: "Show older", then back to the latest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import PASSWORD
from tests.support.browser import chromium_marks, chromium_page
from tests.support.history import artifact_with
from tracker.models import Tracker, User

pytestmark = chromium_marks()


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    with chromium_page(monkeypatch, timeout_ms=20_000) as browser_page:
        yield browser_page


def test_show_older_on_an_artifact_with_60_changesets(
    live_server, page, bugs: Tracker, alice: User, bob: User
) -> None:
    from playwright.sync_api import expect

    artifact = artifact_with(bugs, [alice, bob], 60)
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}{artifact.get_absolute_url()}")

    # It should show the latest 20 changesets and say how many are older.
    changesets = page.locator("#history .changeset")
    expect(changesets).to_have_count(20)
    expect(changesets.first.locator("pre.new-value")).to_have_text("Step 41")
    expect(page.locator("#history-older")).to_contain_text("40 older changesets, 19 with a comment.")

    # "Show older" brings the 20 before them, then the first 20, and then there is nothing older.
    page.get_by_role("link", name="Show older").click()
    expect(changesets).to_have_count(20)
    expect(changesets.first.locator("pre.new-value")).to_have_text("Step 21")
    expect(changesets.last.locator("pre.new-value")).to_have_text("Step 40")
    expect(page.locator("#history-older")).to_contain_text("20 older changesets")
    page.get_by_role("link", name="Show older").click()
    expect(changesets.first.locator("pre.new-value")).to_have_text("Step 1")
    expect(page.get_by_role("link", name="Show older")).to_have_count(0)

    # Newest first, remembered: the latest page starts with the last change.
    page.get_by_role("link", name="Back to the latest").click()
    page.get_by_role("link", name="Newest first").click()
    expect(changesets.first.locator("pre.new-value")).to_have_text("Step 60")
    page.goto(f"{live_server.url}{artifact.get_absolute_url()}")
    expect(changesets.first.locator("pre.new-value")).to_have_text("Step 60")
    expect(changesets.last.locator("pre.new-value")).to_have_text("Step 41")
