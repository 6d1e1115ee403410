"""Signal receivers: each one line that calls a named function, so a reader can jump to the logic."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_init, post_save
from django.dispatch import receiver

from tracker import signals
from tracker.models import SystemEvent
from tracker.monitoring import metrics
from tracker.notifications import dispatch as notifications


@receiver(signals.changeset_recorded, dispatch_uid="notifications-record")
def record_notification(sender: Any, changeset: Any, **kwargs: Any) -> None:
    notifications.record_changeset(changeset)


@receiver(signals.artifact_saved, dispatch_uid="notifications-dispatch")
def dispatch_notification(sender: Any, changeset: Any, **kwargs: Any) -> None:
    notifications.dispatch(changeset)


@receiver(signals.artifact_saved, dispatch_uid="monitoring-artifact-saved")
def count_artifact_saved(sender: Any, created: bool, **kwargs: Any) -> None:
    metrics.record_artifact_saved(created=created)


@receiver(signals.emails_sent, dispatch_uid="monitoring-emails-sent")
def count_emails_sent(sender: Any, mode: str, count: int, **kwargs: Any) -> None:
    metrics.record_emails_sent(mode, count)


@receiver(signals.email_failed, dispatch_uid="monitoring-email-failed")
def count_email_failed(sender: Any, mode: str = "", **kwargs: Any) -> None:
    metrics.record_email_failed(mode)


@receiver(post_init, sender=SystemEvent, dispatch_uid="monitoring-system-event-loaded")
def remember_system_event_status(sender: Any, instance: SystemEvent, **kwargs: Any) -> None:
    metrics.remember_system_event_status(instance)


@receiver(post_save, sender=SystemEvent, dispatch_uid="monitoring-system-event-saved")
def count_system_event_end(sender: Any, instance: SystemEvent, created: bool, **kwargs: Any) -> None:
    metrics.system_event_saved(instance, created=created)
