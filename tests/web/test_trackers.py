"""The tracker page (artifact list), creating trackers, and tracker administration."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from tracker.models import (
    Artifact,
    Field,
    FieldType,
    JiraImport,
    NotificationListEntry,
    Project,
    Tracker,
    User,
)
from tracker.services.artifacts import create_artifact


def titles_on(page: str, artifacts: list[Artifact]) -> list[str]:
    """The given artifacts' titles in the order the page shows them."""
    found = [(page.index(f">{a.title}<"), a.title) for a in artifacts if f">{a.title}<" in page]
    return [title for _, title in sorted(found)]


@pytest.fixture
def three_bugs(bugs: Tracker, alice: User) -> list[Artifact]:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    made = []
    for number, title in enumerate(["Alpha crash", "Beta typo", "Gamma crash"]):
        made.append(
            create_artifact(
                bugs, author=alice, values={"title": title}, submitted_on=start + dt.timedelta(days=number)
            ).artifact
        )
    return made


def test_the_tracker_page_lists_artifacts_newest_first_with_a_new_artifact_button(
    client_as, bugs: Tracker, three_bugs: list[Artifact], bob: User
) -> None:
    page = client_as(bob).get(reverse("tracker:tracker-detail", args=[bugs.pk])).content.decode()
    assert titles_on(page, three_bugs) == ["Gamma crash", "Beta typo", "Alpha crash"]
    assert "New artifact" in page


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("id", ["Alpha crash", "Beta typo", "Gamma crash"]),
        ("-id", ["Gamma crash", "Beta typo", "Alpha crash"]),
        ("updated", ["Beta typo", "Gamma crash", "Alpha crash"]),
        ("-updated", ["Alpha crash", "Gamma crash", "Beta typo"]),
        # Anything else falls back to the default order.
        ("title; DROP TABLE", ["Gamma crash", "Beta typo", "Alpha crash"]),
    ],
)
def test_artifacts_sort_by_id_and_last_update(
    client_as,
    bugs: Tracker,
    three_bugs: list[Artifact],
    alice: User,
    bob: User,
    sort: str,
    expected: list[str],
) -> None:
    from tracker.services.artifacts import update_artifact

    # Alpha was updated last, then Gamma; Beta was never updated.
    update_artifact(
        three_bugs[2], author=alice, comment="later", submitted_on=dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    )
    update_artifact(
        three_bugs[0], author=alice, comment="latest", submitted_on=dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    )
    response = client_as(bob).get(reverse("tracker:tracker-detail", args=[bugs.pk]), {"sort": sort})
    assert response.status_code == 200
    assert titles_on(response.content.decode(), three_bugs) == expected


def test_search_filters_on_the_title(client_as, bugs: Tracker, three_bugs: list[Artifact], bob: User) -> None:
    url = reverse("tracker:tracker-detail", args=[bugs.pk])
    page = client_as(bob).get(url, {"q": "CRASH"}).content.decode()
    assert titles_on(page, three_bugs) == ["Gamma crash", "Alpha crash"]
    page = client_as(bob).get(url, {"q": "<script>"}).content.decode()
    assert "No artifact matches “&lt;script&gt;”." in page


def test_artifacts_are_paginated_by_50_and_bad_page_numbers_are_no_error(
    client_as, bugs: Tracker, alice: User, bob: User
) -> None:
    for number in range(51):
        create_artifact(bugs, author=alice, values={"title": f"Bug number {number}"}, notify=False)
    client = client_as(bob)
    url = reverse("tracker:tracker-detail", args=[bugs.pk])
    first = client.get(url).content.decode()
    assert first.count('<td class="title">') == 50
    assert "Page 1 of 2" in first
    assert client.get(url, {"page": 2}).content.decode().count('<td class="title">') == 1
    for bad in ("abc", "-1", "0", "999", "1e9"):
        response = client.get(url, {"page": bad})
        assert response.status_code == 200


def test_a_public_tracker_is_readable_without_the_new_artifact_button_for_non_members(
    client_as, bugs: Tracker, three_bugs: list[Artifact], dave: User
) -> None:
    response = client_as(dave).get(reverse("tracker:tracker-detail", args=[bugs.pk]))
    assert response.status_code == 200
    assert "Alpha crash" in response.content.decode()
    assert "New artifact" not in response.content.decode()


def test_a_private_tracker_is_a_404_for_outsiders(client_as, tasks: Tracker, dave: User) -> None:
    assert client_as(dave).get(reverse("tracker:tracker-detail", args=[tasks.pk])).status_code == 404


