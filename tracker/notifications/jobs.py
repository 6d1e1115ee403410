"""The RQ job of the notifications queue. It carries the changeset id only and refetches the rest.

Its options (timeout, this failure callback, no RQ retries) are set where it is enqueued,
``tracker.queues``, which names these functions by dotted path. Each attempt is a job of its own: the
notifier schedules the next one on the record's retry schedule, and the recovery sweep stands in when
Redis lost it.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid

from django.conf import settings
from django.utils import timezone
from rq import get_current_job

from tracker import queues
from tracker.models import NotificationRecord
from tracker.notifications import batches, drain, fanout, notifier, ordering

logger = logging.getLogger("tracker.notifications.jobs")


def send_changeset_notification(changeset_id: int) -> None:
    """Send the changeset's emails; a transient problem schedules the next attempt (never raised)."""
    job = get_current_job()
    job_id = job.id if job is not None else f"direct-{uuid.uuid4().hex[:12]}"
    started = time.monotonic()
    logger.info("Job %s received (queue %s): changeset %s", job_id, job.origin if job else "-", changeset_id)
    try:
        outcome = notifier.notify(
            changeset_id, mode=NotificationRecord.Mode.ASYNC, token=job_id, ordered=True
        )
    except Exception as error:
        logger.warning("Job %s failed after %.2f s: %s", job_id, time.monotonic() - started, error)
        raise
    if outcome.state == "held":
        # An earlier changeset of the artifact is still being sent: look again shortly. Only the job
        # the record expects does so (``ordering.hold`` checks it), so stray copies die out.
        follow_up = queues.new_notification_job_id(changeset_id)
        if ordering.hold(changeset_id, seen_job_id=job_id, job_id=follow_up):
            at = ordering.next_look(changeset_id, timezone.now())
            notifier.schedule_job(changeset_id, follow_up, at)
            logger.info(
                "Job %s: an earlier changeset of the artifact is still being sent; job %s looks again at %s",
                job_id,
                follow_up,
                at,
            )
        return
    if outcome.state == "busy" and outcome.claim is not None and outcome.claim.busy_until is not None:
        # Another attempt holds the record. If it is alive it finishes and this look finds the record
        # ended; if it died, the record is free once its lease is over and this look sends the rest.
        follow_up = queues.new_notification_job_id(changeset_id)
        notifier.schedule_job(changeset_id, follow_up, outcome.claim.busy_until)
        logger.info(
            "Job %s: record busy, job %s looks again at %s", job_id, follow_up, outcome.claim.busy_until
        )
    logger.info("Job %s done in %.2f s: %s", job_id, time.monotonic() - started, outcome)
    if outcome.state == "done" and job is not None and settings.NOTIFICATION_JOB_CHANGESETS > 1:
        drained = drain.send_waiting(job_id, started=started)
        if drained.sent or drained.handed_back:
            logger.info("Job %s also: %s, in %.2f s", job_id, drained, time.monotonic() - started)


@queues.on_final_failure
def job_failed(failure: queues.FinalFailure) -> None:
    """RQ's failure callback, also called for a job whose worker died (AbandonedJobError).

    Every record the job still holds (its own, and those it took off the queue) goes back on the retry
    schedule (or ends failed once it is past NOTIFICATION_GIVE_UP_AFTER); the next attempt is a new job.
    """
    error = "The worker died while sending (AbandonedJobError)." if failure.abandoned else failure.describe()
    for outcome in drain.release(failure.job_id, error):
        changeset_id = outcome.changeset_id
        if outcome.state == "failed":
            logger.error("Notification for changeset %s failed: %s", changeset_id, error)
            continue
        logger.warning(
            "Notification for changeset %s: %s Next attempt at %s.", changeset_id, error, outcome.at
        )
        notifier.schedule_job(changeset_id, outcome.job_id, outcome.at)


def send_notification_batch(batch_id: int) -> None:
    """Send one batch of a big changeset's emails (``fanout``); a transient problem retries that batch."""
    job = get_current_job()
    job_id = job.id if job is not None else f"direct-{uuid.uuid4().hex[:12]}"
    # RQ's worker name (hostname.pid by default, or the supervisor's --name): who sent which batch.
    sender = (job.worker_name if job is not None else None) or f"{socket.gethostname()}.{os.getpid()}"
    started = time.monotonic()
    logger.info("Job %s received: notification batch %s, worker %s", job_id, batch_id, sender)
    outcome = fanout.send_batch(batch_id, token=job_id, sender=sender)
    logger.info("Job %s done in %.2f s: batch %s, %s", job_id, time.monotonic() - started, batch_id, outcome)


@queues.on_final_failure
def batch_job_failed(failure: queues.FinalFailure) -> None:
    """RQ's failure callback of a batch job (a crash, the timeout, its worker died): retry or fail it."""
    error = "The worker died while sending (AbandonedJobError)." if failure.abandoned else failure.describe()
    outcome = batches.abandon(failure.object_id, failure.job_id, error)
    if outcome is None:
        return
    if outcome.state == "failed":
        logger.error("Notification batch %s failed: %s", failure.object_id, error)
        fanout.keep_journal(failure.object_id)
        batches.end_record(outcome.record_id)
        return
    logger.warning("Notification batch %s: %s Next attempt at %s.", failure.object_id, error, outcome.at)
    fanout.schedule_batch(failure.object_id, outcome.job_id, outcome.at)
