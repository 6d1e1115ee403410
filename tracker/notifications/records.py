"""The notification record (the outbox row of one changeset) and the addresses already delivered.

A record is written in the changeset's own transaction, so a committed changeset always has one. Whoever
sends (the request for inline projects, a worker job otherwise) first *claims* the record with one
conditional UPDATE: two senders never work on the same record at the same time.

A record's life: pending -> started -> done | failed, and started -> retry -> started ... while
transient errors last (the schedule is ``schedule.py``; the time of the next attempt is on the record).
Every change is a conditional UPDATE here: only the holder ends or reschedules a record, and the
recovery sweep's moves (``requeue``, ``take_over``) only apply to the state it saw.

Delivered addresses end up in NotificationDelivery (changeset + address unique), written with one INSERT
per group of recipients, so the number of queries does not grow with the number of recipients. In a
worker job each address is also journaled in Redis the moment the mail server accepted it (one SADD,
no SQL, ``journal.py``): a job killed in the middle of a group leaves the journal, and its retry skips
those addresses.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from tracker import queues
from tracker.models import Changeset, NotificationDelivery, NotificationRecord
from tracker.notifications import ordering, routing, schedule

logger = logging.getLogger("tracker.notifications.Notifier")

Status = NotificationRecord.Status
Mode = NotificationRecord.Mode

# A claimed record whose sender went silent is taken over once the job timeout has passed since it was
# claimed (RQ kills a job at its timeout) plus this margin for a work horse slow to die.
LEASE_MARGIN_SECONDS = 30


def lease() -> dt.timedelta:
    return dt.timedelta(seconds=settings.NOTIFICATION_JOB_TIMEOUT + LEASE_MARGIN_SECONDS)


def create_record(changeset: Changeset) -> NotificationRecord:
    """The record of the emails owed for a changeset; call it inside the changeset's transaction."""
    project_id = changeset.artifact.tracker.project_id
    mode = Mode.ASYNC if routing.is_async(project_id) else Mode.INLINE
    # The job id is chosen now, in the transaction: the recovery sweep can then ask Redis whether the
    # job it was handed to still exists, without a write after the commit.
    job_id = queues.new_notification_job_id(changeset.pk) if mode == Mode.ASYNC else ""
    # Assigning the changeset also caches the record on it (changeset.notification), so the
    # after-commit dispatch reads the mode without a query.
    return NotificationRecord.objects.create(changeset=changeset, mode=mode, job_id=job_id)


@dataclass
class Claim:
    """What claiming found: ``claimed`` (go ahead), ``missing``, ``ended`` or ``busy`` (someone else)."""

    state: str
    record: NotificationRecord | None = None

    @property
    def busy_until(self) -> dt.datetime | None:
        if self.state != "busy" or self.record is None or self.record.started_at is None:
            return None
        return self.record.started_at + lease()


def claim(changeset_id: int, token: str) -> Claim:
    """Take the record for ``token`` (an RQ job id, or ``inline:<pid>``) if nobody else holds it.

    Claimable: a pending record or one waiting for a retry (a job that runs early only brings the
    attempt forward); one this token already held (the same job run again takes back what it left); one
    whose holder claimed it longer ago than the lease (RQ has killed that job by then).
    """
    now = timezone.now()
    claimable = (
        Q(status__in=[Status.PENDING, Status.RETRY])
        | Q(claimed_by=token)
        | Q(status=Status.STARTED, started_at__lt=now - lease())
    )
    claimed = (
        NotificationRecord.objects.filter(changeset_id=changeset_id, ended_at__isnull=True)
        .filter(claimable)
        .update(
            status=Status.STARTED,
            started_at=now,
            attempts=F("attempts") + 1,
            claimed_by=token,
            next_attempt_at=None,
        )
    )
    record = _with_changeset(NotificationRecord.objects.filter(changeset_id=changeset_id)).first()
    if record is None:
        return Claim("missing")
    if claimed and record.claimed_by == token:
        return Claim("claimed", record)
    if record.ended_at is not None:
        return Claim("ended", record)
    return Claim("busy", record)


