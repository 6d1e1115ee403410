"""Sending the emails of one changeset: claim the record, find the recipients, send, record, end.

The same function runs in the request (inline projects, or when Redis is unreachable) and in the
worker job (async projects). What happens on a problem:

- the changeset or its record is gone (the artifact was deleted): log it, nothing to do;
- someone else holds the record: leave it to them (a job schedules a look once their lease ends);
- a transient problem (mail server down or slow, a 4xx answer, a database hiccup, the job timeout):
  the record waits for its next attempt on the retry schedule (``schedule.py``), written on the record,
  and a job is scheduled for then (if Redis is down, the recovery sweep enqueues it when it is due);
  once ``NOTIFICATION_GIVE_UP_AFTER`` has passed, the record ends failed;
- a permanent problem (a 5xx answer to the whole email): the record ends failed with the answer;
- one address refused for good (5xx to its RCPT): skipped and logged, the others are delivered;
- the author reached ``NOTIFICATION_AUTHOR_MAX_PER_HOUR``: what is within the limit is sent, the rest
  waits for the next hour on the same schedule (nothing is lost), with one log line and a metric.

Every failed attempt counts in ``tuleap_mail_failures_total`` with its reason, a mail server refusing
connections included. Never twice: every address the mail server accepted is journaled in Redis at once
(worker jobs) and written to NotificationDelivery once per group; a later attempt skips both.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.utils import timezone
from rq.timeouts import JobTimeoutException

from tracker import queues
from tracker.models import Field, NotificationRecord
from tracker.monitoring import metrics
from tracker.notifications import batches, emails, ordering, records, schedule
from tracker.notifications.connection_pool import HeldConnections
from tracker.notifications.context import NotificationContext
from tracker.notifications.journal import DeliveryJournal
from tracker.notifications.mailer import DeliveryError
from tracker.notifications.recipients import Recipient, recipients_for
from tracker.notifications.sending import (
    Outcome,
    Throttled,
    raise_if_held,
    send_groups,
    still_to_send,
    within_author_limit,
)

logger = logging.getLogger("tracker.notifications.Notifier")

Mode = NotificationRecord.Mode
TRANSIENT_ERRORS = (DeliveryError, OperationalError, InterfaceError, JobTimeoutException)


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, DeliveryError):
        return not error.permanent
    return isinstance(error, (*TRANSIENT_ERRORS, Throttled))


def _failure_label(error: BaseException) -> str:
    if isinstance(error, DeliveryError):
        return error.reason
    if isinstance(error, Throttled):
        return "throttled"
    if isinstance(error, JobTimeoutException):
        return "job_timeout"
    return "database" if isinstance(error, OperationalError | InterfaceError) else "error"


def _describe(error: BaseException) -> str:
    if isinstance(error, DeliveryError | Throttled):
        return str(error)
    return f"{type(error).__name__}: {error}"


def notify(changeset_id: int, *, mode: str, token: str, ordered: bool = False) -> Outcome:
    """Send the changeset's emails to every recipient who has not had them yet.

    ``ordered`` (the worker job): not before every earlier changeset of the artifact has ended
    (``ordering.waits_for_earlier``); the outcome is then ``held`` and nothing is claimed.
    """
    started = time.perf_counter()
    mode = str(mode)  # a plain "inline"/"async" for the logs and the metrics labels
    logger.debug("Start notification: changeset %s, mode %s", changeset_id, mode)
    outcome = Outcome("missing")
    try:
        outcome = _notify(changeset_id, mode=mode, token=token, ordered=ordered)
        return outcome
    finally:
        logger.debug(
            "End notification: changeset %s, mode %s, %s recipients, %s sent, %s, %d ms",
            changeset_id,
            mode,
            outcome.recipients,
            outcome.sent,
            outcome.state,
            (time.perf_counter() - started) * 1000,
        )


def _notify(changeset_id: int, *, mode: str, token: str, ordered: bool) -> Outcome:
    if ordered and ordering.waits_for_earlier(changeset_id):
        return Outcome("held")
    claim = records.claim(changeset_id, token)
    if claim.state == "missing":
        logger.warning(
            "Notification for changeset %s skipped: the changeset or its artifact no longer exists.",
            changeset_id,
        )
        return Outcome("missing", claim=claim)
    if claim.state != "claimed":
        logger.info(
            "Notification for changeset %s not sent here: the record is %s.", changeset_id, claim.state
        )
        return Outcome(claim.state, claim=claim)
    assert claim.record is not None
    return send_claimed(claim.record, mode=mode, claim=claim)


@dataclass
class Prepared:
    """What sending a changeset's emails reads and renders before its first SMTP command."""

    context: NotificationContext
    recipients: list[Recipient]
    # The messages for every recipient; None for a changeset the workers would split (fan-out).
    messages: list[emails.GroupMessage] | None


def prepare(record: NotificationRecord, fields: dict[int, list[Field]] | None = None) -> Prepared:
    """Reads and rendering only (no write), so it may run ahead in a thread of its own (``drain``).

    ``fields``: tracker id -> its fields, read once for the changesets a job sends one after the other.
    """
    context = NotificationContext.load(record.changeset, fields)
    recipients = recipients_for(context)
    few = len(recipients) <= settings.NOTIFICATION_BATCH_SIZE
    return Prepared(context, recipients, emails.build_messages(context, recipients) if few else None)


