"""/api/projects/{id}/trackers/ and /api/trackers/{id}/: reading and creating trackers and their fields."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import client_for
from tracker.models import Project, Tracker, User
from tracker.services.artifacts import create_artifact, update_artifact

TYPED_FIELDS: list[dict[str, Any]] = [
    {"name": "summary", "label": "Summary", "type": "string", "required": True, "is_title": True},
    {"name": "severity", "label": "Severity", "type": "sb", "options": ["Minor", "Major"]},
    {"name": "owner", "type": "user", "notify": True, "help_text": "Who fixes it"},
]


def test_readers_list_a_projects_trackers_with_their_fields(bugs: Tracker, dave: User) -> None:
    response = client_for(dave).get(f"/api/projects/{bugs.project_id}/trackers/")

    assert response.status_code == 200
    [tracker] = response.json()["results"]
    assert tracker["shortname"] == "bug"
    assert [f["name"] for f in tracker["fields"]] == ["title", "description", "status", "assigned_to", "cc"]
    status = next(f for f in tracker["fields"] if f["name"] == "status")
    assert status["type"] == "sb"
    assert status["options"] == ["New", "In progress", "Done"]


def test_tracker_detail_shows_each_fields_definition(bugs: Tracker, bob: User) -> None:
    response = client_for(bob).get(f"/api/trackers/{bugs.pk}/")

    assert response.status_code == 200
    title = response.json()["fields"][0]
    assert {k: title[k] for k in ("name", "label", "type", "required", "is_title", "notify")} == {
        "name": "title",
        "label": "Title",
        "type": "string",
        "required": True,
        "is_title": True,
        "notify": False,
    }
    assert response.json()["fields"][3]["notify"] is True  # assigned_to


def test_private_trackers_are_404_for_non_members(tasks: Tracker, carol: User) -> None:
    client = client_for(carol)

    assert client.get(f"/api/trackers/{tasks.pk}/").status_code == 404
    assert client.get(f"/api/trackers/{tasks.pk}/artifacts/").status_code == 404
    assert client.get(f"/api/projects/{tasks.project_id}/trackers/").status_code == 404


def test_admin_creates_a_tracker_with_default_fields(public_project: Project, alice: User) -> None:
    response = client_for(alice).post(
        f"/api/projects/{public_project.pk}/trackers/",
        {"name": "Stories", "shortname": "story", "color": "#123abc"},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["color"] == "#123abc"
    assert [f["name"] for f in response.json()["fields"]][:2] == ["title", "description"]
    assert Tracker.objects.filter(project=public_project, shortname="story").exists()


def test_admin_creates_a_tracker_with_its_own_fields(public_project: Project, alice: User) -> None:
    response = client_for(alice).post(
        f"/api/projects/{public_project.pk}/trackers/",
        {"name": "Incidents", "shortname": "inc", "fields": TYPED_FIELDS},
        format="json",
    )

    assert response.status_code == 201
    fields = {f["name"]: f for f in response.json()["fields"]}
    assert list(fields) == ["summary", "severity", "owner"]
    assert fields["severity"]["options"] == ["Minor", "Major"]
    assert fields["owner"]["label"] == "owner"  # the label defaults to the name
    assert fields["owner"]["notify"] is True
    assert fields["summary"]["is_title"] is True


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([{"name": "a", "type": "string"}], "exactly one"),
        ([{"name": "a", "type": "text", "is_title": True}], "must be a string field"),
        (
            [{"name": "a", "type": "string", "is_title": True}, {"name": "a", "type": "int"}],
            "unique: a",
        ),
        ([{"name": "a", "type": "string", "is_title": True, "options": ["x"]}], "Only select"),
        (
            [
                {"name": "t", "type": "string", "is_title": True},
                {"name": "s", "type": "sb", "options": ["X", "x"]},
            ],
            "unique",
        ),
        (
            [{"name": "t", "type": "string", "is_title": True}, {"name": "n", "type": "int", "notify": True}],
            "user",
        ),
        (
            [{"name": "t", "type": "string", "is_title": True}, {"name": "x", "type": "colour"}],
            "valid choice",
        ),
        (
            [{"name": "t", "type": "string", "is_title": True}, {"name": "comment", "type": "text"}],
            "reserved",
        ),
        ([], "at least"),
        ("title", "list"),
    ],
)
def test_invalid_field_definitions_are_refused(
    public_project: Project, alice: User, fields: Any, message: str
) -> None:
    response = client_for(alice).post(
        f"/api/projects/{public_project.pk}/trackers/",
        {"name": "Broken", "shortname": "broken", "fields": fields},
        format="json",
    )

    assert response.status_code == 400
    assert message in str(response.json()["fields"])
    assert not Tracker.objects.filter(shortname="broken").exists()


def test_tracker_name_and_shortname_are_unique_in_a_project(bugs: Tracker, alice: User) -> None:
    response = client_for(alice).post(
        f"/api/projects/{bugs.project_id}/trackers/", {"name": "Bugs", "shortname": "bug"}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()) == {"name", "shortname"}


def test_only_project_admins_create_trackers(
    public_project: Project, private_project: Project, bob: User, carol: User
) -> None:
    member = client_for(bob).post(
        f"/api/projects/{public_project.pk}/trackers/", {"name": "Mine", "shortname": "mine"}, format="json"
    )
    outsider = client_for(carol).post(
        f"/api/projects/{private_project.pk}/trackers/", {"name": "Mine", "shortname": "mine"}, format="json"
    )

    assert member.status_code == 403
    assert outsider.status_code == 404
    assert not Tracker.objects.filter(shortname="mine").exists()


def test_artifact_list_shows_current_values_in_api_form(bugs: Tracker, alice: User, bob: User) -> None:
    first = create_artifact(bugs, author=alice, values={"title": "Crash", "status": "New", "cc": ["bob"]})
    update_artifact(first.artifact, author=bob, values={"assigned_to": "bob@example.com", "status": "Done"})
    create_artifact(bugs, author=bob, values={"title": "Typo"})

    response = client_for(bob).get(f"/api/trackers/{bugs.pk}/artifacts/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    typo, crash = body["results"]  # newest first
    assert typo["title"] == "Typo"
    assert crash["submitted_by"] == "alice"
    assert crash["last_updated_by"] == "bob"
    assert crash["reference"] == f"bug #{first.artifact_id}"
    assert crash["values"] == {
        "title": "Crash",
        "description": None,
        "status": "Done",
        "assigned_to": "bob",
        "cc": ["bob"],
    }


def _fill(tracker: Tracker, authors: list[User], count: int) -> None:
    for index in range(count):
        author = authors[index % len(authors)]
        artifact = create_artifact(
            tracker, author=author, values={"title": f"Issue {index}", "status": "New", "cc": ["bob"]}
        ).artifact
        update_artifact(
            artifact, author=authors[0], values={"assigned_to": author.username, "status": "Done"}
        )
        update_artifact(artifact, author=authors[-1], comment="Seen", values={"description": "More"})


@pytest.mark.parametrize("count", [3, 30])
def test_artifact_list_query_count_does_not_grow_with_artifacts(
    bugs: Tracker, alice: User, bob: User, carol: User, count: int, django_assert_max_num_queries
) -> None:
    _fill(bugs, [alice, bob, carol], count)
    client = client_for(bob)

    # The same bound for 3 and 30 artifacts, each with three changesets and several users.
    with django_assert_max_num_queries(6):
        response = client.get(f"/api/trackers/{bugs.pk}/artifacts/")

    assert response.status_code == 200
    assert len(response.json()["results"]) == count
