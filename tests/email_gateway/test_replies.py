"""Replying to a notification adds a comment: real receive_email processes, a real worker, a real sink."""

from __future__ import annotations

import pytest

from tests.email_gateway.conftest import DOMAIN, build_reply, wait_for_records
from tests.support.smtp import Received, SMTPServer
from tracker.models import Changeset, InboundEmail, Tracker, User
from tracker.services.artifacts import create_artifact

pytestmark = pytest.mark.slow


def notification_to(smtp: SMTPServer, user: User) -> Received:
    [found] = [item for item in smtp.received if item.rcpt_tos == [user.email]]
    return found


@pytest.fixture
def crash(gateway: str, saving, smtp: SMTPServer, bugs: Tracker, alice: User, bob: User, carol: User):
    """alice files a bug with bob and carol in CC: each gets a notification with their Reply-To."""
    changeset = saving(create_artifact, bugs, author=alice, values={"title": "Crash", "cc": ["bob", "carol"]})
    assert smtp.wait_for_addresses(2)
    return changeset.artifact


def test_replies_quoted_three_ways_become_exactly_their_new_text(
    crash, smtp: SMTPServer, pipe, gateway_worker, alice: User, bob: User, carol: User
) -> None:
    to_bob, to_carol = notification_to(smtp, bob), notification_to(smtp, carol)
    smtp.clear()
    replies = [
        build_reply(to_bob, sender=bob.email, text="Gmail style: it crashes on start.", style="gmail"),
        build_reply(to_carol, sender=carol.email, text="Outlook style.\nTwo lines.", style="outlook"),
        build_reply(to_bob, sender=bob.email, text="Plain quoting.", style="plain"),
    ]

    for raw in replies:
        done = pipe(raw)
        # It should exit 0 at once: stored, processing left to the worker.
        assert done.returncode == 0, done.stderr.decode()
    records = wait_for_records(3)

    assert [record.status for record in records] == ["processed"] * 3, [r.reason for r in records]
    comments = {
        (changeset.author.username, changeset.comment)
        for changeset in Changeset.objects.filter(artifact=crash, is_creation=False).select_related("author")
    }
    assert comments == {
        ("bob", "Gmail style: it crashes on start."),
        ("carol", "Outlook style.\nTwo lines."),
        ("bob", "Plain quoting."),
    }
    # The others are notified of each comment as of any change (the author is not).
    for record in records:
        author = record.changeset.author
        expected = {user.email for user in (alice, bob, carol)} - {author.email}
        assert smtp.wait_for(
            lambda server, record=record, expected=expected: (
                {
                    address
                    for (changeset, address) in server.deliveries()
                    if changeset == str(record.changeset_id)
                }
                == expected
            )
        )
    assert all(item.message["Reply-To"].endswith(f"@{DOMAIN}") for item in smtp.received)
    assert InboundEmail.objects.filter(answered=True).count() == 0
