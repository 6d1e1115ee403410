"""A Redis failover under a stream of creations: real gunicorn, supervisor, worker, sentinels, SMTP sink.

The web and the workers are given only the sentinels (REDIS_URL's host is a closed port). The master is
killed (SIGKILL) while artifacts keep being created through the API; the sentinels promote the replica.
Nobody is restarted: the web must keep answering, the workers must carry on with the new master, and
every email must arrive exactly once: the outbox records and the recovery sweep cover what the dead
master took with it.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.db.models import Min
from django.utils import timezone
from rest_framework.authtoken.models import Token

from tests.support.redis_sentinel import CreationStream, SentinelSetup, longest_failure
from tests.support.redis_server import free_port
from tests.support.smtp import SMTPServer
from tests.support.workers import ManagedProcess, wait_until
from tracker.models import Changeset, NotificationDelivery, NotificationRecord, Tracker, User

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# The sweep hands a record whose job the dead master took to a new job after this long (README:
# "The recovery sweep"); short here so the test waits seconds, not minutes.
FAST_RECOVERY = {"NOTIFICATION_SWEEP_INTERVAL": "2", "NOTIFICATION_RECOVERY_AFTER": "5"}


@pytest.fixture
def sentinels() -> Iterator[SentinelSetup]:
    with SentinelSetup() as setup:
        yield setup


@pytest.fixture
def web(worker_env: dict[str, str], sentinels: SentinelSetup, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    process = ManagedProcess(
        [sys.executable, "-m", "gunicorn"],
        ["tuleap_backend.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        {**worker_env, **sentinels.env(), "LOGGER_LEVEL": "warning"},
        tmp_path / "gunicorn.out",
    )
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return requests.get(f"{base}/api/", timeout=2).status_code < 500
        except requests.RequestException:
            return False

    assert wait_until(answers, timeout=60), process.output()
    yield base
    process.terminate(timeout=30)


def worker_sent(since: dt.datetime) -> NotificationRecord | None:
    """The first record created after ``since`` that a worker sent (its job went through Redis)."""
    return (
        NotificationRecord.objects.filter(
            created_at__gt=since, status=NotificationRecord.Status.DONE, fell_back_inline=False
        )
        .order_by("created_at")
        .first()
    )


def test_a_master_killed_under_a_stream_of_creations_loses_and_doubles_no_email(
    web: str,
    sentinels: SentinelSetup,
    start_supervisor,
    smtp: SMTPServer,
    bugs: Tracker,
    alice: User,
    bob: User,
    carol: User,
    tmp_path: Path,
    manage_py: list[str],
    worker_env: dict[str, str],
) -> None:
    supervisor = start_supervisor(NB_BACKEND_WORKERS="1", **sentinels.env(), **FAST_RECOVERY)
    stream = CreationStream(web, Token.objects.create(user=alice).key, bugs.pk, ["bob", "carol"])
    stream.start()
    try:
        # The worker sends through the master before anything breaks.
        began = timezone.now()
        assert wait_until(lambda: worker_sent(began), timeout=120), supervisor.output()[-3000:]

        killed_at = timezone.now()
        killed = sentinels.kill_master()
        promoted = sentinels.wait_for_promotion()
        promoted_at = timezone.now()
        # It should go on through the new master: a creation made after the promotion is sent by a
        # worker (its job went through Redis), with no process restarted by the test.
        assert wait_until(lambda: worker_sent(promoted_at), timeout=120), (
            supervisor.output()[-3000:] + (tmp_path / "worker.log").read_text()[-5000:]
        )
        assert wait_until(lambda: stream.answered_after(promoted) >= 10, timeout=60)
    finally:
        answers = stream.stop()

    # Every creation is answered, during the failover too (a save never fails because of Redis).
    failed_for = longest_failure(answers)
    print(
        f"\nFailover: sentinels promoted the replica {promoted - killed:.1f} s after the kill; "
        f"{len(answers)} creations, {sum(not a.ok for a in answers)} failed, requests failed for "
        f"{failed_for:.1f} s at most."
    )
    assert [a.status for a in answers if not a.ok] == []

    # Every notification ends, each email delivered exactly once to each recipient.
    def all_ended() -> bool:
        return not NotificationRecord.objects.filter(ended_at__isnull=True).exists()

    assert wait_until(all_ended, timeout=180), list(
        NotificationRecord.objects.filter(ended_at__isnull=True).values("changeset_id", "status", "job_id")
    )
    assert set(NotificationRecord.objects.values_list("status", flat=True)) == {
        NotificationRecord.Status.DONE
    }
    deliveries = smtp.deliveries()
    assert set(deliveries.values()) == {1}
    created = set(Changeset.objects.filter(artifact__tracker=bugs).values_list("pk", flat=True))
    assert len(created) == len(answers)
    expected = {(str(pk), address) for pk in created for address in ("bob@example.com", "carol@example.com")}
    assert set(deliveries) == expected

    first = NotificationDelivery.objects.filter(sent_at__gt=killed_at).aggregate(first=Min("sent_at"))
    print(f"First email delivered {(first['first'] - killed_at).total_seconds():.1f} s after the kill.")

    # The system check, run as an administrator would, names the new master (and warns: no replica).
    check = subprocess.run(
        [*manage_py, "system_check", "--format", "json"],
        env={**worker_env, **sentinels.env()},
        capture_output=True,
        text=True,
        timeout=120,
    )
    findings = [f for f in json.loads(check.stdout)["findings"] if f["check"] == "redis_sentinel"]
    [report] = [f for f in findings if f["level"] == "INFO"]
    assert report["details"]["master"] == f"127.0.0.1:{sentinels.replica.port}", findings
    assert {f["level"] for f in findings} == {"INFO", "WARNING"}, findings
