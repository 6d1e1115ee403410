"""After a changeset: write its notification record (in the transaction), then send or enqueue.

``record_changeset`` runs inside the changeset's transaction, ``dispatch`` once it has committed:
inline projects get their emails sent right there, in the request; async projects get a job on the
notifications queue carrying the changeset id only. When Redis cannot be reached the request does not
fail: the record is marked ``fell_back_inline`` and the emails are sent inline after all.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid

import django_rq
import redis
from django.conf import settings
from rq import Callback, Retry
from rq.job import Job
from rq.queue import Queue

from tracker.models import Changeset, NotificationRecord
from tracker.notifications import notifier, records
from tracker.notifications.connections import notifications_redis

# The key administrators grep for in the web server's log.
logger = logging.getLogger("tracker.notifications.Notification")

JOB_FUNCTION = "tracker.notifications.jobs.send_changeset_notification"
FAILURE_CALLBACK = "tracker.notifications.jobs.job_failed"
# How long RQ keeps the trace of a job, for the RQ admin pages.
RESULT_TTL = 3600
FAILURE_TTL = 7 * 24 * 3600


def notifications_queue() -> Queue:
    # commit_mode="auto": we run after the commit already, and want Redis errors raised here.
    return django_rq.get_queue(
        settings.NOTIFICATIONS_QUEUE, connection=notifications_redis(), commit_mode="auto"
    )


def enqueue_changeset(changeset_id: int, *, at: dt.datetime | None = None) -> Job:
    """A job for the changeset's notification (ids only), now or at ``at``; raises redis.RedisError."""
    queue = notifications_queue()
    options = {
        "job_id": f"notification-{changeset_id}-{uuid.uuid4().hex[:12]}",
        "job_timeout": settings.NOTIFICATION_JOB_TIMEOUT,
        "retry": Retry(max=3, interval=list(settings.NOTIFICATION_RETRY_INTERVALS)),
        "on_failure": Callback(FAILURE_CALLBACK),
        "result_ttl": RESULT_TTL,
        "failure_ttl": FAILURE_TTL,
        "description": f"Notification for changeset {changeset_id}",
    }
    if at is not None:
        return queue.enqueue_at(at, JOB_FUNCTION, changeset_id, **options)
    return queue.enqueue(JOB_FUNCTION, changeset_id, **options)


def enqueue(record: NotificationRecord) -> None:
    """Hand the record to the workers; raises redis.RedisError when Redis cannot be reached."""
    job = enqueue_changeset(record.changeset_id)
    logger.info("Notification: enqueued job %s for changeset %s.", job.id, record.changeset_id)


def record_changeset(changeset: Changeset) -> None:
    """Receiver of ``changeset_recorded``: inside the transaction, so record and changeset commit together."""
    records.create_record(changeset)


def inline_token() -> str:
    return f"inline:{os.getpid()}"


def dispatch(changeset: Changeset) -> None:
    """Receiver of ``artifact_saved`` (after the commit). Never raises: the changeset is saved already."""
    try:
        _dispatch(changeset)
    except Exception:
        logger.exception(
            "Notification: changeset %s could not be handled; the record stays for the system check.",
            changeset.pk,
        )


def _dispatch(changeset: Changeset) -> None:
    try:
        record = changeset.notification  # cached by records.create_record: no query
    except NotificationRecord.DoesNotExist:
        logger.error("Notification: changeset %s has no notification record; nothing sent.", changeset.pk)
        return
    if record.mode == NotificationRecord.Mode.ASYNC:
        try:
            enqueue(record)
            return
        except redis.RedisError as error:
            logger.error(
                "Notification: Redis cannot be reached (%s); sending the emails of changeset %s inline.",
                error,
                changeset.pk,
            )
            records.mark_fell_back(record)
    notifier.notify(changeset.pk, mode=NotificationRecord.Mode.INLINE, token=inline_token())
