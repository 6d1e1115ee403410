"""The RQ job of the incoming_email queue. It carries the inbound email's id only.

Its options are set where it is enqueued (``tracker.queues.enqueue_incoming_email``). A job that fails
(a database error: SQLite refuses at once a transaction that would wait on another writer; a bug)
hands its record to a new job at once, up to MAX_ATTEMPTS, after which the record is rejected with the
error (and the admin can process it again). If even that enqueue fails, the recovery sweep does it.
"""

from __future__ import annotations

import logging
import uuid

from rq import get_current_job

from tracker import queues
from tracker.email_gateway import inbound, processing, receive
from tracker.models import InboundEmail

logger = logging.getLogger("tracker.email_gateway.jobs")

MAX_ATTEMPTS = 10


def process_inbound_email(inbound_id: int) -> str:
    job = get_current_job()
    job_id = job.id if job is not None else f"direct-{uuid.uuid4().hex[:12]}"
    return processing.process(inbound_id, job_id)


@queues.on_final_failure
def job_failed(failure: queues.FinalFailure) -> None:
    """RQ's failure callback (also for a job whose worker died): give up after MAX_ATTEMPTS."""
    inbound_id = failure.object_id
    record = InboundEmail.objects.filter(pk=inbound_id, job_id=failure.job_id).first()
    if record is None or record.status != InboundEmail.Status.RECEIVED:
        return
    error = failure.describe()
    if record.attempts >= MAX_ATTEMPTS:
        inbound.finish(
            record, InboundEmail.Status.REJECTED, f"processing failed {record.attempts} times: {error}"
        )
        logger.error("Inbound email %s: processing failed for good: %s", inbound_id, error)
        return
    next_job = queues.new_inbound_job_id()
    if inbound.requeue(record.pk, seen_job_id=failure.job_id, job_id=next_job):
        record.job_id = next_job
        receive.enqueue(record)
    logger.warning(
        "Inbound email %s: processing failed (%s); job %s tries again.", inbound_id, error, next_job
    )
