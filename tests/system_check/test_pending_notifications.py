"""Check 1: notifications left pending are found, with their count, age and artifacts."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tests.system_check.conftest import context, new_artifact, record_for
from tracker.models import NotificationRecord, Tracker, User
from tracker.system_check import pending_notifications
from tracker.system_check.base import Level
from tuleap_backend.env import AsyncEmails


def test_a_fresh_pending_record_raises_nothing(bugs: Tracker, alice: User) -> None:
    record_for(new_artifact(bugs, alice), age=timedelta(seconds=30))

    assert pending_notifications.run(context()) == []


def test_a_record_pending_longer_than_the_threshold_raises_a_warning(
    bugs: Tracker, alice: User, settings
) -> None:
    settings.WORKER_LOG = "/var/log/tuleap/worker.log"
    first = new_artifact(bugs, alice, "First")
    second = new_artifact(bugs, alice, "Second")
    record_for(first, age=timedelta(minutes=47))
    record_for(second, age=timedelta(seconds=121))
    record_for(new_artifact(bugs, alice, "Fresh"), age=timedelta(seconds=10))

    [finding] = pending_notifications.run(context())

    assert finding.level == Level.WARNING
    assert finding.check == "pending_notifications"
    # It should say exactly what to look at, then how old and which artifacts.
    assert finding.message.startswith(
        "There are 2 notifications pending, you should check the backend workers (manage.py "
        "backend_workers status) and their log file (/var/log/tuleap/worker.log) to ensure they are "
        "still running."
    )
    assert "The oldest has been pending for 47 min" in finding.message
    assert f"Affected artifacts: {first.pk}, {second.pk}." in finding.message
    assert finding.details["count"] == 2
    assert finding.details["artifact_ids"] == [first.pk, second.pk]


def test_the_threshold_is_a_setting(bugs: Tracker, alice: User, settings) -> None:
    settings.NOTIFICATION_PENDING_THRESHOLD = 3600
    record_for(new_artifact(bugs, alice), age=timedelta(minutes=47))

    assert pending_notifications.run(context()) == []


def test_only_the_first_twenty_artifacts_are_listed(bugs: Tracker, alice: User) -> None:
    artifacts = [new_artifact(bugs, alice, f"Issue {n}") for n in range(22)]
    for artifact in artifacts:
        record_for(artifact, age=timedelta(hours=2))

    [finding] = pending_notifications.run(context())

    ids = sorted(a.pk for a in artifacts)
    assert finding.message.startswith("There are 22 notifications pending")
    assert f"Affected artifacts: {', '.join(map(str, ids[:20]))} and 2 more." in finding.message
    assert finding.details["artifact_ids"] == ids[:20]
    assert finding.details["artifact_count"] == 22


def test_a_record_started_by_a_worker_that_died_counts_once_the_job_timeout_has_passed(
    bugs: Tracker, alice: User, settings
) -> None:
    settings.NOTIFICATION_JOB_TIMEOUT = 300
    now = timezone.now()
    still_running = new_artifact(bugs, alice, "Being sent")
    abandoned = new_artifact(bugs, alice, "Worker killed")
    record_for(
        still_running,
        age=timedelta(minutes=10),
        status=NotificationRecord.Status.STARTED,
        started_at=now - timedelta(seconds=200),
    )
    record_for(
        abandoned,
        age=timedelta(minutes=10),
        status=NotificationRecord.Status.STARTED,
        started_at=now - timedelta(seconds=301),
    )

    [finding] = pending_notifications.run(context())

    assert finding.details["count"] == 1
    assert finding.details["artifact_ids"] == [abandoned.pk]


def test_ended_records_are_never_pending(bugs: Tracker, alice: User) -> None:
    now = timezone.now()
    record_for(
        new_artifact(bugs, alice, "Sent"),
        age=timedelta(hours=3),
        status=NotificationRecord.Status.DONE,
        started_at=now - timedelta(hours=3),
        ended_at=now - timedelta(hours=3),
    )
    record_for(
        new_artifact(bugs, alice, "Failed"),
        age=timedelta(hours=3),
        status=NotificationRecord.Status.FAILED,
        started_at=now - timedelta(hours=3),
        ended_at=now - timedelta(hours=2),
    )

    assert pending_notifications.run(context()) == []


def test_inline_records_left_pending_are_found_with_async_emails_off(
    bugs: Tracker, alice: User, settings
) -> None:
    # A web process killed between the commit and the sending leaves an inline record behind.
    settings.ASYNC_EMAILS = AsyncEmails(frozenset())
    artifact = new_artifact(bugs, alice)
    record_for(artifact, age=timedelta(minutes=5), mode=NotificationRecord.Mode.INLINE)

    [finding] = pending_notifications.run(context())

    assert finding.details == {
        "count": 1,
        "oldest_age_seconds": finding.details["oldest_age_seconds"],
        "artifact_ids": [artifact.pk],
        "artifact_count": 1,
    }
