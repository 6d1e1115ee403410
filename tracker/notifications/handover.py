"""The recovery sweep's moves, for notification records and batches alike.

Both are outbox rows with the same life (pending -> started -> done | failed, retry in between) and
the same fields for it. Each move is a conditional UPDATE on the state the sweep read, so it does
nothing when the row changed meanwhile (its job woke up, somebody else moved it): running the sweep
twice, or the system check's ``--requeue`` beside it, hands a row over once.
"""

from __future__ import annotations

from django.utils import timezone

from tracker.models import NotificationBatch, NotificationRecord

Outbox = type[NotificationRecord] | type[NotificationBatch]
Status = NotificationRecord.Status


def requeue(model: Outbox, pk: int, *, seen_job_id: str, job_id: str) -> bool:
    """Hand a waiting row to a new job; False if it changed since the sweep read it."""
    return bool(
        model.objects.filter(
            pk=pk, job_id=seen_job_id, ended_at__isnull=True, status__in=[Status.PENDING, Status.RETRY]
        ).update(job_id=job_id)
    )


def take_over(model: Outbox, pk: int, *, dead_token: str, job_id: str) -> bool:
    """Take a row from a sender presumed dead; due at once, by job ``job_id``."""
    return bool(
        model.objects.filter(
            pk=pk, status=Status.STARTED, claimed_by=dead_token, ended_at__isnull=True
        ).update(
            status=Status.RETRY,
            claimed_by="",
            next_attempt_at=timezone.now(),
            job_id=job_id,
            last_failure="abandoned",
            last_error=f"Its sender ({dead_token}) stopped in the middle; taken over by the recovery sweep.",
        )
    )


def wake(model: Outbox, pks: list[int]) -> int:
    """Bring the next attempt of waiting rows forward to now (the mail server answers again)."""
    return model.objects.filter(pk__in=pks, status=Status.RETRY, ended_at__isnull=True).update(
        next_attempt_at=timezone.now()
    )
