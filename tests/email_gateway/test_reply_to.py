"""Notifications carry each recipient's own signed Reply-To, and say so, only when the gateway is on."""

from __future__ import annotations

from tests.support.smtp import SMTPServer
from tracker.email_gateway import tokens
from tracker.models import Tracker, User
from tracker.services.artifacts import create_artifact, update_artifact


def test_each_recipient_gets_a_reply_address_naming_them(
    gateway: str, saving, smtp: SMTPServer, bugs: Tracker, alice: User, bob: User, carol: User
) -> None:
    changeset = saving(create_artifact, bugs, author=alice, values={"title": "Crash", "cc": ["bob", "carol"]})

    by_address = {item.rcpt_tos[0]: item.message for item in smtp.received}
    assert set(by_address) == {"bob@example.com", "carol@example.com"}
    for user in (bob, carol):
        message = by_address[user.email]
        token = tokens.token_of(message["Reply-To"])
        # It should name this recipient and this artifact, nobody else.
        assert tokens.read_token(token) == tokens.ReplyToken(user.pk, changeset.artifact_id)
        assert "Reply to this email to add a comment." in message.get_body(("plain",)).get_content()
        assert "Reply to this email to add a comment." in message.get_body(("html",)).get_content()


def test_without_the_gateway_there_is_no_reply_to_and_no_sentence(
    saving, smtp: SMTPServer, bugs: Tracker, alice: User, bob: User
) -> None:
    changeset = saving(create_artifact, bugs, author=alice, values={"title": "Crash", "cc": ["bob"]})
    saving(update_artifact, changeset.artifact, author=alice, comment="More")

    assert len(smtp.received) == 2
    for item in smtp.received:
        assert item.message["Reply-To"] is None
        assert "Reply to this email" not in item.content.decode()
