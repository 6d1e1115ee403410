"""The one owner of an inbound email row's life: store, claim, finish, hand to a new job, purge.

Every move is a conditional UPDATE on the state it expects, so two workers (or a worker and the
recovery sweep) never process the same message twice: the second one finds the row taken or ended.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from tracker import queues
from tracker.models import Changeset, InboundEmail
from tracker.monitoring import metrics

Status = InboundEmail.Status
# Headers kept of a message over EMAIL_GATEWAY_MAX_SIZE: enough to tell who sent it and answer them.
OVERSIZED_KEEP = 64 * 1024


def lease() -> dt.timedelta:
    """How long a claim holds: the job's timeout plus a margin (RQ has killed that job by then)."""
    return dt.timedelta(seconds=settings.EMAIL_GATEWAY_JOB_TIMEOUT + 30)


def store(
    raw: bytes, *, via: str, envelope_from: str = "", envelope_to: str = "", spool_name: str | None = None
) -> InboundEmail:
    """Write the message before anything else (raises DatabaseError); its job id is chosen now.

    A message over EMAIL_GATEWAY_MAX_SIZE keeps only its headers: the job rejects it with the reason.
    ``spool_name`` is unique: storing the same spool file twice raises IntegrityError.
    """
    size = len(raw)
    if size > settings.EMAIL_GATEWAY_MAX_SIZE:
        end = raw.find(b"\r\n\r\n")
        end = raw.find(b"\n\n") if end < 0 else end
        raw = raw[: min(end if end >= 0 else OVERSIZED_KEEP, OVERSIZED_KEEP)]
    return InboundEmail.objects.create(
        raw=raw,
        size=size,
        via=via,
        envelope_from=envelope_from[:320],
        envelope_to=envelope_to[:320],
        job_id=queues.new_inbound_job_id(),
        spool_name=spool_name,
    )


def claim(inbound_id: int, job_id: str) -> InboundEmail | None:
    """Take the row for this job; None when it ended or another live job holds it."""
    now = timezone.now()
    taken = (
        InboundEmail.objects.filter(pk=inbound_id, status=Status.RECEIVED)
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - lease()))
        .update(claimed_at=now, job_id=job_id, attempts=F("attempts") + 1)
    )
    if not taken:
        return None
    return InboundEmail.objects.get(pk=inbound_id)


def finish(
    inbound: InboundEmail,
    status: str,
    reason: str = "",
    *,
    changeset: Changeset | None = None,
    answered: bool = False,
) -> bool:
    """End the row (processed, rejected or ignored) unless somebody else ended it already."""
    ended = InboundEmail.objects.filter(pk=inbound.pk, status=Status.RECEIVED, job_id=inbound.job_id).update(
        status=status,
        reason=reason[:2000],
        changeset=changeset,
        processed_at=timezone.now(),
        claimed_at=None,
        answered=answered,
        from_address=inbound.from_address[:320],
        message_id=inbound.message_id[:255],
        subject=inbound.subject[:255],
    )
    if ended:
        metrics.record_inbound_email(status)
    return bool(ended)


def release(inbound: InboundEmail) -> None:
    """Give the claim back (a transient error): the recovery sweep hands the row to a new job."""
    InboundEmail.objects.filter(pk=inbound.pk, status=Status.RECEIVED, job_id=inbound.job_id).update(
        claimed_at=None
    )


def requeue(inbound_id: int, *, seen_job_id: str, job_id: str) -> bool:
    """Give a waiting row a new job id, if nobody changed it since it was read (the sweep)."""
    return bool(
        InboundEmail.objects.filter(pk=inbound_id, status=Status.RECEIVED, job_id=seen_job_id).update(
            job_id=job_id, claimed_at=None
        )
    )


def reopen(inbound_ids: list[int]) -> list[InboundEmail]:
    """Back to received (the admin's "process again"), for rows whose raw message is still kept."""
    rows = list(InboundEmail.objects.filter(pk__in=inbound_ids, raw_purged_at__isnull=True))
    for row in rows:
        row.job_id = queues.new_inbound_job_id()
        InboundEmail.objects.filter(pk=row.pk).update(
            status=Status.RECEIVED, reason="", job_id=row.job_id, claimed_at=None, processed_at=None
        )
    return rows


def purge_raw(now: dt.datetime | None = None) -> int:
    """Empty the raw message of ended rows older than EMAIL_GATEWAY_RETENTION_DAYS; the row stays."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.EMAIL_GATEWAY_RETENTION_DAYS)
    return (
        InboundEmail.objects.filter(received_at__lt=cutoff, raw_purged_at__isnull=True)
        .exclude(status=Status.RECEIVED)
        .update(raw=b"", raw_purged_at=now)
    )
