"""The recovery sweep, in-process: what it hands over and what it leaves alone; its lock; the mail probe."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.support.redis_server import free_port
from tests.support.smtp import SMTPServer
from tracker import queues
from tracker.models import Changeset, JiraImport, NotificationRecord, Tracker, User
from tracker.notifications import dispatch, jobs, notifier, recovery
from tracker.services.artifacts import create_artifact
from tracker.workers import sweep
from tuleap_backend.env import AsyncEmails

Status = NotificationRecord.Status


def record_of(changeset: Changeset) -> NotificationRecord:
    return NotificationRecord.objects.get(changeset=changeset)


def aged(changeset: Changeset, seconds: float, **fields: object) -> NotificationRecord:
    NotificationRecord.objects.filter(changeset=changeset).update(
        created_at=timezone.now() - dt.timedelta(seconds=seconds), **fields
    )
    return record_of(changeset)


@pytest.fixture
def saved(async_all, redis_clean, bugs: Tracker, alice: User, bob: User):
    def save(title: str = "Crash") -> Changeset:
        changeset = create_artifact(bugs, author=alice, values={"title": title, "cc": ["bob"]})
        dispatch.enqueue(record_of(changeset))  # what the after-commit dispatch does
        return changeset

    return save


def test_a_record_whose_job_redis_lost_is_handed_to_a_new_job(saved, redis_clean, settings) -> None:
    lost, waiting, fresh = saved("lost"), saved("waiting"), saved("fresh")
    redis_clean.client().delete(f"rq:job:{record_of(lost).job_id}")  # what a FLUSHALL does to it
    aged(lost, settings.NOTIFICATION_RECOVERY_AFTER + 1)
    aged(waiting, settings.NOTIFICATION_RECOVERY_AFTER + 1)
    old_job = record_of(lost).job_id

    found = recovery.sweep()

    # It should re-enqueue the lost one only: the other's job still waits, the fresh one is too young.
    assert found.handed == {"lost_job": [lost.pk]}
    new_job = record_of(lost).job_id
    assert new_job != old_job
    queued = queues.notifications_queue().get_job_ids()
    assert new_job in queued and record_of(waiting).job_id in queued and record_of(fresh).job_id in queued
    # A second sweep finds nothing: the new job waits.
    assert recovery.sweep().handed == {}


def test_a_queued_job_missing_from_the_queue_list_is_handed_to_a_new_job(
    saved, redis_clean, settings
) -> None:
    stranded, waiting = saved("stranded"), saved("waiting")
    old_job = record_of(stranded).job_id
    client = redis_clean.client()
    # Its hash still says "queued", but no worker will ever pop it: the list lost its id (a failover to
    # a replica that missed the write, a client killed between RQ's writes).
    assert client.lrem(f"rq:queue:{settings.NOTIFICATIONS_QUEUE}", 0, old_job) == 1
    assert client.hget(f"rq:job:{old_job}", "status") == b"queued"
    aged(stranded, settings.NOTIFICATION_RECOVERY_AFTER + 1)
    aged(waiting, settings.NOTIFICATION_RECOVERY_AFTER + 1)

    found = recovery.sweep()

    assert found.handed == {"lost_job": [stranded.pk]}
    new_job = record_of(stranded).job_id
    assert new_job != old_job
    assert new_job in queues.notifications_queue().get_job_ids()
    assert recovery.sweep().handed == {}


def test_a_due_retry_whose_scheduled_job_is_gone_is_sent_now(saved, redis_clean, smtp: SMTPServer) -> None:
    smtp.stop()
    changeset = saved()
    assert notifier.notify(changeset.pk, mode="async", token=record_of(changeset).job_id).state == "retry"
    record = record_of(changeset)
    redis_clean.client().delete(f"rq:job:{record.job_id}")
    NotificationRecord.objects.filter(pk=record.pk).update(
        next_attempt_at=timezone.now() - dt.timedelta(minutes=1)
    )

    found = recovery.sweep()

    assert found.handed == {"retry_due": [changeset.pk]}
    assert record_of(changeset).job_id in queues.notifications_queue().get_job_ids()


def test_a_record_started_by_a_job_without_heartbeat_is_taken_over(saved, redis_clean, settings) -> None:
    dead, alive = saved("dead"), saved("alive")
    long_enough = dt.timedelta(seconds=queues.HEARTBEAT_GRACE_SECONDS + 1)
    for changeset, token in ((dead, "job-of-a-killed-worker"), (alive, "job-running")):
        NotificationRecord.objects.filter(changeset=changeset).update(
            status=Status.STARTED, claimed_by=token, started_at=timezone.now() - long_enough, attempts=1
        )
    # The running one's worker keeps its heartbeat fresh (as RQ does every HEARTBEAT_SECONDS).
    redis_clean.client().hset(
        "rq:job:job-running",
        mapping={"status": "started", "last_heartbeat": timezone.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
    )
    redis_clean.client().hset(
        "rq:job:job-of-a-killed-worker",
        mapping={
            "status": "started",
            "last_heartbeat": (timezone.now() - dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        },
    )

    found = recovery.sweep()

    assert found.handed == {"abandoned": [dead.pk]}
    record = record_of(dead)
    assert record.status == Status.RETRY and record.claimed_by == "" and "taken over" in record.last_error
    assert record_of(alive).status == Status.STARTED
    # The dead job's own failure callback, should RQ call it later, changes nothing any more.
    assert recovery.sweep().handed == {}


def test_an_inline_sender_is_presumed_dead_only_after_its_lease(saved, settings) -> None:
    changeset = saved()
    NotificationRecord.objects.filter(changeset=changeset).update(
        status=Status.STARTED, claimed_by="inline:4242", started_at=timezone.now() - dt.timedelta(seconds=60)
    )
    assert recovery.sweep().handed == {}

    NotificationRecord.objects.filter(changeset=changeset).update(
        started_at=timezone.now() - dt.timedelta(seconds=settings.NOTIFICATION_JOB_TIMEOUT + 60)
    )
    assert recovery.sweep().handed == {"abandoned": [changeset.pk]}


def test_only_one_sweep_runs_at_a_time(saved, redis_clean, settings) -> None:
    changeset = saved()
    redis_clean.client().delete(f"rq:job:{record_of(changeset).job_id}")
    aged(changeset, settings.NOTIFICATION_RECOVERY_AFTER + 1)
    old_job = record_of(changeset).job_id
    other_host = sweep.sweep_lock(60)
    assert other_host.acquire()

    # Another host holds the lock: this one skips its turn and touches nothing.
    assert sweep.run_once("host-b") == "skipped"
    assert record_of(changeset).job_id == old_job

    other_host.release()
    assert sweep.run_once("host-b") == "ran"
    assert record_of(changeset).job_id != old_job
    client = redis_clean.client()
    assert client.hget(sweep.RUNS_KEY, "host-b") == b"1"
    assert client.get(sweep.OVERLAPS_KEY) is None and int(client.get(sweep.ACTIVE_KEY)) == 0


def test_records_waiting_for_a_mail_server_that_is_back_are_woken(saved, smtp: SMTPServer) -> None:
    smtp.stop()
    changeset = saved()
    assert notifier.notify(changeset.pk, mode="async", token=record_of(changeset).job_id).state == "retry"
    # Its pause has grown long: the next attempt is half an hour away.
    NotificationRecord.objects.filter(changeset=changeset).update(
        next_attempt_at=timezone.now() + dt.timedelta(minutes=30)
    )
    probe_window = dt.timedelta(seconds=sweep.MAIL_PROBE_INTERVAL)

    # Still down: nothing changes.
    assert recovery.wake_if_mail_server_back(probe_window).total == 0
    assert record_of(changeset).next_attempt_at > timezone.now() + dt.timedelta(minutes=29)

    smtp.start()
    assert recovery.wake_if_mail_server_back(probe_window).handed == {"mail_server_back": [changeset.pk]}
    record = record_of(changeset)
    assert record.next_attempt_at <= timezone.now()
    jobs.send_changeset_notification(changeset.pk)
    assert [address for (_, address) in smtp.deliveries()] == ["bob@example.com"]


def test_a_jira_import_whose_job_redis_lost_is_enqueued_again_and_one_whose_job_failed_is_ended(
    redis_clean, settings, bugs: Tracker, alice: User
) -> None:
    def active_import(shortname: str, job_id: str) -> JiraImport:
        item = JiraImport.objects.create(
            project=bugs.project,
            requested_by=alice,
            jira_url="https://jira.example.com",
            jira_project_key="DEMO",
            issue_type_id="1",
            issue_type_name="Bug",
            tracker_name=f"Jira {shortname}",
            tracker_shortname=shortname,
            status=JiraImport.Status.RUNNING,
            job_id=job_id,
        )
        JiraImport.objects.filter(pk=item.pk).update(created_at=timezone.now() - dt.timedelta(minutes=10))
        return item

    lost = active_import("lost", "jira-import-lost")
    failed = active_import("failed", "jira-import-failed")
    redis_clean.client().hset("rq:job:jira-import-failed", "status", "failed")

    done = sweep.recover_jira_imports(timezone.now())

    assert done == [f"import {lost.pk} resumed", f"import {failed.pk} ended"]
    lost.refresh_from_db()
    assert lost.job_id != "jira-import-lost" and lost.job_id in queues.jira_import_queue().get_job_ids()
    failed.refresh_from_db()
    assert failed.status == JiraImport.Status.FAILED


@pytest.mark.django_db(transaction=True)
def test_a_frozen_redis_leaves_the_record_to_the_sweep_and_a_refusing_one_falls_back_inline(
    smtp: SMTPServer, settings, bugs: Tracker, alice: User, bob: User
) -> None:
    settings.ASYNC_EMAILS = AsyncEmails("all")
    refused = f"redis://127.0.0.1:{free_port()}/0"
    settings.RQ_QUEUES = {name: {**config, "URL": refused} for name, config in settings.RQ_QUEUES.items()}

    first = create_artifact(bugs, author=alice, values={"title": "Refused", "cc": ["bob"]})
    # Refused: sent inline, and the breaker is open now for every caller of that Redis.
    assert record_of(first).fell_back_inline and record_of(first).status == Status.DONE
    with pytest.raises(queues.RedisSkipped):
        queues.enqueue_notification(first.pk, job_id="never")

    # A Redis that timed out moments ago: the next save does not even try, and leaves it to the sweep.
    queues.breaker(refused).trip(60, timed_out=True)
    second = create_artifact(bugs, author=alice, values={"title": "Frozen", "cc": ["bob"]})
    record = record_of(second)
    assert record.status == Status.PENDING and not record.fell_back_inline
    assert [address for (cs, address) in smtp.deliveries() if cs == str(second.pk)] == []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_notifications_sweep_once_is_what_a_timer_runs_beside_hand_run_workers(
    manage_py, worker_env, redis_clean, async_all, settings, bugs: Tracker, alice: User, bob: User
) -> None:
    import subprocess

    from tests.conftest import ROOT

    changeset = create_artifact(bugs, author=alice, values={"title": "Lost", "cc": ["bob"]})
    lost_job = aged(changeset, settings.NOTIFICATION_RECOVERY_AFTER + 1).job_id
    redis_clean.client().delete(f"rq:job:{lost_job}")  # Redis lost it
    run = [*manage_py, "notifications_sweep", "--once"]

    done = subprocess.run(run, env=worker_env, capture_output=True, text=True, timeout=120, cwd=ROOT)

    assert done.returncode == 0, done.stderr
    assert "Recovery sweep: ran." in done.stdout
    assert "1 lost_job" in done.stderr  # its log line, on the console for the timer's journal
    assert record_of(changeset).job_id != lost_job
    assert record_of(changeset).job_id in queues.notifications_queue().get_job_ids()

    unreachable = {**worker_env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    failed = subprocess.run(run, env=unreachable, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert failed.returncode == 1 and "Recovery sweep: failed." in failed.stdout
    assert "Traceback" not in failed.stderr
