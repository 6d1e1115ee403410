"""The batches of a big notification (fan-out): written once, then each claimed, ended or retried alone.

This module owns the NotificationBatch rows as ``records`` owns the records. Every change is a
conditional UPDATE on the state the caller saw: a batch is held by one job at a time, only its holder
ends or reschedules it, and the recovery sweep's moves (``requeue``, ``take_over``) only apply to the
state it read. The record itself is ``split`` while its batches run, and ``end_record`` ends it once
none is left unfinished (done, or failed if one batch failed).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from tracker import queues
from tracker.models import NotificationBatch, NotificationRecord, User
from tracker.notifications import records, schedule
from tracker.notifications.context import NotificationContext
from tracker.notifications.recipients import Reason, Recipient, Why

logger = logging.getLogger("tracker.notifications.Notifier")

Status = NotificationRecord.Status
# Errors of failed batches kept on the record when it ends: enough to tell what happened.
ERRORS_ON_RECORD = 3


def _row(recipient: Recipient) -> list[object]:
    field = recipient.reason.field
    user = recipient.user
    return [
        recipient.address,
        int(recipient.reason.why),
        field.pk if field else None,
        user.pk if user else None,
    ]


def recipients_of(batch: NotificationBatch, context: NotificationContext) -> list[Recipient]:
    """The batch's recipients as the record's job computed them (accounts in one query)."""
    user_ids = [row[3] for row in batch.recipients if row[3] is not None]
    users = User.objects.in_bulk(user_ids) if user_ids else {}
    fields = {field.pk: field for field in context.fields}
    found = []
    for address, why, field_id, user_id in batch.recipients:
        reason = Reason(Why(why), fields.get(field_id) if field_id is not None else None)
        found.append(Recipient(address, reason, users.get(user_id) if user_id is not None else None))
    return found


def split(
    record: NotificationRecord, todo: list[Recipient], *, size: int, recipient_count: int
) -> list[tuple[int, str]]:
    """Write ``todo`` as batches of ``size`` and hand the record over to them, in one transaction.

    Returns each new batch's id and job id (empty if the record is not held by this sender any more:
    then nothing is written). Batches of an earlier life of the record (before a re-open) ended with it and
    are replaced.
    """
    chunks = [todo[start : start + size] for start in range(0, len(todo), size)]
    with transaction.atomic():
        handed = NotificationRecord.objects.filter(records.held(record)).update(
            status=Status.SPLIT, claimed_by="", recipient_count=recipient_count
        )
        if not handed:
            return []
        NotificationBatch.objects.filter(record=record).delete()
        created = NotificationBatch.objects.bulk_create(
            [
                NotificationBatch(record=record, number=number, recipients=[_row(r) for r in chunk])
                for number, chunk in enumerate(chunks, start=1)
            ]
        )
        # The job ids are chosen in the transaction (with the id each batch just got), so the sweep
        # can tell a lost job from a waiting one as soon as the batches exist.
        for batch in created:
            batch.job_id = queues.new_notification_batch_job_id(batch.pk)
        NotificationBatch.objects.bulk_update(created, ["job_id"])
    return [(batch.pk, batch.job_id) for batch in created]


def hand_out(record: NotificationRecord, todo: list[Recipient], *, recipient_count: int) -> int:
    """Split the record into batches of NOTIFICATION_BATCH_SIZE and enqueue their jobs (ids only).

    Returns the number of batches. A job that cannot be enqueued (Redis failing) is left to the
    recovery sweep, which finds its batch pending with no job after NOTIFICATION_RECOVERY_AFTER.
    """
    size = settings.NOTIFICATION_BATCH_SIZE
    created = split(record, todo, size=size, recipient_count=recipient_count)
    if not created:
        logger.warning(
            "Notification for changeset %s: not split, the record is not held any more.", record.changeset_id
        )
        return 0
    unqueued = 0
    for batch_id, job_id in created:
        try:
            queues.enqueue_notification_batch(batch_id, job_id=job_id)
        except (redis.RedisError, OSError):
            unqueued += 1
    logger.info(
        "Notification for changeset %s: %s recipients split into %s batches of up to %s%s.",
        record.changeset_id,
        len(todo),
        len(created),
        size,
        f" ({unqueued} left to the recovery sweep: Redis failed)" if unqueued else "",
    )
    return len(created)


@dataclass
class BatchClaim:
    """``claimed`` (go ahead), ``missing``, ``ended`` or ``busy`` (another job holds it)."""

    state: str
    batch: NotificationBatch | None = None


def claim(batch_id: int, token: str, *, sender: str) -> BatchClaim:
    """Take the batch for job ``token``, like ``records.claim`` takes a record."""
    now = timezone.now()
    claimable = (
        Q(status__in=[Status.PENDING, Status.RETRY])
        | Q(claimed_by=token)
        | Q(status=Status.STARTED, started_at__lt=now - records.lease())
    )
    claimed = (
        NotificationBatch.objects.filter(pk=batch_id, ended_at__isnull=True)
        .filter(claimable)
        .update(
            status=Status.STARTED,
            started_at=now,
            attempts=F("attempts") + 1,
            claimed_by=token,
            next_attempt_at=None,
            sender=sender[:200],
        )
    )
    batch = (
        NotificationBatch.objects.select_related(
            "record__changeset__artifact__tracker__project",
            "record__changeset__author",
            "record__changeset__artifact__submitted_by",
        )
        .filter(pk=batch_id)
        .first()
    )
    if batch is None:
        return BatchClaim("missing")
    if claimed and batch.claimed_by == token:
        return BatchClaim("claimed", batch)
    return BatchClaim("ended" if batch.ended_at is not None else "busy", batch)


def _held(batch: NotificationBatch) -> Q:
    return Q(pk=batch.pk, claimed_by=batch.claimed_by, ended_at__isnull=True)


def finish(batch: NotificationBatch, *, sent: int, note: str = "", deliveries: Iterable[str] = ()) -> bool:
    """The batch is done, with its last ``deliveries`` in the same transaction."""
    deliveries = list(deliveries)
    with transaction.atomic():
        if deliveries:
            records.record_deliveries(batch.record.changeset_id, deliveries)
        return bool(
            NotificationBatch.objects.filter(_held(batch)).update(
                status=Status.DONE, ended_at=timezone.now(), sent=F("sent") + sent, last_error=note
            )
        )


def fail(batch: NotificationBatch, error: str, *, sent: int = 0) -> bool:
    return bool(
        NotificationBatch.objects.filter(_held(batch)).update(
            status=Status.FAILED, ended_at=timezone.now(), last_error=error, sent=F("sent") + sent
        )
    )


def retry_later(
    batch: NotificationBatch, error: str, *, failure: str, at: dt.datetime, job_id: str, sent: int = 0
) -> bool:
    """Hand the batch back until ``at`` (its next attempt, by job ``job_id``); False if not held."""
    return bool(
        NotificationBatch.objects.filter(_held(batch)).update(
            status=Status.RETRY,
            claimed_by="",
            next_attempt_at=at,
            last_error=error,
            last_failure=failure,
            job_id=job_id,
            sent=F("sent") + sent,
        )
    )


@dataclass
class Rescheduled:
    """What ``abandon`` did: ``retry`` (at ``at``, by ``job_id``) or ``failed``."""

    state: str
    batch_id: int
    record_id: int
    at: dt.datetime | None = None
    job_id: str = ""


def abandon(batch_id: int, token: str, error: str) -> Rescheduled | None:
    """A batch left started by ``token`` (its job died, timed out or crashed): retry it, or fail it."""
    batch = (
        NotificationBatch.objects.select_related("record")
        .filter(pk=batch_id, claimed_by=token, ended_at__isnull=True)
        .first()
    )
    if batch is None:
        return None
    now = timezone.now()
    if records.gives_up(batch.record, now):
        failed = fail(batch, f"{error} (gave up after {batch.attempts} attempts)")
        return Rescheduled("failed", batch.pk, batch.record_id) if failed else None
    at = now + dt.timedelta(seconds=schedule.pause_after(batch.attempts))
    job_id = queues.new_notification_batch_job_id(batch.pk)
    if not retry_later(batch, error, failure="abandoned", at=at, job_id=job_id):
        return None
    return Rescheduled("retry", batch.pk, batch.record_id, at, job_id)


def end_record(record_id: int) -> str | None:
    """End a split record whose batches have all ended: ``done``, or ``failed`` if one failed.

    None while a batch is unfinished, or when someone else ended the record first. Called by each
    batch as it ends: whichever ends last (its commit seen by its own read) ends the record.
    """
    if NotificationBatch.objects.filter(record_id=record_id, ended_at__isnull=True).exists():
        return None
    failed = list(
        NotificationBatch.objects.filter(record_id=record_id, status=Status.FAILED)
        .order_by("number")
        .values_list("number", "last_error")
    )
    notes = list(
        NotificationBatch.objects.filter(record_id=record_id, status=Status.DONE)
        .exclude(last_error="")
        .order_by("number")
        .values_list("last_error", flat=True)[:ERRORS_ON_RECORD]
    )
    if failed:
        status = Status.FAILED
        text = "; ".join(f"batch {number}: {error}" for number, error in failed[:ERRORS_ON_RECORD])
        error = f"{len(failed)} batch(es) failed: {text}"
    else:
        status, error = Status.DONE, "; ".join(notes)
    ended = NotificationRecord.objects.filter(
        pk=record_id, status=Status.SPLIT, ended_at__isnull=True
    ).update(status=status, ended_at=timezone.now(), last_error=error)
    return str(status) if ended else None
