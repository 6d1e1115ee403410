"""Each metric appears in a scrape after the activity it measures, with the right value."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from tests.monitoring.conftest import Scrape
from tracker.models import NotificationRecord, Project, SystemEvent, Tracker, User
from tracker.monitoring.collectors import build_version
from tracker.monitoring.metrics import record_email_failed, record_emails_sent, record_jira_import
from tracker.services.artifacts import create_artifact, update_artifact
from tracker.system_check.base import Finding, Level
from tracker.system_check.service import Check, run_system_check

pytestmark = pytest.mark.django_db

PROMTOOL = "/usr/bin/promtool"


def test_artifact_saves_are_counted_once_committed(
    scrape: Callable[[], Scrape], bugs: Tracker, alice: User, bob: User, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        first = create_artifact(bugs, author=alice, values={"title": "Crash on save"}).artifact
        create_artifact(bugs, author=bob, values={"title": "Slow search"})
        update_artifact(first, author=bob, values={"status": "In progress"})

    metrics = scrape()

    assert metrics.value("tuleap_tracker_artifacts_total", type="created") == 2
    assert metrics.value("tuleap_tracker_artifacts_total", type="updated") == 1
    assert metrics.value("tuleap_tracker_artifact_changesets_total") == 3
    # The computed counts come from the database, whatever the counters say.
    assert metrics.value("tuleap_tracker_artifacts_count") == 2
    assert metrics.value("tuleap_tracker_artifact_changesets_count") == 3


def test_a_rolled_back_save_is_not_counted(scrape: Callable[[], Scrape], bugs: Tracker, alice: User) -> None:
    # Without the commit, artifact_saved is never sent (the test transaction is rolled back).
    create_artifact(bugs, author=alice, values={"title": "Never committed"})

    assert scrape().value("tuleap_tracker_artifacts_total", type="created") == 0


def test_imports_without_notification_are_counted_only_in_the_computed_counts(
    scrape: Callable[[], Scrape], bugs: Tracker, alice: User, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        create_artifact(bugs, author=alice, values={"title": "Imported"}, notify=False)

    metrics = scrape()
    assert metrics.value("tuleap_tracker_artifacts_total", type="created") == 0
    assert metrics.value("tuleap_tracker_artifacts_count") == 1


def test_emails_sent_and_failed_are_counted_by_mode(scrape: Callable[[], Scrape]) -> None:
    # It should show every mode and reason at 0 before the first email, so that rate() sees the first.
    before = scrape()
    assert before.value("tuleap_mails_total", mode="inline") == 0
    assert before.value("tuleap_mails_total", mode="async") == 0
    for reason in ("connect", "timeout", "temporary", "permanent", "recipient"):
        assert before.value("tuleap_mail_failures_total", reason=reason) == 0

    # As the notifications code announces them: inline in the request, async from a worker.
    record_emails_sent("inline", 3)
    record_emails_sent("inline", 2)
    record_emails_sent("async", 4)
    record_email_failed("temporary")
    record_email_failed("connect")
    record_email_failed("connect")

    metrics = scrape()

    assert metrics.value("tuleap_mails_total", mode="inline") == 5
    assert metrics.value("tuleap_mails_total", mode="async") == 4
    assert metrics.value("tuleap_mail_failures_total", reason="connect") == 2
    assert metrics.value("tuleap_mail_failures_total", reason="temporary") == 1
    assert metrics.total("tuleap_mail_failures_total") == 3


def test_computed_counts_of_users_and_projects(
    scrape: Callable[[], Scrape], public_project: Project, private_project: Project, dave: User
) -> None:
    Project.objects.create(shortname="other", name="Other", is_public=True)

    metrics = scrape()

    assert metrics.value("tuleap_users_total") == User.objects.count() == 4
    assert metrics.value("tuleap_projects_total", type="public") == 2
    assert metrics.value("tuleap_projects_total", type="private") == 1


def test_notification_gauges_follow_the_records(
    scrape: Callable[[], Scrape], bugs: Tracker, alice: User
) -> None:
    changesets = [
        create_artifact(bugs, author=alice, values={"title": f"Bug {n}"}, notify=False) for n in range(4)
    ]
    now = timezone.now()
    NotificationRecord.objects.create(changeset=changesets[0], mode="async")
    old = NotificationRecord.objects.create(changeset=changesets[1], mode="async", status="started")
    NotificationRecord.objects.filter(pk=old.pk).update(created_at=now - timedelta(minutes=15))
    NotificationRecord.objects.create(changeset=changesets[2], mode="inline", status="done", ended_at=now)
    failed = NotificationRecord.objects.create(
        changeset=changesets[3], mode="async", status="failed", ended_at=now
    )
    NotificationRecord.objects.filter(pk=failed.pk).update(created_at=now - timedelta(hours=2))

    metrics = scrape()

    # Pending means not ended: the failed one is old but over, so it does not count.
    assert metrics.value("tuleap_notifications_pending") == 2
    oldest = metrics.value("tuleap_notifications_oldest_pending_age_seconds")
    assert 15 * 60 <= oldest < 16 * 60
    assert metrics.value("tuleap_notifications_failed") == 1


def test_nothing_pending_means_an_age_of_zero(scrape: Callable[[], Scrape]) -> None:
    metrics = scrape()

    assert metrics.value("tuleap_notifications_pending") == 0
    assert metrics.value("tuleap_notifications_oldest_pending_age_seconds") == 0


def test_system_events_are_counted_when_they_end(
    scrape: Callable[[], Scrape], django_capture_on_commit_callbacks
) -> None:
    def ending(level: Level) -> tuple[Check, ...]:
        return (Check("stub", lambda context: [Finding("stub", level, f"A {level} finding.")]),)

    with django_capture_on_commit_callbacks(execute=True):
        # The system check ends its events (the one place events end): with a warning, an error.
        run_system_check(checks=ending(Level.WARNING))
        run_system_check(checks=ending(Level.ERROR))
        SystemEvent.objects.create(status=SystemEvent.Status.NEW)
        # Saving an event that has already ended again does not count it twice.
        ended = SystemEvent.objects.get(status=SystemEvent.Status.WARNING)
        ended.log = "appended later"
        ended.save()

    metrics = scrape()

    assert metrics.value("tuleap_system_events_total", status="WARNING") == 1
    assert metrics.value("tuleap_system_events_total", status="ERROR") == 1
    assert metrics.value("tuleap_system_events_total", status="DONE") == 0
    assert metrics.value("tuleap_system_events_count", status="WARNING") == 1
    assert metrics.value("tuleap_system_events_count", status="NEW") == 1
    assert metrics.value("tuleap_system_events_count", status="RUNNING") == 0


def test_jira_imports_are_listed_before_any_import_and_counted_after(scrape: Callable[[], Scrape]) -> None:
    before = scrape()
    assert "tuleap_jira_imports" in before.families
    assert before.total("tuleap_jira_imports_total") == 0

    record_jira_import("done")
    record_jira_import("done")
    record_jira_import("failed")

    after = scrape()
    assert after.value("tuleap_jira_imports_total", status="done") == 2
    assert after.value("tuleap_jira_imports_total", status="failed") == 1


def test_build_info_names_the_running_version(scrape: Callable[[], Scrape]) -> None:
    assert build_version() == "0.1.0"
    assert scrape().value("tuleap_build_info", version="0.1.0") == 1


def test_django_prometheus_and_django_rq_metrics_share_the_endpoint(
    scrape: Callable[[], Scrape], alice: User
) -> None:
    Client().get("/accounts/login/")
    User.objects.filter(username="nobody").exists()

    metrics = scrape()

    assert metrics.total("django_http_requests_total_by_method_total", method="GET") >= 1
    assert metrics.total("django_db_execute_total") >= 1
    assert "django_cache_get" in metrics.families
    assert "rq_jobs" in metrics.families and "rq_workers" in metrics.families
    assert metrics.value("tuleap_redis_up") == 1


def test_prometheus_metrics_clear_empties_the_stored_counters(scrape: Callable[[], Scrape]) -> None:
    record_emails_sent("inline", 3)
    assert scrape().value("tuleap_mails_total", mode="inline") == 3

    call_command("prometheus_metrics_clear")

    metrics = scrape()
    assert metrics.value("tuleap_mails_total", mode="inline") == 0
    # Gauges are computed, not stored: they are still there.
    assert metrics.value("tuleap_notifications_pending") == 0


def test_the_exposition_follows_the_prometheus_text_format(
    scrape: Callable[[], Scrape], bugs: Tracker, alice: User, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        create_artifact(bugs, author=alice, values={"title": "Crash"})
    record_emails_sent("inline", 1)
    record_jira_import("done")

    metrics = scrape()

    # Every family is typed, and every tuleap_ name this platform promises is there.
    promised = {
        "tuleap_queue_events",
        "tuleap_queue_events_duration_seconds",
        "tuleap_worker_events",
        "tuleap_workers",
        "tuleap_mails",
        "tuleap_mail_failures",
        "tuleap_tracker_artifacts",
        "tuleap_tracker_artifact_changesets",
        "tuleap_notifications_pending",
        "tuleap_notifications_oldest_pending_age_seconds",
        "tuleap_notifications_failed",
        "tuleap_notifications_retrying",
        "tuleap_notifications_oldest_due_age_seconds",
        "tuleap_notifications_throttled",
        "tuleap_notifications_recovered",
        "tuleap_system_events",
        "tuleap_system_events_count",
        "tuleap_jira_imports",
        "tuleap_jira_updates",
        "tuleap_users_total",
        "tuleap_projects_total",
        "tuleap_tracker_artifacts_count",
        "tuleap_tracker_artifact_changesets_count",
        "tuleap_build_info",
    }
    assert promised <= set(metrics.families)
    assert all(
        family.type != "unknown" or family.name.endswith(("_total", "_count"))
        for family in metrics.families.values()
    )


# Skipped on a developer's machine without promtool; never in CI, which installs it.
@pytest.mark.skipif(
    not Path(PROMTOOL).exists() and not os.environ.get("CI"),
    reason="promtool is not installed (Debian package prometheus)",
)
def test_promtool_accepts_the_exposition(
    scrape: Callable[[], Scrape], bugs: Tracker, alice: User, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        create_artifact(bugs, author=alice, values={"title": "Crash"})
    record_emails_sent("async", 2)
    Client().get("/accounts/login/")

    result = subprocess.run(
        [shutil.which(PROMTOOL) or PROMTOOL, "check", "metrics"],
        input=scrape().text,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr
