"""The preferences page, the staff-only system events page, and the Django admin."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tracker.models import Artifact, SystemEvent, User


def test_a_user_chooses_to_be_emailed_about_their_own_changes(client_as, bob: User) -> None:
    client = client_as(bob)
    page = client.get(reverse("tracker:preferences")).content.decode()
    assert "Email me about my own changes" in page
    response = client.post(reverse("tracker:preferences"), {"notify_own_changes": "on"}, follow=True)
    assert "Preferences saved." in response.content.decode()
    bob.refresh_from_db()
    assert bob.notify_own_changes
    client.post(reverse("tracker:preferences"), {})
    bob.refresh_from_db()
    assert not bob.notify_own_changes


def test_system_events_are_listed_for_site_admins(client_as, admin_user: User) -> None:
    SystemEvent.objects.create(
        status=SystemEvent.Status.WARNING,
        ended_at=timezone.now(),
        findings=[
            {"check": "pending_notifications", "level": "WARNING", "message": "3 notifications <stuck>"}
        ],
        log="checked everything",
    )
    page = client_as(admin_user).get(reverse("tracker:system-events")).content.decode()
    assert "System check" in page and "Warning" in page
    assert "3 notifications &lt;stuck&gt;" in page
    assert "checked everything" in page


def test_system_events_are_hidden_from_everyone_else(client_as, bob: User, client: Client) -> None:
    assert client_as(bob).get(reverse("tracker:system-events")).status_code == 403
    # Anonymous visitors are sent to log in.
    assert client.get(reverse("tracker:system-events")).status_code == 302


def test_only_staff_see_the_system_links_in_the_header(client_as, bob: User, admin_user: User) -> None:
    assert reverse("tracker:system-events") not in client_as(bob).get("/").content.decode()
    assert reverse("tracker:system-events") in client_as(admin_user).get("/").content.decode()


def test_the_admin_shows_artifacts_read_only(client_as, admin_user: User, crash: Artifact) -> None:
    client = client_as(admin_user)
    url = reverse("admin:tracker_artifact_change", args=[crash.pk])
    page = client.get(url).content.decode()
    assert "Artifacts are created and edited on the tracker pages" in page
    assert "Crash on save" in page
    # No form to save: a POST is refused and nothing changes.
    assert client.post(url, {"title": "Changed behind the service"}).status_code == 403
    crash.refresh_from_db()
    assert crash.title == "Crash on save"
    assert client.get(reverse("admin:tracker_artifact_add")).status_code == 403


def test_every_admin_list_page_renders(client_as, admin_user: User, crash: Artifact) -> None:
    client = client_as(admin_user)
    for model in (
        "user", "project", "membership", "tracker", "field", "fieldoption", "notificationlistentry",
        "artifact", "changeset", "attachment", "artifactsubscription", "notificationrecord",
        "notificationdelivery", "systemevent", "jiraimport",
    ):  # fmt: skip
        assert client.get(reverse(f"admin:tracker_{model}_changelist")).status_code == 200, model
    assert (
        client.get(reverse("admin:tracker_changeset_change", args=[crash.changesets.get().pk])).status_code
        == 200
    )
