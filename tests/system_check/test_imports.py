"""Check 5: stuck Jira imports and updates are cancelled, their requesters told, and the event warns."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from django.utils import timezone

from tests.support.jira import pending_import
from tests.support.redis_server import RedisServer
from tests.system_check.conftest import context, new_artifact
from tests.system_check.test_command import system_check
from tracker.jira_import import sync_runs, update_service
from tracker.models import JiraImport, JiraSyncRun, NotificationRecord, Project, SystemEvent, Tracker, User
from tracker.system_check import imports
from tracker.system_check.base import Level
from tuleap_backend.env import AsyncEmails

if TYPE_CHECKING:  # imported at run time, pytest would try to collect it as a test class
    from tests.conftest import TestRedis


def make_import(project: Project, requester: User, shortname: str, status: str, age: timedelta) -> JiraImport:
    item = JiraImport.objects.create(
        project=project,
        requested_by=requester,
        jira_url="https://jira.example.com",
        jira_project_key="PROJ",
        issue_type_id="10001",
        issue_type_name="Bug",
        tracker_name=f"Imported {shortname}",
        tracker_shortname=shortname,
        status=status,
        token_encrypted="encrypted-token-blob",
    )
    JiraImport.objects.filter(pk=item.pk).update(created_at=timezone.now() - age)
    return item


def test_a_stuck_jira_import_is_cancelled_and_its_requester_emailed(
    public_project: Project, alice: User, settings, mailoutbox
) -> None:
    settings.JIRA_IMPORT_MAX_DURATION = 3600
    stuck = make_import(public_project, alice, "stuck", "running", timedelta(hours=2))
    partial = Tracker.objects.create(project=public_project, name="Imported stuck", shortname="stuck")
    JiraImport.objects.filter(pk=stuck.pk).update(tracker=partial)
    young = make_import(public_project, alice, "young", "pending", timedelta(minutes=30))
    over = make_import(public_project, alice, "over", "done", timedelta(days=3))

    [finding] = imports.run(context())

    # It should warn, naming the import, and say it was cancelled.
    assert finding.level == Level.WARNING
    assert finding.check == "jira_imports"
    assert finding.details == {"count": 1, "import_ids": [stuck.pk]}
    assert "for more than 1 h 0 min (JIRA_IMPORT_MAX_DURATION) and have been cancelled" in finding.message
    assert f"#{stuck.pk} (PROJ into demo/stuck)" in finding.message
    stuck.refresh_from_db()
    assert stuck.status == JiraImport.Status.CANCELLED and stuck.token_encrypted == ""
    # The partial tracker is gone; the young and the finished imports are left alone.
    assert not Tracker.objects.filter(pk=partial.pk).exists()
    assert JiraImport.objects.get(pk=young.pk).status == "pending"
    assert JiraImport.objects.get(pk=over.pk).status == "done"
    [email] = mailoutbox
    assert email.to == ["alice@example.com"]


def test_no_stuck_import_no_finding(public_project: Project, alice: User, settings) -> None:
    settings.JIRA_IMPORT_MAX_DURATION = 3600
    make_import(public_project, alice, "young", "running", timedelta(minutes=59))
    assert imports.run(context()) == []


@pytest.fixture
def checked(settings, well_kept_redis: RedisServer, redis_clean: TestRedis, db: None) -> TestRedis:
    """A well-kept Redis for the checks, every project inline, the imports' limit one hour."""
    settings.REDIS_URL = well_kept_redis.url
    settings.ASYNC_EMAILS = AsyncEmails(frozenset())
    settings.JIRA_IMPORT_MAX_DURATION = 3600
    return redis_clean


def aged(sync_run: JiraSyncRun, age: timedelta, **fields: object) -> None:
    JiraSyncRun.objects.filter(pk=sync_run.pk).update(created_at=timezone.now() - age, **fields)


def test_a_stuck_update_is_cancelled_by_system_check_and_its_requester_emailed(
    checked: TestRedis, public_project: Project, bugs: Tracker, alice: User, mailoutbox
) -> None:
    stuck_import = pending_import(public_project, alice, status="done", token_encrypted="")
    young_import = pending_import(
        public_project, alice, status="done", token_encrypted="", tracker_shortname="y"
    )
    # The stuck one was queued for real, then its worker started it and wrote a page before it hung.
    stuck = update_service.start_update(stuck_import, requested_by=alice, token="t", scheduled=True)
    brought = new_artifact(bugs, alice, "Brought from Jira")
    changeset = brought.changesets.get()
    aged(
        stuck, timedelta(hours=2), status="running", run_token="hung-run", changed={brought.pk: changeset.pk}
    )
    young = sync_runs.create(young_import, requested_by=alice, token="t")
    aged(young, timedelta(minutes=30))
    over = JiraSyncRun.objects.create(jira_import=young_import, status="done")
    aged(over, timedelta(days=3))
    mailoutbox.clear()

    status, output = system_check()

    # It should warn, naming the update and its import, and say it was cancelled.
    assert status == 1
    event = SystemEvent.objects.get()
    [finding] = [f for f in event.findings if f["check"] == "jira_imports"]
    assert finding["level"] == "WARNING"
    assert finding["details"] == {"count": 1, "update_ids": [stuck.pk]}
    assert (
        f"[WARNING] jira_imports: 1 updates from Jira were pending or running for more than 1 h 0 min "
        f"(JIRA_IMPORT_MAX_DURATION) and have been cancelled, their requesters emailed: #{stuck.pk} "
        f"(import #{stuck_import.pk}, DEMO into demo, scheduled), requested 2 h"
    ) in output
    stuck.refresh_from_db()
    assert stuck.status == "cancelled" and stuck.token_encrypted == "" and stuck.run_token == ""
    assert "Cancelled by the system check" in stuck.message
    # Its job is off the queue; what its page wrote stays, and is notified as at any run's end.
    assert checked.client().llen("rq:queue:jira_import") == 0
    assert NotificationRecord.objects.filter(changeset=changeset).exists()
    # The young and the finished runs are left alone.
    assert JiraSyncRun.objects.get(pk=young.pk).status == "pending"
    assert JiraSyncRun.objects.get(pk=over.pk).status == "done"
    [email] = mailoutbox
    assert email.to == ["alice@example.com"]
    assert email.subject == f"Update from Jira cancelled: DEMO (import #{stuck_import.pk})"
    assert "was cancelled: Cancelled by the system check: the update was pending or running" in email.body

    # The next check has nothing left to say about it.
    mailoutbox.clear()
    system_check()
    assert "updates from Jira" not in SystemEvent.objects.latest("pk").log
    assert mailoutbox == []