@pytest.mark.parametrize("path", ["/trackers/abc/", "/trackers/99999999999999999999999999/", "/trackers/-1/"])
def test_malformed_ids_are_a_404(client_as, bob: User, path: str) -> None:
    assert client_as(bob).get(path).status_code == 404


# Creating trackers -------------------------------------------------------------------------------


def test_an_admin_creates_a_tracker_with_the_default_fields(
    client_as, public_project: Project, alice: User
) -> None:
    url = reverse("tracker:tracker-create", args=["demo"])
    response = client_as(alice).post(
        url, {"name": "Stories", "shortname": "story", "color": "#aa3300", "description": "User stories"}
    )
    tracker = Tracker.objects.get(project=public_project, shortname="story")
    assert response["Location"] == reverse("tracker:tracker-detail", args=[tracker.pk])
    assert tracker.color == "#aa3300"
    assert [f.name for f in tracker.fields.order_by("rank")] == [
        "title",
        "description",
        "status",
        "assigned_to",
        "cc",
    ]


def test_the_creation_page_offers_a_blank_tracker_or_a_jira_import(
    client_as, public_project: Project, alice: User
) -> None:
    page = client_as(alice).get(reverse("tracker:tracker-create", args=["demo"])).content.decode()
    assert "Blank tracker" in page
    assert f'href="{reverse("tracker:jira-import-start", args=["demo"])}"' in page


