"""The notification record (the outbox row of one changeset) and the addresses already delivered.

A record is written in the changeset's own transaction, so a committed changeset always has one. Whoever
sends (the request for inline projects, a worker job otherwise) first *claims* the record with one
conditional UPDATE: two senders never work on the same record at the same time.

Delivered addresses end up in NotificationDelivery (changeset + address unique), written with one INSERT
per group of recipients, so the number of queries does not grow with the number of recipients. In a
worker job each address is also journaled in Redis the moment the mail server accepted it (one SADD,
no SQL): a job killed in the middle of a group leaves the journal, and its retry skips those addresses.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from tracker import queues
from tracker.models import Changeset, NotificationDelivery, NotificationRecord
from tracker.notifications import routing

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
    # Assigning the changeset also caches the record on it (changeset.notification), so the
    # after-commit dispatch reads the mode without a query.
    return NotificationRecord.objects.create(changeset=changeset, mode=mode)


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

    Claimable: a pending record; one this token already held (an RQ retry keeps its job id, so it takes
    back what its killed or failed attempt left); one whose holder claimed it longer ago than the lease.
    """
    now = timezone.now()
    claimable = Q(status=Status.PENDING) | Q(claimed_by=token) | Q(started_at__lt=now - lease())
    claimed = (
        NotificationRecord.objects.filter(changeset_id=changeset_id, ended_at__isnull=True)
        .filter(claimable)
        .update(status=Status.STARTED, started_at=now, attempts=F("attempts") + 1, claimed_by=token)
    )
    record = (
        NotificationRecord.objects.select_related(
            "changeset__artifact__tracker__project", "changeset__author", "changeset__artifact__submitted_by"
        )
        .filter(changeset_id=changeset_id)
        .first()
    )
    if record is None:
        return Claim("missing")
    if claimed and record.claimed_by == token:
        return Claim("claimed", record)
    if record.ended_at is not None:
        return Claim("ended", record)
    return Claim("busy", record)


def _held(record: NotificationRecord) -> Q:
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
            NotificationRecord.objects.filter(_held(record)).update(
                status=Status.DONE, ended_at=timezone.now(), recipient_count=recipient_count, last_error=note
            )
        )


def fail(record: NotificationRecord, error: str, *, recipient_count: int | None = None) -> bool:
    """Give up: the record ends failed with the error (the system check reports it)."""
    changes: dict[str, object] = {"status": Status.FAILED, "ended_at": timezone.now(), "last_error": error}
    if recipient_count is not None:
        changes["recipient_count"] = recipient_count
    return bool(NotificationRecord.objects.filter(_held(record)).update(**changes))


def fail_unfinished(changeset_id: int, token: str, error: str) -> bool:
    """End a record left started by ``token`` (a job RQ gave up on without our code running)."""
    return bool(
        NotificationRecord.objects.filter(
            changeset_id=changeset_id, claimed_by=token, ended_at__isnull=True
        ).update(status=Status.FAILED, ended_at=timezone.now(), last_error=error)
    )


def note_error(record: NotificationRecord, error: str) -> None:
    """Keep the error of an attempt that will be retried; the record stays started (and held)."""
    NotificationRecord.objects.filter(_held(record)).update(last_error=error)


def release(record: NotificationRecord, error: str) -> None:
    """Hand the record back unfinished (pending), for ``system_check --requeue`` to send it later."""
    # Not started any more: the system check finds it once NOTIFICATION_PENDING_THRESHOLD has passed.
    NotificationRecord.objects.filter(_held(record)).update(
        status=Status.PENDING, claimed_by="", started_at=None, last_error=error
    )


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


# One connection per process (and Redis) for the journal's writes, with replies off, kept from job to
# job: opening one per job would cost more than the writes.
_writers: dict[tuple[int, int], redis.Connection] = {}


def _journal_writer(client: redis.Redis) -> redis.Connection:
    key = (os.getpid(), id(client.connection_pool))  # never a connection inherited through a fork
    writer = _writers.get(key)
    if writer is None:
        # No health checks: a PING would wait for an answer that never comes with replies off.
        writer = queues.unpooled_connection(client, health_check_interval=0)
        writer.send_command("CLIENT", "REPLY", "OFF")
        _writers[key] = writer
    return writer


def _drop_journal_writer(client: redis.Redis) -> None:
    writer = _writers.pop((os.getpid(), id(client.connection_pool)), None)
    if writer is not None:
        with contextlib.suppress(Exception):
            writer.disconnect()


class DeliveryJournal:
    """Addresses the mail server accepted for a changeset, in Redis, written right after each one.

    The writes do not wait for Redis to answer (``CLIENT REPLY OFF``): once a command is in the kernel's
    socket buffer it reaches Redis even if the worker is killed the next instant, and the job does not
    pay a round trip per address. Best effort: if Redis fails, the journal stops (the group's INSERT
    still records the addresses; only a crash in the middle of that group could then send some again).
    ``client=None``: no journal (inline sends).
    """

    TTL_SECONDS = 7 * 24 * 3600

    def __init__(self, changeset_id: int, client: redis.Redis | None) -> None:
        self.key = f"tuleap:notifications:delivered:{changeset_id}"
        self.client = client
        self._expires = False

    def _failed(self, error: Exception) -> None:
        logger.warning("Delivery journal unavailable (%s); continuing without it.", error)
        if self.client is not None:
            _drop_journal_writer(self.client)
        self.client = None

    def addresses(self) -> set[str]:
        if self.client is None:
            return set()
        try:
            return {member.decode().lower() for member in self.client.smembers(self.key)}
        except redis.RedisError as error:
            self._failed(error)
            return set()

    def _send(self, *command: str | int) -> None:
        assert self.client is not None
        try:
            _journal_writer(self.client).send_command(*command)
        except (redis.ConnectionError, OSError):
            # The kept connection may have died with a Redis restart: one new try.
            _drop_journal_writer(self.client)
            _journal_writer(self.client).send_command(*command)

    def add(self, address: str) -> None:
        if self.client is None:
            return
        try:
            self._send("SADD", self.key, address.lower())
            if not self._expires:
                # Once, right after the first SADD created the key: a forgotten journal expires.
                self._send("EXPIRE", self.key, self.TTL_SECONDS)
                self._expires = True
        except (redis.RedisError, OSError) as error:
            self._failed(error)

    def flush(self) -> None:
        """Wait until Redis has applied every write so far (it answers ``CLIENT REPLY ON``)."""
        if self.client is None:
            return
        try:
            writer = _journal_writer(self.client)
            writer.send_command("CLIENT", "REPLY", "ON")
            writer.read_response()
            writer.send_command("CLIENT", "REPLY", "OFF")
        except (redis.RedisError, OSError) as error:
            self._failed(error)

    def clear(self) -> None:
        """Once the record is done, the database holds every address: forget the journal."""
        if self.client is None:
            return
        try:
            # On the same connection, so it comes after every SADD of this job.
            self._send("DEL", self.key)
        except (redis.RedisError, OSError) as error:
            self._failed(error)
            return
        self.flush()
