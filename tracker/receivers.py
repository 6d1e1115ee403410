"""Signal receivers: each one line that calls a named function, so a reader can jump to the logic."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from tracker import signals
from tracker.monitoring import metrics
from tracker.notifications import dispatch as notifications


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
