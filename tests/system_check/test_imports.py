"""Check 5: stuck Jira imports are cancelled, their requesters told, and the event warns."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tests.system_check.conftest import context
from tracker.models import JiraImport, Project, Tracker, User
from tracker.system_check import imports
from tracker.system_check.base import Level


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
