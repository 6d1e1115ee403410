"""The same reply through the LMTP server (``manage.py email_gateway``) instead of a pipe."""

from __future__ import annotations

import smtplib

import pytest

from tests.email_gateway.conftest import DOMAIN, build_reply, wait_for_records
from tests.support.smtp import SMTPServer
from tracker.models import Changeset, Tracker, User
from tracker.services.artifacts import create_artifact

pytestmark = pytest.mark.slow


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
