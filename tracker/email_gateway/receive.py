"""Taking a message from the mail server: store it, then hand it to a worker, never process it here.

``manage.py receive_email`` (a pipe) and the LMTP server both call :func:`receive`. The mail server
waits on us, so the only work is one INSERT and one enqueue under the ENQUEUE deadlines (about half a
second at worst, and skipped for 5 s after a Redis failure): with Redis down the message is stored all
the same, and the recovery sweep enqueues it later. Only a failure to store is the mail server's
business: it keeps the message and tries again (EX_TEMPFAIL).
"""

from __future__ import annotations

import logging

import redis

from tracker import queues
from tracker.email_gateway import inbound
from tracker.models import InboundEmail
from tracker.monitoring import metrics

logger = logging.getLogger("tracker.email_gateway.receive")


def enqueue(record: InboundEmail) -> bool:
    """Hand the stored record to the workers; False (logged) when Redis fails: the sweep will."""
    try:
        queues.enqueue_incoming_email(record.pk, job_id=record.job_id)
    except (redis.RedisError, OSError) as error:
        log = logger.info if isinstance(error, queues.RedisSkipped) else logger.warning
        log(
            "Inbound email %s stored; Redis cannot take its job (%s): the recovery sweep will hand it "
            "to a worker.",
            record.pk,
            error,
        )
        return False
    return True


def receive(raw: bytes, *, via: str, envelope_from: str = "", envelope_to: str = "") -> InboundEmail:
    """Store, then enqueue. Raises DatabaseError when the message could not be stored."""
    record = inbound.store(raw, via=via, envelope_from=envelope_from, envelope_to=envelope_to)
    enqueue(record)
    # After the enqueue: a Redis that just failed it is skipped here (the shared breaker).
    metrics.record_inbound_email("received")
    return record
