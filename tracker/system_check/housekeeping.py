"""Check 6: purge ended notification records older than NOTIFICATION_RETENTION_DAYS.

The delivery rows (who got which changeset's email) stay: they are what guarantees that a late
retry never sends an email twice, and they are small.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from tracker.models import NotificationRecord
from tracker.system_check.base import CheckContext, Finding, Level

NAME = "housekeeping"


def run(context: CheckContext) -> list[Finding]:
    days = settings.NOTIFICATION_RETENTION_DAYS
    cutoff = context.now - timedelta(days=days)
    # Nothing points at a record, so Django deletes them with one DELETE, whatever their number.
    purged, _ = NotificationRecord.objects.filter(ended_at__isnull=False, ended_at__lt=cutoff).delete()
    return [
        Finding(
            NAME,
            Level.INFO,
            f"Purged {purged} ended notification records older than {days} days.",
            {"purged": purged},
        )
    ]
