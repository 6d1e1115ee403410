"""Check 1: notifications nobody sent — a dead worker, a lost job, a request that died mid-send.

It runs whatever ASYNC_EMAILS says: with every project inline, a record can still be left pending by
a web process killed between the commit and the sending.
"""

from __future__ import annotations

from datetime import timedelta

import redis
from django.conf import settings
from django.db.models import Min, Q, QuerySet

from tracker.models import NotificationRecord
from tracker.notifications.dispatch import enqueue
from tracker.notifications.routing import async_enabled
from tracker.system_check.base import (
    FIRST_IDS,
    CheckContext,
    Finding,
    Level,
    first_ids,
    humanize_duration,
)

NAME = "pending_notifications"


def pending_records(context: CheckContext) -> QuerySet[NotificationRecord]:
    """Unfinished records no worker is working on any more.

    Not started and older than NOTIFICATION_PENDING_THRESHOLD; or started and not ended although the
    job timeout has passed since it started (the worker died in the middle: RQ would have killed the
    job by then).
    """
    waited_too_long = context.now - timedelta(seconds=settings.NOTIFICATION_PENDING_THRESHOLD)
    job_timed_out = context.now - timedelta(seconds=settings.NOTIFICATION_JOB_TIMEOUT)
    return NotificationRecord.objects.filter(ended_at__isnull=True).filter(
        Q(started_at__isnull=True, created_at__lt=waited_too_long) | Q(started_at__lt=job_timed_out)
    )


def run(context: CheckContext) -> list[Finding]:
    records = pending_records(context)
    count = records.count()
    findings: list[Finding] = []
    if count:
        oldest = records.aggregate(oldest=Min("created_at"))["oldest"]
        artifacts = records.values_list("changeset__artifact_id", flat=True).distinct()
        artifact_count = artifacts.count()
        artifact_ids = list(artifacts.order_by("changeset__artifact_id")[:FIRST_IDS])
        age = context.now - oldest
        findings.append(
            Finding(
                NAME,
                Level.WARNING,
                f"There are {count} notifications pending, you should check the backend workers "
                f"(manage.py backend_workers status) and their log file ({settings.WORKER_LOG}) to ensure "
                f"they are still running. The oldest has been pending for {humanize_duration(age)}. "
                f"Affected artifacts: {first_ids(artifact_ids, artifact_count)}.",
                {
                    "count": count,
                    "oldest_age_seconds": int(age.total_seconds()),
                    "artifact_ids": artifact_ids,
                    "artifact_count": artifact_count,
                },
            )
        )
    if context.requeue:
        findings.append(requeue(records, count))
    return findings


def requeue(records: QuerySet[NotificationRecord], count: int) -> Finding:
    """Hand the pending records to the workers again.

    Safe to repeat: the job skips every address already in NotificationDelivery, so a record whose
    first job is in fact still alive (or requeued twice) never sends an email twice.
    """
    requeued = 0
    try:
        for record in records.order_by("created_at").iterator():
            enqueue(record)
            requeued += 1
    except redis.RedisError as error:
        return Finding(
            NAME,
            Level.ERROR,
            f"Requeued {requeued} of {count} pending notifications, then Redis failed ({error}); "
            "run manage.py system_check --requeue again once Redis answers.",
            {"requeued": requeued},
        )
    message = f"Requeued {requeued} pending notifications on the notifications queue."
    if requeued and not async_enabled():
        message += (
            " ASYNC_EMAILS is off, so no worker may be running: "
            "run manage.py rqworker notifications --burst to send them."
        )
    return Finding(NAME, Level.INFO, message, {"requeued": requeued})
