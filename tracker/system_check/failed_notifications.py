"""Check 2: notifications that ended failed since the previous system check.

A record ends failed on a permanent error, or once transient errors have lasted NOTIFICATION_GIVE_UP_AFTER;
``manage.py resend_notifications --failed`` sends them again (addresses already delivered are skipped).
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from tracker.models import NotificationRecord
from tracker.system_check.base import FIRST_IDS, CheckContext, Finding, Level, first_ids

NAME = "failed_notifications"


def run(context: CheckContext) -> list[Finding]:
    failed = NotificationRecord.objects.filter(
        status=NotificationRecord.Status.FAILED, ended_at__isnull=False
    )
    if context.previous_check_at is not None:
        failed = failed.filter(ended_at__gte=context.previous_check_at)
        since = f"since the last check ({timezone.localtime(context.previous_check_at):%Y-%m-%d %H:%M %Z})"
    else:
        # The first check ever: everything the housekeeping has kept (a week by default).
        since = f"in the last {settings.NOTIFICATION_RETENTION_DAYS} days (no earlier check)"
    count = failed.count()
    if not count:
        return []
    last = failed.select_related("changeset").order_by("-ended_at", "-id").first()
    assert last is not None
    artifacts = failed.values_list("changeset__artifact_id", flat=True).distinct()
    artifact_count = artifacts.count()
    artifact_ids = list(artifacts.order_by("changeset__artifact_id")[:FIRST_IDS])
    return [
        Finding(
            NAME,
            Level.WARNING,
            f"{count} notifications failed {since}. The last one (artifact #{last.changeset.artifact_id}, "
            f"changeset {last.changeset_id}) failed after {last.attempts} attempts with: "
            f"{last.last_error or 'no error recorded'}. Affected artifacts: "
            f"{first_ids(artifact_ids, artifact_count)}. Fix the cause (the mail server settings, "
            f"EMAIL_HOST; the worker log, {settings.WORKER_LOG}), then send them again with "
            "manage.py resend_notifications --failed; nobody gets a second copy.",
            {
                "count": count,
                "last_error": last.last_error,
                "artifact_ids": artifact_ids,
                "artifact_count": artifact_count,
            },
        )
    ]
