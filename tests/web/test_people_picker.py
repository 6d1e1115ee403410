"""People pickers: the permission-checked search behind them, the forms that use them, and the widget
in Chromium (with and without JavaScript)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD, make_user
from tests.support.browser import chromium_marks, chromium_page
from tracker.models import Artifact, Project, Tracker, User
from tracker.services.people_search import MAX_RESULTS
from tracker.services.projects import set_member
from tracker.web.people import SEARCHES_PER_MINUTE

SEARCH = reverse("tracker:people-search")


def search(client: Client, project: Project, purpose: str, q: str) -> Any:
    return client.get(SEARCH, {"project": project.pk, "purpose": purpose, "q": q})


def usernames(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [person["username"] for person in response.json()["results"]]


def cc_of(artifact: Artifact) -> list[int]:
    cc = artifact.tracker.fields.get(name="cc")
    return artifact.current_values.get(str(cc.pk)) or []


# Who may ask ------------------------------------------------------------------------------------


def test_an_anonymous_visitor_is_sent_to_the_login_page(public_project: Project) -> None:
    response = search(Client(), public_project, "cc", "ca")
    assert response.status_code == 302 and response["Location"].startswith(reverse("tracker:login"))


def test_a_non_member_of_a_private_project_learns_nothing(
    client_as, private_project: Project, carol: User, dave: User
) -> None:
    # It should answer as for a project that does not exist, and name nobody.
    for user in (carol, dave):
        response = search(client_as(user), private_project, "cc", "bo")
        assert response.status_code == 404
        assert b"bob" not in response.content


def test_a_reader_who_may_not_edit_artifacts_gets_403(client_as, public_project: Project, dave: User) -> None:
    # dave reads the public project but is no member: he never sees its artifact form.
    response = search(client_as(dave), public_project, "cc", "ca")
    assert response.status_code == 403 and b"carol" not in response.content


def test_only_project_administrators_search_for_members_and_notification_lists(
    client_as, public_project: Project, bob: User
) -> None:
    for purpose in ("member", "notification_list"):
        response = search(client_as(bob), public_project, purpose, "da")
        assert response.status_code == 403


def test_bad_requests_get_a_clear_400(client_as, public_project: Project, bob: User) -> None:
    client = client_as(bob)
    cases = [
        ({"project": public_project.pk, "purpose": "cc", "q": "c"}, "at least 2"),
        ({"project": public_project.pk, "purpose": "cc", "q": "  c  "}, "at least 2"),
        ({"project": public_project.pk, "purpose": "cc", "q": "x" * 151}, "at most 150"),
        ({"project": public_project.pk, "purpose": "everyone", "q": "ca"}, "Unknown purpose"),
        ({"project": "demo", "purpose": "cc", "q": "ca"}, "project's id"),
        ({"project": "²", "purpose": "cc", "q": "ca"}, "project's id"),
        ({"purpose": "cc", "q": "ca"}, "project's id"),
    ]
    for params, message in cases:
        response = client.get(SEARCH, params)
        assert response.status_code == 400 and message in response.json()["error"], params
    assert client.get(SEARCH, {"project": 9 * 10**17, "purpose": "cc", "q": "ca"}).status_code == 404
    assert client.post(SEARCH, {"project": public_project.pk}).status_code == 405


def test_an_account_gets_429_after_sixty_searches_a_minute_and_others_do_not(
    client_as, public_project: Project, bob: User, carol: User
) -> None:
    client = client_as(bob)
    for _ in range(SEARCHES_PER_MINUTE - 1):
        assert search(client, public_project, "cc", "ca").status_code == 200
    # Bad requests count too: probing project ids is enumerating as well.
    assert client.get(SEARCH, {"purpose": "cc", "q": "ca"}).status_code == 400
    # It should refuse the next one, in JSON, saying when to come back, and name nobody.
    refused = search(client, public_project, "cc", "ca")
    assert refused.status_code == 429
    assert refused.json() == {"error": refused.json()["error"]}
    assert "at most 60 a minute" in refused.json()["error"]
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert b'carol"' not in refused.content
    # Another account is counted apart.
    assert usernames(search(client_as(carol), public_project, "cc", "bo")) == ["bob"]


# Who may be named -------------------------------------------------------------------------------


def test_user_fields_offer_the_projects_active_members_and_site_admins_only(
    client_as,
    public_project: Project,
    private_project: Project,
    bob: User,
    carol: User,
    dave: User,
    admin_user: User,
) -> None:
    gone = make_user("cara", is_active=False)
    set_member(public_project, gone)
    client = client_as(bob)
    # It should find carol in the public project (case-insensitively, by username or first name)...
    assert usernames(search(client, public_project, "cc", "ca")) == ["carol"]
    assert usernames(search(client, public_project, "assignee", "CAR")) == ["carol"]
    # ...never dave (no member), nor an inactive member, nor carol where she is no member.
    assert usernames(search(client, public_project, "cc", "da")) == []
    assert usernames(search(client, private_project, "cc", "ca")) == []
    # Site admins may always be named (permissions.nameable_users).
    assert usernames(search(client, private_project, "cc", "ro")) == ["root"]


def test_matching_is_on_the_start_of_a_username_or_a_name(
    client_as, public_project: Project, bob: User
) -> None:
    erin = make_user("erin", last_name="Lovelace")
    set_member(public_project, erin)
    client = client_as(bob)
    assert usernames(search(client, public_project, "cc", "lov")) == ["erin"]
    assert usernames(search(client, public_project, "cc", "erin lo")) == ["erin"]
    # Not a substring: "rin" is inside "erin" but starts nothing.
    assert usernames(search(client, public_project, "cc", "rin")) == []


def test_a_user_field_search_never_matches_nor_shows_an_email_address(
    client_as, public_project: Project, bob: User, carol: User
) -> None:
    client = client_as(bob)
    assert usernames(search(client, public_project, "cc", "carol@")) == []
    response = search(client, public_project, "cc", "ca")
    assert response.json()["results"] == [{"id": carol.pk, "username": "carol", "label": "Carol (carol)"}]
    assert b"@" not in response.content


def test_the_member_form_finds_active_accounts_not_yet_members_by_username_or_name_only(
    client_as, public_project: Project, alice: User, dave: User
) -> None:
    make_user("dan", is_active=False)
    client = client_as(alice)
    # It should offer dave (no member yet), not bob (already one), nor an inactive account.
    assert usernames(search(client, public_project, "member", "da")) == ["dave"]
    assert usernames(search(client, public_project, "member", "bo")) == []
    # An address tells nothing about who has an account (tracker/services/memberships.py).
    assert usernames(search(client, public_project, "member", "dave@")) == []
    assert b"@" not in search(client, public_project, "member", "da").content


def test_the_notification_list_offers_members_also_by_email_prefix(
    client_as, public_project: Project, alice: User, carol: User, dave: User
) -> None:
    client = client_as(alice)
    assert usernames(search(client, public_project, "notification_list", "ca")) == ["carol"]
    assert usernames(search(client, public_project, "notification_list", "Carol@Ex")) == ["carol"]
    assert usernames(search(client, public_project, "notification_list", "da")) == []
    assert usernames(search(client, public_project, "notification_list", "dave@")) == []


def test_at_most_twenty_people_in_a_bounded_number_of_queries(
    client_as, public_project: Project, bob: User, django_assert_max_num_queries
) -> None:
    for number in range(MAX_RESULTS + 10):
        set_member(public_project, make_user(f"user{number:02}"))
    client = client_as(bob)
    client.get(SEARCH)  # the session's user is loaded once
    # The session, the user, the project, the asker's role, the search: whatever the people's number.
    with django_assert_max_num_queries(5):
        found = usernames(search(client, public_project, "cc", "us"))
    assert len(found) == MAX_RESULTS == 20
    assert found == sorted(found) and found[0] == "user00"


# The forms, with and without the widget ---------------------------------------------------------


def test_the_forms_carry_the_picker_and_its_script(
    client_as, bugs: Tracker, public_project: Project, alice: User
) -> None:
    client = client_as(alice)
    url = f"{SEARCH}?project={public_project.pk}&amp;purpose="
    artifact_form = client.get(reverse("tracker:artifact-create", args=[bugs.pk])).content.decode()
    assert re.search(rf'<select name="cc"[^>]*data-autocomplete-url="{re.escape(url)}cc"', artifact_form)
    assert re.search(
        rf'<select name="assigned_to"[^>]*data-autocomplete-url="{re.escape(url)}assignee"', artifact_form
    )
    members = client.get(reverse("tracker:project-members", args=[public_project.shortname])).content.decode()
    assert re.search(rf'name="identifier"[^>]*data-autocomplete-url="{re.escape(url)}member"', members)
    admin = client.get(reverse("tracker:tracker-admin", args=[bugs.pk])).content.decode()
    assert re.search(
        rf'name="identifier"[^>]*data-autocomplete-url="{re.escape(url)}notification_list"', admin
    )
    for page in (artifact_form, members, admin):
        assert "vendor/tom-select/tom-select.complete.min.js" in page and "js/pickers.js" in page
        assert "<script>" not in page  # the CSP refuses inline scripts


def test_a_plain_post_still_names_the_cc_and_the_server_still_refuses_a_stranger(
    client_as, bugs: Tracker, bob: User, carol: User, dave: User
) -> None:
    client = client_as(bob)
    url = reverse("tracker:artifact-create", args=[bugs.pk])
    response = client.post(url, {"title": "Named", "cc": [str(carol.pk)]})
    assert response.status_code == 302
    assert cc_of(Artifact.objects.get(title="Named")) == [carol.pk]
    # dave is not offered, and a hand-made post naming him is refused by the form.
    response = client.post(url, {"title": "Stranger", "cc": [str(dave.pk)]})
    assert response.status_code == 200 and not Artifact.objects.filter(title="Stranger").exists()


def test_the_member_form_still_takes_a_typed_username(
    client_as, public_project: Project, alice: User, dave: User
) -> None:
    url = reverse("tracker:project-members", args=[public_project.shortname])
    assert client_as(alice).post(url, {"identifier": "dave", "role": "member"}).status_code == 302
    assert public_project.memberships.filter(user=dave).exists()


# In Chromium -----------------------------------------------------------------------------------


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with chromium_page(monkeypatch, timeout_ms=20_000) as browser_page:
        yield browser_page


def log_in(page: Any, base_url: str, username: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()


def _chromium(test: Any) -> Any:
    """Marked browser, skipped where Debian's Chromium is missing (as test_browser.py's module)."""
    for mark in chromium_marks():
        test = mark(test)
    return test


@_chromium
def test_typing_a_prefix_in_the_cc_picker_names_that_person(
    live_server, page, bugs: Tracker, bob: User, carol: User
) -> None:
    from playwright.sync_api import expect

    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if message.type == "error" else None)
    log_in(page, live_server.url, "bob")
    page.goto(f"{live_server.url}/trackers/{bugs.pk}/artifacts/new/")
    page.get_by_label("Title").fill("Picked by prefix")

    # It should ask the endpoint as bob types, and list Carol.
    with page.expect_response(lambda r: "/people/" in r.url and "q=car" in r.url) as answer:
        page.get_by_role("combobox", name="CC").press_sequentially("car")
    assert answer.value.status == 200
    option = page.locator(".ts-dropdown .option", has_text="Carol (carol)")
    option.click()
    expect(page.locator(".ts-wrapper.multi .item", has_text="Carol (carol)")).to_be_visible()
    page.screenshot(path="/tmp/cc-picker.png", full_page=True)
    # The list stays open for another name; Escape closes it.
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Create artifact").click()

    expect(page).to_have_url(re.compile(r"/artifacts/\d+/$"))
    assert cc_of(Artifact.objects.get(title="Picked by prefix")) == [carol.pk]
    assert refused == []  # no Content-Security-Policy refusal, no script error


@_chromium
def test_without_javascript_the_cc_is_a_plain_select_that_works(
    live_server, page, bugs: Tracker, bob: User, carol: User
) -> None:
    from playwright.sync_api import expect

    context = page.context.browser.new_context(java_script_enabled=False)
    plain = context.new_page()
    log_in(plain, live_server.url, "bob")
    plain.goto(f"{live_server.url}/trackers/{bugs.pk}/artifacts/new/")
    plain.get_by_label("Title").fill("Picked without the widget")
    plain.get_by_label("CC").select_option(label="Carol (carol)")
    plain.get_by_role("button", name="Create artifact").click()
    expect(plain).to_have_url(re.compile(r"/artifacts/\d+/$"))
    assert cc_of(Artifact.objects.get(title="Picked without the widget")) == [carol.pk]
    context.close()


@_chromium
def test_an_administrator_picks_a_new_member_and_types_an_address_for_the_notification_list(
    live_server, page, bugs: Tracker, public_project: Project, alice: User, dave: User
) -> None:
    from playwright.sync_api import expect

    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/projects/{public_project.shortname}/members/")
    # It should offer dave, who has an account but is no member yet.
    with page.expect_response(lambda r: "purpose=member" in r.url and "q=da" in r.url):
        page.get_by_role("combobox", name="Username").press_sequentially("da")
    page.locator(".ts-dropdown .option", has_text="Dave (dave)").click()
    page.get_by_role("button", name="Add member").click()
    expect(page.locator(".messages")).to_contain_text("Dave (dave) is now a member of Demo.")
    assert public_project.memberships.filter(user=dave).exists()

    # An address is not a person the picker knows: typed and kept as it is.
    page.goto(f"{live_server.url}/trackers/{bugs.pk}/admin/")
    page.get_by_role("combobox", name="Member or email address").press_sequentially("qa-team@example.org")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Add to list").click()
    expect(page.locator(".messages")).to_contain_text("qa-team@example.org")
    assert bugs.notification_list.filter(email="qa-team@example.org").exists()
