"""The same reply through the LMTP server (``manage.py email_gateway``) instead of a pipe."""

from __future__ import annotations

import smtplib
import socket
from pathlib import Path

import pytest

from tests.email_gateway.conftest import DOMAIN, build_reply, wait_for_records
from tests.support.redis_server import free_port
from tests.support.smtp import SMTPServer
from tests.support.workers import ManagedProcess, wait_until
from tracker.models import Changeset, Tracker, User
from tracker.services.artifacts import create_artifact

pytestmark = pytest.mark.slow


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def lmtp_server(manage_py: list[str], gateway_env: dict[str, str], tmp_path: Path):
    port = free_port()
    process = ManagedProcess(
        manage_py,
        ["email_gateway"],
        {**gateway_env, "EMAIL_GATEWAY_LISTEN": f"127.0.0.1:{port}"},
        tmp_path / "lmtp.out",
    )
    assert wait_until(lambda: answers(port), 30), process.output()
    yield port
    process.terminate(timeout=20)


def test_a_reply_delivered_over_lmtp_becomes_a_comment(
    gateway: str,
    saving,
    smtp: SMTPServer,
    lmtp_server: int,
    gateway_worker,
    bugs: Tracker,
    alice: User,
    bob: User,
) -> None:
    changeset = saving(create_artifact, bugs, author=alice, values={"title": "Crash", "cc": ["bob"]})
    [notification] = smtp.received
    reply = build_reply(notification, sender=bob.email, text="Through LMTP.")

    with smtplib.LMTP("127.0.0.1", lmtp_server, timeout=10) as client:
        refused = client.sendmail(bob.email, [str(notification.message["Reply-To"])], reply)
        # An address outside the gateway's domain is refused at RCPT.
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail(bob.email, ["someone@elsewhere.example"], reply)

    assert refused == {}
    [record] = wait_for_records(1)
    assert (record.status, record.via, record.envelope_from) == ("processed", "lmtp", bob.email)
    comment = Changeset.objects.get(artifact=changeset.artifact, is_creation=False)
    assert (comment.author, comment.comment) == (bob, "Through LMTP.")
    assert record.envelope_to.endswith(f"@{DOMAIN}")
