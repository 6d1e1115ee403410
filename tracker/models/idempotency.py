from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models


class IdempotencyKey(models.Model):
    """One ``Idempotency-Key`` a user sent with a write of the API, and the answer it got.

    Written in the same transaction as the write it protects, so a client that retries after a lost
    answer (a timeout, a 500 after the commit) gets the first answer back instead of a duplicate.
    Kept ``LIFETIME`` (24 hours): a user's older keys are purged when they send a new one, and every
    older key by the recovery sweep.
    """

    LIFETIME = dt.timedelta(hours=24)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # The method, path and a digest of the body: the same key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    # What the write made (the artifact), so the answer can be rebuilt if storing it failed.
    artifact_id = models.BigIntegerField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_key_created")]

    def __str__(self) -> str:
        return f"idempotency key {self.key!r} of user {self.user_id}"
