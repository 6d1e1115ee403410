"""The retry schedule, the author's hourly limit, resending what failed: in-process, real SMTP and Redis."""

from __future__ import annotations

import datetime as dt
import logging
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.notifications.conftest import cc_values, people, who_got
from tests.support.smtp import SMTPServer
from tracker import queues
from tracker.models import Changeset, NotificationDelivery, NotificationRecord, Tracker, User
from tracker.monitoring import metrics
from tracker.notifications import jobs, notifier, schedule
from tracker.services.artifacts import create_artifact

Status = NotificationRecord.Status


def record_of(changeset: Changeset) -> NotificationRecord:
    return NotificationRecord.objects.get(changeset=changeset)


def test_the_schedule_grows_like_a_mail_server_s_then_stays_at_its_ceiling(settings) -> None:
    settings.NOTIFICATION_RETRY_INTERVALS = [5, 10, 20, 40]
    settings.NOTIFICATION_RETRY_MAX_INTERVAL = 1800

    pauses = [schedule.pause_after(n) for n in range(1, 14)]

    assert pauses == [5, 10, 20, 40, 80, 160, 320, 640, 1280, 1800, 1800, 1800, 1800]
    # Far beyond: still the ceiling, no overflow.
    assert schedule.pause_after(10_000) == 1800
    assert schedule.describe() == (
        "5 s, 10 s, 20 s, 40 s, 80 s, 160 s, 320 s, 640 s, 1280 s, then every 30 min, for 24 h"
    )


def test_the_give_up_clock_starts_again_when_a_record_is_reopened(settings) -> None:
    settings.NOTIFICATION_GIVE_UP_AFTER = 3600
    created = timezone.now() - dt.timedelta(days=2)
    reopened = timezone.now() - dt.timedelta(minutes=5)

    assert schedule.give_up_at(created, None) == created + dt.timedelta(hours=1)
    assert schedule.give_up_at(created, reopened) == reopened + dt.timedelta(hours=1)


def test_an_author_over_the_hourly_limit_gets_the_rest_sent_in_the_next_hour(
    smtp: SMTPServer, async_all, redis_clean, settings, bugs: Tracker, alice: User, caplog, monkeypatch
) -> None:
    settings.NOTIFICATION_AUTHOR_MAX_PER_HOUR = 3
    throttled: list[bool] = []
    monkeypatch.setattr(metrics, "record_notification_throttled", lambda: throttled.append(True))
    caplog.set_level(logging.WARNING, logger="tracker.notifications.Notifier")
    cc = people(5, "cc", bugs.project)
    changeset = create_artifact(bugs, author=alice, values={"title": "Spam?", **cc_values(cc)})

    outcome = notifier.notify(changeset.pk, mode="async", token="job-1")

    # It should send what the limit allows, and hold the rest until the next clock hour: nothing lost.
    assert outcome.state == "retry"
    assert len(who_got(smtp, changeset)) == 3
    record = record_of(changeset)
    next_hour = timezone.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    assert record.status == Status.RETRY and record.next_attempt_at == next_hour
    assert record.last_failure == "throttled"
    [line] = [r.getMessage() for r in caplog.records if "throttled" in r.getMessage()]
    assert f"user {alice.pk}" in line and "NOTIFICATION_AUTHOR_MAX_PER_HOUR=3" in line
    assert "2 emails wait until" in line
    assert throttled == [True]

    # Another changeset of hers this hour is held entirely.
    second = create_artifact(bugs, author=alice, values={"title": "Again", **cc_values(cc[:1])})
    assert notifier.notify(second.pk, mode="async", token="job-2").state == "retry"
    assert who_got(smtp, second) == []

    # An hour later (the deliveries are an hour old), the next attempt sends the rest, once each.
    NotificationDelivery.objects.update(sent_at=timezone.now() - dt.timedelta(hours=1))
    assert notifier.notify(changeset.pk, mode="async", token=record.job_id).state == "done"
    assert sorted(who_got(smtp, changeset)) == [user.username for user in cc]


def test_no_limit_when_the_setting_is_zero(smtp: SMTPServer, async_all, settings, bugs, alice) -> None:
    settings.NOTIFICATION_AUTHOR_MAX_PER_HOUR = 0
    changeset = create_artifact(
        bugs, author=alice, values={"title": "Many", **cc_values(people(4, "x", bugs.project))}
    )

    assert notifier.notify(changeset.pk, mode="async", token="job").state == "done"
    assert len(who_got(smtp, changeset)) == 4


