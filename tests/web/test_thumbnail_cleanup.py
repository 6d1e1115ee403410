"""Thumbnails do not outlive their attachment: deleting the row, in the admin or by a cascade, removes
them from MEDIA_ROOT/thumbnails once the deletion commits (and only then)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import transaction
from django.test import Client

from tests.web.test_thumbnails import attach, attachment, photo
from tracker.models import Artifact, FieldType, Tracker, User
from tracker.services.fields import add_field
from tracker.services.thumbnails import thumbnail_for


def thumbnails_on_disk(settings) -> list[str]:
    folder = Path(settings.MEDIA_ROOT) / "thumbnails"
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def artifact_with_thumbnails(tasks: Tracker, alice: User, settings) -> Artifact:
    """An artifact with a PNG, a JPEG and a text file, each already looked at (two thumbnails, a marker)."""
    add_field(tasks, name="files", label="Files", type=FieldType.FILES)
    artifact = attach(
        tasks,
        alice,
        ("shot.png", photo(), "image/png"),
        ("photo.jpg", photo(format_="JPEG"), "image/jpeg"),
        ("notes.png", b"not an image", "image/png"),
    )
    for item in artifact.attachments.all():
        thumbnail_for(item)
    assert sorted(Path(name).suffix for name in thumbnails_on_disk(settings)) == [".jpg", ".none", ".png"]
    return artifact


def admin_client(admin_user: User) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def test_deleting_an_attachment_in_the_admin_removes_its_thumbnail_only(
    django_capture_on_commit_callbacks, settings, artifact_with_thumbnails: Artifact, admin_user: User
) -> None:
    shot = attachment(artifact_with_thumbnails, "shot.png")
    before = thumbnails_on_disk(settings)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client(admin_user).post(
            f"/admin/tracker/attachment/{shot.pk}/delete/", {"post": "yes"}
        )
        assert response.status_code == 302
        # Not before the commit: the deletion could still roll back.
        assert thumbnails_on_disk(settings) == before
    # It should remove that attachment's thumbnail, and keep the others'.
    assert len(before) == 3
    assert thumbnails_on_disk(settings) == [name for name in before if not name.startswith(f"{shot.pk}-")]


def test_deleting_an_artifact_in_the_admin_removes_its_attachments_thumbnails_and_markers(
    django_capture_on_commit_callbacks, settings, artifact_with_thumbnails: Artifact, admin_user: User
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client(admin_user).post(
            f"/admin/tracker/artifact/{artifact_with_thumbnails.pk}/delete/", {"post": "yes"}
        )
        assert response.status_code == 302
    assert not Artifact.objects.filter(pk=artifact_with_thumbnails.pk).exists()
    assert thumbnails_on_disk(settings) == []


def test_a_deletion_that_rolls_back_keeps_the_thumbnails(
    django_capture_on_commit_callbacks, settings, artifact_with_thumbnails: Artifact
) -> None:
    before, pk = thumbnails_on_disk(settings), artifact_with_thumbnails.pk
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        artifact_with_thumbnails.delete()
        raise RuntimeError("changed my mind")
    assert Artifact.objects.filter(pk=pk).exists()
    assert thumbnails_on_disk(settings) == before
