"""What the emails say and their headers, for a creation and an update, as a mail client sees them."""

from __future__ import annotations

import datetime as dt
from email.utils import getaddresses

from tests.notifications.conftest import people
from tests.support.smtp import Received, SMTPServer
from tracker.models import Changeset, NotificationListEntry
from tracker.services.artifacts import create_artifact, update_artifact

# Plain addresses receive only once confirmed (tracker.services.notification_list).
CONFIRMED = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def emails_of(smtp: SMTPServer, changeset: Changeset) -> list[Received]:
    return [item for item in smtp.received if item.message["X-Tuleap-Changeset-Id"] == str(changeset.pk)]


def test_a_creation_email_shows_the_values_and_starts_the_thread(
    saving, smtp: SMTPServer, settings, bugs, alice, bob, carol
) -> None:
    settings.SITE_URL = "https://tuleap.example.com"
    creation = saving(
        create_artifact,
        bugs,
        author=alice,
        values={"title": "Crash on save", "status": "New", "assigned_to": "bob", "cc": ["carol"]},
    )
    artifact = creation.artifact

    [to_bob] = [item for item in emails_of(smtp, creation) if item.rcpt_tos == ["bob@example.com"]]
    message = to_bob.message
    assert message["Subject"] == f"[bug #{artifact.pk}] Crash on save"
    assert message["From"] == "Tuleap <noreply@localhost>"
    # Each recipient gets a copy addressed to them alone: nobody's address is shown to the others.
    assert message["To"] == "bob@example.com"
    assert message["Cc"] is None and message["Bcc"] is None
    assert message["Message-ID"] == f"<tuleap.changeset-{creation.pk}.field-assigned_to@tuleap.example.com>"
    # The creation starts the thread: no In-Reply-To, a reference to the artifact's thread root.
    assert message["In-Reply-To"] is None
    assert message["References"] == f"<tuleap.artifact-{artifact.pk}@tuleap.example.com>"
    assert getaddresses([str(message["List-Id"])]) == [("Bugs (Demo)", "bug.demo.tuleap.example.com")]
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Tuleap-Project"] == "demo"
    assert message["X-Tuleap-Tracker"] == "bug"
    assert message["X-Tuleap-Artifact-Id"] == str(artifact.pk)

    text = to_bob.part("text/plain")
    assert f"Alice (alice) created bug #{artifact.pk}" in text
    assert "Status: New" in text and "Assigned to: Bob (bob)" in text and "CC: Carol (carol)" in text
    assert f"https://tuleap.example.com/artifacts/{artifact.pk}/" in text
    assert "you are in the field Assigned to" in text
    html = to_bob.part("text/html")
    assert f'<a href="https://tuleap.example.com/artifacts/{artifact.pk}/">' in html
    assert "Carol (carol)" in html


def test_an_update_email_shows_who_when_the_comment_and_old_to_new(
    saving, smtp: SMTPServer, bugs, alice, bob
) -> None:
    artifact = saving(
        create_artifact, bugs, author=alice, values={"title": "Crash on save", "status": "New"}
    ).artifact
    update = saving(
        update_artifact,
        artifact,
        author=bob,
        values={"status": "In progress", "title": "Crash on save <Firefox>"},
        comment='Reproduced. <script>alert("x")</script><a href="javascript:steal()">details</a> **here**',
        comment_format=Changeset.CommentFormat.MARKDOWN,
    )

    [email] = emails_of(smtp, update)
    message = email.message
    assert email.rcpt_tos == ["alice@example.com"]
    assert message["Subject"] == f"[bug #{artifact.pk}] Crash on save <Firefox>"
    # Threaded under the artifact: every client groups the changes of one artifact together.
    assert message["In-Reply-To"] == f"<tuleap.artifact-{artifact.pk}@localhost>"
    assert message["References"] == f"<tuleap.artifact-{artifact.pk}@localhost>"
    assert message["Message-ID"] == f"<tuleap.changeset-{update.pk}.submitter@localhost>"

    text = email.part("text/plain")
    when = update.submitted_on.strftime("%Y-%m-%d %H:%M")
    assert f"Bob (bob) changed bug #{artifact.pk} on {when} UTC." in text
    assert "Status: New -> In progress" in text
    assert "Title: Crash on save -> Crash on save <Firefox>" in text
    assert "Reproduced." in text

    html = email.part("text/html")
    # The comment is safe: the Markdown formatting stays; the raw HTML typed in it is shown escaped,
    # never as a live script or javascript: link.
    assert "<strong>here</strong>" in html
    assert "<script" not in html and '<a href="javascript' not in html
    assert "&lt;script&gt;" in html
    assert "<del>New</del> &rarr; <ins>In progress</ins>" in html
    # Values are escaped in the HTML part.
    assert "Crash on save &lt;Firefox&gt;" in html


