"""Updating from a terminal (``import_jira --update``) and from the import's page."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.jira_import.test_update import change_jira, whole_import
from tests.support.fake_jira import CLOUD_API_TOKEN, CLOUD_EMAIL
from tests.support.jira import token_of
from tracker.models import JiraIssueRecord, JiraSyncRun

pytestmark = pytest.mark.slow


def test_the_command_updates_an_import_and_names_it(cloud, public_project, alice, monkeypatch) -> None:
    jira_import = whole_import(cloud, public_project, alice)
    change_jira(cloud)
    monkeypatch.setenv("JIRA_USERNAME", CLOUD_EMAIL)
    monkeypatch.setenv("JIRA_TOKEN", CLOUD_API_TOKEN)
    out = StringIO()

    call_command("import_jira", "--update", str(jira_import.pk), stdout=out, stderr=StringIO())

    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"Updating import #{jira_import.pk} ")
    assert f"Done: import #{jira_import.pk} updated: 1 new issues, 5 updated issues" in out.getvalue()
    assert "No longer in Jira: DEMO-9: deleted in Jira" in out.getvalue()
    assert JiraIssueRecord.objects.filter(jira_import=jira_import, jira_issue_key="DEMO-26").exists()
    assert JiraSyncRun.objects.get().token_encrypted == ""

    # Again, with nothing new in Jira: it says so.
    again = StringIO()
    call_command("import_jira", "--update", str(jira_import.pk), stdout=again, stderr=StringIO())
    assert f"Done: import #{jira_import.pk} is already up to date" in again.getvalue()


def test_the_command_can_keep_the_import_in_sync(cloud, public_project, alice, monkeypatch) -> None:
    from tracker.models import JiraSyncSchedule

    monkeypatch.setenv("JIRA_USERNAME", CLOUD_EMAIL)
    monkeypatch.setenv("JIRA_TOKEN", CLOUD_API_TOKEN)
    out = StringIO()
    call_command(
        "import_jira",
        "--url", cloud.url, "--project", "DEMO", "--issue-type", "Bug", "--into", "demo",
        "--sync-every", "60", "--sync-days", "14",
        stdout=out,
        stderr=StringIO(),
    )  # fmt: skip
    schedule = JiraSyncSchedule.objects.get()
    assert schedule.active and schedule.interval_minutes == 60 and schedule.token_encrypted
    assert f"Import #{schedule.jira_import_id} will be synced with Jira every 60 minutes" in out.getvalue()
    with pytest.raises(CommandError, match="15 minutes"):
        call_command(
            "import_jira",
            "--url", cloud.url, "--project", "DEMO", "--issue-type", "Bug", "--into", "demo",
            "--tracker-name", "Other", "--tracker-shortname", "other",
            "--sync-every", "5", "--sync-days", "1",
            stdout=StringIO(),
            stderr=StringIO(),
        )  # fmt: skip


def test_the_command_needs_the_token_in_the_environment(cloud, public_project, alice, monkeypatch) -> None:
    jira_import = whole_import(cloud, public_project, alice)
    monkeypatch.delenv("JIRA_TOKEN", raising=False)
    with pytest.raises(CommandError, match="JIRA_TOKEN"):
        call_command("import_jira", "--update", str(jira_import.pk))
    monkeypatch.setenv("JIRA_TOKEN", CLOUD_API_TOKEN)
    with pytest.raises(CommandError, match="No Jira import #999"):
        call_command("import_jira", "--update", "999")
    assert not JiraSyncRun.objects.exists()


def test_the_page_offers_the_update_to_administrators_only(
    cloud, public_project, alice, bob, redis_clean, client_as
) -> None:
    jira_import = whole_import(cloud, public_project, alice)
    page = f"/jira-imports/{jira_import.pk}/"

    shown = client_as(alice).get(page).content.decode()
    assert 'id="update-from-jira"' in shown and f"Import #{jira_import.pk}" in shown
    assert 'id="update-from-jira"' not in client_as(bob).get(page).content.decode()

    response = client_as(alice).post(f"{page}update/", {"token": token_of(cloud)})
    assert response.status_code == 302
    sync_run = JiraSyncRun.objects.get()
    assert sync_run.status == "pending" and sync_run.requested_by == alice
    after = client_as(alice).get(page).content.decode()
    assert 'id="update-from-jira"' not in after and 'id="cancel-update"' in after
    assert token_of(cloud) not in after
    # A member who is not an administrator cannot start one.
    assert client_as(bob).post(f"{page}update/", {"token": token_of(cloud)}).status_code == 403
