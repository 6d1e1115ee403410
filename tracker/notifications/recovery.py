"""The notification side of the recovery sweep: hand every record that is due, and has no live job, to a
new one. Run by ``tracker.workers.sweep`` (the supervisor, or ``manage.py notifications_sweep``) under
its one-at-a-time lock; safe to run twice anyway: every move is a conditional UPDATE on the state the
sweep read (``handover.requeue``, ``handover.take_over``), and the delivery records keep exactly-once.

A record is due, and handed over, when it is:

- ``lost_job``: pending for longer than NOTIFICATION_RECOVERY_AFTER and Redis has no waiting job for it
  (a FLUSHALL, a failover that lost recent writes, a frozen Redis at save time, a web process killed
  between the commit and the enqueue);
- ``retry_due``: waiting for a retry whose time has come, and its scheduled job is gone;
- ``abandoned``: started by a sender that stopped: a job whose worker no longer sends heartbeats (it was
  killed), or an inline sender whose lease (job timeout + margin) has passed;
- ``batch_lost_job``, ``batch_retry_due``, ``batch_abandoned``: the same three for the batches of a split
  record (fan-out, ``fanout.py``); a split record whose batches have all ended is ended;
- ``mail_server_back``: waiting for a retry because the mail server was down, which answers again
  (``wake_if_mail_server_back``): the next attempt is brought forward to now rather than waiting out a
  pause that may have grown to 30 minutes.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from tracker import queues
from tracker.models import NotificationBatch, NotificationRecord
from tracker.monitoring import metrics
from tracker.notifications import batches, fanout, handover, mailer, records
from tracker.notifications.notifier import schedule_job

logger = logging.getLogger("tracker.notifications.recovery")

Status = NotificationRecord.Status
# Records handled per kind and sweep: a sweep stays short; the next one takes the rest.
BATCH = 500
# A retry is left this long past its time to RQ's scheduler (which moves it every second) before the
# sweep presumes its scheduled job lost.
SCHEDULER_GRACE = dt.timedelta(seconds=5)


@dataclass
class Recovered:
    """What one sweep handed over, by reason (changeset ids)."""

    handed: dict[str, list[int]] = field(default_factory=dict)
    failed_enqueues: int = 0

    def add(self, reason: str, changeset_id: int) -> None:
        self.handed.setdefault(reason, []).append(changeset_id)

    @property
    def total(self) -> int:
        return sum(len(ids) for ids in self.handed.values())

    def __str__(self) -> str:
        if not self.handed:
            return "nothing to recover"
        return ", ".join(f"{len(ids)} {reason}" for reason, ids in sorted(self.handed.items()))


def _hand_over(found: Recovered, reason: str, record: NotificationRecord, job_id: str) -> None:
    if schedule_job(record.changeset_id, job_id, None):
        found.add(reason, record.changeset_id)
    else:
        found.failed_enqueues += 1


def _overdue(unfinished: QuerySet[Any], now: dt.datetime) -> tuple[list[Any], list[Any]]:
    """The unfinished records or batches (the two share these fields) the sweep looks at, BATCH of each:
    pending for longer than NOTIFICATION_RECOVERY_AFTER or retries past due (waiting for a job), and
    started ones whose heartbeat may have stopped."""
    waiting = list(
        unfinished.filter(
            status=Status.PENDING,
            created_at__lt=now - dt.timedelta(seconds=settings.NOTIFICATION_RECOVERY_AFTER),
        ).order_by("created_at")[:BATCH]
    ) + list(
        unfinished.filter(status=Status.RETRY, next_attempt_at__lte=now - SCHEDULER_GRACE).order_by(
            "next_attempt_at"
        )[:BATCH]
    )
    started = list(
        unfinished.filter(
            status=Status.STARTED,
            started_at__lt=now - dt.timedelta(seconds=queues.HEARTBEAT_GRACE_SECONDS),
        ).order_by("started_at")[:BATCH]
    )
    return waiting, started


def sweep(now: dt.datetime | None = None) -> Recovered:
    """One pass over the unfinished records; raises redis.RedisError when Redis cannot be asked."""
    now = now or timezone.now()
    found = Recovered()
    waiting, started = _overdue(NotificationRecord.objects.filter(ended_at__isnull=True), now)
    states = queues.job_states(
        sorted({r.job_id for r in waiting if r.job_id} | {r.claimed_by for r in started if r.claimed_by})
    )
    missing = queues.JobState(None, None)
    for record in waiting:
        state = states.get(record.job_id, missing)
        if state.waiting or state.running(now):
            continue  # a worker (or RQ's scheduler) will take it, or has just taken it
        job_id = queues.new_notification_job_id(record.changeset_id)
        if handover.requeue(NotificationRecord, record.pk, seen_job_id=record.job_id, job_id=job_id):
            reason = "lost_job" if record.status == Status.PENDING else "retry_due"
            _hand_over(found, reason, record, job_id)
    for record in started:
        token = record.claimed_by
        if token.startswith("inline:") or not token:
            if record.started_at is not None and record.started_at >= now - records.lease():
                continue  # an inline sender has no heartbeat: its lease is all we know
        elif states.get(token, missing).running(now):
            continue
        job_id = queues.new_notification_job_id(record.changeset_id)
        if handover.take_over(NotificationRecord, record.pk, dead_token=token, job_id=job_id):
            _hand_over(found, "abandoned", record, job_id)
    _sweep_batches(now, found)
    for reason, ids in found.handed.items():
        metrics.record_notifications_recovered(reason, len(ids))
    return found


def _sweep_batches(now: dt.datetime, found: Recovered) -> None:
    """The same for the batches of split records (fan-out), and split records whose batches all ended.

    Reasons ``batch_lost_job``, ``batch_retry_due`` and ``batch_abandoned`` (the ids are the changesets').
    """
    unfinished = NotificationBatch.objects.filter(ended_at__isnull=True).select_related("record")
    waiting, started = _overdue(unfinished, now)
    states = queues.job_states(
        sorted({b.job_id for b in waiting if b.job_id} | {b.claimed_by for b in started if b.claimed_by})
    )
    missing = queues.JobState(None, None)
    handed: list[tuple[str, NotificationBatch, str]] = []
    for batch in waiting:
        state = states.get(batch.job_id, missing)
        if state.waiting or state.running(now):
            continue
        job_id = queues.new_notification_batch_job_id(batch.pk)
        if handover.requeue(NotificationBatch, batch.pk, seen_job_id=batch.job_id, job_id=job_id):
            handed.append(
                ("batch_lost_job" if batch.status == Status.PENDING else "batch_retry_due", batch, job_id)
            )
    for batch in started:
        if batch.claimed_by and states.get(batch.claimed_by, missing).running(now):
            continue
        job_id = queues.new_notification_batch_job_id(batch.pk)
        if handover.take_over(NotificationBatch, batch.pk, dead_token=batch.claimed_by, job_id=job_id):
            handed.append(("batch_abandoned", batch, job_id))
    for reason, batch, job_id in handed:
        if fanout.schedule_batch(batch.pk, job_id, None):
            found.add(reason, batch.record.changeset_id)
        else:
            found.failed_enqueues += 1
    # A batch job that died between ending its batch and ending the record leaves the record split.
    open_batches = NotificationBatch.objects.filter(record=OuterRef("pk"), ended_at__isnull=True)
    for record_id in (
        NotificationRecord.objects.filter(status=Status.SPLIT, ended_at__isnull=True)
        .filter(~Exists(open_batches))
        .values_list("pk", flat=True)[:BATCH]
    ):
        batches.end_record(record_id)


def waiting_for_mail_server(now: dt.datetime, beyond: dt.timedelta) -> list[NotificationRecord]:
    """Records waiting for a retry because the mail server failed, not due within ``beyond``."""
    return list(
        NotificationRecord.objects.filter(
            ended_at__isnull=True,
            status=Status.RETRY,
            last_failure__in=sorted(mailer.SERVER_WIDE),
            next_attempt_at__gt=now + beyond,
        ).order_by("next_attempt_at")[:BATCH]
    )


def batches_waiting_for_mail_server(now: dt.datetime, beyond: dt.timedelta) -> list[NotificationBatch]:
    """The same for the batches of split records."""
    return list(
        NotificationBatch.objects.filter(
            ended_at__isnull=True,
            status=Status.RETRY,
            last_failure__in=sorted(mailer.SERVER_WIDE),
            next_attempt_at__gt=now + beyond,
        )
        .select_related("record")
        .order_by("next_attempt_at")[:BATCH]
    )


def anything_waiting_for_mail_server(now: dt.datetime, beyond: dt.timedelta) -> bool:
    return bool(waiting_for_mail_server(now, beyond) or batches_waiting_for_mail_server(now, beyond))


# The probe runs in the supervisor's loop, which must get back to its workers soon.
PROBE_TIMEOUT = 3.0


def probe_mail_server() -> mailer.DeliveryError | None:
    """Connect to the mail server and say NOOP; the error if it is still unavailable."""
    try:
        with mailer.MailSession(timeout=PROBE_TIMEOUT) as session:
            session.noop()
    except mailer.DeliveryError as error:
        return error
    return None


def wake_if_mail_server_back(beyond: dt.timedelta) -> Recovered:
    """If records wait for a mail server that answers again, bring their next attempt forward to now."""
    found = Recovered()
    now = timezone.now()
    parked = waiting_for_mail_server(now, beyond)
    parked_batches = batches_waiting_for_mail_server(now, beyond)
    if not parked and not parked_batches:
        return found
    problem = probe_mail_server()
    if problem is not None:
        logger.info(
            "Mail server still unavailable (%s); %s notifications keep waiting.",
            problem,
            len(parked) + len(parked_batches),
        )
        return found
    for record in parked:
        job_id = queues.new_notification_job_id(record.changeset_id)
        if handover.requeue(NotificationRecord, record.pk, seen_job_id=record.job_id, job_id=job_id):
            handover.wake(NotificationRecord, [record.pk])
            _hand_over(found, "mail_server_back", record, job_id)
    for batch in parked_batches:
        job_id = queues.new_notification_batch_job_id(batch.pk)
        if handover.requeue(NotificationBatch, batch.pk, seen_job_id=batch.job_id, job_id=job_id):
            handover.wake(NotificationBatch, [batch.pk])
            if fanout.schedule_batch(batch.pk, job_id, None):
                found.add("mail_server_back", batch.record.changeset_id)
            else:
                found.failed_enqueues += 1
    if found.total:
        logger.warning(
            "The mail server answers again: %s notifications waiting for a retry are sent now.", found.total
        )
        metrics.record_notifications_recovered("mail_server_back", found.total)
    return found
