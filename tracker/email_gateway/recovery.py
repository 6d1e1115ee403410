"""The email gateway's side of the recovery sweep (``tracker.workers.sweep``), and its housekeeping.

First it stores what the pipe (``tracker.email_gateway.pipe``) left in this host's spool
(``ingest.ingest_spool``), for set-ups that run no LMTP process. Then a record still ``received``
NOTIFICATION_RECOVERY_AFTER seconds after it arrived, whose job Redis no longer has waiting or running
(Redis was down when ``receive_email`` ran, a FLUSHALL, a killed worker), is handed to a new job;
the conditional update on the job id it was read with keeps two sweeps from doing it twice, and the
job's claim keeps two jobs from processing it twice.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone

from tracker import queues
from tracker.email_gateway import inbound, ingest, receive, spool
from tracker.models import InboundEmail

logger = logging.getLogger("tracker.email_gateway.recovery")

BATCH = 500


def sweep(now: dt.datetime | None = None) -> int:
    """Store the spool, then hand waiting records whose job is lost to new jobs; the number handed.

    Raises redis.RedisError.
    """
    now = now or timezone.now()
    ingest.ingest_spool()
    waiting = list(
        InboundEmail.objects.filter(
            status=InboundEmail.Status.RECEIVED,
            received_at__lt=now - dt.timedelta(seconds=settings.NOTIFICATION_RECOVERY_AFTER),
        ).order_by("received_at")[:BATCH]
    )
    if not waiting:
        return 0
    states = queues.job_states(
        sorted({record.job_id for record in waiting if record.job_id}),
        queue_name=settings.INCOMING_EMAIL_QUEUE,
    )
    missing = queues.JobState(None, None)
    handed = 0
    for record in waiting:
        state = states.get(record.job_id, missing)
        if state.waiting or state.running(now):
            continue
        job_id = queues.new_inbound_job_id()
        if inbound.requeue(record.pk, seen_job_id=record.job_id, job_id=job_id):
            record.job_id = job_id
            if receive.enqueue(record):
                handed += 1
    if handed:
        logger.warning("Recovery sweep: %s inbound email(s) handed to new jobs.", handed)
    return handed


def housekeeping(now: dt.datetime | None = None) -> int:
    """Purge the raw messages past EMAIL_GATEWAY_RETENTION_DAYS (the rows and their reasons stay), and
    the spool's tmp/ files a pipe left when it died before its rename."""
    spool.remove_abandoned(ingest.spool_directory())
    return inbound.purge_raw(now)
