"""A member drives the real UI in Debian's Chromium: log in, create an artifact, edit it, read its history."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.support.browser import chromium_marks, chromium_page
from tracker.models import Artifact, Tracker, User

SCREENSHOT = Path("/tmp/artifact.png")

pytestmark = chromium_marks()


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    with chromium_page(monkeypatch, timeout_ms=20_000) as browser_page:
        yield browser_page


def test_a_member_creates_an_artifact_and_edits_it_with_a_comment(
    live_server, page, bugs: Tracker, bob: User, carol: User
) -> None:
    from playwright.sync_api import expect

    # It should log bob in through the form and show him his projects.
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()

    # He opens the project, then its tracker, and starts a new artifact.
    page.get_by_role("link", name="Demo").click()
    page.get_by_role("link", name="Bugs").click()
    expect(page.get_by_role("heading", name="Bugs", exact=True)).to_be_visible()
    page.get_by_role("link", name="New artifact").click()

    page.get_by_label("Title").fill("Login button does nothing")
    page.get_by_label("Description").fill("Clicking it twice is needed.\nSeen on the staging server.")
    page.get_by_label("Status").select_option(label="New")
    # The user field is a people picker (tracker/static/tracker/js/pickers.js): type, then choose.
    page.get_by_role("combobox", name="Assigned to").press_sequentially("car")
    page.locator(".ts-dropdown .option", has_text="Carol (carol)").click()
    page.get_by_role("button", name="Create artifact").click()

    # It should land on the new artifact's page.
    expect(page).to_have_url(re.compile(r"/artifacts/\d+/$"))
    expect(page.locator("#artifact-title")).to_have_text("Login button does nothing")
    artifact = Artifact.objects.get(tracker=bugs)
    assert artifact.submitted_by == bob

    # He edits the title and the status, with a comment.
    page.locator("#id_title").fill("Login button does nothing on Firefox")
    page.get_by_label("Status").select_option(label="In progress")
    page.locator("textarea[name=comment]").fill("Reproduced on **Firefox 128** only.")
    page.get_by_role("group", name="Comment format").get_by_label("Markdown").check()
    page.get_by_role("button", name="Save changes").click()

    # The history shows the change (old -> new) and the comment, rendered from Markdown.
    expect(page.locator(".messages")).to_contain_text("Changes saved.")
    latest = page.locator(".changeset").last
    expect(latest).to_contain_text("Bob (bob)")
    expect(latest.locator(".old-value").first).to_have_text("Login button does nothing")
    expect(latest.locator(".new-value").first).to_have_text("Login button does nothing on Firefox")
    expect(latest).to_contain_text("New")
    expect(latest).to_contain_text("In progress")
    expect(latest.locator(".comment strong")).to_have_text("Firefox 128")
    expect(page.locator("#artifact-title")).to_have_text("Login button does nothing on Firefox")
    # The stylesheet is served by the application itself.
    header_color = "getComputedStyle(document.querySelector('.site-header')).backgroundColor"
    assert page.evaluate(header_color) == "rgb(30, 42, 58)"

    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert artifact.changesets.count() == 2


def test_the_artifact_list_and_page_fit_a_phone_screen(live_server, page, bugs: Tracker, bob: User) -> None:
    from tracker.services.artifacts import create_artifact

    title = "The login button does nothing when the session cookie has expired overnight"
    artifact = create_artifact(bugs, author=bob, values={"title": title, "status": "New"}).artifact
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.goto(f"{live_server.url}/trackers/{bugs.pk}/")
    # It should not scroll sideways, and the title gets the width of the screen, not a few letters.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    title_cell = page.locator("#artifact-list td.title").first.bounding_box()
    assert title_cell is not None and title_cell["width"] >= 300
    page.screenshot(path="/tmp/list-390.png", full_page=True)

    page.goto(f"{live_server.url}/artifacts/{artifact.pk}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path="/tmp/artifact-390.png", full_page=True)
