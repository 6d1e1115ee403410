"""Links in notification emails: a linked artifact is named only when every recipient may read it."""

from __future__ import annotations

import pytest

from tests.support.smtp import SMTPServer
from tests.support.world import typed_tracker
from tracker.models import Artifact, Changeset, Project, Tracker, User
from tracker.services.artifacts import create_artifact, update_artifact


@pytest.fixture
def linked(public_project: Project) -> Tracker:
    return typed_tracker(public_project, "links", "watchers", shortname="linked")


@pytest.fixture
def secret(tasks: Tracker, alice: User) -> Artifact:
    return create_artifact(tasks, author=alice, values={"title": "Secret plan"}, notify=False).artifact


@pytest.fixture
def neighbour(linked: Tracker, alice: User) -> Artifact:
    return create_artifact(linked, author=alice, values={"title": "Public one"}, notify=False).artifact


def texts_of(smtp: SMTPServer, changeset: Changeset) -> dict[str, str]:
    """Each recipient's plain-text and HTML parts, by the local part of their address."""
    return {
        item.rcpt_tos[0].split("@")[0]: item.part("text/plain") + item.part("text/html")
        for item in smtp.received
        if item.message["X-Tuleap-Changeset-Id"] == str(changeset.pk)
    }


def test_a_group_with_a_reader_who_may_not_read_the_target_gets_its_number_only(
    saving,
    smtp: SMTPServer,
    linked: Tracker,
    alice: User,
    bob: User,
    carol: User,
    secret: Artifact,
    neighbour: Artifact,
) -> None:
    # bob and carol share one email (both in Watchers); carol may not read the private project.
    changeset = saving(
        create_artifact,
        linked,
        author=alice,
        values={"title": "Linking", "watchers": [bob.pk, carol.pk], "links": [secret.pk, neighbour.pk]},
    )
    emails = texts_of(smtp, changeset)
    assert set(emails) == {"bob", "carol"}
    for text in emails.values():
        assert f"#{secret.pk}, linked #{neighbour.pk} Public one" in text
        assert "Secret plan" not in text and "task #" not in text


def test_readers_who_may_all_read_the_target_get_its_name(
    saving, smtp: SMTPServer, linked: Tracker, alice: User, bob: User, secret: Artifact
) -> None:
    changeset = saving(
        create_artifact,
        linked,
        author=alice,
        values={"title": "Linking", "watchers": [bob.pk], "links": [secret.pk]},
    )
    # Before, any link into another private project read "an artifact of another project", even for
    # a member of it.
    assert f"Links: task #{secret.pk} Secret plan" in texts_of(smtp, changeset)["bob"]


def test_an_update_names_the_old_and_the_new_links(
    saving, smtp: SMTPServer, linked: Tracker, alice: User, bob: User, secret: Artifact, neighbour: Artifact
) -> None:
    artifact = create_artifact(
        linked,
        author=alice,
        values={"title": "Linking", "watchers": [bob.pk], "links": [neighbour.pk]},
        notify=False,
    ).artifact
    changeset = saving(update_artifact, artifact, author=alice, values={"links": [secret.pk]})
    assert (
        f"Links: linked #{neighbour.pk} Public one -> task #{secret.pk} Secret plan"
        in texts_of(smtp, changeset)["bob"]
    )
