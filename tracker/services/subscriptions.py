"""Watching and unwatching artifacts."""

from __future__ import annotations

from tracker.models import Artifact, ArtifactSubscription, User


def set_watching(artifact: Artifact, user: User, *, watching: bool) -> ArtifactSubscription:
    """Record the user's choice; unwatching also silences them as assignee or CC of this artifact."""
    subscription, _ = ArtifactSubscription.objects.update_or_create(
        artifact=artifact, user=user, defaults={"watching": watching}
    )
    return subscription


def is_watching(artifact: Artifact, user: User) -> bool | None:
    """True (watching), False (unwatched) or None (no explicit choice)."""
    return (
        ArtifactSubscription.objects.filter(artifact=artifact, user=user)
        .values_list("watching", flat=True)
        .first()
    )
