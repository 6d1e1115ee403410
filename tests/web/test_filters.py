"""The tracker page's filters: in the URL, kept across pages and sorts, explained when wrong."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from tests.conftest import PASSWORD
from tests.support.browser import chromium_marks
from tracker.models import Artifact, Tracker, User
from tracker.services.artifacts import create_artifact


def page_for(client, tracker: Tracker, query: str = ""):
    return client.get(f"{reverse('tracker:tracker-detail', args=[tracker.pk])}?{query}")


def listed(response) -> list[str]:
    return re.findall(r'<td class="title"><a href="[^"]+">([^<]*)</a>', response.content.decode())


@pytest.fixture
def triage(bugs: Tracker, alice: User, bob: User, carol: User) -> list[Artifact]:
    values = [
        {"title": "Login fails", "status": "New", "assigned_to": bob.pk},
        {"title": "Crash on save", "status": "In progress", "assigned_to": carol.pk},
        {"title": "Typo in footer", "status": "Done", "assigned_to": bob.pk},
        {"title": "Dark theme"},
    ]
    return [create_artifact(bugs, author=alice, values=v, notify=False).artifact for v in values]


def test_filters_in_the_url_choose_the_artifacts(client_as, bugs: Tracker, triage, bob: User) -> None:
    client = client_as(bob)
    assert listed(page_for(client, bugs, "state=open&assignee=me")) == ["Login fails"]
    assert listed(page_for(client, bugs, "assignee=nobody")) == ["Dark theme"]
    assert listed(page_for(client, bugs, "state=closed")) == ["Typo in footer"]
    assert listed(page_for(client, bugs, f"q=%23{triage[1].pk}")) == ["Crash on save"]


def test_the_calendars_last_day_as_a_bound_lists_every_artifact(
    client_as, bugs: Tracker, triage, bob
) -> None:
    client = client_as(bob)
    everything = sorted(listed(page_for(client, bugs)))
    assert len(everything) == len(triage)
    for query in ("submitted_before=9999-12-31", "updated_before=9999-12-31&updated_after=0001-01-01"):
        response = page_for(client, bugs, query)
        assert response.status_code == 200, query
        assert sorted(listed(response)) == everything


def test_the_form_shows_what_the_url_chose(client_as, bugs: Tracker, triage, bob: User) -> None:
    page = page_for(client_as(bob), bugs, "state=open&assignee=me").content.decode()
    # It should open the filters and select the URL's choices, so that "Apply" keeps them.
    assert '<details class="filters" open>' in page
    assert '<option value="open" selected>Open</option>' in page
    assert '<option value="me" selected>Me</option>' in page
    assert 'id="clear-filters"' in page


def test_pages_and_sort_links_keep_the_filters(client_as, bugs: Tracker, alice: User, bob: User) -> None:
    for number in range(51):
        create_artifact(bugs, author=alice, values={"title": f"Open {number}", "status": "New"}, notify=False)
    create_artifact(bugs, author=alice, values={"title": "Closed one", "status": "Done"}, notify=False)
    client = client_as(bob)
    first = page_for(client, bugs, "state=open&sort=title").content.decode()
    assert "Page 1 of 2 · 51 artifacts" in first
    next_link = html.unescape(re.search(r'rel="next" href="([^"]+)"', first).group(1))
    assert "state=open" in next_link and "sort=title" in next_link and "page=2" in next_link
    second = client.get(f"{reverse('tracker:tracker-detail', args=[bugs.pk])}{next_link}")
    assert listed(second) == ["Open 9"]  # by title: "Open 0", "Open 1", "Open 10", ... "Open 9" last
    sort_link = html.unescape(re.search(r'class="sort-link" href="([^"]+)">Title', first).group(1))
    assert "state=open" in sort_link and "sort=-title" in sort_link and "page" not in sort_link


def test_bad_filters_are_explained_on_the_page(client_as, bugs: Tracker, triage, bob: User) -> None:
    response = page_for(client_as(bob), bugs, "assignee=%3Cscript%3E&updated_after=tomorrow")
    assert response.status_code == 400
    page = response.content.decode()
    assert "These filters cannot be used" in page
    assert "No user is named &#x27;&lt;script&gt;&#x27;" in page
    assert "<script>" not in page.split("</header>", 1)[-1]
    assert "use YYYY-MM-DD" in page
    # It should not show a list that ignored the bad filter.
    assert listed(response) == []


def test_a_bad_sort_falls_back_to_the_default_with_a_note(
    client_as, bugs: Tracker, triage, bob: User
) -> None:
    response = page_for(client_as(bob), bugs, "sort=nonsense")
    assert response.status_code == 200
    assert "Cannot sort by &#x27;nonsense&#x27;" in response.content.decode()
    assert listed(response) == ["Dark theme", "Typo in footer", "Crash on save", "Login fails"]


def test_a_field_id_written_in_other_digits_is_a_clear_error(
    client_as, bugs: Tracker, triage, bob: User
) -> None:
    # str.isdigit() accepts both; int() refuses "²" (it was a 500) and reads "٣" as 3.
    for name in ("field_²", "field_٣"):
        response = page_for(client_as(bob), bugs, f"{name}=1")
        assert response.status_code == 400, name
        assert "This tracker has no select field with this id." in response.content.decode()


def test_columns_can_be_chosen(client_as, bugs: Tracker, triage, bob: User) -> None:
    page = page_for(client_as(bob), bugs, "columns=submitter&columns=submitted").content.decode()
    headers = re.findall(r'class="sort-link" href="[^"]+">([^<▲▼]+)', page)
    assert [h.strip() for h in headers] == ["ID", "Title", "Submitted by", "Submitted on"]
    assert page.count(">alice<") == 4
    default = page_for(client_as(bob), bugs).content.decode()
    assert [h.strip() for h in re.findall(r'<th scope="col"[^>]*>\s*(?:<a[^>]+>)?([^<▲▼]+)', default)] == [
        "ID",
        "Title",
        "Status",
        "Assigned to",
        "Last update",
    ]


def test_a_search_that_matches_nothing_says_so(client_as, bugs: Tracker, triage, bob: User) -> None:
    page = page_for(client_as(bob), bugs, "q=%3Cb%3Ezebra").content.decode()
    assert "No artifact matches “&lt;b&gt;zebra”." in page


def test_an_outsider_gets_a_404_whatever_the_filters(
    client_as, tasks: Tracker, alice: User, dave: User
) -> None:
    create_artifact(tasks, author=alice, values={"title": "Secret plan"})
    assert page_for(client_as(dave), tasks, "q=secret&state=open").status_code == 404


# In Chromium -------------------------------------------------------------------------------------


@pytest.fixture
def browser_page(monkeypatch: pytest.MonkeyPatch):
    from tests.support.browser import chromium_page

    with chromium_page(monkeypatch, timeout_ms=20_000) as page:
        yield page


def in_chromium(test):
    """The browser marks of tests.support.browser, on one test of this module."""
    for mark in chromium_marks():
        test = mark(test)
    return test


@in_chromium
def test_a_member_filters_by_status_and_assignee_and_shares_the_url(
    live_server, browser_page, bugs: Tracker, triage, bob: User, carol: User
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/trackers/{bugs.pk}/")
    expect(page.locator("#artifact-list td.title")).to_have_count(4)

    # It should filter with the form alone (no script needed): two statuses, one assignee.
    page.get_by_text("Filters and columns").click()
    page.get_by_label("New", exact=True).check()
    page.get_by_label("Done", exact=True).check()
    page.get_by_label("Assignee").select_option(label="Bob (bob)")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#artifact-list td.title")).to_have_text(["Typo in footer", "Login fails"])
    shared = page.url
    assert "assignee=" in shared and shared.count("status=") == 2

    # Carol opens the shared link: the same artifacts, and the form shows the same choices.
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(shared)
    expect(page.locator("#artifact-list td.title")).to_have_text(["Typo in footer", "Login fails"])
    expect(page.get_by_label("New", exact=True)).to_be_checked()
    expect(page.get_by_label("In progress", exact=True)).not_to_be_checked()
    expect(page.get_by_label("Assignee")).to_have_value(str(bob.pk))
    page.reload()
    expect(page.locator("#artifact-list td.title")).to_have_text(["Typo in footer", "Login fails"])


@in_chromium
def test_the_open_filters_fit_a_phone_screen(
    live_server, browser_page, bugs: Tracker, triage, bob: User
) -> None:
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/trackers/{bugs.pk}/?state=open&columns=submitter&columns=submitted")
    # It should open the filters (the URL has some) and not scroll sideways.
    assert page.locator("details.filters").get_attribute("open") is not None
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path="/tmp/filters-390.png", full_page=True)
