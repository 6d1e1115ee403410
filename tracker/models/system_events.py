from __future__ import annotations

from django.db import models


class SystemEvent(models.Model):
    class Type(models.TextChoices):
        SYSTEM_CHECK = "SYSTEM_CHECK", "System check"

    class Status(models.TextChoices):
        NEW = "NEW", "New"
        RUNNING = "RUNNING", "Running"
        DONE = "DONE", "Done"
        WARNING = "WARNING", "Warning"
        ERROR = "ERROR", "Error"

    type = models.CharField(max_length=30, choices=Type.choices, default=Type.SYSTEM_CHECK)
    parameters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Each finding: {"check": name, "level": "WARNING"|"ERROR"|"INFO", "message": text}.
    findings = models.JSONField(default=list, blank=True)
    log = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk} ({self.status})"