def failed_after_sending_some(
    smtp: SMTPServer, tracker: Tracker, author: User
) -> tuple[Changeset, list[User]]:
    """A record that delivered to two of four, then ended failed (its give-up time passed)."""
    cc = people(4, "cc", tracker.project)
    changeset = create_artifact(tracker, author=author, values={"title": "Crash", **cc_values(cc)})
    smtp.behaviour.refuse = {cc[2].email: "451 4.3.0 Try later", cc[3].email: "451 4.3.0 Try later"}
    assert notifier.notify(changeset.pk, mode="async", token="job-1").state == "retry"
    NotificationRecord.objects.filter(changeset=changeset).update(
        created_at=timezone.now() - dt.timedelta(days=2)
    )
    assert notifier.notify(changeset.pk, mode="async", token="job-2").state == "failed"
    smtp.behaviour.refuse = {}
    return changeset, cc


def test_resend_failed_reopens_them_and_nobody_gets_a_second_copy(
    smtp: SMTPServer, async_all, redis_clean, bugs: Tracker, alice: User
) -> None:
    changeset, _ = failed_after_sending_some(smtp, bugs, alice)
    assert sorted(who_got(smtp, changeset)) == ["cc000", "cc001"]
    out = StringIO()

    call_command("resend_notifications", "--failed", stdout=out)

    assert f"Re-opened 1 notifications (changesets {changeset.pk})." in out.getvalue()
    record = record_of(changeset)
    assert record.status == Status.PENDING and record.ended_at is None and record.reopened_at is not None
    [job] = queues.notifications_queue().get_jobs()
    assert job.id == record.job_id
    # What the worker then does:
    jobs.send_changeset_notification(changeset.pk)
    assert sorted(who_got(smtp, changeset)) == ["cc000", "cc001", "cc002", "cc003"]
    assert record_of(changeset).status == Status.DONE


def test_resend_selects_by_date_and_by_changeset(
    smtp: SMTPServer, async_all, redis_clean, bugs: Tracker, alice: User
) -> None:
    changeset, _ = failed_after_sending_some(smtp, bugs, alice)
    NotificationRecord.objects.filter(changeset=changeset).update(
        ended_at=timezone.now() - dt.timedelta(days=3)
    )
    out = StringIO()

    call_command("resend_notifications", "--failed", "--since", str(timezone.now().date()), stdout=out)
    assert "No ended notification matches" in out.getvalue()
    assert record_of(changeset).status == Status.FAILED

    call_command("resend_notifications", "--changeset", str(changeset.pk), stdout=out)
    assert record_of(changeset).status == Status.PENDING


def test_resend_says_what_is_wrong_with_its_arguments(db) -> None:
    with pytest.raises(CommandError, match="--failed, --changeset ID, or both"):
        call_command("resend_notifications")
    with pytest.raises(CommandError, match="is not a date"):
        call_command("resend_notifications", "--failed", "--since", "yesterday")


@pytest.mark.parametrize("value", ["5,ten", "0,5", "-1"])
def test_a_wrong_retry_schedule_stops_start_up_with_one_line(value: str, tmp_path) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check"],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tuleap_backend.settings",
            "NOTIFICATION_RETRY_INTERVALS": value,
        },
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )

    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"Configuration error: NOTIFICATION_RETRY_INTERVALS={value!r} is not valid; use positive numbers of "
        "seconds separated by commas, such as '5,10,20,40'."
    )


def test_the_admin_action_sends_the_selected_failed_notifications_again(
    smtp: SMTPServer, async_all, redis_clean, bugs: Tracker, alice: User, admin_user: User
) -> None:
    from django.test import Client

    changeset, _ = failed_after_sending_some(smtp, bugs, alice)
    record = record_of(changeset)
    client = Client()
    client.force_login(admin_user)

    response = client.post(
        "/admin/tracker/notificationrecord/",
        {"action": "resend_selected", "_selected_action": [record.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "Re-opened 1 notifications; 1 handed to the workers." in response.content.decode()
    assert record_of(changeset).status == Status.PENDING
    jobs.send_changeset_notification(changeset.pk)
    assert sorted(who_got(smtp, changeset)) == ["cc000", "cc001", "cc002", "cc003"]
