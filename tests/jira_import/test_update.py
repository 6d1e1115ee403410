"""Update from Jira: the fake Jira changed between runs, and every change is here exactly once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from tests.support.fake_jira import FakeJiraServer
from tests.support.jira import artifact_by_key, credentials_for, token_of
from tracker.jira_import import services, sync_runs, update_service
from tracker.models import (
    Changeset,
    ChangesetValue,
    Field,
    FieldType,
    JiraImport,
    JiraImportedItem,
    JiraImportTracker,
    JiraIssueRecord,
    JiraSyncRun,
    NotificationListEntry,
    NotificationRecord,
    TimeEntry,
    Tracker,
)
from tuleap_backend.env import AsyncEmails

pytestmark = pytest.mark.slow


def whole_import(jira: FakeJiraServer, project: Any, requester: Any) -> JiraImport:
    jira_import = services.run_import(
        services.create_import(
            project=project,
            requested_by=requester,
            credentials=credentials_for(jira),
            jira_project_key="DEMO",
            issue_type_ids=[],
            layout="multi",
        )
    )
    assert jira_import.status == "done", jira_import.error
    return jira_import


def update(jira: FakeJiraServer, jira_import: JiraImport, requester: Any) -> JiraSyncRun:
    sync_run = update_service.create_update(jira_import, requested_by=requester, token=token_of(jira))
    sync_run = update_service.run_update(sync_run)
    assert sync_run.status == "done", sync_run.message
    return sync_run


def change_jira(jira: FakeJiraServer) -> dict[str, Any]:
    """What a team did in Jira after the import: one of each kind of change."""
    data = jira.data
    at = timezone.now() + dt.timedelta(minutes=1)
    minute = dt.timedelta(minutes=1)
    data.add_issue("DEMO", "Task", "Written in Jira after the import", reporter="alice", created=at)
    data.edit("DEMO-2").comment("bob", "A comment written after the import", at=at + minute)
    data.edit("DEMO-2").change("alice", priority="Highest", at=at + 2 * minute)
    data.edit_comment("DEMO-2", 10000, "The first comment, edited in Jira", by="alice", at=at + 3 * minute)
    data.edit("DEMO-7").link_later("alice", "Blocks", "DEMO-8", at=at + 4 * minute)
    sprint = data.add_sprint(data.boards[0], "Sprint 4", "future")
    data.edit("DEMO-10").change("alice", {"Sprint": [sprint.id]}, at=at + 5 * minute)
    data.delete_issue("DEMO-9")
    data.move_issue("DEMO-13", "OPS")
    data.edit("DEMO-12").log_work("alice", 1800, at=at + 6 * minute, comment="after the import")
    return {"sprint": sprint}


def tracker_named(jira_import: JiraImport, name: str) -> Tracker:
    row = JiraImportTracker.objects.get(jira_import=jira_import, name=name)
    assert row.tracker is not None
    return row.tracker


def links_field(tracker: Tracker) -> Field:
    return Field.objects.get(tracker=tracker, type=FieldType.LINKS)


def snapshot() -> tuple[int, int, int, int, int]:
    return (
        Changeset.objects.count(),
        ChangesetValue.objects.count(),
        TimeEntry.objects.count(),
        JiraImportedItem.objects.count(),
        JiraIssueRecord.objects.count(),
    )


def test_every_change_in_jira_is_here_once_and_a_second_update_creates_nothing(
    jira, public_project, alice, mailoutbox
) -> None:
    jira_import = whole_import(jira, public_project, alice)
    stories, tasks = tracker_named(jira_import, "Story"), tracker_named(jira_import, "Task")
    demo2 = artifact_by_key(stories, "DEMO-2")
    before = Changeset.objects.filter(artifact=demo2).count()
    worklogs = TimeEntry.objects.filter(artifact=artifact_by_key(tasks, "DEMO-12")).count()
    made = change_jira(jira)
    mailoutbox.clear()

    sync_run = update(jira, jira_import, alice)

    # It should bring the new issue with its history, as the import would have.
    new = JiraIssueRecord.objects.get(jira_import=jira_import, jira_issue_key="DEMO-26").artifact
    assert new.tracker == tasks and new.title == "Written in Jira after the import"
    # ... the new comment and changelog entry of DEMO-2, once each, in time order, the edit in place.
    demo2.refresh_from_db()
    changesets = list(Changeset.objects.filter(artifact=demo2).order_by("submitted_on", "pk"))
    assert len(changesets) == before + 2
    assert "A comment written after the import" in changesets[-2].comment
    priority = Field.objects.get(tracker=stories, label="Priority")
    assert ChangesetValue.objects.filter(changeset=changesets[-1], field=priority).exists()
    edited = JiraImportedItem.objects.get(artifact=demo2, kind="comment", jira_id="10000").changeset
    assert "The first comment, edited in Jira" in edited.comment and "Edited in Jira on" in edited.comment
    # ... the new link, between the two artifacts.
    demo7, demo8 = artifact_by_key(tasks, "DEMO-7"), artifact_by_key(tasks, "DEMO-8")
    links = demo7.__class__.objects.get(pk=demo7.pk).current_values[str(links_field(tasks).pk)]
    assert any(link.get("artifact") == demo8.pk for link in links)
    # ... the new sprint, and DEMO-10 in it.
    sprints = tracker_named(jira_import, "Sprints")
    sprint4 = sprints.artifacts.get(title="Sprint 4")
    demo10 = tasks.artifacts.get(pk=artifact_by_key(tasks, "DEMO-10").pk)
    assert any(
        link.get("artifact") == sprint4.pk for link in demo10.current_values[str(links_field(tasks).pk)]
    )
    # ... the new work log.
    assert TimeEntry.objects.filter(artifact=artifact_by_key(tasks, "DEMO-12")).count() == worklogs + 1
    # ... and report the deleted issue, which stays here.
    reasons = {m["key"]: m["reason"] for m in sync_run.missing}
    assert set(reasons) == {"DEMO-9", "DEMO-13"}
    assert "deleted" in reasons["DEMO-9"] and reasons["DEMO-13"] == "moved in Jira to OPS-4 (OPS)"
    assert artifact_by_key(tasks, "DEMO-9") is not None
    assert sync_run.counts["new_issues"] == 1
    assert sync_run.counts["updated_issues"] == 5  # DEMO-2, DEMO-7, DEMO-8, DEMO-10, DEMO-12
    assert sync_run.counts["conflicts"] == 0
    reports = [m for m in mailoutbox if m.subject.startswith("Update from Jira")]
    assert [(m.subject, m.to) for m in reports] == [
        (f"Update from Jira done: DEMO (import #{jira_import.pk})", [alice.email])
    ]
    assert "DEMO-13: moved in Jira to OPS-4" in reports[0].body
    assert sprint4 and made

    # A second update with nothing changed in Jira creates nothing and says so.
    mailoutbox.clear()
    rows = snapshot()
    again = update(jira, jira_import, alice)
    assert snapshot() == rows
    assert again.up_to_date and again.message == sync_runs.UP_TO_DATE
    assert not any(again.counts.values())
    assert mailoutbox == []


def test_a_field_changed_here_and_in_jira_keeps_both_changes_and_is_reported(
    jira, public_project, alice
) -> None:
    from tracker.services.artifacts import update_artifact

    jira_import = whole_import(jira, public_project, alice)
    stories = tracker_named(jira_import, "Story")
    title = Field.objects.get(tracker=stories, is_title=True)
    demo2, demo14 = artifact_by_key(stories, "DEMO-2"), artifact_by_key(stories, "DEMO-14")
    now = timezone.now()
    # DEMO-2: changed here, then later in Jira. DEMO-14: changed in Jira, then later here.
    update_artifact(demo2, author=alice, values={title.name: "Renamed here"}, notify=False)
    jira.data.edit("DEMO-2").change("alice", summary="Renamed in Jira", at=now + dt.timedelta(minutes=1))
    jira.data.edit("DEMO-14").change(
        "alice", summary="Renamed in Jira first", at=now - dt.timedelta(seconds=30)
    )
    update_artifact(demo14, author=alice, values={title.name: "Renamed here last"}, notify=False)

    sync_run = update(jira, jira_import, alice)

    # It should keep both changesets of each, in time order, the latest as the current value.
    demo2.refresh_from_db()
    demo14.refresh_from_db()
    assert demo2.title == "Renamed in Jira"
    assert demo14.title == "Renamed here last"
    for artifact, values in (
        (demo2, ["Renamed here", "Renamed in Jira"]),
        (demo14, ["Renamed in Jira first", "Renamed here last"]),
    ):
        history = ChangesetValue.objects.filter(changeset__artifact=artifact, field=title).order_by(
            "changeset__submitted_on", "changeset_id"
        )
        assert [v.value for v in history][-2:] == values
    # ... and report both conflicts, with links to the artifacts.
    assert sync_run.counts["conflicts"] == 2
    found = {c["key"]: c for c in sync_run.conflicts}
    assert found["DEMO-2"]["kept"] == "jira" and found["DEMO-14"]["kept"] == "here"
    assert found["DEMO-2"]["url"].endswith(f"/artifacts/{demo2.pk}/")
    assert found["DEMO-2"]["field"] == title.label


def test_an_update_notifies_once_per_changed_artifact_and_the_import_never(
    jira, public_project, alice, carol, mailoutbox, settings
) -> None:
    settings.ASYNC_EMAILS = AsyncEmails(frozenset())  # sent in the run, where the test sees them
    jira_import = whole_import(jira, public_project, alice)
    assert not NotificationRecord.objects.exists()  # the first import notifies nobody
    for name in ("Story", "Task"):
        NotificationListEntry.objects.create(tracker=tracker_named(jira_import, name), user=carol)
    change_jira(jira)
    mailoutbox.clear()

    sync_run = update(jira, jira_import, alice)

    # One email per artifact with new changesets (DEMO-12 only got a work log), however many it got.
    to_carol = [m for m in mailoutbox if m.to == [carol.email]]
    artifacts = sorted(int(m.subject.split("#")[1].split("]")[0]) for m in to_carol)
    records = NotificationRecord.objects.all()
    assert sorted(r.changeset.artifact_id for r in records) == artifacts
    assert len(artifacts) == len(set(artifacts)) == 5
    assert {int(pk) for pk in sync_run.changed} >= set(artifacts)
    # A second update notifies nobody.
    mailoutbox.clear()
    update(jira, jira_import, alice)
    assert mailoutbox == [] and NotificationRecord.objects.count() == 5
