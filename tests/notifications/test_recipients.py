"""Who gets an email: one test per rule, each through a real SMTP server.

The world: alice administers both projects, bob is a member of both, carol of the public one only,
dave of none. ``bugs`` is the public project's tracker, ``tasks`` the private one's.
"""

from __future__ import annotations

import datetime as dt

from tests.conftest import make_user
from tests.notifications.conftest import who_got
from tests.support.smtp import SMTPServer
from tracker.models import FieldType, NotificationListEntry, Tracker, User
from tracker.services.artifacts import create_artifact, update_artifact
from tracker.services.projects import remove_member, set_member
from tracker.services.subscriptions import set_watching
from tracker.services.trackers import FieldSpec, add_field

# Plain addresses receive only once confirmed (tracker.services.notification_list).
CONFIRMED = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def test_the_submitter_hears_of_changes_made_by_others(saving, smtp: SMTPServer, bugs, alice, bob) -> None:
    artifact = saving(create_artifact, bugs, author=alice, values={"title": "Crash"}).artifact

    update = saving(update_artifact, artifact, author=bob, values={"status": "In progress"})

    # It should tell alice, who submitted it; not bob, who made the change.
    assert who_got(smtp, update) == ["alice"]


def test_people_in_notified_user_fields_are_told(saving, smtp: SMTPServer, bugs, alice, bob, carol) -> None:
    creation = saving(
        create_artifact, bugs, author=alice, values={"title": "Crash", "assigned_to": "bob", "cc": ["carol"]}
    )

    assert who_got(smtp, creation) == ["bob", "carol"]


def test_someone_removed_from_a_notified_field_learns_it(
    saving, smtp: SMTPServer, bugs, alice, bob, carol
) -> None:
    artifact = saving(
        create_artifact, bugs, author=alice, values={"title": "Crash", "assigned_to": "bob"}
    ).artifact

    update = saving(update_artifact, artifact, author=alice, values={"assigned_to": "carol"})

    assert who_got(smtp, update) == ["bob", "carol"]


def test_a_user_field_without_notify_tells_nobody(saving, smtp: SMTPServer, bugs, alice, carol) -> None:
    add_field(bugs, FieldSpec("reviewer", "Reviewer", FieldType.USER, notify=False), rank=100)

    creation = saving(create_artifact, bugs, author=alice, values={"title": "Crash", "reviewer": "carol"})

    assert who_got(smtp, creation) == []


def test_everyone_who_changed_or_commented_before_is_told(
    saving, smtp: SMTPServer, bugs, alice, bob, carol
) -> None:
    artifact = saving(create_artifact, bugs, author=alice, values={"title": "Crash"}).artifact
    saving(update_artifact, artifact, author=carol, comment="Happens to me too")
    saving(update_artifact, artifact, author=bob, values={"status": "In progress"})

    update = saving(update_artifact, artifact, author=alice, values={"status": "Done"})

    assert who_got(smtp, update) == ["bob", "carol"]


def test_watchers_are_told(saving, smtp: SMTPServer, bugs, alice, dave) -> None:
    artifact = saving(create_artifact, bugs, author=alice, values={"title": "Crash"}).artifact
    # dave belongs to no project, but any user may read a public project, and he chose to watch.
    set_watching(artifact, dave, watching=True)

    update = saving(update_artifact, artifact, author=alice, comment="Any news?")

    assert who_got(smtp, update) == ["dave"]


def test_the_notification_list_hears_of_creations_and_updates(
    saving, smtp: SMTPServer, bugs, alice, carol
) -> None:
    NotificationListEntry.objects.create(tracker=bugs, user=carol)
    NotificationListEntry.objects.create(tracker=bugs, email="qa-team@example.org", confirmed_at=CONFIRMED)

    creation = saving(create_artifact, bugs, author=alice, values={"title": "Crash"})
    update = saving(update_artifact, creation.artifact, author=alice, comment="More details")

    assert who_got(smtp, creation) == ["carol", "qa-team"]
    assert who_got(smtp, update) == ["carol", "qa-team"]


def test_on_creation_only_entries_hear_of_the_creation_only(
    saving, smtp: SMTPServer, bugs, alice, carol
) -> None:
    NotificationListEntry.objects.create(tracker=bugs, user=carol, on_creation_only=True)
    NotificationListEntry.objects.create(
        tracker=bugs, email="triage@example.org", on_creation_only=True, confirmed_at=CONFIRMED
    )

    creation = saving(create_artifact, bugs, author=alice, values={"title": "Crash"})
    update = saving(update_artifact, creation.artifact, author=alice, comment="More details")

    assert who_got(smtp, creation) == ["carol", "triage"]
    assert who_got(smtp, update) == []


def test_the_author_gets_no_email_about_their_own_change(saving, smtp: SMTPServer, bugs, alice, bob) -> None:
    creation = saving(create_artifact, bugs, author=alice, values={"title": "Crash", "cc": ["alice", "bob"]})

    assert who_got(smtp, creation) == ["bob"]


