"""Fixtures for the web UI tests: a browser-like client logged in as one of the named world."""

from __future__ import annotations

import pytest

from tracker.models import Artifact, Tracker, User
from tracker.services.artifacts import create_artifact


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path) -> None:
    """Uploaded files of a test go to its own temporary folder, never to var/media."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def crash(bugs: Tracker, alice: User) -> Artifact:
    """An artifact of the public bugs tracker, created by alice."""
    return create_artifact(bugs, author=alice, values={"title": "Crash on save", "status": "New"}).artifact


@pytest.fixture
def secret_task(tasks: Tracker, alice: User) -> Artifact:
    """An artifact of the private tasks tracker."""
    return create_artifact(tasks, author=alice, values={"title": "Plan the launch"}).artifact
