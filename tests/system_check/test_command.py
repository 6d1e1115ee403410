"""``manage.py system_check``: the event it records, its report, and its exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.conftest import ROOT
from tests.support.redis_server import RedisServer, free_port
from tests.system_check.conftest import GOOD_PASSWORD, new_artifact, record_for
from tracker.models import NotificationRecord, SystemEvent, Tracker, User
from tuleap_backend.env import AsyncEmails


def system_check(*args: str) -> tuple[int, str]:
    """Run the command as cron would; return its exit status and what it printed."""
    out = StringIO()
    try:
        call_command("system_check", *args, stdout=out)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def healthy(settings, well_kept_redis: RedisServer, db: None) -> None:
    """A well-kept Redis, every project inline: nothing to report."""
    settings.REDIS_URL = well_kept_redis.url
    settings.ASYNC_EMAILS = AsyncEmails(frozenset())


def test_a_healthy_system_ends_done_and_exits_0(healthy: None) -> None:
    status, output = system_check()

    assert status == 0
    event = SystemEvent.objects.get()
    assert event.type == SystemEvent.Type.SYSTEM_CHECK
    assert event.status == SystemEvent.Status.DONE
    assert event.started_at is not None and event.ended_at >= event.started_at
    assert "[INFO] housekeeping: Purged 0 ended notification records older than 7 days." in event.log
    assert output.startswith(f"System check #{event.pk} at ")
    assert output.splitlines()[0].endswith(": DONE")


def test_a_pending_notification_ends_warning_and_exits_1(healthy: None, bugs: Tracker, alice: User) -> None:
    artifact = new_artifact(bugs, alice)
    record_for(artifact, age=timedelta(minutes=10))

    status, output = system_check()

    assert status == 1
    event = SystemEvent.objects.get()
    assert event.status == SystemEvent.Status.WARNING
    # The warning carries the name of the check that raised it, in the log and in the findings.
    assert "[WARNING] pending_notifications: There are 1 notifications pending, you should check" in event.log
    [warning] = [f for f in event.findings if f["level"] == "WARNING"]
    assert warning["check"] == "pending_notifications"
    assert warning["details"]["artifact_ids"] == [artifact.pk]
    assert "[WARNING] pending_notifications: There are 1 notifications pending" in output


def test_a_stopped_redis_is_an_error_recorded_in_the_event_and_exits_2(settings, db: None) -> None:
    settings.ASYNC_EMAILS = AsyncEmails("all")
    server = RedisServer("--appendonly", "yes", password=GOOD_PASSWORD)
    settings.REDIS_URL = server.url
    server.stop()

    status, output = system_check()

    assert status == 2
    event = SystemEvent.objects.get()
    assert event.status == SystemEvent.Status.ERROR
    assert f"[ERROR] redis: Redis at redis://:***@127.0.0.1:{server.port}/0 cannot be reached" in event.log
    assert "[INFO] workers: Skipped: Redis cannot be reached (see the redis check)." in event.log
    # The checks that do not need Redis still ran.
    assert "[INFO] housekeeping: Purged 0" in event.log
    assert "[ERROR] redis:" in output
    assert GOOD_PASSWORD not in output + event.log


def test_json_output_carries_the_same_report(healthy: None, bugs: Tracker, alice: User) -> None:
    artifact = new_artifact(bugs, alice)
    record_for(artifact, age=timedelta(minutes=10))

    status, output = system_check("--format", "json")

    report = json.loads(output)
    event = SystemEvent.objects.get()
    assert status == report["exit_code"] == 1
    assert report["event_id"] == event.pk
    assert report["status"] == "WARNING"
    assert report["type"] == "SYSTEM_CHECK"
    assert report["requeued"] is None
    [warning] = [f for f in report["findings"] if f["level"] == "WARNING"]
    assert warning["check"] == "pending_notifications"
    assert warning["details"]["count"] == 1
    assert report["findings"] == event.findings


def test_a_failure_is_reported_by_one_check_only(healthy: None, bugs: Tracker, alice: User) -> None:
    a_minute_ago = timezone.now() - timedelta(minutes=1)
    record_for(
        new_artifact(bugs, alice),
        age=timedelta(minutes=5),
        status=NotificationRecord.Status.FAILED,
        started_at=a_minute_ago,
        ended_at=a_minute_ago,
        last_error="(550, 'Mailbox unavailable')",
    )

    first_status, first_output = system_check()
    second_status, second_output = system_check()

    # "Since the last check": the second run starts where the first one started.
    assert first_status == 1
    assert "[WARNING] failed_notifications: 1 notifications failed" in first_output
    assert second_status == 0
    assert "failed_notifications" not in second_output


def test_a_configuration_problem_is_part_of_the_report(healthy: None, settings) -> None:
    settings.METRICS_SECRET = "too-short"

    status, output = system_check()

    assert status == 1
    assert "[WARNING] configuration: The metrics secret is 9 characters long" in output
    assert "(tracker.W003)" in output


def test_a_check_that_crashes_does_not_stop_the_others(healthy: None, settings) -> None:
    settings.NOTIFICATION_RETENTION_DAYS = "seven"  # a bad override in a settings module

    status, output = system_check()

    assert status == 2
    assert "[ERROR] housekeeping: The check crashed (TypeError:" in output
    assert "[INFO] redis: Redis at" in output
    assert SystemEvent.objects.get().status == SystemEvent.Status.ERROR


def test_an_unreachable_database_is_reported_without_a_traceback() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="tuleap_backend.settings",
        DATABASE_URL=f"postgres://tuleap@127.0.0.1:{free_port()}/tuleap",
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        ASYNC_EMAILS="all",
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "system_check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 2
    assert done.stdout.startswith("System check (not recorded: the database cannot be reached) at ")
    assert "[ERROR] database: The database cannot be reached" in done.stdout
    assert "[ERROR] redis: Redis at redis://127.0.0.1:" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
