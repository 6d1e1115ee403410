"""Sending one batch of a big changeset's recipients: the worker side of the fan-out.

A changeset with more than NOTIFICATION_BATCH_SIZE recipients is not sent by one job: its record's job
computes the recipients once, writes them as batches (``batches.hand_out``) and enqueues one job per
batch on the notifications queue, so idle workers share the changeset. Each batch job here claims its
batch, rebuilds its recipients, skips those already delivered, and sends the rest with the same
per-group delivery loop as a whole record (``sending.send_groups``); then it ends its batch, and the
last batch to end ends the record.

Failures are the batch's own: a transient one puts that batch (alone) on the retry schedule, counted by
its attempts; a permanent one fails that batch, and the record ends failed once the others have ended.
Exactly-once holds as for a record: each accepted address is journaled in Redis at once (one journal
per batch), and written to NotificationDelivery (changeset + address unique) once per group.
"""

from __future__ import annotations

import datetime as dt
import logging

import redis
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from tracker import queues
from tracker.models import NotificationBatch, NotificationRecord
from tracker.monitoring import metrics
from tracker.notifications import batches, emails, notifier, records, schedule, sending
from tracker.notifications.context import NotificationContext
from tracker.notifications.journal import DeliveryJournal
from tracker.notifications.mailer import DeliveryError

logger = logging.getLogger("tracker.notifications.Notifier")

Mode = NotificationRecord.Mode


class BatchJournal(DeliveryJournal):
    """The delivery journal of one batch: its own key, so that a batch ending clears only its own."""

    def __init__(self, batch: NotificationBatch, client: redis.Redis | None) -> None:
        super().__init__(batch.record.changeset_id, client)
        self.key = f"{self.key}:batch-{batch.number}"


def send_batch(batch_id: int, *, token: str, sender: str) -> notifier.Outcome:
    """Send the batch's emails to each of its recipients who has not had them yet."""
    claim = batches.claim(batch_id, token, sender=sender)
    if claim.state != "claimed":
        logger.info("Notification batch %s not sent here: it is %s.", batch_id, claim.state)
        return notifier.Outcome(claim.state)
    batch = claim.batch
    assert batch is not None
    outcome = notifier.Outcome("done")
    try:
        _send(batch, outcome)
    except Exception as error:
        return _after_failure(batch, outcome, error)
    _end_record(batch)
    return outcome


def _end_record(batch: NotificationBatch) -> None:
    ended = batches.end_record(batch.record_id)
    if ended == NotificationRecord.Status.FAILED:
        logger.error("Notification for changeset %s failed: a batch failed.", batch.record.changeset_id)
    elif ended is not None:
        logger.info(
            "Notification for changeset %s: its last batch ended, %s.", batch.record.changeset_id, ended
        )


def _send(batch: NotificationBatch, outcome: notifier.Outcome) -> None:
    record = batch.record
    context = NotificationContext.load(record.changeset)
    recipients = batches.recipients_of(batch, context)
    outcome.recipients = len(recipients)
    journal = BatchJournal(batch, queues.queue_client(settings.NOTIFICATIONS_QUEUE))
    # The first attempt has nothing to look up: the record's job left out every address already
    # delivered when it split.
    todo = sending.still_to_send(record.changeset_id, recipients, journal, retried=batch.attempts > 1)
    todo, throttled = sending.within_author_limit(record, todo)
    messages = emails.build_messages(context, todo)
    sent = sending.send_groups(record, messages, Mode.ASYNC, journal, outcome)
    sending.raise_if_held(record, sent, throttled)
    batches.finish(batch, sent=outcome.sent, note="; ".join(sent.problems), deliveries=sent.unrecorded)
    journal.clear()


def _after_failure(batch: NotificationBatch, outcome: notifier.Outcome, error: Exception) -> notifier.Outcome:
    """Like a record's: a permanent error fails this batch, a transient one schedules its next attempt."""
    record = batch.record
    name = f"batch {batch.number} of changeset {record.changeset_id}"
    description = notifier._describe(error)
    if isinstance(error, DeliveryError) and not getattr(error, "counted", False):
        metrics.record_email_failed(error.reason)
    try:
        now = timezone.now()
        permanent = not notifier._is_transient(error)
        if permanent or (not isinstance(error, sending.Throttled) and records.gives_up(record, now)):
            logger.error(
                "Notification %s failed: %s", name, description, exc_info=error if permanent else None
            )
            batches.fail(batch, description, sent=outcome.sent)
            outcome.state = "failed"
            _end_record(batch)
            return outcome
        if isinstance(error, sending.Throttled):
            at = error.until
            metrics.record_notification_throttled()
            logger.warning(
                "Notification %s throttled (%s); it waits until %s.", name, error, f"{at:%H:%M} UTC"
            )
        else:
            at = now + dt.timedelta(seconds=schedule.pause_after(batch.attempts))
            logger.warning(
                "Notification %s: attempt %s failed (%s); next attempt at %s.",
                name,
                batch.attempts,
                description,
                f"{at:%Y-%m-%d %H:%M:%S} UTC",
            )
        job_id = queues.new_notification_batch_job_id(batch.pk)
        failure = notifier._failure_label(error)
        if batches.retry_later(batch, description, failure=failure, at=at, job_id=job_id, sent=outcome.sent):
            schedule_batch(batch.pk, job_id, at)
        outcome.state, outcome.next_attempt_at = "retry", at
    except DatabaseError:
        # The batch stays started, held by this attempt: the recovery sweep takes it over.
        logger.exception("Notification %s: cannot record the error", name)
        outcome.state = "retry"
    return outcome


def keep_journal(batch_id: int) -> int:
    """Write what a batch's journal holds to the delivery rows (a batch ended failed by its failure
    callback: an attempt that died left addresses the mail server accepted in Redis only, and a later
    resend must skip them). Returns how many were written."""
    batch = NotificationBatch.objects.select_related("record").filter(pk=batch_id).first()
    if batch is None:
        return 0
    journal = BatchJournal(batch, queues.queue_client(settings.NOTIFICATIONS_QUEUE))
    journaled = journal.addresses()
    if journaled:
        records.record_deliveries(batch.record.changeset_id, journaled)
    return len(journaled)


def schedule_batch(batch_id: int, job_id: str, at: dt.datetime | None) -> bool:
    """Enqueue (or schedule for ``at``) a batch's next job; False if Redis failed (the sweep will)."""
    try:
        queues.enqueue_notification_batch(batch_id, job_id=job_id, at=at)
    except (redis.RedisError, OSError) as error:
        logger.warning(
            "Notification batch %s: its next attempt could not be queued (%s); the recovery sweep will.",
            batch_id,
            error,
        )
        return False
    return True