def test_a_duplicate_short_name_or_name_is_a_form_error(client_as, bugs: Tracker, alice: User) -> None:
    url = reverse("tracker:tracker-create", args=["demo"])
    response = client_as(alice).post(url, {"name": "bugs", "shortname": "bug", "color": "#1f77b4"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "This project already has a tracker with this short name." in page
    assert "This project already has a tracker with this name." in page


def test_names_reserved_by_a_jira_import_in_progress_are_a_form_error(
    client_as, public_project: Project, alice: User
) -> None:
    JiraImport.objects.create(
        project=public_project,
        requested_by=alice,
        jira_url="https://jira.example.com",
        jira_project_key="WEB",
        issue_type_id="1",
        issue_type_name="Bug",
        tracker_name="Web bugs",
        tracker_shortname="webbug",
    )
    url = reverse("tracker:tracker-create", args=["demo"])
    response = client_as(alice).post(url, {"name": "Web bugs", "shortname": "webbug", "color": "#1f77b4"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "A Jira import in progress is creating a tracker with this name." in page
    assert "A Jira import in progress is creating a tracker with this short name." in page
    assert not Tracker.objects.filter(shortname="webbug").exists()


def test_a_bad_color_is_a_form_error(client_as, public_project: Project, alice: User) -> None:
    url = reverse("tracker:tracker-create", args=["demo"])
    response = client_as(alice).post(url, {"name": "X", "shortname": "x", "color": "red;}"})
    assert response.status_code == 200
    assert "Use a color like #1f77b4." in response.content.decode()


def test_plain_members_cannot_create_trackers(client_as, public_project: Project, bob: User) -> None:
    url = reverse("tracker:tracker-create", args=["demo"])
    assert client_as(bob).get(url).status_code == 403
    assert client_as(bob).post(url, {"name": "X", "shortname": "x", "color": "#000000"}).status_code == 403
    assert not Tracker.objects.filter(shortname="x").exists()


# Tracker administration -----------------------------------------------------------------------------


def test_an_admin_adds_a_select_field_and_its_values(client_as, bugs: Tracker, alice: User) -> None:
    admin = client_as(alice)
    response = admin.post(
        reverse("tracker:field-create", args=[bugs.pk]),
        {"label": "Severity", "name": "severity", "type": FieldType.SELECT, "required": "on"},
    )
    severity = Field.objects.get(tracker=bugs, name="severity")
    # A select field goes straight to its page, to give it values.
    assert response["Location"] == reverse("tracker:field-edit", args=[severity.pk])
    assert severity.required
    assert severity.rank > Field.objects.get(tracker=bugs, name="cc").rank
    admin.post(reverse("tracker:field-option-create", args=[severity.pk]), {"label": "Major"})
    response = admin.post(reverse("tracker:field-option-create", args=[severity.pk]), {"label": "major"})
    assert response.status_code == 200
    assert "&#x27;major&#x27; is already a value of this field." in response.content.decode()
    assert [o.label for o in severity.options.all()] == ["Major"]
    # The new field appears on the artifact form.
    page = admin.get(reverse("tracker:artifact-create", args=[bugs.pk])).content.decode()
    assert 'name="severity"' in page and ">Major</option>" in page


def test_a_duplicate_or_reserved_field_name_is_a_form_error(client_as, bugs: Tracker, alice: User) -> None:
    url = reverse("tracker:field-create", args=[bugs.pk])
    response = client_as(alice).post(url, {"label": "Title again", "name": "title", "type": FieldType.STRING})
    assert response.status_code == 200
    assert "This tracker already has a field named &#x27;title&#x27;." in response.content.decode()
    response = client_as(alice).post(url, {"label": "Comment", "name": "comment", "type": FieldType.TEXT})
    assert "is reserved by the artifact form" in response.content.decode()


def test_fields_move_up_and_down(client_as, bugs: Tracker, alice: User) -> None:
    admin = client_as(alice)
    status = Field.objects.get(tracker=bugs, name="status")
    admin.post(reverse("tracker:field-move", args=[status.pk]), {"direction": "up"})
    assert [f.name for f in bugs.fields.order_by("rank")] == [
        "title",
        "status",
        "description",
        "assigned_to",
        "cc",
    ]
    admin.post(reverse("tracker:field-move", args=[status.pk]), {"direction": "down"})
    admin.post(reverse("tracker:field-move", args=[status.pk]), {"direction": "down"})
    assert [f.name for f in bugs.fields.order_by("rank")] == [
        "title",
        "description",
        "assigned_to",
        "status",
        "cc",
    ]
    # Moving the last one down changes nothing.
    cc = Field.objects.get(tracker=bugs, name="cc")
    admin.post(reverse("tracker:field-move", args=[cc.pk]), {"direction": "down"})
    assert [f.name for f in bugs.fields.order_by("rank")][-1] == "cc"


def test_an_admin_edits_a_user_field_notify_flag(client_as, bugs: Tracker, alice: User) -> None:
    assigned = Field.objects.get(tracker=bugs, name="assigned_to")
    client_as(alice).post(
        reverse("tracker:field-edit", args=[assigned.pk]), {"label": "Owner", "help_text": "Who works on it"}
    )
    assigned.refresh_from_db()
    assert assigned.label == "Owner"
    assert not assigned.notify
    # The notify flag is offered only for user fields.
    description = Field.objects.get(tracker=bugs, name="description")
    page = client_as(alice).get(reverse("tracker:field-edit", args=[description.pk])).content.decode()
    assert 'name="notify"' not in page


def test_the_notification_list_takes_members_and_plain_addresses(
    client_as, bugs: Tracker, alice: User, carol: User, dave: User
) -> None:
    admin = client_as(alice)
    url = reverse("tracker:notification-add", args=[bugs.pk])
    admin.post(url, {"identifier": "carol"})
    admin.post(url, {"identifier": "qa-team@example.org", "on_creation_only": "on"})
    entries = {str(e): e for e in NotificationListEntry.objects.filter(tracker=bugs)}
    assert entries["Carol"].user == carol
    assert entries["qa-team@example.org"].on_creation_only
    page = admin.get(reverse("tracker:tracker-admin", args=[bugs.pk])).content.decode()
    assert "Carol (carol)" in page and "qa-team@example.org" in page and "On creation only" in page
    assert "waiting for confirmation" in page

    response = admin.post(url, {"identifier": "not an address"})
    assert response.status_code == 200
    assert "No active user is named &#x27;not an address&#x27;" in response.content.decode()
    response = admin.post(url, {"identifier": "carol"})
    assert "Carol (carol) is already on the notification list." in response.content.decode()
    # Only members: anyone else would get mail a project administrator wrote for them.
    response = admin.post(url, {"identifier": "dave"})
    assert "Dave (dave) is not a member of this project" in response.content.decode()

    admin.post(reverse("tracker:notification-remove", args=[entries["Carol"].pk]))
    assert list(NotificationListEntry.objects.filter(tracker=bugs).values_list("email", flat=True)) == [
        "qa-team@example.org"
    ]


def test_tracker_administration_is_for_project_admins(
    client_as, bugs: Tracker, tasks: Tracker, bob: User, dave: User
) -> None:
    status = Field.objects.get(tracker=bugs, name="status")
    member = client_as(bob)
    assert member.get(reverse("tracker:tracker-admin", args=[bugs.pk])).status_code == 403
    assert (
        member.post(reverse("tracker:field-move", args=[status.pk]), {"direction": "down"}).status_code == 403
    )
    assert (
        member.post(
            reverse("tracker:notification-add", args=[bugs.pk]), {"identifier": "x@y.org"}
        ).status_code
        == 403
    )
    assert (
        member.post(
            reverse("tracker:field-option-create", args=[status.pk]), {"label": "Won't fix"}
        ).status_code
        == 403
    )
    # Outsiders of a private project do not even learn that it exists.
    assert client_as(dave).get(reverse("tracker:tracker-admin", args=[tasks.pk])).status_code == 404
    assert not NotificationListEntry.objects.exists()


def test_site_admins_may_administer_any_tracker(client_as, tasks: Tracker, admin_user: User) -> None:
    assert client_as(admin_user).get(reverse("tracker:tracker-admin", args=[tasks.pk])).status_code == 200


@pytest.mark.parametrize("url_name", ["tracker:field-create", "tracker:notification-add"])
def test_reloading_a_tracker_admin_form_after_an_error_shows_the_admin_page(
    client_as, bugs: Tracker, alice: User, url_name: str
) -> None:
    admin = client_as(alice)
    url = reverse(url_name, args=[bugs.pk])
    assert admin.post(url, {}).status_code == 200  # the error, shown at the form's own URL

    # It should answer GET there (a reload, the address bar) with the page, not a blank 405.
    response = admin.get(url, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain == [(reverse("tracker:tracker-admin", args=[bugs.pk]), 302)]
    assert "Add a field" in response.content.decode()


def test_reloading_the_add_a_value_form_shows_the_field_page(client_as, bugs: Tracker, alice: User) -> None:
    status = Field.objects.get(tracker=bugs, name="status")
    response = client_as(alice).get(reverse("tracker:field-option-create", args=[status.pk]), follow=True)

    assert response.redirect_chain == [(reverse("tracker:field-edit", args=[status.pk]), 302)]
    assert "Add a value" in response.content.decode()


def test_the_admin_form_urls_still_refuse_outsiders_on_get(client_as, bugs: Tracker, carol: User) -> None:
    outsider = client_as(carol)  # a member, not an administrator
    status = Field.objects.get(tracker=bugs, name="status")

    assert outsider.get(reverse("tracker:field-create", args=[bugs.pk])).status_code == 403
    assert outsider.get(reverse("tracker:field-option-create", args=[status.pk])).status_code == 403


def test_the_new_value_label_points_at_the_new_value_box(client_as, bugs: Tracker, alice: User) -> None:
    status = Field.objects.get(tracker=bugs, name="status")
    page = client_as(alice).get(reverse("tracker:field-edit", args=[status.pk])).content.decode()

    # Each id once, and "New value" labels the option box, not the field's own Label box.
    assert page.count('id="id_label"') == 1
    assert '<label for="id_option_label">New value' in page
    assert 'id="id_option_label"' in page


def test_usernames_on_the_notification_list_are_found_whatever_their_case(
    client_as, bugs: Tracker, alice: User, carol: User
) -> None:
    response = client_as(alice).post(
        reverse("tracker:notification-add", args=[bugs.pk]), {"identifier": " CAROL "}, follow=True
    )

    assert "Carol (carol) added to the notification list." in response.content.decode()
    assert NotificationListEntry.objects.get(tracker=bugs).user == carol


def test_two_accounts_differing_in_case_only_are_not_guessed(
    client_as, bugs: Tracker, alice: User, carol: User
) -> None:

    User.objects.create_user("Carol", "other.carol@example.com")  # usernames are unique as typed
    admin = client_as(alice)
    url = reverse("tracker:notification-add", args=[bugs.pk])

    assert (
        "No active user is named &#x27;CAROL&#x27;"
        in admin.post(url, {"identifier": "CAROL"}).content.decode()
    )
    admin.post(url, {"identifier": "carol"})  # the exact one is still found
    assert NotificationListEntry.objects.get(tracker=bugs).user == carol


def test_removing_a_notification_list_entry_asks_first(
    client_as, bugs: Tracker, alice: User, carol: User, bob: User
) -> None:
    admin = client_as(alice)
    admin.post(reverse("tracker:notification-add", args=[bugs.pk]), {"identifier": "carol"})
    entry = NotificationListEntry.objects.get(tracker=bugs)
    url = reverse("tracker:notification-remove", args=[entry.pk])

    page = admin.get(url).content.decode()
    assert "Remove Carol from the notification list of Bugs?" in page
    assert NotificationListEntry.objects.filter(pk=entry.pk).exists()
    assert client_as(bob).get(url).status_code == 403  # a member, not an administrator

    admin.post(url)
    assert not NotificationListEntry.objects.filter(pk=entry.pk).exists()