def test_rendered_once_per_group_of_recipients_and_sent_over_one_connection(
    saving, smtp: SMTPServer, bugs, alice, bob
) -> None:
    watchers = people(3, "watcher", bugs.project)
    NotificationListEntry.objects.create(tracker=bugs, email="list@example.org", confirmed_at=CONFIRMED)
    creation = saving(
        create_artifact,
        bugs,
        author=alice,
        values={"title": "Crash", "assigned_to": "bob", "cc": [user.username for user in watchers]},
    )

    emails = emails_of(smtp, creation)
    # One copy per recipient, each to that recipient only, all over a single SMTP connection.
    assert sorted(address for item in emails for address in item.rcpt_tos) == sorted(
        ["bob@example.com", "list@example.org", *(user.email for user in watchers)]
    )
    assert all(item.rcpt_tos == [item.message["To"]] for item in emails)
    assert smtp.connections == 1
    # Three groups (assignee, CC, notification list): three renderings, shared by their copies.
    by_message_id: dict[str, set[bytes]] = {}
    for item in emails:
        body = item.content.split(b"\r\n", 1)[1]  # everything but the To: line
        by_message_id.setdefault(item.message["Message-ID"], set()).add(body)
    assert sorted(len(bodies) for bodies in by_message_id.values()) == [1, 1, 1]
    assert len(by_message_id) == 3
    cc_copy = next(item for item in emails if item.rcpt_tos == [watchers[0].email])
    assert "you are in the field CC" in cc_copy.part("text/plain")


def test_an_html_comment_is_sanitized_and_shown_as_text_in_the_text_part(
    saving, smtp: SMTPServer, bugs, alice, bob
) -> None:
    artifact = saving(create_artifact, bugs, author=alice, values={"title": "Crash"}).artifact

    update = saving(
        update_artifact,
        artifact,
        author=bob,
        comment='<p>See <img src=x onerror="alert(1)"><b>this</b></p>',
        comment_format=Changeset.CommentFormat.HTML,
    )

    [email] = emails_of(smtp, update)
    assert "See this" in email.part("text/plain")
    html = email.part("text/html")
    assert "<b>this</b>" in html and "onerror" not in html


def test_a_multi_line_text_change_keeps_its_lines_in_both_parts(
    saving, smtp: SMTPServer, bugs, alice, bob
) -> None:
    """Issue 14, defect 6: a changed description read as one run-on `old -> new` line."""
    artifact = saving(
        create_artifact,
        bugs,
        author=alice,
        values={"title": "Crash", "status": "New", "description": "Steps:\nopen <the> form\nclick save"},
    ).artifact
    update = saving(
        update_artifact,
        artifact,
        author=bob,
        values={"description": "Steps:\nopen the form\nclick save twice"},
    )

    [email] = emails_of(smtp, update)
    text = email.part("text/plain").replace("\r\n", "\n")  # the wire's line ends
    assert "Description changed from:\nSteps:\nopen <the> form\nclick save\n" in text
    assert "Description changed to:\nSteps:\nopen the form\nclick save twice\n" in text
    assert " -> " not in text
    html = email.part("text/html")
    assert "<del>Steps:<br>open &lt;the&gt; form<br>click save</del>" in html
    assert "<ins>Steps:<br>open the form<br>click save twice</ins>" in html


def test_a_text_whose_lines_end_in_a_lone_carriage_return_is_multi_line_too(
    saving, smtp: SMTPServer, bugs, alice, bob
) -> None:
    # "\r" alone ends lines in old Mac files; a string field refuses it as a line break already.
    artifact = saving(
        create_artifact, bugs, author=alice, values={"title": "Crash", "description": "Steps:\ropen"}
    ).artifact
    update = saving(update_artifact, artifact, author=bob, values={"description": "Steps:\rclose"})

    [email] = emails_of(smtp, update)
    text = email.part("text/plain")
    assert "Description changed from:" in text and "Description changed to:" in text
    assert " -> " not in text
    html = email.part("text/html")
    assert "<del>Steps:<br>open</del>" in html and "<ins>Steps:<br>close</ins>" in html
