"""The gauges of notifications waiting for a retry, and the counters of the recovery sweep."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.monitoring.conftest import Scrape
from tracker.models import NotificationRecord, Tracker, User
from tracker.monitoring.metrics import record_notification_throttled, record_notifications_recovered
from tracker.services.artifacts import create_artifact

pytestmark = pytest.mark.django_db

Status = NotificationRecord.Status


def record(tracker: Tracker, author: User, **fields: object) -> NotificationRecord:
    changeset = create_artifact(tracker, author=author, values={"title": "Crash"})
    NotificationRecord.objects.filter(changeset=changeset).update(**fields)
    return NotificationRecord.objects.get(changeset=changeset)


def test_records_waiting_for_a_retry_and_the_most_overdue_one_are_gauges(
    scrape: Callable[[], Scrape], bugs: Tracker, alice: User
) -> None:
    now = timezone.now()
    # Waiting, not due yet: counted as retrying, not overdue.
    record(bugs, alice, status=Status.RETRY, next_attempt_at=now + timedelta(minutes=5))
    # Due 100 s ago and nobody took it: the most overdue.
    record(bugs, alice, status=Status.RETRY, next_attempt_at=now - timedelta(seconds=100))
    # Pending for 40 s: due since its creation.
    record(bugs, alice, created_at=now - timedelta(seconds=40))
    # Ended: none of these.
    record(bugs, alice, status=Status.DONE, ended_at=now, next_attempt_at=now - timedelta(hours=1))

    metrics = scrape()

    assert metrics.value("tuleap_notifications_retrying") == 2
    assert 100 <= metrics.value("tuleap_notifications_oldest_due_age_seconds") < 110
    assert metrics.value("tuleap_notifications_pending") == 3


def test_nothing_overdue_reads_zero(scrape: Callable[[], Scrape], bugs: Tracker, alice: User) -> None:
    record(bugs, alice, status=Status.RETRY, next_attempt_at=timezone.now() + timedelta(minutes=5))
    record(bugs, alice, status=Status.DONE, ended_at=timezone.now())

    metrics = scrape()

    assert metrics.value("tuleap_notifications_oldest_due_age_seconds") < 1
    assert metrics.value("tuleap_notifications_retrying") == 1


def test_the_sweep_and_the_throttle_are_counted(scrape: Callable[[], Scrape]) -> None:
    before = scrape()
    assert before.value("tuleap_notifications_throttled_total") == 0
    assert before.value("tuleap_notifications_recovered_total", reason="lost_job") == 0

    record_notification_throttled()
    record_notifications_recovered("lost_job", 20)
    record_notifications_recovered("abandoned", 1)

    metrics = scrape()
    assert metrics.value("tuleap_notifications_throttled_total") == 1
    assert metrics.value("tuleap_notifications_recovered_total", reason="lost_job") == 20
    assert metrics.value("tuleap_notifications_recovered_total", reason="abandoned") == 1
