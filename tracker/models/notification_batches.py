"""One batch of a big changeset's recipients: a job of its own, so that idle workers share the changeset."""

from __future__ import annotations

from django.db import models

from tracker.models.notifications import NotificationRecord


class NotificationBatch(models.Model):
    """Part of the recipients of a notification record split by ``tracker.notifications.fanout``.

    The recipients are computed once, by the record's job, and written here (address, reason, account)
    in one transaction with the record's move to ``split``. Each batch then lives like a small record
    (pending -> started -> done | failed, with retries), held by one job at a time; the record ends when
    its last batch has ended. Addresses delivered are still NotificationDelivery rows (changeset +
    address unique), so exactly-once holds across batches, retries, kills and the recovery sweep.
    """

    Status = NotificationRecord.Status

    record = models.ForeignKey(NotificationRecord, on_delete=models.CASCADE, related_name="batches")
    number = models.PositiveIntegerField()
    # [[address, why, field id or null, user id or null], ...]: enough to rebuild each Recipient
    # (its reason picks its email) without computing the recipients again.
    recipients = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # The job holding it while it sends, and the job expected to send it next (as on the record).
    claimed_by = models.CharField(max_length=100, blank=True)
    job_id = models.CharField(max_length=100, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_failure = models.CharField(max_length=20, blank=True)
    # Emails this batch handed to the mail server, and the worker of its latest attempt (RQ's name).
    sent = models.PositiveIntegerField(default=0)
    sender = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["record", "number"], name="notification_batch_unique"),
        ]
        indexes = [
            # The recovery sweep and "has the record ended?" read unfinished batches only.
            models.Index(
                fields=["record", "created_at"],
                name="notification_batch_unfinished",
                condition=models.Q(ended_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"batch {self.number} of changeset {self.record.changeset_id}"
