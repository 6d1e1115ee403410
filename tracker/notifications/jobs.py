"""The RQ job of the notifications queue. It carries the changeset id only and refetches the rest.

Its options (retries, timeout, this failure callback) are set where it is enqueued, ``tracker.queues``,
which names these functions by dotted path; a follow-up look is enqueued through the same function.
"""

from __future__ import annotations

import logging
import time
import uuid
from types import TracebackType
from typing import Any

from rq import get_current_job
from rq.exceptions import AbandonedJobError
from rq.job import Job

from tracker import queues
from tracker.models import NotificationRecord
from tracker.notifications import notifier, records

logger = logging.getLogger("tracker.notifications.jobs")


def send_changeset_notification(changeset_id: int) -> None:
    """Send the changeset's emails; raises notifier.RetryLater on a transient problem (RQ retries)."""
    job = get_current_job()
    job_id = job.id if job is not None else f"direct-{uuid.uuid4().hex[:12]}"
    # retries_left counts the retries still possible after this attempt: none left, this is the last.
    last_attempt = job is None or not job.should_retry
    started = time.monotonic()
    logger.info("Job %s received (queue %s): changeset %s", job_id, job.origin if job else "-", changeset_id)
    try:
        outcome = notifier.notify(
            changeset_id, mode=NotificationRecord.Mode.ASYNC, token=job_id, last_attempt=last_attempt
        )
    except Exception as error:
        logger.warning("Job %s failed after %.2f s: %s", job_id, time.monotonic() - started, error)
        raise
    if outcome.state == "busy" and outcome.claim is not None and outcome.claim.busy_until is not None:
        # Another attempt holds the record. If it is alive it finishes and this look finds the record
        # ended; if it died, the record is free once its lease is over and this look sends the rest.
        follow_up = queues.enqueue_notification(changeset_id, at=outcome.claim.busy_until)
        logger.info(
            "Job %s: record busy, job %s looks again at %s", job_id, follow_up.id, outcome.claim.busy_until
        )
    logger.info("Job %s done in %.2f s: %s", job_id, time.monotonic() - started, outcome)


def job_failed(
    job: Job,
    connection: Any,
    exc_type: type[BaseException] | None,
    exc_value: BaseException | None,
    traceback: TracebackType | None,
) -> None:
    """RQ's failure callback, also called for a job whose worker died (AbandonedJobError).

    RQ calls it before deciding to retry: a job with retries left runs again and takes its record back.
    Once none are left, a record the job still holds ends failed (a killed or timed-out last attempt).
    """
    changeset_id = queues.final_failure_id(job)
    if changeset_id is None:
        return
    if exc_type is not None and issubclass(exc_type, AbandonedJobError):
        error = "The worker died while sending (AbandonedJobError) and no retry is left."
    else:
        error = f"{exc_type.__name__ if exc_type else 'Error'}: {exc_value}"
    if records.fail_unfinished(changeset_id, job.id, error):
        logger.error("Notification for changeset %s failed: %s", changeset_id, error)
