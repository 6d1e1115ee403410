"""The API's whole-project import: issue type ids and a layout in, the import's trackers out."""

from __future__ import annotations

import pytest

from tests.conftest import client_for
from tests.support.fake_jira import FakeJiraServer
from tests.support.jira import api_body
from tracker.jira_import import services
from tracker.models import JiraImport, Project, User

# Every test here talks to the fake Jira on loopback.
pytestmark = pytest.mark.usefixtures("jira_settings")


def test_an_import_of_chosen_issue_types_lists_its_trackers(
    cloud: FakeJiraServer, public_project: Project, alice: User, redis_clean
) -> None:
    client = client_for(alice)
    body = api_body(
        cloud,
        jira_project_key="DEMO",
        issue_type_ids=["10002", "10005"],
        layout="multi",
        trackers=[{"issue_type_id": "10005", "name": "Jira sub-tasks", "shortname": "jsub"}],
    )
    response = client.post(f"/api/projects/{public_project.pk}/jira-imports/", body, format="json")
    assert response.status_code == 202, response.json()
    data = response.json()
    assert data["layout"] == "multi" and [t["id"] for t in data["issue_types"]] == ["10002", "10005"]
    assert [(t["name"], t["role"], t["issue_type_ids"], t["tracker"]) for t in data["trackers"]] == [
        ("Bug", "issues", ["10002"], None),
        ("Jira sub-tasks", "issues", ["10005"], None),
        ("Sprints", "sprints", [], None),
    ]
    jira_import = services.run_import(JiraImport.objects.get(pk=data["id"]))
    assert jira_import.status == "done", jira_import.error
    data = client.get(f"/api/jira-imports/{jira_import.pk}/").json()
    assert [t["tracker"] is not None for t in data["trackers"]] == [True, True, False]  # no sprints here
    assert data["all_fields_imported"] is True and data["skipped"] == []
    assert data["counts"]["issues"] == 7 + 2


def test_a_request_names_its_issue_types_one_way_only(
    cloud: FakeJiraServer, public_project: Project, alice: User
) -> None:
    client = client_for(alice)
    url = f"/api/projects/{public_project.pk}/jira-imports/"
    both = api_body(cloud, jira_project_key="DEMO", issue_type_id="10002", issue_type_ids=["10002"])
    assert client.post(url, both, format="json").status_code == 400
    unknown = api_body(cloud, jira_project_key="DEMO", issue_type_ids=["999"], layout="mono")
    response = client.post(url, unknown, format="json")
    assert response.status_code == 400 and "no issue type with id 999" in str(response.json())
    bad_layout = api_body(cloud, jira_project_key="DEMO", issue_type_ids=[], layout="sideways")
    assert "layout" in client.post(url, bad_layout, format="json").json()