def _with_changeset(found: QuerySet[NotificationRecord]) -> QuerySet[NotificationRecord]:
    # What sending reads of the changeset (NotificationContext.load, the recipients), in the same query.
    return found.select_related(
        "changeset__artifact__tracker__project", "changeset__author", "changeset__artifact__submitted_by"
    )


def claim_waiting(job_ids: dict[int, str], token: str) -> list[NotificationRecord]:
    """Claim for ``token``, in one UPDATE, the records these queued jobs (changeset id -> job id) are for.

    Claimed: a record still waiting for exactly that job (pending, or a retry whose job is due), unless
    an earlier changeset of its artifact has a record open: that one goes first, and its later
    changesets wait for their own jobs (``ordering.waits_for_earlier``), so nobody gets them out of order.
    Returned in changeset order, with what sending reads selected.
    """
    if not job_ids:
        return []
    wanted = Q()
    for changeset_id, job_id in job_ids.items():
        wanted |= Q(changeset_id=changeset_id, job_id=job_id)
    now = timezone.now()
    waiting = NotificationRecord.objects.filter(
        wanted, ended_at__isnull=True, status__in=[Status.PENDING, Status.RETRY]
    )
    # What makes the claim exclusive stays in the UPDATE's own WHERE, on the row itself; the order rule
    # goes in a sub-select. A filter through the changeset (``earlier_open`` reads its artifact) would
    # make Django write "id IN (SELECT ... WHERE status ...)" instead, and PostgreSQL (READ COMMITTED)
    # re-checks only the outer WHERE of a row another job claimed while this one waited for its lock:
    # the sub-select answers from before, so both jobs would claim it and send it (the docs' "Read
    # Committed Isolation Level", postgresql.org/docs/current/transaction-iso.html).
    in_order = waiting.exclude(ordering.earlier_open()).values("pk")
    waiting.filter(pk__in=in_order).update(
        status=Status.STARTED,
        started_at=now,
        attempts=F("attempts") + 1,
        claimed_by=token,
        next_attempt_at=None,
    )
    return list(
        _with_changeset(
            # Those this UPDATE claimed, not one the token held already.
            NotificationRecord.objects.filter(wanted, claimed_by=token, started_at=now, ended_at__isnull=True)
        ).order_by("changeset_id")
    )


def hand_back(records: Iterable[NotificationRecord]) -> list[NotificationRecord]:
    """Records claimed by ``claim_waiting`` and not sent after all: waiting again, each for a new job.

    As if never claimed (the attempt is not counted). Returns those handed back, with their job ids.
    """
    handed = []
    for record in records:
        job_id = queues.new_notification_job_id(record.changeset_id)
        if NotificationRecord.objects.filter(held(record)).update(
            status=Status.PENDING, claimed_by="", started_at=None, attempts=F("attempts") - 1, job_id=job_id
        ):
            record.job_id = job_id
            handed.append(record)
    return handed


def held_by(token: str) -> list[int]:
    """Changesets whose records ``token`` still holds (a job's own and what it took off the queue)."""
    return list(
        NotificationRecord.objects.filter(claimed_by=token, ended_at__isnull=True).values_list(
            "changeset_id", flat=True
        )
    )


def held(record: NotificationRecord) -> Q:
    # Only the holder ends a record: a sender whose claim was taken over must not overwrite the outcome.
    return Q(pk=record.pk, claimed_by=record.claimed_by, ended_at__isnull=True)


def finish(
    record: NotificationRecord, *, recipient_count: int, note: str = "", deliveries: Iterable[str] = ()
) -> bool:
    """Mark the record done, with the last ``deliveries`` in the same transaction.

    ``note`` keeps what went wrong for single addresses (a refused one).
    """
    deliveries = list(deliveries)
    with transaction.atomic():
        if deliveries:
            record_deliveries(record.changeset_id, deliveries)
        return bool(
            NotificationRecord.objects.filter(held(record)).update(
                status=Status.DONE, ended_at=timezone.now(), recipient_count=recipient_count, last_error=note
            )
        )


