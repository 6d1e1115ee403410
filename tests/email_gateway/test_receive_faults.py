"""receive_email under faults: Redis down stores and exits 0 (the sweep processes it later); the
database down exits 75, so the mail server keeps the message and tries again."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.email_gateway.conftest import build_reply, wait_for_records
from tests.support.redis_server import free_port
from tests.support.smtp import SMTPServer
from tracker.email_gateway import recovery
from tracker.models import Changeset, InboundEmail, Tracker, User
from tracker.services.artifacts import create_artifact

pytestmark = pytest.mark.slow


def test_with_redis_down_the_message_is_stored_and_the_sweep_hands_it_to_a_worker(
    gateway: str, saving, smtp: SMTPServer, pipe, start_worker, bugs: Tracker, alice: User, bob: User
) -> None:
    changeset = saving(create_artifact, bugs, author=alice, values={"title": "Crash", "cc": ["bob"]})
    [notification] = smtp.received
    refused = f"redis://127.0.0.1:{free_port()}/0"

    done = pipe(
        build_reply(notification, sender=bob.email, text="Sent while Redis was down."), REDIS_URL=refused
    )

    assert done.returncode == 0, done.stderr.decode()
    [record] = InboundEmail.objects.all()
    assert record.status == "received" and record.raw
    # Redis is back; a worker runs; the sweep finds the record whose job never reached Redis.
    start_worker("incoming_email", EMAIL_GATEWAY_DOMAIN=gateway, ASYNC_EMAILS="")
    assert recovery.sweep(timezone.now() + dt.timedelta(minutes=5)) == 1
    [record] = wait_for_records(1)
    assert record.status == "processed", record.reason
    comment = Changeset.objects.get(artifact=changeset.artifact, is_creation=False)
    assert (comment.author, comment.comment) == (bob, "Sent while Redis was down.")
    # A second sweep finds nothing left to do.
    assert recovery.sweep(timezone.now() + dt.timedelta(minutes=5)) == 0


def test_with_the_database_down_it_exits_75_and_keeps_nothing(gateway: str, pipe) -> None:
    down = f"postgres://tuleap:secret@127.0.0.1:{free_port()}/tuleap"

    done = pipe(b"From: bob@example.com\r\nSubject: hi\r\n\r\nhello\r\n", DATABASE_URL=down)

    assert done.returncode == 75
    assert b"could not store the message" in done.stderr
    assert b"secret" not in done.stderr  # no credentials in what the mail server logs
    assert not InboundEmail.objects.exists()
