"""A reader who asked for plain-text emails gets the text part alone; the others still get HTML too."""

from __future__ import annotations

from tests.support.smtp import SMTPServer
from tracker.models import User
from tracker.services.artifacts import create_artifact


def test_a_plain_text_reader_gets_only_the_text_part(
    saving, smtp: SMTPServer, bugs, alice, bob, carol
) -> None:
    User.objects.filter(pk=bob.pk).update(plain_text_emails=True)
    creation = saving(
        create_artifact,
        bugs,
        author=alice,
        # Bob and carol are both in CC: same reason, same group, two different emails.
        values={"title": "Crash on save", "status": "New", "cc": ["bob", "carol"]},
    )
    received = {
        item.rcpt_tos[0]: item.message
        for item in smtp.received
        if item.message["X-Tuleap-Changeset-Id"] == str(creation.pk)
    }
    to_bob, to_carol = received["bob@example.com"], received["carol@example.com"]

    # It should send bob one text/plain message, with no HTML alternative at all.
    assert to_bob.get_content_type() == "text/plain"
    assert not to_bob.is_multipart()
    assert "Crash on save" in to_bob.get_content()
    assert "Status: New" in to_bob.get_content()
    # Carol did not ask: she still gets both parts, and the same thread headers as bob.
    assert to_carol.get_content_type() == "multipart/alternative"
    assert {part.get_content_type() for part in to_carol.iter_parts()} == {"text/plain", "text/html"}
    assert to_bob["References"] == to_carol["References"]
