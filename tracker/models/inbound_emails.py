"""Messages received by the email gateway, kept raw until processed (the outbox idea, in reverse)."""

from __future__ import annotations

from django.db import models

from tracker.models.artifacts import Changeset


class InboundEmail(models.Model):
    """One message handed to us by the mail server (``receive_email`` or the LMTP server).

    Stored before anything else happens, so a message is never lost once the mail server was told it
    was delivered; a worker then processes it: a comment, a new artifact, or a reason why not. Its
    life is owned by ``tracker.email_gateway.inbound``.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", "Received (waiting for a worker)"
        PROCESSED = "processed", "Processed"
        REJECTED = "rejected", "Rejected"
        # Auto-replies, bounces, loops: recorded, never answered.
        IGNORED = "ignored", "Ignored"

    class Via(models.TextChoices):
        PIPE = "pipe", "manage.py receive_email"
        LMTP = "lmtp", "LMTP server"

    via = models.CharField(max_length=10, choices=Via.choices, default=Via.PIPE)
    # The envelope, as the mail server gave it (empty when it did not).
    envelope_from = models.CharField(max_length=320, blank=True)
    envelope_to = models.CharField(max_length=320, blank=True)
    raw = models.BinaryField(editable=False)
    size = models.PositiveIntegerField(default=0)
    raw_purged_at = models.DateTimeField(null=True, blank=True)
    # Read from the headers when processed.
    from_address = models.CharField(max_length=320, blank=True, db_index=True)
    message_id = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    reason = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Who processes it right now: a job claims the row with a conditional update (claimed_at, a lease).
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    job_id = models.CharField(max_length=100, blank=True)
    changeset = models.ForeignKey(
        Changeset, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_emails"
    )
    # Whether the sender got our short explanation of a rejection.
    answered = models.BooleanField(default=False)
    # The spool file it was stored from (``tracker.email_gateway.spool``), unique: a reader that died
    # after storing it and before deleting the file stores it no second time. Empty (NULL) otherwise.
    spool_name = models.CharField(max_length=255, null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            # "received and not processed for N seconds": a small partial index over waiting rows only.
            models.Index(
                fields=["received_at"],
                name="inbound_email_waiting",
                condition=models.Q(status="received"),
            ),
            models.Index(fields=["status", "processed_at"], name="inbound_email_status"),
        ]

    def __str__(self) -> str:
        return f"inbound email {self.pk} ({self.status})"


class GatewaySender(models.Model):
    """When an address last got our explanation of a rejection: at most one per hour and sender."""

    address = models.CharField(max_length=320, unique=True)
    last_answer_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.address
