"""A member's message to a tracker's address creates an artifact, when its admin turned that on."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from django.test import Client

from tests.email_gateway.conftest import DOMAIN, wait_for_records
from tests.support.smtp import SMTPServer
from tracker.email_gateway import processing
from tracker.models import Artifact, InboundEmail, Tracker, User
from tracker.services.trackers import TrackerSpec, create_tracker, set_email_creation


def new_message(sender: str, to: str, subject: str, text: str) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Message-ID"] = f"<{subject.replace(' ', '-')}@mail.example.com>"
    message.set_content(text)
    return message.as_bytes()


@pytest.mark.slow
def test_members_create_on_an_enabled_tracker_and_nobody_on_a_disabled_one(
    gateway: str, smtp: SMTPServer, pipe, gateway_worker, bugs: Tracker, alice: User, bob: User, dave: User
) -> None:
    set_email_creation(bugs, enabled=True, local_part="bugs")
    closed = create_tracker(bugs.project, TrackerSpec(name="Ideas", shortname="ideas"))  # not enabled

    for raw in (
        new_message(
            bob.email, f"bugs@{DOMAIN}", "The login page is blank", "Since this morning.\n\n-- \nBob"
        ),
        new_message(bob.email, f"ideas@{DOMAIN}", "An idea", "Dark mode"),
        new_message(dave.email, f"bugs@{DOMAIN}", "From a stranger", "Let me in"),
    ):
        assert pipe(raw).returncode == 0
    created, disabled, stranger = wait_for_records(3)

    assert created.status == "processed", created.reason
    artifact = created.changeset.artifact
    assert (artifact.tracker, artifact.title, artifact.submitted_by) == (bugs, "The login page is blank", bob)
    description = bugs.fields.get(name="description")
    assert artifact.current_values[str(description.pk)] == "Since this morning."
    assert (disabled.status, stranger.status) == ("rejected", "rejected")
    assert "does not take messages" in disabled.reason
    assert "Only members" in stranger.reason
    assert not Artifact.objects.filter(tracker=closed).exists()
    assert Artifact.objects.count() == 1
    # alice (the project's admin) is not on the tracker's list: only the two refusals were answered.
    assert smtp.wait_for(lambda server: len(server.received) >= 2)
    assert sorted(address for item in smtp.received for address in item.rcpt_tos) == [bob.email, dave.email]


def test_a_project_admin_turns_it_on_a_member_may_not(
    gateway: str, bugs: Tracker, alice: User, bob: User
) -> None:
    member = Client()
    member.force_login(bob)
    url = f"/trackers/{bugs.pk}/admin/email/"

    assert member.post(url, {"accepts_email": "on"}).status_code == 403
    admin = Client()
    admin.force_login(alice)
    admin.post(url, {"accepts_email": "on", "email_local_part": "Bug-Reports"})

    bugs.refresh_from_db()
    assert (bugs.accepts_email, bugs.email_local_part) == (True, "bug-reports")
    assert f"bug-reports@{DOMAIN}" in admin.get(f"/trackers/{bugs.pk}/admin/").content.decode()


def test_nul_characters_in_a_message_are_left_out_of_what_is_stored(
    gateway: str, bugs: Tracker, bob: User
) -> None:
    """PostgreSQL refuses a NUL in text: the message was a DataError, retried until it was given up."""
    set_email_creation(bugs, enabled=True, local_part="bugs")
    raw = new_message(bob.email, f"bugs@{DOMAIN}", "Crash on\x00 save", "The log:\x00 segfault")
    record = InboundEmail.objects.create(envelope_to=f"bugs@{DOMAIN}", raw=raw, size=len(raw))

    assert processing.process(record.pk, "job-nul") == "processed"

    record.refresh_from_db()
    assert record.subject == "Crash on save"
    artifact = record.changeset.artifact
    assert artifact.title == "Crash on save"
    description = bugs.fields.get(name="description")
    assert artifact.current_values[str(description.pk)] == "The log: segfault"
