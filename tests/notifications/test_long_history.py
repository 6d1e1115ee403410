"""A notification job costs the same whatever the length of the artifact's history."""

from __future__ import annotations

from collections import Counter

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.notifications.conftest import people, who_got
from tests.support.loading import rows_loaded
from tests.support.smtp import SMTPServer
from tracker.models import Artifact, Changeset, ChangesetValue, Tracker, User
from tracker.notifications import notifier
from tracker.notifications.context import NotificationContext
from tracker.services.artifacts import create_artifact, update_artifact

# Today 15: the record, the context (fields, the state before the changeset, its values and author,
# the earlier authors), the recipients, the deliveries. One query per changeset would blow it at 500.
NOTIFICATION_JOB_MAX_QUERIES = 20


def artifact_with_history(
    tracker: Tracker, authors: list[User], changesets: int, cc: list[User] | None = None
) -> Artifact:
    """An artifact with ``changesets`` changesets (the creation included), none notified."""
    values = {"title": "Long lived", "status": "New", "cc": [user.pk for user in cc or []]}
    artifact = create_artifact(tracker, author=authors[0], values=values, notify=False).artifact
    statuses = ["New", "In progress", "Done"]
    for number in range(1, changesets):
        update_artifact(
            artifact,
            author=authors[number % len(authors)],
            values={"status": statuses[number % 3], "description": f"Step {number}"},
            comment=f"Comment {number}" if number % 2 else "",
            notify=False,
        )
    return artifact


def notify_one_update(artifact: Artifact, author: User) -> tuple[Changeset, int, Counter[str]]:
    """Store an update and run its notification job: the changeset, the job's queries and rows."""
    changeset = update_artifact(artifact, author=author, values={"status": "Done"}, comment="Fixed.")
    with (
        CaptureQueriesContext(connection) as queries,
        rows_loaded(Changeset, ChangesetValue) as rows,
    ):
        notifier.notify(changeset.pk, mode="async", token=f"job-{changeset.pk}")
    return changeset, len(queries.captured_queries), rows


def test_the_notification_job_runs_as_many_queries_for_500_changesets_as_for_1(
    smtp: SMTPServer, async_all, bugs: Tracker, alice: User, bob: User
) -> None:
    # The same recipients for both (in CC), so that only the history's length differs.
    cc = people(5, "cc", bugs.project)
    short = artifact_with_history(bugs, [alice], 1, cc=cc)
    long = artifact_with_history(bugs, [alice, *cc], 500, cc=cc)

    short_changeset, short_queries, short_rows = notify_one_update(short, bob)
    long_changeset, long_queries, long_rows = notify_one_update(long, bob)

    # It should run the same bounded number of queries, and read the same rows of history.
    assert long_queries == short_queries <= NOTIFICATION_JOB_MAX_QUERIES
    assert long_rows == short_rows
    assert (
        who_got(smtp, long_changeset)
        == who_got(smtp, short_changeset)
        == sorted(["alice", *[user.username for user in cc]])
    )


def test_everyone_who_took_part_in_a_long_history_is_notified(
    smtp: SMTPServer, async_all, bugs: Tracker, alice: User, bob: User, django_assert_max_num_queries
) -> None:
    participants = people(5, "participant", bugs.project)
    artifact = artifact_with_history(bugs, [alice, *participants], 500)

    changeset = update_artifact(artifact, author=bob, values={"status": "Done"}, comment="Fixed.")
    with django_assert_max_num_queries(NOTIFICATION_JOB_MAX_QUERIES):
        notifier.notify(changeset.pk, mode="async", token="job")

    assert who_got(smtp, changeset) == ["alice", *[user.username for user in participants]]


def test_the_email_shows_the_changeset_it_is_about_with_its_old_values(
    smtp: SMTPServer, async_all, bugs: Tracker, alice: User, bob: User
) -> None:
    artifact = artifact_with_history(bugs, [alice, bob], 31)
    changeset = update_artifact(artifact, author=bob, values={"status": "Done"}, comment="Fixed.")

    context = NotificationContext.load(
        Changeset.objects.select_related("artifact__tracker").get(pk=changeset.pk)
    )

    # The old value is the one the changeset before it stored.
    before = Changeset.objects.filter(artifact=artifact).exclude(pk=changeset.pk).order_by("-id").first()
    previous_status = before.values.get(field__name="status").value
    (change,) = context.entry.changes
    assert change.field.name == "status" and change.new_text == "Done"
    assert change.old == previous_status
    # The state after it: the last description written in the history, the new status.
    by_name = {f.name: f for f in context.fields}
    assert context.state[by_name["description"].pk] == "Step 30"
    assert context.earlier_author_ids == {alice.pk, bob.pk}
    notifier.notify(changeset.pk, mode="async", token="job")
    (received,) = smtp.received
    text = received.part("text/plain")
    assert "Fixed." in text and "Comment 29" not in text and "Step 30" not in text


def test_a_change_after_an_imported_one_by_nobody_known_still_shows_the_old_value(
    bugs: Tracker, alice: User
) -> None:
    # An imported creation whose author has no account (author None, a Jira user not mapped).
    artifact = create_artifact(
        bugs, author=alice, values={"title": "Imported", "status": "New"}, notify=False
    )
    Changeset.objects.filter(artifact=artifact.artifact).update(author=None, imported_author_name="Ghost")
    changeset = update_artifact(artifact.artifact, author=alice, values={"status": "Done"}, notify=False)

    context = NotificationContext.load(
        Changeset.objects.select_related("artifact__tracker").get(pk=changeset.pk)
    )

    # It has something before it: the old value is read, though nobody known wrote it.
    (change,) = context.entry.changes
    assert change.field.name == "status" and change.old_text == "New" and change.new_text == "Done"
    assert context.earlier_author_ids == set()
