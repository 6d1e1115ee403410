"""Check 2 (failed notifications since the last check) and check 6 (purging old records)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tests.system_check.conftest import context, new_artifact, record_for
from tracker.models import NotificationRecord, Tracker, User
from tracker.system_check import failed_notifications, housekeeping
from tracker.system_check.base import Level

FAILED = NotificationRecord.Status.FAILED
DONE = NotificationRecord.Status.DONE


def ended(artifact, *, ago: timedelta, status: str = FAILED, error: str = "") -> NotificationRecord:
    moment = timezone.now() - ago
    return record_for(
        artifact, age=ago, status=status, started_at=moment, ended_at=moment, last_error=error, attempts=4
    )


def test_no_failed_notification_raises_nothing(bugs: Tracker, alice: User) -> None:
    ended(new_artifact(bugs, alice), ago=timedelta(minutes=5), status=DONE)

    assert failed_notifications.run(context()) == []


def test_failures_since_the_last_check_raise_a_warning_with_the_last_error(
    bugs: Tracker, alice: User
) -> None:
    last_check = timezone.now() - timedelta(minutes=30)
    already_reported = new_artifact(bugs, alice, "Reported last time")
    first = new_artifact(bugs, alice, "First failure")
    second = new_artifact(bugs, alice, "Second failure")
    ended(already_reported, ago=timedelta(minutes=45), error="(421, 'Service not available')")
    ended(first, ago=timedelta(minutes=20), error="(421, 'Service not available')")
    ended(second, ago=timedelta(minutes=2), error="Connection refused by mail.example.com:25")

    [finding] = failed_notifications.run(context(previous_check_at=last_check))

    assert finding.level == Level.WARNING
    assert finding.check == "failed_notifications"
    assert finding.message.startswith("2 notifications failed since the last check")
    assert "Connection refused by mail.example.com:25" in finding.message
    assert f"artifact #{second.pk}" in finding.message
    assert finding.details["count"] == 2
    assert finding.details["last_error"] == "Connection refused by mail.example.com:25"
    assert finding.details["artifact_ids"] == [first.pk, second.pk]


def test_without_an_earlier_check_every_kept_failure_is_reported(bugs: Tracker, alice: User) -> None:
    ended(new_artifact(bugs, alice), ago=timedelta(days=3), error="boom")

    [finding] = failed_notifications.run(context(previous_check_at=None))

    assert finding.message.startswith("1 notifications failed in the last 7 days (no earlier check)")


def test_housekeeping_purges_ended_records_older_than_a_week(bugs: Tracker, alice: User) -> None:
    old_done = ended(new_artifact(bugs, alice, "Old, sent"), ago=timedelta(days=8), status=DONE)
    old_failed = ended(new_artifact(bugs, alice, "Old, failed"), ago=timedelta(days=7, hours=1))
    recent = ended(new_artifact(bugs, alice, "Recent"), ago=timedelta(days=6), status=DONE)
    # Never ended: the pending check reports it; purging it would hide a lost notification.
    old_pending = record_for(new_artifact(bugs, alice, "Old, pending"), age=timedelta(days=30))

    [finding] = housekeeping.run(context())

    assert finding.level == Level.INFO
    assert finding.message == "Purged 2 ended notification records older than 7 days."
    assert finding.details == {"purged": 2}
    remaining = set(NotificationRecord.objects.values_list("pk", flat=True))
    assert {old_done.pk, old_failed.pk}.isdisjoint(remaining)
    assert {recent.pk, old_pending.pk} <= remaining


def test_the_retention_is_a_setting(bugs: Tracker, alice: User, settings) -> None:
    settings.NOTIFICATION_RETENTION_DAYS = 30
    kept = ended(new_artifact(bugs, alice), ago=timedelta(days=8), status=DONE)

    [finding] = housekeeping.run(context())

    assert finding.message == "Purged 0 ended notification records older than 30 days."
    assert NotificationRecord.objects.filter(pk=kept.pk).exists()
