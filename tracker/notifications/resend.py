"""Re-opening ended notifications: ``manage.py resend_notifications`` and the admin action call this.

A re-opened record is pending again, with a new give-up clock, and is handed to the workers at once
(or, when Redis cannot be reached, by the recovery sweep once it answers). Every address already
delivered is skipped by the next attempt, so nobody gets a second copy.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db.models import QuerySet

from tracker.models import NotificationRecord
from tracker.notifications import records
from tracker.notifications.notifier import schedule_job

logger = logging.getLogger("tracker.notifications.Notification")


@dataclass
class Resent:
    changeset_ids: list[int] = field(default_factory=list)
    queued: int = 0

    @property
    def count(self) -> int:
        return len(self.changeset_ids)


def selection(
    *, failed: bool, since: dt.datetime | None = None, changeset_ids: list[int] | None = None
) -> QuerySet[NotificationRecord]:
    """Ended records: failed ones (``failed``), those of ``changeset_ids`` (done or failed), ended since."""
    chosen = NotificationRecord.objects.filter(ended_at__isnull=False)
    if failed:
        chosen = chosen.filter(status=NotificationRecord.Status.FAILED)
    if changeset_ids:
        chosen = chosen.filter(changeset_id__in=changeset_ids)
    if since is not None:
        chosen = chosen.filter(ended_at__gte=since)
    return chosen.order_by("created_at", "pk")


def resend(chosen: QuerySet[NotificationRecord], *, by: str) -> Resent:
    """Re-open the chosen records and hand each to a new job."""
    result = Resent()
    for record in records.reopen(chosen.iterator()):
        result.changeset_ids.append(record.changeset_id)
        if schedule_job(record.changeset_id, record.job_id, None):
            result.queued += 1
    if result.count:
        logger.warning(
            "Notification: %s re-opened %s ended notifications (changesets %s).",
            by,
            result.count,
            ", ".join(map(str, result.changeset_ids[:20])) + (" ..." if result.count > 20 else ""),
        )
    return result