def fail(record: NotificationRecord, error: str, *, recipient_count: int | None = None) -> bool:
    """Give up: the record ends failed with the error (the system check reports it)."""
    changes: dict[str, object] = {"status": Status.FAILED, "ended_at": timezone.now(), "last_error": error}
    if recipient_count is not None:
        changes["recipient_count"] = recipient_count
    return bool(NotificationRecord.objects.filter(held(record)).update(**changes))


def retry_later(
    record: NotificationRecord, error: str, *, failure: str, at: dt.datetime, job_id: str
) -> bool:
    """Hand the record back until ``at`` (its next attempt, by job ``job_id``); False if not held."""
    return bool(
        NotificationRecord.objects.filter(held(record)).update(
            status=Status.RETRY,
            claimed_by="",
            next_attempt_at=at,
            last_error=error,
            last_failure=failure,
            job_id=job_id,
        )
    )


def gives_up(record: NotificationRecord, now: dt.datetime | None = None) -> bool:
    """Whether a record failing for transient reasons has run out of time (NOTIFICATION_GIVE_UP_AFTER)."""
    return (now or timezone.now()) >= schedule.give_up_at(record.created_at, record.reopened_at)


@dataclass
class Rescheduled:
    """What ``abandon`` did with a record its job left: ``retry`` (at ``at``, by ``job_id``) or ``failed``."""

    state: str
    changeset_id: int
    at: dt.datetime | None = None
    job_id: str = ""


def abandon(changeset_id: int, token: str, error: str) -> Rescheduled | None:
    """A record left started by ``token`` (a job that died, timed out or crashed): retry it, or fail it.

    None when ``token`` does not hold it any more (somebody took it over, or it ended).
    """
    record = NotificationRecord.objects.filter(
        changeset_id=changeset_id, claimed_by=token, ended_at__isnull=True
    ).first()
    if record is None:
        return None
    now = timezone.now()
    if gives_up(record, now):
        failed = fail(record, f"{error} (gave up after {record.attempts} attempts)")
        return Rescheduled("failed", changeset_id) if failed else None
    at = now + dt.timedelta(seconds=schedule.pause_after(record.attempts))
    job_id = queues.new_notification_job_id(changeset_id)
    if not retry_later(record, error, failure="abandoned", at=at, job_id=job_id):
        return None
    return Rescheduled("retry", changeset_id, at, job_id)


def reopen(records: Iterable[NotificationRecord]) -> list[NotificationRecord]:
    """Re-open ended records (``resend_notifications``, the admin action): pending again, now.

    The give-up clock starts again and the next attempt goes through the workers; the addresses already
    delivered are skipped. Returns the records re-opened, each with its new job id.
    """
    reopened = []
    now = timezone.now()
    for record in records:
        job_id = queues.new_notification_job_id(record.changeset_id)
        changed = NotificationRecord.objects.filter(pk=record.pk, ended_at__isnull=False).update(
            status=Status.PENDING,
            ended_at=None,
            started_at=None,
            claimed_by="",
            next_attempt_at=None,
            reopened_at=now,
            mode=Mode.ASYNC,
            job_id=job_id,
        )
        if changed:
            record.refresh_from_db()
            reopened.append(record)
    return reopened


def sent_by_author_since(author_id: int, since: dt.datetime) -> int:
    """Emails delivered since ``since`` for changesets by this author (the hourly limit)."""
    return NotificationDelivery.objects.filter(changeset__author_id=author_id, sent_at__gte=since).count()


def mark_fell_back(record: NotificationRecord) -> None:
    """Redis could not be reached at save time: this async record is sent inline after all."""
    NotificationRecord.objects.filter(pk=record.pk).update(fell_back_inline=True)


def delivered_addresses(changeset_id: int) -> set[str]:
    """Addresses (lower case) that already got this changeset's email."""
    return {
        address.lower()
        for address in NotificationDelivery.objects.filter(changeset_id=changeset_id).values_list(
            "address", flat=True
        )
    }


def record_deliveries(changeset_id: int, addresses: Iterable[str]) -> None:
    """Remember addresses the mail server accepted: one INSERT whatever their number."""
    NotificationDelivery.objects.bulk_create(
        [NotificationDelivery(changeset_id=changeset_id, address=address.lower()) for address in addresses],
        ignore_conflicts=True,
    )
