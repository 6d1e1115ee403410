from __future__ import annotations

from django.db import models

from tracker.models.artifacts import Changeset


class NotificationRecord(models.Model):
    """The durable trace of the emails owed for one changeset (an outbox row).

    Written in the same transaction as the changeset, so a notification can never be lost between
    the commit and the hand-over to a worker: the system check finds records left pending.
    """

    class Mode(models.TextChoices):
        INLINE = "inline", "Inline (in the request)"
        ASYNC = "async", "Backend worker"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        STARTED = "started", "Started"
        # A transient error (or the author's hourly limit): the next attempt is due at next_attempt_at.
        RETRY = "retry", "Waiting for a retry"
        # Its recipients were split into NotificationBatch rows (fan-out); it ends with its last batch.
        SPLIT = "split", "Sent in batches"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    changeset = models.OneToOneField(Changeset, on_delete=models.CASCADE, related_name="notification")
    mode = models.CharField(max_length=10, choices=Mode.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    recipient_count = models.PositiveIntegerField(default=0)
    fell_back_inline = models.BooleanField(
        default=False, help_text="Redis could not be reached, so the emails were sent in the request."
    )
    last_error = models.TextField(blank=True)
    # Who holds the record while sending: the RQ job id ("inline" in a web request). An RQ retry keeps
    # its job id, so it takes back the record its killed or failed attempt left started; anybody else
    # waits until the job timeout has passed since started_at (RQ has killed that attempt by then).
    claimed_by = models.CharField(max_length=100, blank=True)
    # The RQ job expected to send it next (chosen in the changeset's transaction, so the recovery sweep
    # can tell a job Redis lost from one still waiting in the queue).
    job_id = models.CharField(max_length=100, blank=True)
    # The retry schedule lives here, not in Redis: it survives Redis losing its state.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # What the last failed attempt met: connect, timeout, temporary, permanent, recipient or throttled.
    last_failure = models.CharField(max_length=20, blank=True)
    # When `resend_notifications` (or the admin action) re-opened it: the give-up clock starts again.
    reopened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # "pending and older than N seconds": a small partial index over unfinished records only.
            models.Index(
                fields=["created_at"],
                name="notification_unfinished",
                condition=models.Q(ended_at__isnull=True),
            ),
            models.Index(fields=["status", "ended_at"], name="notification_status_ended"),
            # "waiting for a retry, due now": the recovery sweep and the scrape's gauges.
            models.Index(
                fields=["next_attempt_at"],
                name="notification_retry_due",
                condition=models.Q(ended_at__isnull=True, next_attempt_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"notification for changeset {self.changeset_id} ({self.status})"


class NotificationDelivery(models.Model):
    """One email delivered to one address for one changeset: never send it twice."""

    changeset = models.ForeignKey(Changeset, on_delete=models.CASCADE, related_name="deliveries")
    address = models.CharField(max_length=254)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["changeset", "address"], name="notification_delivery_unique")
        ]
        # The author's hourly limit counts the last hour's deliveries: a range over this index.
        indexes = [models.Index(fields=["sent_at"], name="notification_delivery_sent")]

    def __str__(self) -> str:
        return f"changeset {self.changeset_id} delivered to {self.address}"
