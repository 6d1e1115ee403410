"""The RQ job of the notifications queue. It carries the changeset id only and refetches the rest.

Its options (timeout, this failure callback, no RQ retries) are set where it is enqueued,
``tracker.queues``, which names these functions by dotted path. Each attempt is a job of its own: the
notifier schedules the next one on the record's retry schedule, and the recovery sweep stands in when
Redis lost it.
"""

from __future__ import annotations

import logging
import time
import uuid

from rq import get_current_job

from tracker import queues
from tracker.models import NotificationRecord
from tracker.notifications import notifier, records

logger = logging.getLogger("tracker.notifications.jobs")


def send_changeset_notification(changeset_id: int) -> None:
    """Send the changeset's emails; a transient problem schedules the next attempt (never raised)."""
    job = get_current_job()
    job_id = job.id if job is not None else f"direct-{uuid.uuid4().hex[:12]}"
    started = time.monotonic()
    logger.info("Job %s received (queue %s): changeset %s", job_id, job.origin if job else "-", changeset_id)
    try:
        outcome = notifier.notify(changeset_id, mode=NotificationRecord.Mode.ASYNC, token=job_id)
    except Exception as error:
        logger.warning("Job %s failed after %.2f s: %s", job_id, time.monotonic() - started, error)
        raise
    if outcome.state == "busy" and outcome.claim is not None and outcome.claim.busy_until is not None:
        # Another attempt holds the record. If it is alive it finishes and this look finds the record
        # ended; if it died, the record is free once its lease is over and this look sends the rest.
        follow_up = queues.new_notification_job_id(changeset_id)
        notifier.schedule_job(changeset_id, follow_up, outcome.claim.busy_until)
        logger.info(
            "Job %s: record busy, job %s looks again at %s", job_id, follow_up, outcome.claim.busy_until
        )
    logger.info("Job %s done in %.2f s: %s", job_id, time.monotonic() - started, outcome)


@queues.on_final_failure
def job_failed(failure: queues.FinalFailure) -> None:
    """RQ's failure callback, also called for a job whose worker died (AbandonedJobError).

    A record the job still holds goes back on the retry schedule (or ends failed once it is past
    NOTIFICATION_GIVE_UP_AFTER); the next attempt is a new job.
    """
    changeset_id = failure.object_id
    error = "The worker died while sending (AbandonedJobError)." if failure.abandoned else failure.describe()
    outcome = records.abandon(changeset_id, failure.job_id, error)
    if outcome is None:
        return
    if outcome.state == "failed":
        logger.error("Notification for changeset %s failed: %s", changeset_id, error)
        return
    logger.warning("Notification for changeset %s: %s Next attempt at %s.", changeset_id, error, outcome.at)
    notifier.schedule_job(changeset_id, outcome.job_id, outcome.at)
