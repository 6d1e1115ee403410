"""``system_check --requeue``: notifications whose jobs were lost are sent, and exactly once."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from pathlib import Path

import django_rq
import pytest
from django.core.management import call_command
from django.utils import timezone

from tests import conftest as shared
from tests.support.redis_server import free_port
from tests.support.smtp import SMTPServer
from tracker.models import NotificationRecord, SystemEvent, Tracker, User
from tracker.services.artifacts import create_artifact
from tuleap_backend.env import AsyncEmails

pytestmark = pytest.mark.slow


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


def system_check(*args: str) -> SystemEvent:
    # The tests' own Redis is no production Redis (no append-only file): the run ends with a warning.
    with contextlib.suppress(SystemExit):
        call_command("system_check", *args, stdout=StringIO())
    return SystemEvent.objects.order_by("-pk").first()


def messages(event: SystemEvent, check: str) -> list[str]:
    return [f["message"] for f in event.findings if f["check"] == check]


def run_worker_burst(manage_py: list[str], env: dict[str, str]) -> None:
    subprocess.run([*manage_py, "rqworker", "notifications", "--burst"], env=env, check=True, timeout=120)


def test_requeue_sends_lost_notifications_exactly_once(
    redis_clean: shared.TestRedis,
    settings,
    manage_py: list[str],
    subprocess_env: dict[str, str],
    smtp: SMTPServer,
    tmp_path: Path,
    bugs: Tracker,
    alice: User,
    bob: User,
    carol: User,
) -> None:
    settings.ASYNC_EMAILS = AsyncEmails("all")
    changesets = [
        create_artifact(
            bugs, author=alice, values={"title": f"Lost {n}", "assigned_to": "bob", "cc": ["carol"]}
        )
        for n in range(2)
    ]
    # Redis lost the jobs (restarted without an append-only file), and nobody noticed for a while.
    django_rq.get_queue("notifications").empty()
    NotificationRecord.objects.update(created_at=timezone.now() - timedelta(minutes=20))

    first = system_check("--requeue")
    # A second requeue before any worker ran: two jobs per changeset now.
    second = system_check("--requeue")

    assert messages(first, "pending_notifications")[0].startswith("There are 2 notifications pending")
    assert "Requeued 2 pending notifications on the notifications queue." in messages(
        first, "pending_notifications"
    )
    assert "Requeued 2 pending notifications on the notifications queue." in messages(
        second, "pending_notifications"
    )
    assert first.parameters == {"requeue": True}

    worker_env = {**subprocess_env, **smtp.env(), "WORKER_LOG": str(tmp_path / "worker.log")}
    run_worker_burst(manage_py, worker_env)

    assert smtp.wait_for_addresses(4)
    expected = {
        (str(c.pk), address) for c in changesets for address in ("bob@example.com", "carol@example.com")
    }
    # Every recipient got each changeset's email once, although each job ran twice.
    assert smtp.deliveries() == dict.fromkeys(expected, 1)
    assert set(NotificationRecord.objects.values_list("status", flat=True)) == {
        NotificationRecord.Status.DONE
    }

    # Nothing is pending any more, and a third requeue has nothing to send.
    third = system_check("--requeue")
    assert not any(m.startswith("There are") for m in messages(third, "pending_notifications"))
    assert "Requeued 0 pending notifications on the notifications queue." in messages(
        third, "pending_notifications"
    )


def test_requeue_with_redis_down_is_an_error_that_loses_nothing(
    settings, bugs: Tracker, alice: User, bob: User
) -> None:
    settings.ASYNC_EMAILS = AsyncEmails("all")
    artifact = create_artifact(bugs, author=alice, values={"title": "Stuck", "assigned_to": "bob"}).artifact
    NotificationRecord.objects.update(created_at=timezone.now() - timedelta(minutes=20))
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    settings.REDIS_URL = unreachable
    settings.RQ_QUEUES = {name: {**queue, "URL": unreachable} for name, queue in settings.RQ_QUEUES.items()}

    event = system_check("--requeue")

    assert event.status == SystemEvent.Status.ERROR
    [pending, requeue] = messages(event, "pending_notifications")
    assert pending.startswith("There are 1 notifications pending")
    assert requeue.startswith("Requeued 0 of 1 pending notifications, then Redis failed")
    # The record is still there, pending, for the next run.
    record = NotificationRecord.objects.get(changeset__artifact=artifact)
    assert record.ended_at is None
