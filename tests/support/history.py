"""Artifacts with long histories, for the tests of bounded history reads (pages, API, emails)."""

from __future__ import annotations

from tracker.models import Artifact, Tracker, User
from tracker.services.artifacts import create_artifact, update_artifact


def artifact_with(tracker: Tracker, authors: list[User], changesets: int) -> Artifact:
    """Changeset n (1 is the creation) sets the description to "Step n"; odd ones also comment."""
    artifact = create_artifact(
        tracker, author=authors[0], values={"title": "Long lived", "description": "Step 1"}, notify=False
    ).artifact
    for number in range(2, changesets + 1):
        update_artifact(
            artifact,
            author=authors[number % len(authors)],
            values={"description": f"Step {number}"},
            comment=f"Comment {number}" if number % 2 else "",
            notify=False,
        )
    return artifact
