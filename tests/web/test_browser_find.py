"""Finding artifacts in Chromium: `#42` in the search box, and a saved query opened again after a reload.

The permission side of a project query (each reader sees only what they may read) stays in
tests/web/test_saved_queries.py: in this world the only reader who may read less is an outsider, who
gets a 404 for the whole tracker, which the Django client shows as well as a browser.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import PASSWORD
from tests.support.browser import chromium_marks, chromium_page
from tracker.models import Artifact, SavedQuery, Tracker, User
from tracker.services.artifacts import create_artifact

pytestmark = chromium_marks()

TITLES = "#artifact-list td.title"


@pytest.fixture
def browser_page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with chromium_page(monkeypatch, timeout_ms=20_000) as page:
        yield page


@pytest.fixture
def triage(bugs: Tracker, alice: User, bob: User, carol: User) -> list[Artifact]:
    # Titles without digits, so that only the artifact number can match a search for a number.
    values = [
        {"title": "Login fails", "status": "New", "assigned_to": bob.pk},
        {"title": "Crash on save", "status": "In progress", "assigned_to": carol.pk},
        {"title": "Typo in footer", "status": "Done", "assigned_to": bob.pk},
        {"title": "Dark theme", "status": "New"},
    ]
    return [create_artifact(bugs, author=alice, values=v, notify=False).artifact for v in values]


def log_in(page: Any, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/")


def search(page: Any, text: str) -> None:
    page.get_by_role("searchbox", name="Search").fill(text)
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_load_state("load")


def test_a_member_finds_an_artifact_by_its_number(
    live_server, browser_page, bugs: Tracker, triage: list[Artifact], bob: User
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    log_in(page, live_server.url, "bob")
    page.goto(f"{live_server.url}/trackers/{bugs.pk}/")
    expect(page.locator(TITLES)).to_have_count(4)

    crash, typo = triage[1], triage[2]
    search(page, f"#{crash.pk}")
    expect(page.locator(TITLES)).to_have_text(["Crash on save"])
    # It should keep the search in the box (and the URL), so that the user sees what was asked.
    expect(page.get_by_role("searchbox", name="Search")).to_have_value(f"#{crash.pk}")

    search(page, f"bug #{typo.pk}")
    expect(page.locator(TITLES)).to_have_text(["Typo in footer"])

    # A number no artifact has: an empty list that says so, not every artifact.
    search(page, f"#{max(a.pk for a in triage) + 1000}")
    expect(page.locator(TITLES)).to_have_count(0)
    expect(page.locator("#no-match")).to_be_visible()


def test_a_member_saves_a_query_and_opens_it_after_a_reload(
    live_server, browser_page, bugs: Tracker, triage: list[Artifact], bob: User
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    log_in(page, live_server.url, "bob")
    list_url = f"{live_server.url}/trackers/{bugs.pk}/"
    page.goto(list_url)
    page.get_by_text("Filters and columns").click()
    page.get_by_label("State").select_option(label="Open")
    page.get_by_label("Assignee").select_option(label="Bob (bob)")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(TITLES)).to_have_text(["Login fails"])

    page.get_by_label("Save this query as").fill("My open bugs")
    page.get_by_label("for the project").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Query “My open bugs” saved.")).to_be_visible()
    assert SavedQuery.objects.get(name="My open bugs").shared

    # Back to the unfiltered list, as after a new visit: the saved query is offered there.
    page.goto(list_url)
    page.reload()
    expect(page.locator(TITLES)).to_have_count(4)
    page.locator("#saved-queries").get_by_role("link", name="My open bugs").click()
    expect(page.locator(TITLES)).to_have_text(["Login fails"])
    expect(page.get_by_label("Assignee")).to_have_value(str(bob.pk))

    # Carol, another member, opens the project query: the same artifacts, the same filter on the form.
    page.context.clear_cookies()
    log_in(page, live_server.url, "carol")
    page.goto(list_url)
    saved = page.locator("#saved-queries")
    expect(saved).to_contain_text("(project, bob)")
    # Only its owner may delete it.
    expect(saved.get_by_role("button", name="Delete the saved query My open bugs")).to_have_count(0)
    saved.get_by_role("link", name="My open bugs").click()
    expect(page.locator(TITLES)).to_have_text(["Login fails"])
