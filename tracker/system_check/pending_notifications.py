"""Check 1: notifications nobody is sending — a dead worker, a lost job, a request that died mid-send —
and those waiting for a retry after mail server errors.

It runs whatever ASYNC_EMAILS says: with every project inline, a record can still be left pending by
a web process killed between the commit and the sending. The recovery sweep of ``backend_workers``
(or ``manage.py notifications_sweep``) hands such records to new jobs by itself; this check says when
it does not happen, and ``--requeue`` does it by hand.
"""

from __future__ import annotations

from datetime import timedelta

import redis
from django.conf import settings
from django.db.models import Min, Q, QuerySet

from tracker import queues
from tracker.models import NotificationRecord
from tracker.notifications import handover, schedule
from tracker.notifications.notifier import schedule_job
from tracker.notifications.routing import async_enabled
from tracker.system_check.base import (
    FIRST_IDS,
    CheckContext,
    Finding,
    Level,
    RedisUnavailable,
    first_ids,
    humanize_duration,
)

NAME = "pending_notifications"
Status = NotificationRecord.Status


def pending_records(context: CheckContext) -> QuerySet[NotificationRecord]:
    """Unfinished records no worker is working on any more.

    Not started and older than NOTIFICATION_PENDING_THRESHOLD; due for a retry for longer than that;
    or started and not ended although the job timeout has passed since it started (the worker died in
    the middle: RQ would have killed the job by then).
    """
    threshold = context.now - timedelta(seconds=settings.NOTIFICATION_PENDING_THRESHOLD)
    job_timed_out = context.now - timedelta(seconds=settings.NOTIFICATION_JOB_TIMEOUT)
    return NotificationRecord.objects.filter(ended_at__isnull=True).filter(
        Q(status=Status.PENDING, created_at__lt=threshold)
        | Q(status=Status.RETRY, next_attempt_at__lt=threshold)
        | Q(status=Status.STARTED, started_at__lt=job_timed_out)
    )


def run(context: CheckContext) -> list[Finding]:
    records_found = pending_records(context)
    count = records_found.count()
    findings: list[Finding] = []
    if count:
        oldest = records_found.aggregate(oldest=Min("created_at"))["oldest"]
        artifacts = records_found.values_list("changeset__artifact_id", flat=True).distinct()
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
    findings += lost_jobs(context)
    findings += waiting_for_retry(context)
    if context.requeue:
        findings.append(requeue(records_found, count))
    return findings


def lost_jobs(context: CheckContext) -> list[Finding]:
    """Pending records whose job Redis no longer has (lost in a restart or a failover)."""
    recovery_after = context.now - timedelta(seconds=settings.NOTIFICATION_RECOVERY_AFTER)
    candidates = list(
        NotificationRecord.objects.filter(
            ended_at__isnull=True, status=Status.PENDING, created_at__lt=recovery_after
        )
        .exclude(job_id="")
        .values_list("changeset_id", "job_id")[:500]
    )
    if not candidates:
        return []
    try:
        context.redis()
        states = queues.job_states([job_id for _, job_id in candidates], deadlines=queues.SYSTEM_CHECK)
    except (RedisUnavailable, redis.RedisError):
        return []  # the redis check reports it
    lost = [changeset_id for changeset_id, job_id in candidates if not states[job_id].waiting]
    if not lost:
        return []
    return [
        Finding(
            NAME,
            Level.WARNING,
            f"{len(lost)} pending notifications have no job in Redis any more (Redis lost it: a restart "
            "without its append-only file, a failover). The recovery sweep of manage.py backend_workers "
            "sends them within NOTIFICATION_SWEEP_INTERVAL; if it does not run, start it, or run "
            f"manage.py notifications_sweep --once. Changesets: {first_ids(sorted(lost), len(lost))}.",
            {"lost_jobs": len(lost), "changeset_ids": sorted(lost)[:FIRST_IDS]},
        )
    ]


def waiting_for_retry(context: CheckContext) -> list[Finding]:
    waiting = NotificationRecord.objects.filter(ended_at__isnull=True, status=Status.RETRY)
    count = waiting.count()
    if not count:
        return []
    oldest = waiting.order_by("created_at").first()
    assert oldest is not None
    age = context.now - oldest.created_at
    last = oldest.last_error or oldest.last_failure or "no error recorded"
    level = Level.WARNING if age > timedelta(seconds=settings.NOTIFICATION_PENDING_THRESHOLD) else Level.INFO
    return [
        Finding(
            NAME,
            level,
            f"{count} notifications wait for a retry after a transient error; the oldest, for "
            f"{humanize_duration(age)}, last met: {last}. They are retried "
            f"({schedule.describe()}) and sent as soon as the mail server answers again; check EMAIL_HOST "
            "and the mail server.",
            {"retrying": count, "oldest_retrying_age_seconds": int(age.total_seconds())},
        )
    ]


def requeue(records_found: QuerySet[NotificationRecord], count: int) -> Finding:
    """Hand the pending records to the workers again, each to a new job.

    Safe to repeat: the job skips every address already in NotificationDelivery, so a record whose
    first job is in fact still alive (or requeued twice) never sends an email twice.
    """
    requeued = 0
    for record in records_found.order_by("created_at").iterator():
        job_id = queues.new_notification_job_id(record.changeset_id)
        if record.status != Status.STARTED and not handover.requeue(
            NotificationRecord, record.pk, seen_job_id=record.job_id, job_id=job_id
        ):
            continue
        if record.status == Status.STARTED and not handover.take_over(
            NotificationRecord, record.pk, dead_token=record.claimed_by, job_id=job_id
        ):
            continue
        if not schedule_job(record.changeset_id, job_id, None):
            return Finding(
                NAME,
                Level.ERROR,
                f"Requeued {requeued} of {count} pending notifications, then Redis failed; "
                "run manage.py system_check --requeue again once Redis answers (or let the recovery "
                "sweep of manage.py backend_workers do it).",
                {"requeued": requeued},
            )
        requeued += 1
    message = f"Requeued {requeued} pending notifications on the notifications queue."
    if requeued and not async_enabled():
        message += (
            " ASYNC_EMAILS is off, so no worker may be running: "
            "run manage.py rqworker notifications --burst to send them."
        )
    return Finding(NAME, Level.INFO, message, {"requeued": requeued})
