"""What the system check says about lost jobs, retries and failures now that a sweep recovers them."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tests import conftest as shared
from tests.system_check.conftest import context, new_artifact, record_for
from tracker import queues
from tracker.models import NotificationRecord, Tracker, User
from tracker.system_check import failed_notifications, pending_notifications
from tracker.system_check.base import Level

Status = NotificationRecord.Status


def test_a_pending_record_whose_job_redis_lost_is_reported_at_once_naming_the_sweep(
    redis_clean: shared.TestRedis, bugs: Tracker, alice: User, settings
) -> None:
    settings.NOTIFICATION_RECOVERY_AFTER = 60
    lost = record_for(
        new_artifact(bugs, alice, "Lost"), age=timedelta(seconds=90), job_id="notification-lost"
    )
    queued = record_for(
        new_artifact(bugs, alice, "Queued"), age=timedelta(seconds=90), job_id="notification-q"
    )
    queues.notifications_queue().enqueue(
        "tests.notifications.slow_jobs.sleep_for", 0, job_id="notification-q"
    )

    findings = pending_notifications.run(context())

    # Well before NOTIFICATION_PENDING_THRESHOLD (120 s), yet a warning: its job is gone.
    [finding] = [f for f in findings if "lost_jobs" in f.details]
    assert finding.level == Level.WARNING
    assert finding.details == {"lost_jobs": 1, "changeset_ids": [lost.changeset_id]}
    assert "recovery sweep of manage.py backend_workers" in finding.message
    assert "manage.py notifications_sweep --once" in finding.message
    assert queued.changeset_id not in finding.details["changeset_ids"]


def test_records_waiting_for_a_retry_are_reported_with_their_last_error(bugs: Tracker, alice: User) -> None:
    record_for(
        new_artifact(bugs, alice),
        age=timedelta(minutes=30),
        status=Status.RETRY,
        next_attempt_at=timezone.now() + timedelta(minutes=5),
        last_error="ConnectionRefusedError: [Errno 111] Connection refused",
    )

    [finding] = pending_notifications.run(context())

    assert finding.level == Level.WARNING  # older than NOTIFICATION_PENDING_THRESHOLD
    assert finding.message.startswith("1 notifications wait for a retry after a transient error")
    assert "Connection refused" in finding.message and "then every 30 min" in finding.message
    assert finding.details["retrying"] == 1


def test_a_fresh_retry_is_only_information(bugs: Tracker, alice: User) -> None:
    record_for(
        new_artifact(bugs, alice),
        age=timedelta(seconds=20),
        status=Status.RETRY,
        next_attempt_at=timezone.now() + timedelta(seconds=10),
    )

    [finding] = pending_notifications.run(context())

    assert finding.level == Level.INFO


def test_a_retry_due_long_ago_that_nobody_took_is_pending(bugs: Tracker, alice: User) -> None:
    artifact = new_artifact(bugs, alice)
    record_for(
        artifact,
        age=timedelta(hours=1),
        status=Status.RETRY,
        next_attempt_at=timezone.now() - timedelta(minutes=10),
    )

    findings = pending_notifications.run(context())

    [pending] = [f for f in findings if f.message.startswith("There are")]
    assert pending.details["artifact_ids"] == [artifact.pk]


def test_the_failed_finding_names_the_resend_command_not_a_deletion(bugs: Tracker, alice: User) -> None:
    moment = timezone.now() - timedelta(minutes=5)
    record_for(new_artifact(bugs, alice), age=timedelta(hours=25), status=Status.FAILED, ended_at=moment)

    [finding] = failed_notifications.run(context())

    assert "manage.py resend_notifications --failed" in finding.message
    assert "delete" not in finding.message
