"""Real notifications, sent to a real SMTP server, show up in the mail and queue metrics."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings

from tests.monitoring.conftest import Scrape
from tests.support.smtp import SMTPServer, smtp_for
from tracker.models import Tracker, User
from tracker.services.artifacts import create_artifact
from tuleap_backend.env import AsyncEmails

QUEUE = settings.NOTIFICATIONS_QUEUE


@pytest.fixture
def smtp(settings) -> Iterator[SMTPServer]:
    yield from smtp_for(settings)


@pytest.mark.django_db
def test_an_inline_notification_counts_its_emails(
    scrape: Callable[[], Scrape],
    smtp: SMTPServer,
    settings,
    bugs: Tracker,
    alice: User,
    bob: User,
    carol: User,
    django_capture_on_commit_callbacks,
) -> None:
    settings.ASYNC_EMAILS = AsyncEmails(frozenset())

    with django_capture_on_commit_callbacks(execute=True):
        create_artifact(bugs, author=alice, values={"title": "Crash on save", "cc": ["bob", "carol"]})

    assert sorted(smtp.addresses()) == ["bob@example.com", "carol@example.com"]
    metrics = scrape()
    assert metrics.value("tuleap_mails_total", mode="inline") == 2
    assert metrics.value("tuleap_mails_total", mode="async") == 0
    assert metrics.value("tuleap_notifications_pending") == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_async_notification_is_counted_by_the_web_and_by_the_worker(
    scrape: Callable[[], Scrape],
    smtp: SMTPServer,
    settings,
    bugs: Tracker,
    alice: User,
    bob: User,
    carol: User,
    redis_clean: object,
    subprocess_env: dict[str, str],
    manage_py: list[str],
) -> None:
    settings.ASYNC_EMAILS = AsyncEmails("all")

    create_artifact(bugs, author=alice, values={"title": "Crash on save", "cc": ["bob", "carol"]})
    waiting = scrape()
    assert waiting.value("tuleap_worker_events", queue=QUEUE) == 1
    assert waiting.value("tuleap_notifications_pending") == 1

    worker = subprocess.run(
        [*manage_py, "rqworker", QUEUE, "--burst"],
        env={**subprocess_env, **smtp.env()},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert worker.returncode == 0, worker.stdout + worker.stderr

    assert sorted(smtp.addresses()) == ["bob@example.com", "carol@example.com"]
    metrics = scrape()
    assert metrics.value("tuleap_mails_total", mode="async") == 2
    events = {"queue": QUEUE, "topic": "send_changeset_notification"}
    assert metrics.value("tuleap_queue_events_total", status="enqueued", **events) == 1
    assert metrics.value("tuleap_queue_events_total", status="dequeued", **events) == 1
    assert metrics.value("tuleap_queue_events_total", status="done", **events) == 1
    assert metrics.value("tuleap_queue_events_duration_seconds_count", **events) == 1
    assert metrics.value("tuleap_worker_events", queue=QUEUE) == 0
    assert metrics.value("tuleap_notifications_pending") == 0


@pytest.mark.django_db
def test_a_mail_server_refusing_every_connection_raises_the_failure_counter(
    scrape: Callable[[], Scrape],
    smtp: SMTPServer,
    settings,
    redis_clean: object,
    bugs: Tracker,
    alice: User,
    bob: User,
    carol: User,
) -> None:
    from tracker.notifications import notifier

    settings.ASYNC_EMAILS = AsyncEmails("all")
    smtp.stop()  # a full outage: the session cannot even be opened
    changesets = [
        create_artifact(bugs, author=alice, values={"title": f"Outage {n}", "cc": ["bob", "carol"]})
        for n in range(2)
    ]

    for attempt in range(2):
        for changeset in changesets:
            assert notifier.notify(changeset.pk, mode="async", token=f"job-{attempt}").state == "retry"

    # Every failed attempt counts, with its reason; nothing was sent.
    metrics = scrape()
    assert metrics.value("tuleap_mail_failures_total", reason="connect") == 4
    assert metrics.total("tuleap_mail_failures_total") == 4
    assert metrics.value("tuleap_mails_total", mode="async") == 0
    assert metrics.value("tuleap_notifications_retrying") == 2
