"""Updates from Jira over the REST API: asking a finished import for one, following it, listing imports."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.conftest import client_for
from tests.support.fake_jira import CLOUD_API_TOKEN
from tests.support.jira import pending_import
from tracker.models import JiraImport, JiraSyncRun, JiraSyncSchedule, Project, User

pytestmark = pytest.mark.usefixtures("jira_settings")


def finished(project: Project, requester: User) -> JiraImport:
    return pending_import(
        project,
        requester,
        status="done",
        token_encrypted="",
        started_at=timezone.now(),
        ended_at=timezone.now(),
    )


def update_url(jira_import: JiraImport) -> str:
    return f"/api/jira-imports/{jira_import.pk}/update/"


def test_an_admin_asks_for_an_update_and_gets_202_without_the_token_in_it(
    public_project: Project, alice: User, redis_clean
) -> None:
    jira_import = finished(public_project, alice)

    response = client_for(alice).post(update_url(jira_import), {"token": CLOUD_API_TOKEN}, format="json")

    assert response.status_code == 202
    data = response.json()
    sync_run = JiraSyncRun.objects.get()
    assert (data["id"], data["import_id"], data["status"], data["requested_by"]) == (
        sync_run.pk,
        jira_import.pk,
        "pending",
        "alice",
    )
    assert data["counts"] == {"new_issues": 0, "updated_issues": 0, "new_changesets": 0, "conflicts": 0}
    assert CLOUD_API_TOKEN not in response.content.decode() and "token" not in data
    assert sync_run.token_encrypted  # kept encrypted for the run only
    # It was handed to the jira_import workers, by id only.
    assert redis_clean.client().llen("rq:queue:jira_import") == 1
    # ... and the import's answer (and the project's list) name it as its last update.
    listed = client_for(alice).get(f"/api/projects/{public_project.pk}/jira-imports/").json()
    entry = (
        next(item for item in listed["results"] if item["id"] == jira_import.pk)
        if isinstance(listed, dict)
        else next(item for item in listed if item["id"] == jira_import.pk)
    )
    assert entry["last_update"]["id"] == sync_run.pk
    assert (entry["status"], entry["jira_url"], entry["jira_project_key"]) == (
        "done",
        "https://jira.example.com",
        "DEMO",
    )
    assert "trackers" in entry
    followed = client_for(alice).get(f"/api/jira-updates/{sync_run.pk}/")
    assert followed.status_code == 200 and followed.json()["status"] == "pending"


def test_updating_is_for_project_administrators(public_project: Project, alice: User, bob: User) -> None:
    jira_import = finished(public_project, alice)
    response = client_for(bob).post(update_url(jira_import), {"token": CLOUD_API_TOKEN}, format="json")
    assert response.status_code == 403
    assert not JiraSyncRun.objects.exists()


def test_an_import_one_cannot_read_is_404(private_project: Project, alice: User, carol: User) -> None:
    jira_import = finished(private_project, alice)
    response = client_for(carol).post(update_url(jira_import), {"token": CLOUD_API_TOKEN}, format="json")
    assert response.status_code == 404


def test_an_unfinished_import_or_a_second_update_is_409(
    public_project: Project, alice: User, redis_clean
) -> None:
    running = pending_import(public_project, alice, status="running")
    response = client_for(alice).post(update_url(running), {"token": CLOUD_API_TOKEN}, format="json")
    assert response.status_code == 409 and "finished" in response.json()["detail"]
    jira_import = finished(public_project, alice)
    first = client_for(alice).post(update_url(jira_import), {"token": CLOUD_API_TOKEN}, format="json")
    second = client_for(alice).post(update_url(jira_import), {"token": CLOUD_API_TOKEN}, format="json")
    assert (first.status_code, second.status_code) == (202, 409)
    assert JiraSyncRun.objects.count() == 1


def test_the_token_is_required(public_project: Project, alice: User) -> None:
    jira_import = finished(public_project, alice)
    response = client_for(alice).post(update_url(jira_import), {}, format="json")
    assert response.status_code == 400 and "token" in response.json()


def test_without_redis_no_update_is_started(public_project: Project, alice: User, redis_down: str) -> None:
    jira_import = finished(public_project, alice)
    response = client_for(alice).post(update_url(jira_import), {"token": CLOUD_API_TOKEN}, format="json")
    assert response.status_code == 503
    assert not JiraSyncRun.objects.exists()


def test_a_pending_update_can_be_cancelled(public_project: Project, alice: User, redis_clean) -> None:
    jira_import = finished(public_project, alice)
    run = client_for(alice).post(update_url(jira_import), {"token": CLOUD_API_TOKEN}, format="json").json()
    response = client_for(alice).post(f"/api/jira-updates/{run['id']}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert JiraSyncRun.objects.get().token_encrypted == ""


def test_an_admin_keeps_an_import_in_sync_and_stops_it(
    public_project: Project, alice: User, bob: User
) -> None:
    jira_import = finished(public_project, alice)
    url = f"/api/jira-imports/{jira_import.pk}/sync/"
    body = {"token": CLOUD_API_TOKEN, "interval_minutes": 15, "days": 90}

    assert client_for(bob).post(url, body, format="json").status_code == 403
    too_often = client_for(alice).post(url, {**body, "interval_minutes": 5, "days": 91}, format="json")
    assert too_often.status_code == 400 and {"interval_minutes", "days"} <= set(too_often.json())
    response = client_for(alice).post(url, body, format="json")
    assert response.status_code == 201
    assert response.json()["active"] and response.json()["token_kept"]
    assert CLOUD_API_TOKEN not in response.content.decode()

    stopped = client_for(alice).delete(url)
    assert stopped.status_code == 200 and not stopped.json()["active"] and not stopped.json()["token_kept"]
    assert JiraSyncSchedule.objects.get().token_encrypted == ""


def test_the_sync_can_be_asked_for_at_import_time(
    cloud, public_project: Project, alice: User, redis_clean
) -> None:
    from tests.support.jira import api_body

    url = f"/api/projects/{public_project.pk}/jira-imports/"
    body = api_body(cloud, jira_project_key="DEMO", issue_type_ids=[], layout="multi")
    half = client_for(alice).post(url, {**body, "sync_interval_minutes": 30}, format="json")
    assert half.status_code == 400 and "sync_days" in half.json()
    assert not JiraImport.objects.exists()

    response = client_for(alice).post(
        url, {**body, "sync_interval_minutes": 30, "sync_days": 7}, format="json"
    )

    assert response.status_code == 202
    schedule = JiraSyncSchedule.objects.get(jira_import_id=response.json()["id"])
    assert schedule.active and schedule.interval_minutes == 30 and schedule.token_encrypted
    assert (schedule.expires_at - timezone.now()).days in (6, 7)
