"""Signal receivers: each one line that calls a named function, so a reader can jump to the logic."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete
from django.dispatch import receiver

from tracker import signals
from tracker.models import Attachment
from tracker.monitoring import metrics
from tracker.notifications import dispatch as notifications
from tracker.services import thumbnails


@receiver(signals.changeset_recorded, dispatch_uid="notifications-record")
def record_notification(sender: Any, changeset: Any, **kwargs: Any) -> None:
    notifications.record_changeset(changeset)


@receiver(signals.artifact_saved, dispatch_uid="notifications-dispatch")
def dispatch_notification(sender: Any, changeset: Any, **kwargs: Any) -> None:
    notifications.dispatch(changeset)


# A receiver rather than a call in the artifact service: artifact_saved is already the one event "a
# changeset committed, with notify on" (never for a rollback, an import or the demo seeding), which is
# exactly what this counter counts; a call would have to repeat those rules in the service.
@receiver(signals.artifact_saved, dispatch_uid="monitoring-artifact-saved")
def count_artifact_saved(sender: Any, created: bool, **kwargs: Any) -> None:
    metrics.record_artifact_saved(created=created)


# post_delete rather than a call in a service: attachment rows are deleted by the admin, and by cascades
# from an artifact, a tracker or a project, none of which goes through one function; the signal is
# sent for each row whichever it is (and Django stops fast-deleting attachments to send it).
@receiver(post_delete, sender=Attachment, dispatch_uid="thumbnails-forget")
def forget_thumbnails(sender: Any, instance: Attachment, **kwargs: Any) -> None:
    thumbnails.forget_on_commit(instance)