def send_claimed(
    record: NotificationRecord,
    *,
    mode: str,
    claim: records.Claim | None = None,
    prepared: Callable[[], Prepared] | None = None,
    held: HeldConnections | None = None,
) -> Outcome:
    """Send the emails of a record this sender holds (claimed above, or by ``drain.take_waiting``).

    ``prepared``: the record's ``prepare``, done ahead (its errors are raised when called); ``held``:
    the SMTP connections of a job sending several changesets.
    """
    outcome = Outcome("done", claim=claim)
    try:
        ready = prepared() if prepared is not None else prepare(record)
        _send(record, mode, outcome, ready, held)
    except Exception as error:
        return _after_failure(record, outcome, error)
    return outcome


def _send(
    record: NotificationRecord, mode: str, outcome: Outcome, prepared: Prepared, held: HeldConnections | None
) -> None:
    context, recipients = prepared.context, prepared.recipients
    outcome.recipients = len(recipients)
    journal = DeliveryJournal(
        record.changeset_id, queues.queue_client(settings.NOTIFICATIONS_QUEUE) if mode == Mode.ASYNC else None
    )
    todo = still_to_send(record.changeset_id, recipients, journal, retried=record.attempts > 1)
    if mode == Mode.ASYNC and len(todo) > settings.NOTIFICATION_BATCH_SIZE:
        # Fan-out: the recipients, computed once here, become batch jobs that idle workers share.
        outcome.state = "split"
        batches.hand_out(record, todo, recipient_count=len(recipients))
        journal.clear()  # what an earlier attempt journaled is in the database (still_to_send)
        return
    todo, throttled = within_author_limit(record, todo)
    # The ones made ahead were for every recipient; fewer (some had it, or the author's limit) need theirs.
    same = prepared.messages is not None and len(todo) == len(recipients)
    messages = prepared.messages if same else emails.build_messages(context, todo)
    sent = send_groups(record, messages, mode, journal, outcome, held)
    raise_if_held(record, sent, throttled)
    records.finish(
        record, recipient_count=len(recipients), note="; ".join(sent.problems), deliveries=sent.unrecorded
    )
    # The database has every address now. (An attempt that stops before this keeps its journal.)
    journal.clear()


def _after_failure(record: NotificationRecord, outcome: Outcome, error: Exception) -> Outcome:
    """A permanent error ends the record failed; a transient one schedules its next attempt."""
    description = _describe(error)
    if isinstance(error, DeliveryError) and not getattr(error, "counted", False):
        metrics.record_email_failed(error.reason)  # the session could not even be opened
    try:
        if not _is_transient(error):
            # A permanent refusal, or a bug: trying again would fail the same way.
            logger.error(
                "Notification for changeset %s failed: %s", record.changeset_id, description, exc_info=error
            )
            records.fail(record, description, recipient_count=outcome.recipients)
            outcome.state = "failed"
            return outcome
        now = timezone.now()
        if isinstance(error, Throttled):
            at = error.until
            metrics.record_notification_throttled()
            logger.warning(
                "Notification for changeset %s throttled: its author (user %s) reached "
                "NOTIFICATION_AUTHOR_MAX_PER_HOUR=%s with %s emails this hour; %s emails wait until %s.",
                record.changeset_id,
                record.changeset.author_id,
                settings.NOTIFICATION_AUTHOR_MAX_PER_HOUR,
                error.used + outcome.sent,
                error.held,
                f"{at:%Y-%m-%d %H:%M} UTC",
            )
        elif records.gives_up(record, now):
            logger.error(
                "Notification for changeset %s failed: still failing after %s attempts since %s "
                "(NOTIFICATION_GIVE_UP_AFTER): %s",
                record.changeset_id,
                record.attempts,
                schedule.clock_start(record.created_at, record.reopened_at),
                description,
            )
            records.fail(record, description, recipient_count=outcome.recipients)
            outcome.state = "failed"
            return outcome
        else:
            at = now + dt.timedelta(seconds=schedule.pause_after(record.attempts))
            logger.warning(
                "Notification for changeset %s: attempt %s failed (%s); next attempt at %s.",
                record.changeset_id,
                record.attempts,
                description,
                f"{at:%Y-%m-%d %H:%M:%S} UTC",
            )
        job_id = queues.new_notification_job_id(record.changeset_id)
        if records.retry_later(record, description, failure=_failure_label(error), at=at, job_id=job_id):
            schedule_job(record.changeset_id, job_id, at)
        outcome.state, outcome.next_attempt_at = "retry", at
    except DatabaseError:
        # The database itself is the problem: the record stays started, held by this attempt, and the
        # recovery sweep takes it over once this job has ended.
        logger.exception("Notification for changeset %s: cannot record the error", record.changeset_id)
        outcome.state = "retry"
    return outcome


def schedule_job(changeset_id: int, job_id: str, at: dt.datetime | None) -> bool:
    """Enqueue (or schedule for ``at``) the job of a record's next attempt; False if Redis failed.

    Best effort: the record says when it is due, and the recovery sweep enqueues it if this did not.
    """
    try:
        queues.enqueue_notification(changeset_id, job_id=job_id, at=at)
    except (redis.RedisError, OSError) as error:
        logger.warning(
            "Notification for changeset %s: its next attempt could not be queued (%s); the recovery "
            "sweep will queue it when it is due.",
            changeset_id,
            error,
        )
        return False
    return True