def test_an_author_who_asked_for_their_own_changes_gets_them(
    saving, smtp: SMTPServer, bugs, alice, bob
) -> None:
    alice.notify_own_changes = True
    alice.save()

    creation = saving(create_artifact, bugs, author=alice, values={"title": "Crash", "cc": ["bob"]})

    assert who_got(smtp, creation) == ["alice", "bob"]
    mine = next(item for item in smtp.received if "alice@example.com" in item.rcpt_tos)
    assert "asked to be notified of your own changes" in mine.part("text/plain")


def test_unwatching_silences_even_the_assignee(saving, smtp: SMTPServer, bugs, alice, bob, carol) -> None:
    artifact = saving(
        create_artifact, bugs, author=alice, values={"title": "Crash", "assigned_to": "bob", "cc": ["carol"]}
    ).artifact
    set_watching(artifact, bob, watching=False)

    update = saving(update_artifact, artifact, author=alice, comment="Ping")

    assert who_got(smtp, update) == ["carol"]


def test_inactive_users_get_nothing(saving, smtp: SMTPServer, bugs, alice, bob, carol) -> None:
    artifact = saving(
        create_artifact, bugs, author=alice, values={"title": "Crash", "cc": ["bob", "carol"]}
    ).artifact
    carol.is_active = False
    carol.save()

    update = saving(update_artifact, artifact, author=alice, comment="Still there?")

    assert who_got(smtp, update) == ["bob"]


def test_nothing_leaks_to_someone_who_may_not_read_a_private_project(
    saving, smtp: SMTPServer, tasks: Tracker, alice: User, bob: User, dave: User, admin_user: User
) -> None:
    # dave was a member: assigned, watching, on the notification list. Then he left the project.
    set_member(tasks.project, dave)
    NotificationListEntry.objects.create(tracker=tasks, user=dave)
    NotificationListEntry.objects.create(tracker=tasks, email="DAVE@example.com", confirmed_at=CONFIRMED)
    earlier = create_artifact(
        tasks,
        author=alice,
        values={"title": "Secret plan", "assigned_to": "dave", "cc": ["bob", "root"]},
        notify=False,
    ).artifact
    set_watching(earlier, dave, watching=True)
    remove_member(tasks.project, dave)

    creation = saving(
        create_artifact, tasks, author=alice, values={"title": "Second secret", "cc": ["bob", "root"]}
    )
    update = saving(update_artifact, earlier, author=alice, comment="The secret is 42")

    # Members and site administrators get it; dave gets neither the title nor the comment.
    assert who_got(smtp, creation) == ["bob", "root"]
    assert who_got(smtp, update) == ["bob", "root"]
    assert all("dave@example.com" not in [a.lower() for a in item.rcpt_tos] for item in smtp.received)


def test_a_plain_address_on_a_private_tracker_list_gets_nothing(
    saving, smtp: SMTPServer, tasks, alice, bob, caplog
) -> None:
    # An address with no account here cannot read a private project: no title may reach it.
    NotificationListEntry.objects.create(
        tracker=tasks, email="secret-team@example.org", confirmed_at=CONFIRMED
    )
    NotificationListEntry.objects.create(tracker=tasks, user=bob)

    with caplog.at_level("INFO", logger="tracker.notifications.recipients"):
        creation = saving(create_artifact, tasks, author=alice, values={"title": "Secret plan"})

    assert who_got(smtp, creation) == ["bob"]
    assert "1 address(es) of the notification list skipped" in caplog.text


def test_a_plain_address_on_a_public_tracker_list_is_notified(saving, smtp: SMTPServer, bugs, alice) -> None:
    NotificationListEntry.objects.create(tracker=bugs, email="qa-team@example.org", confirmed_at=CONFIRMED)

    creation = saving(create_artifact, bugs, author=alice, values={"title": "Public crash"})

    assert who_got(smtp, creation) == ["qa-team"]


def test_each_address_gets_one_email_per_changeset(saving, smtp: SMTPServer, bugs, alice, bob) -> None:
    # bob is assignee, in CC, a watcher, on the list twice (as user and as address), and submitter.
    NotificationListEntry.objects.create(tracker=bugs, user=bob)
    NotificationListEntry.objects.create(tracker=bugs, email="BOB@Example.com", confirmed_at=CONFIRMED)
    artifact = saving(
        create_artifact, bugs, author=bob, values={"title": "Crash", "assigned_to": "bob", "cc": ["bob"]}
    ).artifact
    set_watching(artifact, bob, watching=True)

    update = saving(update_artifact, artifact, author=alice, values={"cc": ["bob", "alice"]}, comment="Hi")

    assert who_got(smtp, update) == ["bob"]
    # The strongest reason wins: he is told he is the assignee.
    email = next(item for item in smtp.received if item.message["X-Tuleap-Changeset-Id"] == str(update.pk))
    assert "you are in the field Assigned to" in email.part("text/plain")


def test_a_user_without_an_email_address_is_skipped(saving, smtp: SMTPServer, bugs, alice, bob) -> None:
    nomail = make_user("nomail")
    nomail.email = ""
    nomail.save()
    set_member(bugs.project, nomail)

    creation = saving(create_artifact, bugs, author=alice, values={"title": "Crash", "cc": ["nomail", "bob"]})

    assert who_got(smtp, creation) == ["bob"]
