"""The Jira import's REST API: the wizard's look-ups, starting, reading and cancelling an import."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.conftest import client_for
from tests.support.fake_jira import FakeJiraData, FakeJiraServer
from tests.support.jira import BUG, api_body, pending_import, token_of
from tests.support.redis_server import free_port
from tracker.models import JiraImport, Project, Tracker, User

# Every test here talks to the fake Jira on loopback.
pytestmark = pytest.mark.usefixtures("jira_settings")

PROJECTS = "/api/jira/projects/"
ISSUE_TYPES = "/api/jira/issue-types/"


@pytest.fixture(params=["cloud", "server"])
def jira(request: pytest.FixtureRequest) -> Iterator[FakeJiraServer]:
    with FakeJiraServer(FakeJiraData.realistic(), flavor=request.param) as srv:
        yield srv


@pytest.fixture
def admin(public_project: Project, alice: User) -> User:
    """Alice, administrator of the public project: she may use the look-ups."""
    return alice


def imports_url(project: Project) -> str:
    return f"/api/projects/{project.pk}/jira-imports/"


def start_body(srv: FakeJiraServer, **changes: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "jira_project_key": "DEMO",
        "issue_type_id": BUG,
        "tracker_name": "Demo bugs",
        "tracker_shortname": "demo-bug",
    }
    return api_body(srv, **{**fields, **changes})


# Look-ups -------------------------------------------------------------------------------------------------


def test_an_admin_lists_the_jira_projects_of_some_credentials(jira: FakeJiraServer, admin: User) -> None:
    response = client_for(admin).post(PROJECTS, api_body(jira), format="json")
    assert response.status_code == 200
    assert [(p["key"], p["name"]) for p in response.json()] == [
        ("DEMO", "Demo Project"),
        ("OPS", "Operations"),
    ]
    assert all(p["id"] for p in response.json())
    assert token_of(jira) not in response.content.decode()


def test_an_admin_lists_the_issue_types_of_a_jira_project(jira: FakeJiraServer, admin: User) -> None:
    response = client_for(admin).post(ISSUE_TYPES, api_body(jira, jira_project_key="demo"), format="json")
    assert response.status_code == 200
    types = {t["name"]: t for t in response.json()}
    assert set(types) == {"Task", "Bug", "Story", "Epic", "Sub-task"}
    assert types["Bug"] == {"id": BUG, "name": "Bug", "subtask": False}
    assert types["Sub-task"]["subtask"] is True


def test_look_ups_are_for_project_administrators(
    cloud: FakeJiraServer, public_project: Project, bob: User, dave: User
) -> None:
    for user in (bob, dave):
        for url in (PROJECTS, ISSUE_TYPES):
            body = api_body(cloud, jira_project_key="DEMO")
            assert client_for(user).post(url, body, format="json").status_code == 403
    assert cloud.requests == []


def test_look_ups_need_a_login(api, cloud: FakeJiraServer) -> None:
    assert api.post(PROJECTS, api_body(cloud), format="json").status_code == 401


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"url": "ftp://jira.example.com"}, "url", "must start with http:// or https://"),
        ({"url": "https://no-such-host.invalid"}, "url", "cannot be found"),
        ({"token": "wrong"}, "token", "refused these credentials (401 Unauthorized)"),
        ({"token": ""}, "token", "This field may not be blank."),
        ({"url": ["a list"]}, "url", "Not a valid string."),
        ({"token": "ключ"}, "token", "Use only Latin-1 characters here"),
        ({"username": "алиса@example.com"}, "username", "Use only Latin-1 characters here"),
        ({"token": "a\r\nX-Injected: 1"}, "token", "Remove the control characters"),
    ],
)
def test_look_up_failures_name_the_field_to_correct(
    jira: FakeJiraServer, admin: User, changes: dict[str, object], field: str, message: str
) -> None:
    response = client_for(admin).post(PROJECTS, api_body(jira, **changes), format="json")
    assert response.status_code == 400
    body = response.json()
    assert list(body) == [field]
    assert message in body[field][0]
    assert "wrong" not in response.content.decode()


def test_an_internal_host_is_refused_by_the_api_too(cloud: FakeJiraServer, admin: User, settings) -> None:
    settings.JIRA_ALLOWED_HOSTS = []
    response = client_for(admin).post(PROJECTS, api_body(cloud), format="json")
    assert response.status_code == 400
    assert "resolves to an internal address" in response.json()["url"][0]
    assert cloud.requests == []


def test_an_unreachable_jira_is_a_url_error(admin: User) -> None:
    port = free_port()
    body = {"url": f"http://127.0.0.1:{port}", "token": "t"}
    response = client_for(admin).post(PROJECTS, body, format="json")
    assert response.status_code == 400
    assert f"Cannot connect to 127.0.0.1:{port}" in response.json()["url"][0]


def test_a_forbidden_or_unknown_jira_project_is_explained(cloud: FakeJiraServer, admin: User) -> None:
    client = client_for(admin)
    response = client.post(ISSUE_TYPES, api_body(cloud, jira_project_key="NOPE"), format="json")
    assert response.status_code == 400
    assert response.json() == {
        "jira_project_key": ["No Jira project with the key NOPE is visible with these credentials."]
    }
    cloud.forbid_project("DEMO")
    response = client.post(ISSUE_TYPES, api_body(cloud, jira_project_key="DEMO"), format="json")
    assert response.status_code == 400
    assert "403 Forbidden" in response.json()["non_field_errors"][0]
    response = client.post(ISSUE_TYPES, api_body(cloud, jira_project_key="not a key!"), format="json")
    assert list(response.json()) == ["jira_project_key"]


# Starting an import ----------------------------------------------------------------------------------------


def test_an_admin_starts_an_import_and_gets_202_with_its_id(
    jira: FakeJiraServer, public_project: Project, alice: User, redis_clean
) -> None:
    response = client_for(alice).post(imports_url(public_project), start_body(jira), format="json")
    assert response.status_code == 202
    data = response.json()
    jira_import = JiraImport.objects.get()
    assert data["id"] == jira_import.pk
    assert data["status"] == "pending"
    assert data["active"] is True
    assert data["project"] == public_project.pk
    assert (data["tracker_name"], data["tracker_shortname"], data["tracker"]) == (
        "Demo bugs",
        "demo-bug",
        None,
    )
    assert (data["jira_project_key"], data["issue_type_name"], data["requested_by"]) == (
        "DEMO",
        "Bug",
        "alice",
    )
    assert data["flavor"] == jira.flavor
    text = response.content.decode()
    assert token_of(jira) not in text
    assert jira_import.token_encrypted not in text
    assert "token" not in data and "username" not in data
    # It was handed to the jira_import workers, by id only.
    queue = redis_clean.client()
    assert queue.llen("rq:queue:jira_import") == 1


def test_starting_is_for_project_administrators(
    cloud: FakeJiraServer, public_project: Project, private_project: Project, bob: User, dave: User
) -> None:
    assert (
        client_for(bob).post(imports_url(public_project), start_body(cloud), format="json").status_code == 403
    )
    assert (
        client_for(dave).post(imports_url(private_project), start_body(cloud), format="json").status_code
        == 404
    )
    assert client_for(dave).post("/api/projects/999999/jira-imports/", {}, format="json").status_code == 404
    assert not JiraImport.objects.exists()


def test_taken_names_bad_input_and_unknown_issue_types_are_400(
    cloud: FakeJiraServer, public_project: Project, alice: User, bugs: Tracker, redis_clean
) -> None:
    client = client_for(alice)
    url = imports_url(public_project)
    response = client.post(
        url, start_body(cloud, tracker_name="Bugs", tracker_shortname="bug"), format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"tracker_name", "tracker_shortname"}
    response = client.post(
        url, start_body(cloud, tracker_shortname="not a slug", issue_type_id="x"), format="json"
    )
    assert set(response.json()) == {"tracker_shortname", "issue_type_id"}
    response = client.post(url, start_body(cloud, issue_type_id="999"), format="json")
    assert response.status_code == 400
    assert response.json() == {"issue_type_id": ["The Jira project DEMO has no issue type with id 999."]}
    response = client.post(url, start_body(cloud, token="nope"), format="json")
    assert "refused these credentials" in response.json()["token"][0]
    response = client.post(url, ["not", "an", "object"], format="json")
    assert response.status_code == 400
    assert not JiraImport.objects.exists()


def test_a_second_import_into_the_same_names_is_refused_while_the_first_runs(
    cloud: FakeJiraServer, public_project: Project, alice: User, redis_clean
) -> None:
    client = client_for(alice)
    assert client.post(imports_url(public_project), start_body(cloud), format="json").status_code == 202
    response = client.post(imports_url(public_project), start_body(cloud), format="json")
    assert response.status_code == 400
    assert "tracker_shortname" in response.json()


def test_starting_while_redis_is_down_is_503(
    cloud: FakeJiraServer, public_project: Project, alice: User, redis_down: str
) -> None:
    response = client_for(alice).post(imports_url(public_project), start_body(cloud), format="json")
    assert response.status_code == 503
    assert "Redis" in response.json()["detail"]
    assert not JiraImport.objects.exists()
    assert cloud.requests == []


# Reading and cancelling ------------------------------------------------------------------------------------


def test_readers_follow_an_import_but_see_no_emails(public_project: Project, alice: User, dave: User) -> None:
    jira_import = pending_import(
        public_project,
        alice,
        status=JiraImport.Status.DONE,
        token_encrypted="",
        progress_done=25,
        progress_total=25,
        ended_at=timezone.now(),
        counts={"issues": 25, "changesets": 140, "comments": 31, "attachments": 4, "links": 6},
        skipped=[{"field": "Epic Link", "reason": "unsupported"}],
        user_report={
            "matched": [{"jira": "Alice Jira", "user": "alice"}],
            "email_hidden": ["Carol"],
            "no_account": [{"jira": "Erin", "email": "erin@elsewhere.example"}],
        },
    )
    url = f"/api/jira-imports/{jira_import.pk}/"
    data = client_for(dave).get(url).json()
    assert (data["status"], data["progress_done"], data["progress_total"]) == ("done", 25, 25)
    assert data["counts"] == {
        "issues": 25,
        "changesets": 140,
        "comments": 31,
        "attachments": 4,
        "links": 6,
        "sprints": 0,
        "time_entries": 0,
        "time_spent_seconds": 0,
    }
    assert data["skipped"] == [{"field": "Epic Link", "reason": "unsupported", "issues": None}]
    assert data["all_fields_imported"] is False
    assert data["user_report"]["no_account"] == [{"jira": "Erin", "email": None}]
    assert (
        client_for(alice).get(url).json()["user_report"]["no_account"][0]["email"] == "erin@elsewhere.example"
    )
    listed = client_for(dave).get(imports_url(public_project)).json()
    assert [item["id"] for item in listed["results"]] == [jira_import.pk]


def test_imports_of_a_private_project_are_404_for_outsiders(
    private_project: Project, alice: User, dave: User
) -> None:
    jira_import = pending_import(private_project, alice)
    client = client_for(dave)
    assert client.get(f"/api/jira-imports/{jira_import.pk}/").status_code == 404
    assert client.post(f"/api/jira-imports/{jira_import.pk}/cancel/").status_code == 404
    assert client.get(imports_url(private_project)).status_code == 404


def test_an_admin_cancels_through_the_api(
    public_project: Project, alice: User, bob: User, redis_clean
) -> None:
    jira_import = pending_import(public_project, alice)
    url = f"/api/jira-imports/{jira_import.pk}/cancel/"
    assert client_for(bob).post(url).status_code == 403
    response = client_for(alice).post(url)
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["active"]) == ("cancelled", False)
    jira_import.refresh_from_db()
    assert jira_import.token_encrypted == ""
    # Cancelling again: it has ended.
    response = client_for(alice).post(url)
    assert response.status_code == 409
    assert response.json() == {"detail": "This import has already ended (cancelled)."}


def test_the_api_paths_match_the_web_names() -> None:
    assert reverse("api:jira-import-detail", args=[3]) == "/api/jira-imports/3/"
    assert reverse("api:project-jira-imports", args=[3]) == "/api/projects/3/jira-imports/"
