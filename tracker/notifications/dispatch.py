"""After a changeset: write its notification record (in the transaction), then send or enqueue.

``record_changeset`` runs inside the changeset's transaction, ``dispatch`` once it has committed:
inline projects get their emails sent right there, in the request; async projects get a job on the
notifications queue carrying the changeset id only (``tracker.queues.enqueue_notification``), under
the job id the record was written with. A save never waits long on Redis (``tracker.queues``: short
deadlines and a breaker shared with the metrics store), and never fails because of it:

- Redis refuses connections (down, unreachable): the record is marked ``fell_back_inline`` and the
  emails are sent inline after all;
- Redis does not answer in time (frozen, overloaded): the enqueue may still reach it, so the record is
  left pending; the recovery sweep enqueues it after NOTIFICATION_RECOVERY_AFTER if its job never
  arrived (sending it here as well could only race with that job, and would keep the request waiting).
"""

from __future__ import annotations

import logging
import os

import redis

from tracker import queues
from tracker.models import Changeset, NotificationRecord
from tracker.notifications import notifier, records

# The key administrators grep for in the web server's log.
logger = logging.getLogger("tracker.notifications.Notification")


def enqueue(record: NotificationRecord) -> None:
    """Hand the record to the workers under its job id; raises redis.RedisError when Redis fails."""
    job = queues.enqueue_notification(record.changeset_id, job_id=record.job_id)
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
        except (redis.RedisError, OSError) as error:
            if queues.timed_out(error):
                # Once per outage at error level; the saves that skip Redis meanwhile say it quietly.
                log = logger.info if isinstance(error, queues.RedisSkipped) else logger.error
                log(
                    "Notification: Redis did not answer in time (%s); changeset %s is left to the recovery "
                    "sweep, which sends it within NOTIFICATION_RECOVERY_AFTER if its job never arrived.",
                    error,
                    changeset.pk,
                )
                return
            log = logger.info if isinstance(error, queues.RedisSkipped) else logger.error
            log(
                "Notification: Redis cannot be reached (%s); sending the emails of changeset %s inline.",
                error,
                changeset.pk,
            )
            records.mark_fell_back(record)
    notifier.notify(changeset.pk, mode=NotificationRecord.Mode.INLINE, token=inline_token())
