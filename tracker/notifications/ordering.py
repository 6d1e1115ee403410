"""The order of a person's emails about one artifact: the second changeset's never before the first's.

A worker sends a changeset's emails only once every earlier record of its artifact has ended (each of
its addresses delivered or given up), so the second email can never overtake the first, however many
workers, batches and bundled jobs (``drain.py``) there are. "Earlier" is the changeset id: the order
the service stored them in. A held record looks again shortly (``next_look``), by a job of its own.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef, Subquery

from tracker.models import Changeset, NotificationRecord

Status = NotificationRecord.Status


def earlier_open() -> Exists:
    """An earlier changeset of the same artifact still has a record open (the outer query's record)."""
    return Exists(
        NotificationRecord.objects.filter(
            changeset__artifact_id=OuterRef("changeset__artifact_id"),
            changeset_id__lt=OuterRef("changeset_id"),
            ended_at__isnull=True,
        )
    )


def waits_for_earlier(changeset_id: int) -> bool:
    """Whether an earlier changeset of the same artifact still has emails to send (its record is open)."""
    artifact = Changeset.objects.filter(pk=changeset_id).values("artifact_id")[:1]
    return NotificationRecord.objects.filter(
        changeset__artifact_id=Subquery(artifact), changeset_id__lt=changeset_id, ended_at__isnull=True
    ).exists()


# How soon a held record looks again: at once after a moment while the earlier record is being sent;
# while it waits for a retry, shortly after that retry is due, but never later than the longest look.
HOLD_SECONDS = 1.0
HOLD_MAX_SECONDS = 60.0


def next_look(changeset_id: int, now: dt.datetime) -> dt.datetime:
    """When a record held by an earlier one of its artifact (``waits_for_earlier``) looks again."""
    artifact = Changeset.objects.filter(pk=changeset_id).values("artifact_id")[:1]
    earlier = list(
        NotificationRecord.objects.filter(
            changeset__artifact_id=Subquery(artifact), changeset_id__lt=changeset_id, ended_at__isnull=True
        ).values_list("status", "next_attempt_at")
    )
    pause = HOLD_SECONDS
    waits = [at for status, at in earlier if status == Status.RETRY and at is not None]
    if waits and len(waits) == len(earlier):
        # Every earlier record waits for its retry: none can end before the first of them is tried.
        pause = (min(waits) - now).total_seconds() + HOLD_SECONDS
    return now + dt.timedelta(seconds=min(max(pause, HOLD_SECONDS), HOLD_MAX_SECONDS))


def hold(changeset_id: int, *, seen_job_id: str, job_id: str) -> bool:
    """A record waiting for an earlier one: its next look is job ``job_id``; False if it changed."""
    return bool(
        NotificationRecord.objects.filter(
            changeset_id=changeset_id,
            job_id=seen_job_id,
            ended_at__isnull=True,
            status__in=[Status.PENDING, Status.RETRY],
        ).update(job_id=job_id)
    )
