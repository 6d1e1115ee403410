"""What the gateway refuses or ignores, with the reason, and never more than one answer per sender."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.email_gateway.conftest import DOMAIN, build_reply, wait_for_records
from tests.support.smtp import Received, SMTPServer
from tracker.email_gateway import tokens
from tracker.models import Changeset, Tracker, User
from tracker.services.artifacts import create_artifact
from tracker.services.projects import remove_member

pytestmark = pytest.mark.slow


def to(smtp: SMTPServer, user: User, subject_part: str) -> Received:
    [found] = [
        item
        for item in smtp.received
        if item.rcpt_tos == [user.email] and subject_part in item.message["Subject"]
    ]
    return found


def with_address(raw: bytes, address: str) -> bytes:
    return raw.replace(b"To: reply+", b"X-Was: reply+", 1).replace(
        b"\nX-Was", f"\nTo: {address}\nX-Was".encode(), 1
    )


def bounce() -> bytes:
    """A delivery status notification, as Postfix sends one back: null sender, multipart/report."""
    return (
        "Return-Path: <>\r\n"
        "From: Mail Delivery System <MAILER-DAEMON@mail.example.com>\r\n"
        f"To: reply+whatever@{DOMAIN}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n'
        "\r\n--b1\r\nContent-Type: text/plain\r\n\r\nThis is the mail system.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mail.example.com\r\n"
        "--b1--\r\n"
    ).encode()


def test_forged_foreign_removed_automatic_and_bounced_messages_add_nothing(
    gateway: str,
    saving,
    smtp: SMTPServer,
    pipe,
    gateway_worker,
    bugs: Tracker,
    tasks: Tracker,
    alice: User,
    bob: User,
    carol: User,
    dave: User,
) -> None:
    saving(create_artifact, bugs, author=alice, values={"title": "Public crash", "cc": ["bob", "carol"]})
    secret = saving(create_artifact, tasks, author=alice, values={"title": "Secret plan", "cc": ["bob"]})
    bob_public, carol_public = to(smtp, bob, "Public crash"), to(smtp, carol, "Public crash")
    bob_secret = to(smtp, bob, "Secret plan")
    remove_member(tasks.project, bob)  # since the notification
    smtp.clear()
    valid = tokens.token_of(str(bob_public.message["Reply-To"]))
    value, _, signature = valid.rpartition(".")
    altered = f"{value[:-1]}{'1' if value[-1] != '1' else '2'}.{signature}"
    messages = {
        "forged": with_address(
            build_reply(bob_public, sender=bob.email, text="Forged"), f"reply+1.1.{'0' * 32}@{DOMAIN}"
        ),
        "altered": with_address(
            build_reply(bob_public, sender=bob.email, text="Altered"), f"reply+{altered}@{DOMAIN}"
        ),
        "other sender": build_reply(bob_public, sender=dave.email, text="Not mine to use"),
        "removed member": build_reply(bob_secret, sender=bob.email, text="Still here?"),
        "auto-reply": build_reply(
            carol_public, sender=carol.email, text="I am away", Auto_Submitted="auto-replied"
        ),
        "vacation": build_reply(carol_public, sender=carol.email, text="On holiday", X_Autoreply="yes"),
        "bounce": bounce(),
    }

    for raw in messages.values():
        assert pipe(raw).returncode == 0
    records = dict(zip(messages, wait_for_records(len(messages)), strict=True))

    # No comment at all.
    assert not Changeset.objects.filter(is_creation=False).exists()
    assert {name: record.status for name, record in records.items()} == {
        "forged": "rejected",
        "altered": "rejected",
        "other sender": "rejected",
        "removed member": "rejected",
        "auto-reply": "ignored",
        "vacation": "ignored",
        "bounce": "ignored",
    }
    assert "not valid" in records["forged"].reason
    assert "not valid" in records["altered"].reason
    assert "another account" in records["other sender"].reason
    assert "no longer comment" in records["removed member"].reason
    assert "Auto-Submitted" in records["auto-reply"].reason
    assert "X-Autoreply" in records["vacation"].reason
    assert "report" in records["bounce"].reason
    # One short answer per rejected sender within the hour (bob had three rejections), none to machines.
    smtp.wait_for(lambda server: len(server.received) >= 2)
    answers = Counter(address for item in smtp.received for address in item.rcpt_tos)
    assert answers == Counter({bob.email: 1, dave.email: 1})
    assert all(item.message["Auto-Submitted"] == "auto-replied" for item in smtp.received)
    assert secret.artifact.changesets.count() == 1
