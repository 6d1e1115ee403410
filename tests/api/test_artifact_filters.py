"""GET /api/trackers/{id}/artifacts/ takes the web page's filters as query parameters."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import client_for
from tracker.models import Artifact, FieldOption, Tracker, User
from tracker.services.artifacts import create_artifact, update_artifact


def titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [artifact["title"] for artifact in response.json()["results"]]


@pytest.fixture
def three(bugs: Tracker, alice: User, bob: User, carol: User) -> list[Artifact]:
    made = [
        create_artifact(
            bugs, author=alice, values={"title": "Login fails", "status": "New", "assigned_to": bob.pk}
        ),
        create_artifact(
            bugs,
            author=bob,
            values={"title": "Crash on save", "status": "In progress", "assigned_to": carol.pk},
        ),
        create_artifact(bugs, author=carol, values={"title": "Typo in footer", "status": "Done"}),
    ]
    return [changeset.artifact for changeset in made]


def url(tracker: Tracker) -> str:
    return f"/api/trackers/{tracker.pk}/artifacts/"


def test_state_status_assignee_and_submitter(bugs: Tracker, three, bob: User) -> None:
    api = client_for(bob)
    assert titles(api.get(url(bugs), {"state": "open"})) == ["Crash on save", "Login fails"]
    done = FieldOption.objects.get(field__tracker=bugs, label="Done")
    assert titles(api.get(url(bugs), {"status": done.pk})) == ["Typo in footer"]
    assert titles(api.get(f"{url(bugs)}?status=New&status=Done")) == ["Typo in footer", "Login fails"]
    assert titles(api.get(url(bugs), {"assignee": "me"})) == ["Login fails"]
    assert titles(api.get(url(bugs), {"assignee": "nobody"})) == ["Typo in footer"]
    assert titles(api.get(url(bugs), {"submitter": "carol"})) == ["Typo in footer"]


def test_search_reference_and_sort(bugs: Tracker, three, alice: User, bob: User) -> None:
    api = client_for(bob)
    update_artifact(three[2], author=alice, comment="Also on the login page")
    assert titles(api.get(url(bugs), {"q": "login"})) == ["Typo in footer", "Login fails"]
    assert titles(api.get(url(bugs), {"q": f"bug #{three[1].pk}"})) == ["Crash on save"]
    assert titles(api.get(url(bugs), {"sort": "title"})) == ["Crash on save", "Login fails", "Typo in footer"]
    assert titles(api.get(url(bugs), {"sort": "status"})) == [
        "Login fails",
        "Crash on save",
        "Typo in footer",
    ]


def test_bad_parameters_are_a_400_naming_each_one(bugs: Tracker, three, bob: User) -> None:
    response = client_for(bob).get(
        url(bugs),
        {
            "state": "later",
            "status": "Sleeping",
            "assignee": "ghost",
            "updated_after": "01/02/2026",
            "sort": "x",
        },
    )
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"state", "status", "assignee", "updated_after", "sort"}
    assert "YYYY-MM-DD" in body["updated_after"][0]
    assert "New" in body["status"][0]


@pytest.mark.parametrize(
    "query",
    [
        "q=%00",
        "q=" + "x" * 300,
        "assignee=99999999999999999999999",
        "status=-1",
        "field_abc=1",
        "submitted_after=2026-13-45",
        "submitted_before=9999-12-31",
        "updated_before=9999-12-31",
        "updated_after=0001-01-01",
        "page=abc",
        "sort=-",
    ],
)
def test_garbage_is_never_a_server_error(bugs: Tracker, three, bob: User, query: str) -> None:
    response = client_for(bob).get(f"{url(bugs)}?{query}")
    assert response.status_code in (200, 400, 404), response.content


def test_an_outsider_gets_a_404_whatever_the_filters(tasks: Tracker, alice: User, dave: User) -> None:
    secret = create_artifact(tasks, author=alice, values={"title": "Secret plan"}).artifact
    for query in ("", f"q=%23{secret.pk}", "assignee=alice", "state=open"):
        assert client_for(dave).get(f"{url(tasks)}?{query}").status_code == 404
    assert titles(client_for(alice).get(url(tasks), {"q": f"#{secret.pk}"})) == ["Secret plan"]


def test_the_schema_documents_the_filters(client: Client) -> None:
    operation = client.get("/api/schema/", {"format": "json"}).json()["paths"][
        "/api/trackers/{id}/artifacts/"
    ]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {
        "q",
        "state",
        "status",
        "assignee",
        "submitter",
        "sort",
        "updated_after",
        "submitted_before",
    } <= names
    assert "field_<id>" in operation["description"]
    assert "400" in operation["responses"]
