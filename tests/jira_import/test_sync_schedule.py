"""The scheduled sync (opt-in): started by the sweep when due, stopped with its token erased."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.jira_import.test_update import change_jira, whole_import
from tests.support.jira import token_of
from tracker.jira_import import jobs, schedules
from tracker.models import JiraImport, JiraIssueRecord, JiraSyncRun, JiraSyncSchedule

pytestmark = pytest.mark.slow


def run_due(at: dt.datetime) -> list[JiraSyncRun]:
    """What the sweep starts at ``at``, then run by the worker (here, in this process)."""
    before = set(JiraSyncRun.objects.values_list("pk", flat=True))
    schedules.start_due(at)
    started = list(JiraSyncRun.objects.exclude(pk__in=before))
    for sync_run in started:
        jobs.run_jira_update(sync_run.pk)
        sync_run.refresh_from_db()
    return started


def test_the_scheduled_sync_runs_and_stops_after_its_period_with_the_token_erased(
    cloud, public_project, alice, redis_clean
) -> None:
    jira_import = whole_import(cloud, public_project, alice)
    schedule = schedules.start_schedule(
        jira_import, requested_by=alice, token=token_of(cloud), interval_minutes=15, days=1
    )
    assert schedule.token_encrypted and token_of(cloud) not in schedule.token_encrypted
    change_jira(cloud)
    now = timezone.now()

    # It should run at once, as a scheduled update on the jira_import queue...
    [first] = run_due(now)
    assert first.scheduled and first.status == "done", first.message
    assert JiraIssueRecord.objects.filter(jira_import=jira_import, jira_issue_key="DEMO-26").exists()
    assert first.token_encrypted == ""  # the run's copy is erased; the schedule keeps its own
    # ... not again before its interval, then again after it.
    assert run_due(now + dt.timedelta(minutes=5)) == []
    [second] = run_due(now + dt.timedelta(minutes=16))
    assert second.status == "done" and second.up_to_date

    # Once the period ends, it stops, and the token is erased from the database.
    assert run_due(now + dt.timedelta(days=1, minutes=1)) == []
    stored = JiraSyncSchedule.objects.get(pk=schedule.pk)
    assert not stored.active and stored.token_encrypted == "" and stored.stopped_reason == schedules.EXPIRED
    assert run_due(now + dt.timedelta(days=2)) == []


def test_three_failures_in_a_row_stop_the_sync_and_tell_the_requester(
    cloud, public_project, alice, redis_clean, mailoutbox
) -> None:
    jira_import = whole_import(cloud, public_project, alice)
    schedules.start_schedule(jira_import, requested_by=alice, token="revoked", interval_minutes=15, days=30)
    mailoutbox.clear()
    now = timezone.now()

    outcomes = [run.status for n in range(4) for run in run_due(now + dt.timedelta(minutes=16 * n))]

    assert outcomes == ["failed", "failed", "failed"]  # and no fourth run
    stored = JiraSyncSchedule.objects.get(jira_import=jira_import)
    assert not stored.active and stored.token_encrypted == "" and "3 failed updates" in stored.stopped_reason
    subjects = [m.subject for m in mailoutbox]
    assert f"Sync with Jira stopped: DEMO (import #{jira_import.pk})" in subjects


def test_a_schedule_is_bounded(cloud, public_project, alice) -> None:
    from django.core.exceptions import ValidationError

    jira_import = whole_import(cloud, public_project, alice)
    with pytest.raises(ValidationError) as error:
        schedules.start_schedule(jira_import, requested_by=alice, token="t", interval_minutes=14, days=91)
    assert set(error.value.message_dict) == {"interval_minutes", "days"}
    # Longer than the longest period: it was the database's "integer out of range" on PostgreSQL, a 500.
    with pytest.raises(ValidationError) as error:
        schedules.start_schedule(
            jira_import, requested_by=alice, token="t", interval_minutes=99999999999, days=1
        )
    assert error.value.message_dict == {"interval_minutes": ["Sync at least every 129600 minutes (90 days)."]}
    assert not JiraSyncSchedule.objects.exists()


def test_the_page_refuses_a_sync_too_rare_or_a_token_with_a_line_break(
    cloud, public_project, alice, client_as
) -> None:
    jira_import = whole_import(cloud, public_project, alice)
    page = f"/jira-imports/{jira_import.pk}/"
    client = client_as(alice)
    token = token_of(cloud)
    response = client.post(
        f"{page}sync/",
        {"sync-token": token, "sync-interval_minutes": 99999999999, "sync-days": 1},
        follow=True,
    )
    assert "less than or equal to 129600" in response.content.decode()
    # A line break was taken, "queued", and then refused by the run.
    for form, data in (
        ("sync/", {"sync-token": "tok\nen", "sync-interval_minutes": 30, "sync-days": 10}),
        ("update/", {"token": "tok\nen"}),
    ):
        shown = client.post(f"{page}{form}", data, follow=True).content.decode()
        assert "Remove the control characters (such as line breaks)." in shown, form
        assert "queued" not in shown
    assert not JiraSyncSchedule.objects.exists()
    assert not JiraSyncRun.objects.exists()


def test_the_page_starts_and_stops_the_sync(cloud, public_project, alice, client_as) -> None:
    jira_import = whole_import(cloud, public_project, alice)
    page = f"/jira-imports/{jira_import.pk}/"
    client = client_as(alice)
    assert 'id="start-sync"' in client.get(page).content.decode()

    client.post(f"{page}sync/", {"sync-token": token_of(cloud), "sync-interval_minutes": 30, "sync-days": 10})
    shown = client.get(page).content.decode()
    assert 'id="sync-active"' in shown and "kept, encrypted" in shown and 'id="stop-sync"' in shown
    assert JiraSyncSchedule.objects.get().token_encrypted

    client.post(f"{page}sync/stop/")
    stored = JiraSyncSchedule.objects.get()
    assert not stored.active and stored.token_encrypted == ""
    assert 'id="start-sync"' in client.get(page).content.decode()


def test_the_supervisor_s_sweep_starts_the_due_sync_on_the_jira_import_queue(
    cloud, public_project, alice, redis_clean
) -> None:
    from tracker.workers import sweep

    jira_import = whole_import(cloud, public_project, alice)
    schedules.start_schedule(
        jira_import, requested_by=alice, token=token_of(cloud), interval_minutes=15, days=1
    )

    assert sweep.run_once("bench-host") == "ran"

    sync_run = JiraSyncRun.objects.get()
    assert sync_run.scheduled and sync_run.status == "pending" and sync_run.job_id
    assert redis_clean.client().llen("rq:queue:jira_import") == 1
    # The next sweep, before the interval, starts nothing more.
    assert sweep.run_once("bench-host") == "ran"
    assert JiraSyncRun.objects.count() == 1


def test_the_sweep_enqueues_again_an_update_whose_job_redis_lost(public_project, alice, redis_clean) -> None:
    from tests.support.jira import pending_import
    from tracker.jira_import import sync_runs
    from tracker.workers import sweep

    jira_import = pending_import(public_project, alice, status="done", token_encrypted="")
    sync_run = sync_runs.create(jira_import, requested_by=alice, token="t")
    sync_runs.record_job(sync_run, "jira-update-lost")
    JiraSyncRun.objects.filter(pk=sync_run.pk).update(created_at=timezone.now() - dt.timedelta(hours=1))

    assert sweep.recover_jira_updates(timezone.now()) == [f"update {sync_run.pk} resumed"]

    sync_run.refresh_from_db()
    assert sync_run.job_id != "jira-update-lost" and sync_run.status == "pending"
    assert redis_clean.client().llen("rq:queue:jira_import") == 1


def test_a_sync_asked_for_at_import_time_waits_for_the_import_and_stops_if_it_fails(
    public_project, alice, redis_clean
) -> None:
    from tests.support.jira import pending_import

    jira_import = pending_import(public_project, alice)
    schedule = schedules.start_schedule(
        jira_import, requested_by=alice, token="t", interval_minutes=15, days=3
    )
    # While the import runs, no update starts.
    assert schedules.start_due(timezone.now()) == []
    assert not JiraSyncRun.objects.exists()
    JiraImport.objects.filter(pk=jira_import.pk).update(status="failed")

    later = timezone.now() + dt.timedelta(minutes=16)
    assert schedules.start_due(later) == [f"sync of import {jira_import.pk} stopped"]
    schedule.refresh_from_db()
    assert not schedule.active and schedule.token_encrypted == ""
